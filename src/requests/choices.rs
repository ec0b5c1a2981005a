//! An erasure's keep choices under the exceptions of Art. 17(3) GDPR, and whether the person
//! asked who the recipients are (Art. 19, last sentence).
//!
//! Retention rules with a legal duty keep what a law obliges (Art. 17(3)(b)) by themselves. The
//! other exceptions — a task in the public interest, public health, archiving or research, legal
//! claims, and a legal obligation no rule describes — are a judgement for the case: an agent
//! chooses one with a reason and names each table it keeps. The choice becomes a
//! keep_under_exception task of the request; running it (or the system's erase task) keeps the
//! person's rows in those tables, each until the chosen end, recorded in loket's store like every
//! kept row. The reason is for staff and sealed; the letter names only the exception.

use super::case::Case;
use super::checklist::TaskDraft;
use super::kept::{KeepException, KeptRule};
use super::requester::check_texts;
use super::view::RequestView;
use super::{RequestService, Staff};
use crate::audit::{self, Change};
use crate::catalog::model::System;
use crate::catalog::Item;
use crate::crypto::Cipher;
use crate::db::models::keep_choices::{self as rows, KeepChoiceRow};
use crate::db::models::requests::insert_tasks;
use crate::db::DbConnection;
use crate::error::{all_valid, ConflictCode, Error, FieldError, Result};
use crate::ids::{RequestId, TaskId};
use crate::vocabulary::{Language, TaskKind};
use anyhow::Context;
use chrono::NaiveDate;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Where a choice's reason is sealed (also its associated data).
const REASON_PLACE: &str = "keep_choices.reason";
const MAX_REASON: usize = 2000;

/// `{"system", "exception", "reason", "tables": [...], "until"?: "2031-12-31"}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKeepChoice {
    pub system: String,
    /// legal_obligation, public_task, public_health, archiving or legal_claims.
    pub exception: String,
    /// Why the exception applies, for staff: the law, the case, the archive.
    pub reason: String,
    /// Every mapped table of `system` the exception keeps.
    pub tables: Vec<String>,
    /// The day the exception ends (a date after today); absent: a person decides later.
    #[serde(default)]
    pub until: Option<String>,
}

/// `{"wants_recipients": true}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WantsRecipients {
    pub wants_recipients: bool,
}

/// A checked choice, ready to store.
struct Checked {
    system: String,
    exception: KeepException,
    reason: String,
    tables: Vec<String>,
    until: Option<NaiveDate>,
}

impl NewKeepChoice {
    /// Every field checked that can be without the catalog; the errors name the fields.
    fn check(&self, today: NaiveDate) -> Result<Checked> {
        let mut texts: Vec<(String, Option<&str>)> = vec![
            ("system".into(), Some(self.system.as_str())),
            ("exception".into(), Some(self.exception.as_str())),
            ("reason".into(), Some(self.reason.as_str())),
            ("until".into(), self.until.as_deref()),
        ];
        texts.extend(
            self.tables
                .iter()
                .enumerate()
                .map(|(i, t)| (format!("tables[{i}]"), Some(t.as_str()))),
        );
        let borrowed: Vec<(&str, Option<&str>)> =
            texts.iter().map(|(f, v)| (f.as_str(), *v)).collect();
        check_texts(&borrowed)?;
        let mut errors = Vec::new();
        let exception = self.exception.trim().parse::<KeepException>().ok();
        if exception.is_none() {
            let expected: Vec<&str> = <KeepException as strum::VariantArray>::VARIANTS
                .iter()
                .map(|e| e.as_str())
                .collect();
            errors.push(FieldError::new(
                "exception",
                format!(
                    "'{}' is not an exception of Art. 17(3) GDPR (expected {})",
                    self.exception.trim(),
                    expected.join(", ")
                ),
            ));
        }
        let reason = self.reason.trim();
        if reason.is_empty() {
            errors.push(FieldError::new(
                "reason",
                "say why the exception applies (the law, the case, the archive)",
            ));
        } else if reason.chars().count() > MAX_REASON {
            errors.push(FieldError::new(
                "reason",
                format!("at most {MAX_REASON} characters"),
            ));
        }
        if self.system.trim().is_empty() {
            errors.push(FieldError::new(
                "system",
                "name the system the data is kept in",
            ));
        }
        if self.tables.is_empty() {
            errors.push(FieldError::new("tables", "name each table that is kept"));
        }
        let until = match self.until.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                Ok(day) if day > today => Some(day),
                Ok(_) => {
                    errors.push(FieldError::new("until", "must be a day after today"));
                    None
                }
                Err(_) => {
                    errors.push(FieldError::new("until", "a date as YYYY-MM-DD"));
                    None
                }
            },
        };
        all_valid(errors)?;
        let exception = exception.context("a checked choice lost its exception")?;
        Ok(Checked {
            system: self.system.trim().to_string(),
            exception,
            reason: reason.to_string(),
            tables: self.tables.iter().map(|t| t.trim().to_string()).collect(),
            until,
        })
    }
}

