//! Tasks for a system's owner (issue #22). A checklist task on a system loket cannot reach is
//! sent, by mail through the outbox, to the owner's address in the catalog (`owner_email`) as a
//! single-use link to a form that needs no account: what to do, in which system, the person's
//! identifiers that system finds people by, and the due date. What the owner fills in (where they
//! searched, what they found, what they did, with files) closes the task as its evidence, with
//! the time and the address the link went to, and an audit event.
//!
//! The link's token is an HMAC of the link's random id under the index key: only loket can make
//! it, and it can make it again for the reminder, while the database keeps only its SHA-256. A
//! link is used once (a conditional UPDATE), expires after `owner_link_days`, and a new link for
//! the same task revokes the old one. A daily job reminds the owner before the due date and tells
//! the privacy officer when the due date has passed with the task still open.

use super::case::Case;
use super::requester::{check_text, Requester};
use super::{RequestService, Staff};
use crate::audit::{self, Actor};
use crate::catalog::model::{IdentifierKind, System};
use crate::catalog::Item;
use crate::db::models::owner_links::{FollowUp, OwnerLinkRow};
use crate::db::models::requests::TaskRow;
use crate::db::DbConnection;
use crate::error::{ConflictCode, Error, FieldError, Result};
use crate::ids::{RequestId, TaskId};
use crate::mail::outbox::{enqueue_notice, Notice};
use crate::vocabulary::{Language, SearchOutcome, TaskState};
use anyhow::Context;
use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// Where the owner's address is sealed.
const RECIPIENT_PLACE: &str = "owner_links.recipient";
/// Where the agent's note to the owner is sealed.
const NOTE_PLACE: &str = "owner_links.note";
/// The HMAC domain of link tokens.
const TOKEN_PLACE: &str = "owner_links.token";
/// The outbox's names for the three messages.
pub const TASK_MAIL: &str = "owner_task";
pub const REMINDER_MAIL: &str = "owner_task_reminder";
pub const ESCALATION_MAIL: &str = "owner_task_escalation";
/// The longest note to the owner, and the longest answer to each question of the form.
const MAX_NOTE: usize = 2_000;
pub const MAX_ANSWER: usize = 4_000;
/// Who closes a task through the form, on the audit trail.
const OWNER_ACTOR: Actor = Actor::System("system-owner");

/// Sending a task to its system's owner.
#[derive(utoipa::ToSchema, Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerSend {
    /// The version of the task the sending is based on.
    pub version: i32,
    /// The language of the mail and the form; Dutch when left out.
    #[serde(default)]
    pub language: Option<Language>,
    /// The day the owner should be done by: from today until the link expires
    /// (`owner_link_days`), never after the request's due date; by default the earlier of the two.
    #[serde(default)]
    pub due_on: Option<NaiveDate>,
    /// A note for the owner, in the mail (not the person's identifiers: the form shows those).
    #[serde(default)]
    pub note: Option<String>,
}

/// A link sent to a system's owner, as staff see it (never its token).
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct OwnerLink {
    pub id: String,
    pub task_id: TaskId,
    pub system: String,
    /// The address the link was sent to.
    pub recipient: String,
    pub language: String,
    pub due_on: NaiveDate,
    pub expires_at: NaiveDateTime,
    pub sent_by: String,
    pub sent_at: NaiveDateTime,
    pub reminded_at: Option<NaiveDateTime>,
    pub escalated_at: Option<NaiveDateTime>,
    pub used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
    /// `open`, `used`, `expired` or `revoked`.
    pub state: &'static str,
}

/// What the owner's form shows.
#[derive(Debug, Clone, Serialize)]
pub struct OwnerForm {
    pub language: Language,
    pub organisation: String,
    pub reference: String,
    pub right: String,
    pub system: String,
    pub task: String,
    /// Whether the task searches the system, so the form asks what was found.
    pub asks_outcome: bool,
    /// (what, value): only the identifiers this system finds people by.
    pub identifiers: Vec<(String, String)>,
    pub due_on: String,
    pub expires_on: String,
    pub note: Option<String>,
}

/// What the owner answers.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OwnerStatement {
    pub searched: String,
    pub found: String,
    pub did: String,
    /// `found` or `not_found`, for tasks that search the system.
    #[serde(default)]
    pub outcome: Option<SearchOutcome>,
    #[serde(default)]
    pub rows: Option<i64>,
}

