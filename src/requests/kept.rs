//! Keeping data under an exception of Art. 17(3) GDPR (gdpr-rules.md section 1, erasure): which
//! of a person's rows an erasure keeps, on what ground, and until when.
//!
//! A keep is not an Art. 18 restriction. Each kept row gets an end of its own: the date its rule
//! counts from in that row (or in the row it belongs to: a payment counts from its invoice's
//! fiscal year end) plus the rule's `keep`. Rows whose end has passed are erased with the rest.
//! The rows a duty keeps because they belong to kept records (the account on the invoices) stay
//! as long as the last of those records, and go when none is kept. A legal hold on the person
//! (Art. 17(3)(e)) keeps everything in its system while it lasts.
//!
//! loket records every kept row in its own store by keyed hash, with its key sealed, so the
//! retention sweep can erase it when its end comes ([`crate::retention`]).

use crate::catalog::model::{IdentifierKind, SqlMapping};
use crate::connectors::{ConnectorError, SqlConnector, TableCounts};
use crate::ids::RequestId;
use crate::policies::Period;
use crate::vocabulary::Language;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a kept row's hash and sealed key are bound (also the associated data of the seal).
pub const ROW_PLACE: &str = "kept_rows.row";
pub const ROW_KEY_PLACE: &str = "kept_rows.row_key";

/// The exceptions of Art. 17(3) GDPR under which data is kept despite an erasure request.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::Display,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum KeepException {
    /// (b): a legal obligation to keep it (7 years fiscal).
    LegalObligation,
    /// (b): a task in the public interest or of official authority.
    PublicTask,
    /// (c): public health.
    PublicHealth,
    /// (d): archiving in the public interest, research or statistics.
    Archiving,
    /// (e): the establishment, exercise or defence of legal claims (a legal hold).
    LegalClaims,
}

impl KeepException {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The exception a task's recorded `legal_exception` ("Art. 17(3)(b) AVG/GDPR; …") names.
    pub fn of_recorded(recorded: &str) -> Option<KeepException> {
        use strum::VariantArray;
        KeepException::VARIANTS
            .iter()
            .copied()
            .find(|e| recorded.starts_with(e.article()))
    }

    /// The exception as a letter to the person names it, with its article.
    pub fn describe(self, language: Language) -> &'static str {
        match (self, language) {
            (KeepException::LegalObligation, Language::Nl) => {
                "een wettelijke plicht om deze gegevens te bewaren (artikel 17, lid 3, onder b AVG)"
            }
            (KeepException::LegalObligation, Language::En) => {
                "a legal obligation to keep this data (Article 17(3)(b) GDPR)"
            }
            (KeepException::PublicTask, Language::Nl) => {
                "de vervulling van een taak van algemeen belang of openbaar gezag (artikel 17, lid 3, onder b AVG)"
            }
            (KeepException::PublicTask, Language::En) => {
                "the performance of a task in the public interest or of official authority (Article 17(3)(b) GDPR)"
            }
            (KeepException::PublicHealth, Language::Nl) => {
                "redenen van algemeen belang op het gebied van de volksgezondheid (artikel 17, lid 3, onder c AVG)"
            }
            (KeepException::PublicHealth, Language::En) => {
                "reasons of public interest in the area of public health (Article 17(3)(c) GDPR)"
            }
            (KeepException::Archiving, Language::Nl) => {
                "archivering in het algemeen belang, wetenschappelijk of historisch onderzoek of statistiek (artikel 17, lid 3, onder d AVG)"
            }
            (KeepException::Archiving, Language::En) => {
                "archiving in the public interest, scientific or historical research or statistics (Article 17(3)(d) GDPR)"
            }
            (KeepException::LegalClaims, Language::Nl) => {
                "de instelling, uitoefening of onderbouwing van een rechtsvordering (artikel 17, lid 3, onder e AVG)"
            }
            (KeepException::LegalClaims, Language::En) => {
                "the establishment, exercise or defence of legal claims (Article 17(3)(e) GDPR)"
            }
        }
    }

    /// `Art. 17(3)(b)`.
    pub fn article(self) -> &'static str {
        match self {
            KeepException::LegalObligation | KeepException::PublicTask => "Art. 17(3)(b)",
            KeepException::PublicHealth => "Art. 17(3)(c)",
            KeepException::Archiving => "Art. 17(3)(d)",
            KeepException::LegalClaims => "Art. 17(3)(e)",
        }
    }
}