/// The tables must be mapped tables of the system, each named once.
fn check_tables(system: &System, tables: &[String]) -> Result<()> {
    let mapped: Vec<&str> = system
        .sql
        .iter()
        .flat_map(|mapping| &mapping.tables)
        .map(|t| t.name.as_str())
        .collect();
    let mut errors = Vec::new();
    for (index, table) in tables.iter().enumerate() {
        if mapped.is_empty() {
            if !crate::catalog::model::is_sql_identifier(table) {
                errors.push(FieldError::new(
                    format!("tables[{index}]"),
                    "a table name: letters, digits and _",
                ));
            }
        } else if !mapped.contains(&table.as_str()) {
            errors.push(FieldError::new(
                format!("tables[{index}]"),
                format!(
                    "'{table}' is not a mapped table of {} (expected {})",
                    system.key,
                    mapped.join(", ")
                ),
            ));
        } else if tables[..index].contains(table) {
            errors.push(FieldError::new(
                format!("tables[{index}]"),
                format!("'{table}' is named twice"),
            ));
        }
    }
    all_valid(errors)
}

/// The task of a choice: keep the tables in the system, on the exception. The agent's reason is
/// free text and may name the person, so it stays out of the title (titles are shown in lists
/// and are not sealed): it is kept sealed with the choice and shown as the task's detail.
///
/// The title names the system, its tables (by the mapping's labels where it has them) and the
/// end day in the words of each language, as the desk shows them.
fn draft(system: &System, checked: &Checked) -> TaskDraft {
    let tables = |language| {
        let names: Vec<&str> = checked
            .tables
            .iter()
            .map(|name| {
                let mapped = system.sql.as_ref().and_then(|m| m.table(name));
                mapped
                    .and_then(|t| t.label.as_ref())
                    .map_or(name.as_str(), |label| label.get(language))
            })
            .collect();
        names.join(", ")
    };
    let article = checked.exception.article();
    let spell = crate::mail::letters::written_date;
    let (until_nl, until_en) = match checked.until {
        Some(day) => (
            format!("tot {}", spell(day, Language::Nl)),
            format!("until {}", spell(day, Language::En)),
        ),
        None => (
            "tot een medewerker het einde vaststelt".to_string(),
            "until a person sets the end".to_string(),
        ),
    };
    let mut task = TaskDraft::new(
        TaskKind::KeepUnderException,
        format!(
            "Bewaar in {} de tabellen {} {until_nl} (uitzondering {} AVG)",
            system.name.get(Language::Nl),
            tables(Language::Nl),
            article.replace("Art.", "art."),
        ),
        format!(
            "Keep in {} the tables {} {until_en} (exception {article} GDPR)",
            system.name.get(Language::En),
            tables(Language::En),
        ),
    );
    task.system_key = Some(system.key.clone());
    task.legal_exception = Some(format!("{article} AVG/GDPR"));
    task.keep_until = checked.until;
    task
}

/// The reason of each keep choice of a request, opened, by the id of its task.
pub(crate) fn reasons(
    conn: &mut DbConnection,
    cipher: &Cipher,
    request_id: &str,
) -> Result<BTreeMap<TaskId, String>> {
    KeepChoiceRow::of_request(conn, request_id)?
        .into_iter()
        .map(|choice| {
            let reason = cipher
                .decrypt(REASON_PLACE, &choice.reason_enc)
                .context("keep choice reason")?;
            Ok((choice.task_id, reason))
        })
        .collect()
}