impl OwnerStatement {
    pub fn validate(&self, asks_outcome: bool) -> Result<()> {
        let mut errors = Vec::new();
        for (field, value) in [
            ("searched", &self.searched),
            ("found", &self.found),
            ("did", &self.did),
        ] {
            if value.trim().is_empty() {
                errors.push(FieldError::new(field, "is required"));
            } else {
                check_text(&mut errors, field, value, MAX_ANSWER);
            }
        }
        match (self.outcome, self.rows) {
            (None, _) if asks_outcome => errors.push(FieldError::new(
                "outcome",
                "say whether the person was found: found or not_found",
            )),
            (Some(SearchOutcome::Found), rows) if rows.is_none_or(|rows| rows < 1) => errors.push(
                FieldError::new("rows", "say how many records were found (at least 1)"),
            ),
            (Some(SearchOutcome::NotReachable), _) => errors.push(FieldError::new(
                "outcome",
                "found or not_found: the owner reaches the system",
            )),
            _ => {}
        }
        crate::error::all_valid(errors)
    }
}

/// What the daily job did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OwnerRun {
    pub reminded: usize,
    pub escalated: usize,
}

/// The SHA-256 of a token, as stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Tokens are 64 hexadecimal characters; anything else is not looked up.
pub fn is_token(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

impl RequestService {
    fn owner_token(&self, link_id: &str) -> String {
        self.cipher.index(TOKEN_PLACE, link_id)
    }

    fn owner_url(&self, link_id: &str) -> String {
        format!("{}/taak/{}", self.public_url, self.owner_token(link_id))
    }

    /// Sends an open task on a system loket cannot reach to the system's owner.
    pub async fn send_to_owner(
        &self,
        staff: Staff,
        request_id: RequestId,
        task_id: TaskId,
        send: OwnerSend,
    ) -> Result<OwnerLink> {
        let mut errors = Vec::new();
        if let Some(note) = &send.note {
            check_text(&mut errors, "note", note, MAX_NOTE);
        }
        crate::error::all_valid(errors)?;
        let service = self.clone();
        let link = self
            .store
            .write(move |conn| {
                let case = Case::load(conn, &request_id)?;
                case.expect_open()?;
                let task = super::tasks::task_index(&case, &task_id).map(|i| &case.tasks[i])?;
                if task.version != send.version {
                    return Err(super::case::stale("task", task.version));
                }
                let system = service.owner_system(conn, task)?;
                let recipient = system.owner_email.clone().unwrap_or_default();
                let now = crate::db::now();
                let expires_at = now + TimeDelta::days(service.policies.requests.owner_link_days);
                let due_on = owner_due_on(send.due_on, &case, super::dutch_date(expires_at))?;
                OwnerLinkRow::revoke_open_of_task(conn, &task.id, now)?;
                let language = send.language.unwrap_or(Language::Nl);
                let row = OwnerLinkRow {
                    id: crate::ids::new_id(),
                    request_id: case.row.id.clone(),
                    task_id: task.id.clone(),
                    system_key: system.key.clone(),
                    token_hash: String::new(),
                    recipient_enc: service.cipher.encrypt(RECIPIENT_PLACE, &recipient),
                    language,
                    note_enc: service
                        .cipher
                        .encrypt_opt(NOTE_PLACE, send.note.as_deref().map(str::trim)),
                    due_on,
                    expires_at,
                    sent_by: staff.username.to_string(),
                    sent_at: now,
                    reminded_at: None,
                    escalated_at: None,
                    used_at: None,
                    revoked_at: None,
                };
                let row = OwnerLinkRow {
                    token_hash: token_hash(&service.owner_token(&row.id)),
                    ..row
                };
                row.insert(conn)?;
                let mut context = service.mail_context(conn, &case, task, &system, &row)?;
                context.note = send.note.as_deref().map(str::trim).map(str::to_string);
                context.sent_by = staff.username.to_string();
                service.queue_owner_mail(conn, &row, TASK_MAIL, &recipient, &context)?;
                audit::record(
                    conn,
                    &staff.actor(),
                    case.change(
                        "request.owner_task.sent",
                        format!(
                            "task {} ({}, {}) sent to the owner of {} ({recipient}), due {due_on}, link {} expires {}",
                            task.position + 1,
                            task.kind,
                            system.key,
                            system.key,
                            row.id,
                            row.expires_at.format("%Y-%m-%d %H:%M")
                        ),
                    ),
                )?;
                service.owner_link_view(row, now)
            })
            .await?;
        (self.mail_queued)();
        Ok(link)
    }

    /// The task's system, if its owner can be sent the task: loket cannot reach it and the
    /// catalog names the owner's address.
    fn owner_system(&self, conn: &mut DbConnection, task: &TaskRow) -> Result<System> {
        if !task.state.is_open() {
            return Err(Error::conflict(
                ConflictCode::WrongState,
                format!("task {} is {} already", task.position + 1, task.state),
            ));
        }
        let Some(key) = &task.system_key else {
            return Err(Error::invalid(
                "task",
                "only a task on one system can be sent to that system's owner",
            ));
        };
        let system = System::load(conn, key)?.ok_or_else(|| {
            Error::conflict(
                ConflictCode::WrongState,
                format!("system {key} is no longer in the catalog"),
            )
        })?;
        if self.connectors.reaches_any(&system) {
            return Err(Error::conflict(
                ConflictCode::WrongState,
                format!("loket reaches system {key} itself: run the task through its connector"),
            ));
        }
        if system.owner_email.is_none() {
            return Err(Error::conflict(
                ConflictCode::WrongState,
                format!(
                    "system {key} has no owner_email in the catalog; add the owner's address first"
                ),
            ));
        }
        Ok(system)
    }

    /// The links sent for a request's tasks, oldest first.
    pub(crate) fn owner_links_in(
        &self,
        conn: &mut DbConnection,
        request_id: &str,
    ) -> Result<Vec<OwnerLink>> {
        let now = crate::db::now();
        OwnerLinkRow::of_request(conn, request_id)?
            .into_iter()
            .map(|row| self.owner_link_view(row, now))
            .collect()
    }

    fn owner_link_view(&self, row: OwnerLinkRow, now: NaiveDateTime) -> Result<OwnerLink> {
        let state = match (&row.used_at, &row.revoked_at) {
            (Some(_), _) => "used",
            (None, Some(_)) => "revoked",
            (None, None) if row.expires_at <= now => "expired",
            (None, None) => "open",
        };
        Ok(OwnerLink {
            recipient: self.open_sealed(RECIPIENT_PLACE, &row.recipient_enc)?,
            id: row.id,
            task_id: row.task_id,
            system: row.system_key,
            language: row.language.to_string(),
            due_on: row.due_on,
            expires_at: row.expires_at,
            sent_by: row.sent_by,
            sent_at: row.sent_at,
            reminded_at: row.reminded_at,
            escalated_at: row.escalated_at,
            used_at: row.used_at,
            revoked_at: row.revoked_at,
            state,
        })
    }

    fn open_sealed(&self, place: &str, sealed: &str) -> Result<String> {
        self.cipher
            .decrypt(place, sealed)
            .with_context(|| format!("opening {place}"))
            .map_err(Error::from)
    }

    /// What the form behind a link shows, if the link can still be used.
    pub async fn owner_form(&self, token: String) -> Result<OwnerForm> {
        let service = self.clone();
        self.store
            .read(move |conn| {
                let (row, case, index) = open_link(conn, &token)?;
                let task = &case.tasks[index];
                let system = System::load(conn, &row.system_key)?
                    .ok_or_else(|| Error::Gone("the system is no longer in the catalog".into()))?;
                let context = service.mail_context(conn, &case, task, &system, &row)?;
                let language = context.language;
                let requester = Requester::open(&service.cipher, &case.row)?;
                Ok(OwnerForm {
                    identifiers: identifiers_for(&requester, &system, language),
                    asks_outcome: asks_outcome(task)?,
                    note: row
                        .note_enc
                        .as_deref()
                        .map(|note| service.open_sealed(NOTE_PLACE, note))
                        .transpose()?,
                    language,
                    organisation: context.organisation,
                    reference: context.reference,
                    right: context.right,
                    system: context.system,
                    task: context.task,
                    due_on: context.due_on,
                    expires_on: context.expires_on,
                })
            })
            .await
    }

    /// Inside the caller's transaction: uses the link and closes its task with the owner's
    /// statement as evidence. The caller stores the owner's files with the same transaction.
    /// Returns the task and the address the link was sent to.
    pub(crate) fn complete_by_owner(
        &self,
        conn: &mut DbConnection,
        token: &str,
        statement: &OwnerStatement,
        files: usize,
    ) -> Result<(TaskRow, String)> {
        let (row, mut case, index) = open_link(conn, token)?;
        let mut task = case.tasks[index].clone();
        statement.validate(asks_outcome(&task)?)?;
        let now = crate::db::now();
        if !OwnerLinkRow::claim(conn, &row.id, now)? {
            return Err(Error::conflict(
                ConflictCode::AlreadyDone,
                "this link has been used already; the task is done",
            ));
        }
        let recipient = self.open_sealed(RECIPIENT_PLACE, &row.recipient_enc)?;
        let language = row.language;
        let evidence = evidence(statement, &recipient, now, files, language);
        self.set_task_state(&mut task, TaskState::Done, Some(&evidence), &recipient);
        if let Some(outcome) = statement
            .outcome
            .filter(|_| asks_outcome(&task).unwrap_or(false))
        {
            super::tasks::record_outcome(&mut task, outcome, statement.rows);
        }
        super::tasks::store_task(conn, &mut task)?;
        audit::record(
            conn,
            &OWNER_ACTOR,
            case.change(
                "request.owner_task.completed",
                format!(
                    "task {} ({}, {}) done by the system owner {recipient} through the link sent on {}: statement recorded as evidence, {files} file(s)",
                    task.position + 1,
                    task.kind,
                    row.system_key,
                    row.sent_at.format("%Y-%m-%d"),
                ),
            ),
        )?;
        case.tasks[index] = task.clone();
        Ok((task, recipient))
    }

    /// The daily job: reminds owners whose due date is `owner_reminder_days` away or nearer, and
    /// tells the privacy officer (the DPO's address in the catalog, else the organisation's) of
    /// tasks still open after their due date. Each link is reminded and escalated at most once,
    /// whichever instance runs the job.
    pub async fn remind_and_escalate_owners(&self, today: NaiveDate) -> Result<OwnerRun> {
        let service = self.clone();
        let run = self
            .store
            .write(move |conn| {
                let days = service.policies.requests.owner_reminder_days;
                let mut run = OwnerRun::default();
                for row in OwnerLinkRow::outstanding(conn, today + TimeDelta::days(days))? {
                    let case = Case::load(conn, &row.request_id)?;
                    let Some(task) = case.tasks.iter().find(|t| t.id == row.task_id) else {
                        continue;
                    };
                    if case.state().is_closed() || task.state != TaskState::Open {
                        continue;
                    }
                    let follow_up = if today > row.due_on {
                        FollowUp::Escalation
                    } else if row.reminded_at.is_none()
                        && super::dutch_date(row.expires_at) >= today
                    {
                        FollowUp::Reminder
                    } else {
                        continue;
                    };
                    let done = usize::from(service.follow_up(conn, &case, task, &row, follow_up)?);
                    match follow_up {
                        FollowUp::Reminder => run.reminded += done,
                        FollowUp::Escalation => run.escalated += done,
                    }
                }
                Ok::<_, Error>(run)
            })
            .await?;
        if run.reminded + run.escalated > 0 {
            (self.mail_queued)();
        }
        Ok(run)
    }

    /// Reminds the owner of a link, or tells the privacy officer (the DPO's address in the
    /// catalog, else the organisation's) that its task is overdue: the mail and its audit event,
    /// once per link; false when another instance did it first.
    fn follow_up(
        &self,
        conn: &mut DbConnection,
        case: &Case,
        task: &TaskRow,
        row: &OwnerLinkRow,
        follow_up: FollowUp,
    ) -> Result<bool> {
        if !OwnerLinkRow::mark_followed_up(conn, &row.id, follow_up, crate::db::now())? {
            return Ok(false);
        }
        let system = self.system_or_key(conn, &row.system_key)?;
        let owner = self.open_sealed(RECIPIENT_PLACE, &row.recipient_enc)?;
        let mut context = self.mail_context(conn, case, task, &system, row)?;
        let (mail, recipient, action, summary) = match follow_up {
            FollowUp::Reminder => (
                REMINDER_MAIL,
                owner.clone(),
                "request.owner_task.reminded",
                format!(
                    "the owner of {} ({owner}) reminded of task {} ({}), due {}",
                    row.system_key,
                    task.position + 1,
                    task.kind,
                    row.due_on
                ),
            ),
            FollowUp::Escalation => {
                let officer = crate::catalog::organisation_in(conn)?
                    .map(|o| o.dpo_email.unwrap_or(o.contact_email))
                    .unwrap_or_else(|| self.mail_from.clone());
                context.owner = owner.clone();
                let summary = format!(
                    "task {} ({}, {}) still open after its due date {} with the owner ({owner}); the privacy officer ({officer}) was told",
                    task.position + 1,
                    task.kind,
                    row.system_key,
                    row.due_on
                );
                (
                    ESCALATION_MAIL,
                    officer,
                    "request.owner_task.escalated",
                    summary,
                )
            }
        };
        self.queue_owner_mail(conn, row, mail, &recipient, &context)?;
        audit::record(
            conn,
            &Actor::System("owner-reminders"),
            case.change(action, summary),
        )?;
        Ok(true)
    }

    /// The system of a link, or a stand-in named by its key when it left the catalog since.
    fn system_or_key(&self, conn: &mut DbConnection, key: &str) -> Result<System> {
        Ok(System::load(conn, key)?.unwrap_or_else(|| System {
            key: key.to_string(),
            name: key.into(),
            description: None,
            owner: String::new(),
            owner_email: None,
            hosting: None,
            processor: None,
            identifier_kinds: Vec::new(),
            connector: Default::default(),
            holdings: Vec::new(),
            sql: None,
            hosting_country: None,
            http: None,
        }))
    }

    fn mail_context(
        &self,
        conn: &mut DbConnection,
        case: &Case,
        task: &TaskRow,
        system: &System,
        row: &OwnerLinkRow,
    ) -> Result<MailContext> {
        let language = row.language;
        let date = |day: NaiveDate| crate::mail::letters::written_date(day, language);
        let (right_nl, right_en) = super::checklist::right_names(case.kind());
        let organisation = crate::catalog::organisation_in(conn)?
            .map(|o| o.name)
            .unwrap_or_else(|| self.mail_from.clone());
        Ok(MailContext {
            language,
            organisation,
            reference: case.row.reference.clone(),
            right: match language {
                Language::Nl => right_nl,
                Language::En => right_en,
            }
            .to_string(),
            system: system.name.get(language).to_string(),
            task: match language {
                Language::Nl => task.title_nl.clone(),
                Language::En => task.title_en.clone(),
            },
            due_on: date(row.due_on),
            expires_on: date(super::dutch_date(row.expires_at)),
            sent_on: date(super::dutch_date(row.sent_at)),
            request_due_on: date(case.row.due_on),
            link: self.owner_url(&row.id),
            desk_link: format!("{}/desk/requests/{}", self.public_url, case.row.id),
            sent_by: row.sent_by.clone(),
            note: None,
            owner: String::new(),
        })
    }

    fn queue_owner_mail(
        &self,
        conn: &mut DbConnection,
        row: &OwnerLinkRow,
        template: &str,
        recipient: &str,
        context: &MailContext,
    ) -> Result<()> {
        let (subject, body) = render_mail(template, context)?;
        enqueue_notice(
            conn,
            &self.cipher,
            Notice {
                request_id: Some(&row.request_id),
                template,
                language: context.language,
                recipient,
                subject: &subject,
                body: &body,
            },
        )?;
        Ok(())
    }
}

/// Everything the owner's mails and form say.
#[derive(Debug, Clone, Serialize)]
struct MailContext {
    language: Language,
    organisation: String,
    reference: String,
    right: String,
    system: String,
    task: String,
    due_on: String,
    expires_on: String,
    sent_on: String,
    request_due_on: String,
    link: String,
    desk_link: String,
    sent_by: String,
    note: Option<String>,
    owner: String,
}

/// The link behind `token`, if it can still be used, with its request and the task's index.
fn open_link(conn: &mut DbConnection, token: &str) -> Result<(OwnerLinkRow, Case, usize)> {
    let not_found = || Error::not_found("link");
    if !is_token(token) {
        return Err(not_found());
    }
    let row = OwnerLinkRow::by_token_hash(conn, &token_hash(token))?.ok_or_else(not_found)?;
    if row.used_at.is_some() {
        return Err(Error::conflict(
            ConflictCode::AlreadyDone,
            "this link has been used already; the task is done",
        ));
    }
    if row.revoked_at.is_some() {
        return Err(Error::Gone(
            "this link was replaced by a newer one; use the link in the latest mail".into(),
        ));
    }
    if row.expires_at <= crate::db::now() {
        return Err(Error::Gone("this link has expired".into()));
    }
    let case = Case::load(conn, &row.request_id)?;
    if case.state().is_closed() {
        return Err(Error::Gone("the request has been closed".into()));
    }
    let index = super::tasks::task_index(&case, &row.task_id).map_err(|_| not_found())?;
    if case.tasks[index].state != TaskState::Open {
        return Err(Error::conflict(
            ConflictCode::AlreadyDone,
            "the task has been closed already by the privacy team",
        ));
    }
    Ok((row, case, index))
}

/// The owner's due date: as asked, or the earlier of the link's expiry and the request's due
/// date; from today, and never after either of them.
fn owner_due_on(asked: Option<NaiveDate>, case: &Case, expires_on: NaiveDate) -> Result<NaiveDate> {
    let today = super::today();
    let latest = expires_on.min(case.row.due_on);
    let due_on = asked.unwrap_or(latest).max(today);
    if asked.is_some_and(|asked| asked < today) {
        return Err(Error::invalid("due_on", format!("from today ({today}) on")));
    }
    if due_on > latest {
        return Err(Error::invalid(
            "due_on",
            format!("at the latest {latest}: the link expires on {expires_on} and the request is due on {}", case.row.due_on),
        ));
    }
    Ok(due_on)
}

/// Whether the task searches its system, so the form asks what was found.
fn asks_outcome(task: &TaskRow) -> Result<bool> {
    Ok(task.kind.searches_a_system())
}

/// The requester's identifiers this system finds people by, labelled; a BSN masked.
fn identifiers_for(
    requester: &Requester,
    system: &System,
    language: Language,
) -> Vec<(String, String)> {
    let en = language == Language::En;
    system
        .identifier_kinds
        .iter()
        .filter_map(|kind| {
            let (nl_label, en_label, value) = match kind {
                IdentifierKind::Email => ("E-mailadres", "E-mail address", requester.email.clone()),
                IdentifierKind::CustomerNumber => (
                    "Klantnummer",
                    "Customer number",
                    requester.customer_number.clone(),
                ),
                IdentifierKind::Phone => {
                    ("Telefoonnummer", "Phone number", requester.phone.clone())
                }
                IdentifierKind::Name => ("Naam", "Name", requester.name.clone()),
                IdentifierKind::Bsn => (
                    "BSN (afgeschermd)",
                    "BSN (masked)",
                    requester.bsn.as_ref().map(|b| b.masked()),
                ),
                _ => return None,
            };
            Some((if en { en_label } else { nl_label }.to_string(), value?))
        })
        .collect()
}

/// The task's evidence: who answered, when, and what they said.
fn evidence(
    statement: &OwnerStatement,
    recipient: &str,
    at: NaiveDateTime,
    files: usize,
    language: Language,
) -> String {
    let at = super::dutch_time(at).format("%Y-%m-%d %H:%M");
    let outcome = match (statement.outcome, statement.rows) {
        (Some(SearchOutcome::Found), Some(rows)) => format!(" ({rows})"),
        (Some(SearchOutcome::NotFound), _) => match language {
            Language::Nl => " (niets gevonden)".into(),
            Language::En => " (nothing found)".into(),
        },
        _ => String::new(),
    };
    let labels = match language {
        Language::Nl => [
            "Verklaring van de systeemeigenaar",
            "via het formulier op",
            "Gezocht",
            "Gevonden",
            "Gedaan",
            "Bestanden",
        ],
        Language::En => [
            "Statement of the system owner",
            "through the form on",
            "Searched",
            "Found",
            "Did",
            "Files",
        ],
    };
    format!(
        "{} {recipient}, {} {at}:\n{}: {}\n{}{outcome}: {}\n{}: {}\n{}: {files}",
        labels[0],
        labels[1],
        labels[2],
        statement.searched.trim(),
        labels[3],
        statement.found.trim(),
        labels[4],
        statement.did.trim(),
        labels[5],
    )
}

static MAILS: LazyLock<minijinja::Environment<'static>> = LazyLock::new(|| {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    macro_rules! mails {
        ($($name:literal),*) => {
            [$(($name, include_str!(concat!("../../templates/owners/", $name)))),*]
        };
    }
    for (name, source) in mails![
        "nl/task.txt",
        "en/task.txt",
        "nl/reminder.txt",
        "en/reminder.txt",
        "nl/escalation.txt",
        "en/escalation.txt"
    ] {
        env.add_template(name, source)
            .expect("the owner mail templates are valid");
    }
    env
});