/// What one retention rule with a legal duty, or one exception an agent chose, keeps in one
/// system.
#[derive(Debug, Clone)]
pub struct KeptRule {
    /// The retention rule; `None` for an agent's choice.
    pub rule: Option<String>,
    pub exception: KeepException,
    pub legal_basis: String,
    /// The rule's period, counted per row from `dated`.
    pub keep: Option<Period>,
    /// The rule's table and the column its period counts from, when it names them.
    pub dated: Option<(String, String)>,
    /// The end of an agent's choice: the same day for every row it keeps.
    pub until: Option<NaiveDate>,
    /// Every mapped table the rule keeps: its own and those holding its categories.
    pub tables: Vec<String>,
}

/// What an erasure keeps in one system.
#[derive(Debug, Clone, Default)]
pub struct KeepPlan {
    pub rules: Vec<KeptRule>,
    /// A legal hold covers the person in this system: everything stays while it lasts.
    pub held: bool,
}

/// One kept row and its end; `until` is `None` while a hold lasts or when the row has no date
/// to count from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    pub table: String,
    pub key: String,
    pub until: Option<NaiveDate>,
    pub exception: KeepException,
    pub legal_basis: String,
    pub rule: Option<String>,
}

/// The person's rows the plan keeps, and those whose duty has already ended.
#[derive(Debug, Clone, Default)]
pub struct Decision {
    pub kept: Vec<Kept>,
    /// (table, key) of rows to erase now: their duty ended on or before today.
    pub ended: Vec<(String, String)>,
}

impl Decision {
    /// The tables that keep at least one row.
    pub fn kept_tables(&self) -> Vec<String> {
        let mut tables: Vec<String> = self.kept.iter().map(|k| k.table.clone()).collect();
        tables.dedup();
        tables.sort();
        tables.dedup();
        tables
    }

    /// The latest end of the kept rows, or `None` when one of them has no end yet.
    pub fn latest_end(&self) -> Option<NaiveDate> {
        latest_end(self.kept.iter().map(|k| k.until))
    }
}

/// The latest of these ends; `None` when one of them is open (or there are none).
pub fn latest_end(ends: impl Iterator<Item = Option<NaiveDate>>) -> Option<NaiveDate> {
    let mut latest = None;
    for end in ends {
        latest = Some(latest.map_or(end, |so_far: Option<NaiveDate>| later(so_far, end)));
    }
    latest.flatten()
}

/// Works out, with the connector, which of the person's rows `plan` keeps and until when.
pub fn decide(
    connector: &mut SqlConnector,
    identifiers: &[(IdentifierKind, String)],
    plan: &KeepPlan,
    today: NaiveDate,
) -> Result<Decision, ConnectorError> {
    let mapping = connector.mapping().clone();
    let mut rows: BTreeMap<(String, String), Kept> = BTreeMap::new();
    for rule in &plan.rules {
        let mut kept_end: Option<Option<NaiveDate>> = None;
        if let Some((table, column)) = &rule.dated {
            for row in connector.dated_rows(identifiers, table, Some((table, column)))? {
                let until = row
                    .counted_from
                    .and_then(|day| rule.keep.map(|keep| keep.after(day)));
                if !has_ended(until, today) {
                    kept_end = Some(kept_end.map_or(until, |end| later(end, until)));
                }
                merge(&mut rows, keep_of(rule, table, row.key, until));
            }
        }
        for table in &rule.tables {
            let dated_table = rule.dated.as_ref().map(|(t, c)| (t.as_str(), c.as_str()));
            let found = match dated_table {
                Some((own, _)) if own == table => continue,
                Some(dated) if descends_from(&mapping, table, dated.0) => {
                    connector.dated_rows(identifiers, table, Some(dated))?
                }
                // Rows that belong to the kept records stay as long as the last of them.
                Some(_) => match kept_end {
                    None => continue,
                    Some(_) => connector.dated_rows(identifiers, table, None)?,
                },
                None => connector.dated_rows(identifiers, table, None)?,
            };
            for row in found {
                let until = match (dated_table, row.counted_from) {
                    (Some(_), Some(day)) => rule.keep.map(|keep| keep.after(day)),
                    _ => kept_end.flatten(),
                }
                .or(rule.until);
                merge(&mut rows, keep_of(rule, table, row.key, until));
            }
        }
    }
    if plan.held {
        hold_everything(connector, identifiers, &mapping, &mut rows, today)?;
    }
    let mut decision = Decision::default();
    for (_, kept) in rows {
        if has_ended(kept.until, today) {
            decision.ended.push((kept.table, kept.key));
        } else {
            decision.kept.push(kept);
        }
    }
    Ok(decision)
}