/// A title written before reasons left the titles, without its reason: "… (uitzondering art.
/// 17(3)(b) AVG: <reason>)" becomes "… (uitzondering art. 17(3)(b) AVG)". `None`: nothing to
/// take out.
pub(crate) fn title_without_reason(title: &str, reason: &str) -> Option<String> {
    let suffix = format!(": {reason})");
    title.strip_suffix(&suffix).map(|start| format!("{start})"))
}

/// Takes the reasons out of the titles of keep tasks written while titles still held them
/// (start-up, idempotent); returns how many tasks changed. One audit event when any did.
pub async fn reasons_out_of_titles(store: &crate::db::Store, cipher: &Cipher) -> Result<usize> {
    let choices = store.read(KeepChoiceRow::all).await?;
    let mut changed = 0usize;
    for choice in choices {
        let reason = cipher
            .decrypt(REASON_PLACE, &choice.reason_enc)
            .context("keep choice reason")?;
        let updated = store
            .write(move |conn| {
                let tasks = crate::db::models::requests::list_tasks(conn, &choice.request_id)?;
                let Some(task) = tasks.into_iter().find(|t| t.id == choice.task_id) else {
                    return Ok::<_, Error>(false);
                };
                let nl = title_without_reason(&task.title_nl, &reason);
                let en = title_without_reason(&task.title_en, &reason);
                if nl.is_none() && en.is_none() {
                    return Ok(false);
                }
                crate::db::models::requests::set_task_titles(
                    conn,
                    &task.id,
                    nl.as_deref().unwrap_or(&task.title_nl),
                    en.as_deref().unwrap_or(&task.title_en),
                )?;
                Ok(true)
            })
            .await?;
        changed += usize::from(updated);
    }
    if changed > 0 {
        store
            .write(move |conn| {
                audit::record(
                    conn,
                    &crate::audit::Actor::System("task-titles"),
                    Change {
                        action: "tasks.titles_cleaned",
                        object_type: "requests",
                        object_id: "keep-choices",
                        summary: format!(
                            "the free-text reason taken out of the title of {changed} keep task(s); it stays sealed with the choice"
                        ),
                    },
                )
                .map(drop)
            })
            .await?;
    }
    Ok(changed)
}

impl RequestService {
    /// Adds a keep choice to an erasure as a keep_under_exception task of its own.
    pub async fn choose_keep(
        &self,
        staff: Staff,
        request_id: RequestId,
        body: NewKeepChoice,
    ) -> Result<RequestView> {
        let checked = body.check(super::today())?;
        let reason_enc = self.cipher.encrypt(REASON_PLACE, &checked.reason);
        let service = self.clone();
        self.store
            .write(move |conn| {
                let case = Case::load(conn, &request_id)?;
                case.expect_open()?;
                let kind = case.kind();
                if !kind.has_keep_choices() {
                    return Err(Error::conflict(
                        ConflictCode::Other,
                        format!(
                            "only an erasure keeps data under Art. 17(3); this is a {kind} request"
                        ),
                    ));
                }
                let system = <System as Item>::load(conn, &checked.system)?.ok_or_else(|| {
                    Error::invalid(
                        "system",
                        format!("no system '{}' in the catalog", checked.system),
                    )
                })?;
                check_tables(&system, &checked.tables)?;
                let position = case.tasks.iter().map(|t| t.position).max().unwrap_or(0) + 1;
                let now = crate::db::now();
                let row = super::intake::task_row(
                    case.id(),
                    usize::try_from(position).unwrap_or(0),
                    draft(&system, &checked),
                    now,
                );
                insert_tasks(conn, std::slice::from_ref(&row))?;
                KeepChoiceRow {
                    task_id: row.id.clone(),
                    request_id: case.id().clone(),
                    system_key: system.key.clone(),
                    exception: checked.exception.as_str().to_string(),
                    tables: checked.tables.join(","),
                    reason_enc,
                    keep_until: checked.until,
                    chosen_by: staff.username.to_string(),
                    chosen_at: now,
                }
                .insert(conn)?;
                audit::record(
                    conn,
                    &staff.actor(),
                    Change {
                        action: "request.keep.chosen",
                        object_type: "request",
                        object_id: &case.row.reference,
                        summary: format!(
                            "{}: keep {} under {} chosen",
                            system.key,
                            checked.tables.join(", "),
                            checked.exception.article()
                        ),
                    },
                )?;
                let case = Case::load(conn, case.id())?;
                service.view_in(conn, &case)
            })
            .await
    }