/// (subject, body) of one of the owner's mails: the template's first line is the subject.
fn render_mail(template: &str, context: &MailContext) -> Result<(String, String)> {
    let file = match template {
        TASK_MAIL => "task",
        REMINDER_MAIL => "reminder",
        _ => "escalation",
    };
    let name = format!("{}/{file}.txt", context.language.as_str());
    let text = MAILS
        .get_template(&name)
        .and_then(|t| t.render(context))
        .with_context(|| format!("the mail {name} could not be written"))?;
    let (subject, body) = text.split_once('\n').unwrap_or((&text, ""));
    Ok((subject.trim().to_string(), body.trim_start().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(language: Language) -> MailContext {
        MailContext {
            language,
            organisation: "Telco Noord".into(),
            reference: "AVG-2026-K7Q2M9XP".into(),
            right: "wissing".into(),
            system: "Archief".into(),
            task: "Wis de gegevens in Archief".into(),
            due_on: "10 december 2026".into(),
            expires_on: "10 december 2026".into(),
            sent_on: "3 december 2026".into(),
            request_due_on: "4 januari 2027".into(),
            link: "https://loket.example/taak/abc".into(),
            desk_link: "https://loket.example/desk/requests/1".into(),
            sent_by: "anna".into(),
            note: Some("Let op de oude backups.".into()),
            owner: "archief@telco.example".into(),
        }
    }

    #[test]
    fn every_owner_mail_renders_in_both_languages_with_a_subject() {
        for language in [Language::Nl, Language::En] {
            for template in [TASK_MAIL, REMINDER_MAIL, ESCALATION_MAIL] {
                let (subject, body) = render_mail(template, &context(language)).unwrap();
                assert!(subject.contains("AVG-2026-K7Q2M9XP"), "{subject}");
                assert!(body.contains("Archief"), "{body}");
                assert!(!body.contains("{{"), "{body}");
            }
        }
        let (_, task) = render_mail(TASK_MAIL, &context(Language::Nl)).unwrap();
        assert!(task.contains("https://loket.example/taak/abc"));
        assert!(task.contains("Let op de oude backups."));
        let (_, escalation) = render_mail(ESCALATION_MAIL, &context(Language::En)).unwrap();
        assert!(escalation.contains("archief@telco.example"));
        assert!(escalation.contains("https://loket.example/desk/requests/1"));
    }

    #[test]
    fn only_tokens_of_the_right_shape_are_looked_up() {
        assert!(is_token(&"a1".repeat(32)));
        assert!(!is_token("../../etc"));
        assert!(!is_token(&"g".repeat(64)));
        assert_eq!(token_hash("x").len(), 64);
    }

    #[test]
    fn the_statement_needs_every_answer_and_an_outcome_for_a_search() {
        let statement = OwnerStatement {
            searched: "klantenbestand".into(),
            found: "twee dossiers".into(),
            did: "verwijderd".into(),
            outcome: Some(SearchOutcome::Found),
            rows: Some(2),
        };
        assert!(statement.validate(true).is_ok());
        let fields = |s: &OwnerStatement, asks| match s.validate(asks) {
            Err(Error::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
            _ => Vec::new(),
        };
        let blank = OwnerStatement::default();
        assert_eq!(
            fields(&blank, true),
            ["searched", "found", "did", "outcome"]
        );
        assert_eq!(fields(&blank, false), ["searched", "found", "did"]);
        let no_rows = OwnerStatement {
            rows: None,
            ..statement
        };
        assert_eq!(fields(&no_rows, true), ["rows"]);
    }
}