/// Under a legal hold every row of the system stays: rows a duty keeps longer keep their end,
/// the others stay until the hold is lifted.
fn hold_everything(
    connector: &mut SqlConnector,
    identifiers: &[(IdentifierKind, String)],
    mapping: &SqlMapping,
    rows: &mut BTreeMap<(String, String), Kept>,
    today: NaiveDate,
) -> Result<(), ConnectorError> {
    for table in &mapping.tables {
        for row in connector.dated_rows(identifiers, &table.name, None)? {
            let slot = (table.name.clone(), row.key.clone());
            let until = rows
                .get(&slot)
                .and_then(|kept| kept.until)
                .filter(|end| *end > today);
            rows.insert(
                slot,
                Kept {
                    table: table.name.clone(),
                    key: row.key,
                    until,
                    exception: KeepException::LegalClaims,
                    legal_basis: "legal hold".into(),
                    rule: None,
                },
            );
        }
    }
    Ok(())
}

fn keep_of(rule: &KeptRule, table: &str, key: String, until: Option<NaiveDate>) -> Kept {
    Kept {
        table: table.to_string(),
        key,
        until,
        exception: rule.exception,
        legal_basis: rule.legal_basis.clone(),
        rule: rule.rule.clone(),
    }
}

/// Where two rules keep the same row, the later end wins (an open end is the latest).
fn merge(rows: &mut BTreeMap<(String, String), Kept>, kept: Kept) {
    let slot = (kept.table.clone(), kept.key.clone());
    match rows.get(&slot) {
        Some(existing) if later(existing.until, kept.until) == existing.until => {}
        _ => {
            rows.insert(slot, kept);
        }
    }
}

fn later(a: Option<NaiveDate>, b: Option<NaiveDate>) -> Option<NaiveDate> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        _ => None,
    }
}

/// A duty ends on its last day: the row goes from that day on, as a sweep would take it.
pub fn has_ended(until: Option<NaiveDate>, today: NaiveDate) -> bool {
    until.is_some_and(|end| end <= today)
}

/// Whether `table` lies under `ancestor` in the mapping.
fn descends_from(mapping: &SqlMapping, table: &str, ancestor: &str) -> bool {
    let mut current = mapping.table(table);
    for _ in 0..=mapping.tables.len() {
        let Some(parent) = current.and_then(|t| t.parent.as_ref()) else {
            return false;
        };
        if parent.table == ancestor {
            return true;
        }
        current = mapping.table(&parent.table);
    }
    false
}

/// How an erasure erases the person in each table of `system`: the columns the catalog
/// mapping's `anonymise_on_erasure` names, else those of a retention rule with
/// `on_erasure: anonymise` on the table, are anonymised (the row stays, so kept rows that refer
/// to it keep their keys); every other table is deleted from. A request's erase task and the
/// sweep that erases its kept rows later both follow it.
pub fn erasure_methods(
    rules: &[crate::policies::RetentionRule],
    system: &crate::catalog::model::System,
) -> crate::connectors::ErasureMethods {
    let mut methods = crate::connectors::ErasureMethods::new();
    for rule in rules.iter().filter(|rule| {
        rule.system == system.key && rule.on_erasure == crate::policies::OnErasure::Anonymise
    }) {
        if let Some(table) = &rule.table {
            methods.insert(
                table.clone(),
                crate::policies::connector_strategies(&rule.anonymise),
            );
        }
    }
    for table in system.sql.iter().flat_map(|mapping| &mapping.tables) {
        if !table.anonymise_on_erasure.is_empty() {
            methods.insert(
                table.name.clone(),
                crate::policies::connector_strategies(&table.anonymise_on_erasure),
            );
        }
    }
    methods
}

/// Rows per table of these (table, key) pairs.
pub fn counts<'a>(rows: impl Iterator<Item = &'a str>) -> TableCounts {
    let mut counts = TableCounts::new();
    for table in rows {
        *counts.entry(table.to_string()).or_default() += 1;
    }
    counts
}