    /// Records whether the person asked who the recipients told of the change are.
    pub async fn record_wants_recipients(
        &self,
        staff: Staff,
        request_id: RequestId,
        body: WantsRecipients,
    ) -> Result<RequestView> {
        let service = self.clone();
        self.store
            .write(move |conn| {
                let case = Case::load(conn, &request_id)?;
                case.expect_open()?;
                let kind = case.kind();
                if !kind.notifies_recipients() {
                    return Err(Error::invalid(
                        "wants_recipients",
                        format!("a {kind} request tells no recipients (Art. 19)"),
                    ));
                }
                let changed = if body.wants_recipients {
                    rows::ask_recipients(conn, case.id(), &staff.username, crate::db::now())?
                } else {
                    rows::unask_recipients(conn, case.id())?
                };
                if changed {
                    audit::record(
                        conn,
                        &staff.actor(),
                        Change {
                            action: "request.recipients_asked",
                            object_type: "request",
                            object_id: &case.row.reference,
                            summary: format!(
                                "the person {} who the recipients are (Art. 19)",
                                if body.wants_recipients {
                                    "asked"
                                } else {
                                    "did not ask"
                                }
                            ),
                        },
                    )?;
                }
                service.view_in(conn, &case)
            })
            .await
    }

    /// Whether the answer names the recipients: the person asked, or the policy says always.
    pub(super) fn names_recipients(&self, conn: &mut DbConnection, case: &Case) -> Result<bool> {
        Ok(self.policies.requests.name_recipients_in_letters || case.recipients_asked(conn)?)
    }

    /// The request's keep choices on `system`, as what they keep: (task id, rule).
    pub(super) fn keep_choices(
        &self,
        conn: &mut DbConnection,
        case: &Case,
        system: &str,
    ) -> Result<Vec<(TaskId, KeptRule)>> {
        KeepChoiceRow::of_request(conn, case.id())?
            .into_iter()
            .filter(|row| row.system_key == system)
            .map(|row| {
                let exception = row.exception.parse::<KeepException>().map_err(|_| {
                    Error::Internal(anyhow::anyhow!(
                        "keep_choices.exception: '{}'",
                        row.exception
                    ))
                })?;
                let rule = KeptRule {
                    rule: None,
                    exception,
                    legal_basis: format!(
                        "{} AVG/GDPR, chosen by {}",
                        exception.article(),
                        row.chosen_by
                    ),
                    keep: None,
                    dated: None,
                    until: row.keep_until,
                    tables: row.table_names(),
                };
                Ok((row.task_id, rule))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(exception: &str, reason: &str, until: Option<&str>) -> NewKeepChoice {
        NewKeepChoice {
            system: "billing".into(),
            exception: exception.into(),
            reason: reason.into(),
            tables: vec!["invoices".into()],
            until: until.map(str::to_string),
        }
    }

    fn fields(result: Result<Checked>) -> Vec<String> {
        match result {
            Err(Error::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
            Err(other) => panic!("{other}"),
            Ok(_) => Vec::new(),
        }
    }

    #[test]
    fn choices_name_the_field_that_is_wrong() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        assert!(
            fields(choice("archiving", "Archiefwet", Some("2040-01-01")).check(today)).is_empty()
        );
        assert_eq!(
            fields(choice("because", "x", None).check(today)),
            ["exception"]
        );
        assert_eq!(
            fields(choice("legal_claims", " ", None).check(today)),
            ["reason"]
        );
        assert_eq!(
            fields(choice("public_task", "x", Some("2026-12-03")).check(today)),
            ["until"]
        );
    }

    #[test]
    fn the_reason_leaves_an_old_title() {
        assert_eq!(
            title_without_reason(
                "Bewaar in billing de tabellen invoices tot 2031-12-31 (uitzondering art. 17(3)(e) AVG: Jan dreigt met een rechtszaak)",
                "Jan dreigt met een rechtszaak"
            )
            .as_deref(),
            Some("Bewaar in billing de tabellen invoices tot 2031-12-31 (uitzondering art. 17(3)(e) AVG)")
        );
        assert_eq!(
            title_without_reason("Bewaar (uitzondering art. 17(3)(e) AVG)", "x"),
            None
        );
    }
}