/// Where a suppressed e-mail address is hashed; a place of its own, so the list cannot be
/// joined to the requests.
pub const SUPPRESSION_PLACE: &str = "suppression_list.email";

impl super::RequestService {
    /// After a marketing erasure: a keyed hash of the requester's e-mail address on the
    /// suppression list, so no mail goes to it again. Returns whether it was added now.
    pub(super) fn suppress_email(
        &self,
        conn: &mut crate::db::DbConnection,
        case: &super::case::Case,
    ) -> crate::error::Result<bool> {
        let Some(hash) = self.suppression_hash(case)? else {
            return Ok(false);
        };
        Ok(crate::db::models::kept::suppress(
            conn,
            &hash,
            case.id(),
            crate::db::now(),
        )?)
    }

    /// Whether the requester's e-mail address is on the suppression list.
    pub(super) fn is_suppressed(
        &self,
        conn: &mut crate::db::DbConnection,
        case: &super::case::Case,
    ) -> crate::error::Result<bool> {
        match self.suppression_hash(case)? {
            Some(hash) => Ok(crate::db::models::kept::is_suppressed(conn, &hash)?),
            None => Ok(false),
        }
    }

    fn suppression_hash(&self, case: &super::case::Case) -> crate::error::Result<Option<String>> {
        let requester = super::requester::Requester::open(&self.cipher, &case.row)?;
        Ok(requester.email.as_deref().map(|email| {
            self.cipher
                .index(SUPPRESSION_PLACE, &super::requester::normalise_email(email))
        }))
    }
}

/// The rows a request kept in one table under one exception, as the desk shows them.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeptView {
    pub system: String,
    pub table: String,
    pub exception: String,
    pub article: &'static str,
    pub legal_basis: String,
    /// Rows still kept.
    pub kept: usize,
    /// The latest end of the rows still kept; `None` while a hold lasts or no end is known.
    pub kept_until: Option<NaiveDate>,
    /// Rows erased since, their duty ended.
    pub erased: usize,
    pub last_erased_at: Option<chrono::NaiveDateTime>,
}

/// What the request with `request_id` kept, grouped by system, table and exception.
pub fn views(
    conn: &mut crate::db::DbConnection,
    request_id: &RequestId,
) -> crate::error::Result<Vec<KeptView>> {
    let rows = crate::db::models::kept::KeptRowRow::of_request(conn, request_id)?;
    let mut grouped: BTreeMap<(String, String, String), Vec<_>> = BTreeMap::new();
    for row in rows {
        let slot = (
            row.system_key.clone(),
            row.table_name.clone(),
            row.exception.clone(),
        );
        grouped.entry(slot).or_default().push(row);
    }
    Ok(grouped
        .into_iter()
        .map(|((system, table, exception), rows)| {
            let still: Vec<_> = rows.iter().filter(|r| r.erased_at.is_none()).collect();
            let article = exception
                .parse::<KeepException>()
                .map_or("Art. 17(3)", KeepException::article);
            KeptView {
                system,
                table,
                article,
                legal_basis: rows[0].legal_basis.clone(),
                exception,
                kept: still.len(),
                kept_until: latest_end(still.iter().map(|r| r.keep_until)),
                erased: rows.len() - still.len(),
                last_erased_at: rows.iter().filter_map(|r| r.erased_at).max(),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    #[test]
    fn the_latest_end_is_open_when_one_end_is() {
        assert_eq!(
            latest_end([day(2030, 1, 1), day(2033, 12, 31)].into_iter()),
            day(2033, 12, 31)
        );
        assert_eq!(latest_end([day(2030, 1, 1), None].into_iter()), None);
        assert_eq!(latest_end(std::iter::empty()), None);
    }

    #[test]
    fn a_duty_has_ended_on_its_last_day() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        assert!(has_ended(day(2026, 12, 3), today));
        assert!(has_ended(day(2025, 12, 31), today));
        assert!(!has_ended(day(2026, 12, 31), today));
        assert!(!has_ended(None, today));
    }

    #[test]
    fn exceptions_name_their_article() {
        assert_eq!(KeepException::LegalObligation.article(), "Art. 17(3)(b)");
        assert_eq!(KeepException::LegalClaims.article(), "Art. 17(3)(e)");
        assert_eq!(KeepException::LegalClaims.as_str(), "legal_claims");
    }
}
