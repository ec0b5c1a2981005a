//! A request as one unit of work inside a transaction: its row, checklist and pauses, loaded
//! together, changed in memory, and saved under optimistic concurrency.

use super::deadline::{self, DeadlineInput, Pause};
use crate::audit::{self, Actor, Change};
use crate::db::models::packages::{AttachmentRow, PackageRow, RedactionRow};
use crate::db::models::requests::{self as rows, PauseRow, RequestRow, TaskRow};
use crate::db::DbConnection;
use crate::error::{ConflictCode, Error, Result};
use crate::ids::RequestId;
use crate::vocabulary::{RequestKind, RequestState, TaskState};
use crate::webhooks::{EventData, RequestFacts, WebhookEvent};

pub struct Case {
    pub row: RequestRow,
    pub tasks: Vec<TaskRow>,
    pub pauses: Vec<PauseRow>,
    /// False while an intake's checklist is built and its first tasks closed in memory: it is
    /// inserted once, as it ends up (see `intake`), instead of inserted and then updated.
    pub checklist_stored: bool,
    /// False while an intake builds the request: its row is inserted once, as it ends up
    /// (identity checked during the call included), instead of inserted and then updated.
    pub row_stored: bool,
    /// Registered by this very call (`intake`): nothing in another table refers to it yet (no
    /// comment, package, attachment, keep choice, kept row, redaction, ground or owner link),
    /// so the letters and the view of the intake skip reading them, a statement each.
    pub fresh: bool,
}

impl Case {
    pub fn load(conn: &mut DbConnection, id: &RequestId) -> Result<Case> {
        let (row, tasks) = rows::find_request_with_tasks(conn, id)?
            .ok_or_else(|| Error::not_found(format!("request '{id}'")))?;
        Self::with_row_and_tasks(conn, row, tasks)
    }

    pub fn with_row(conn: &mut DbConnection, row: RequestRow) -> Result<Case> {
        let tasks = rows::list_tasks(conn, &row.id)?;
        Self::with_row_and_tasks(conn, row, tasks)
    }

    fn with_row_and_tasks(
        conn: &mut DbConnection,
        row: RequestRow,
        tasks: Vec<TaskRow>,
    ) -> Result<Case> {
        let pauses = match row.has_pauses {
            true => rows::list_pauses(conn, &row.id)?,
            false => Vec::new(),
        };
        Ok(Case {
            row,
            tasks,
            pauses,
            checklist_stored: true,
            row_stored: true,
            fresh: false,
        })
    }

    /// The request's packages, newest first; read only where the database marked the row as
    /// having some (like the pauses), so an erasure's answer skips the table.
    pub fn packages(&self, conn: &mut DbConnection) -> Result<Vec<PackageRow>> {
        Ok(match self.row.has_packages {
            true => PackageRow::of_request(conn, self.id())?,
            false => Vec::new(),
        })
    }

    /// The request's attachments, oldest first, where the row is marked as having some.
    pub fn attachments(&self, conn: &mut DbConnection) -> Result<Vec<AttachmentRow>> {
        Ok(match self.row.has_attachments {
            true => AttachmentRow::of_request(conn, self.id())?,
            false => Vec::new(),
        })
    }

    /// What is withheld from the request's packages, where the row is marked as having some.
    pub fn redactions(&self, conn: &mut DbConnection) -> Result<Vec<RedactionRow>> {
        Ok(match self.row.has_redactions {
            true => RedactionRow::of_request(conn, self.id())?,
            false => Vec::new(),
        })
    }

    /// Whether the person asked who the recipients are (Art. 19), read only where the row is
    /// marked as having been asked once.
    pub fn recipients_asked(&self, conn: &mut DbConnection) -> Result<bool> {
        Ok(self.row.has_recipients_asked
            && crate::db::models::keep_choices::asked_recipients(conn, self.id())?)
    }

    pub fn id(&self) -> &RequestId {
        &self.row.id
    }

    pub fn kind(&self) -> RequestKind {
        self.row.kind
    }

    pub fn state(&self) -> RequestState {
        self.row.state
    }

    /// Refuses a change based on an older version of the request than the stored one.
    pub fn expect_version(&self, version: i32) -> Result<()> {
        if version == self.row.version {
            Ok(())
        } else {
            Err(stale("request", self.row.version))
        }
    }

    /// Refuses any change to a closed request.
    pub fn expect_open(&self) -> Result<()> {
        let state = self.state();
        if state.is_closed() {
            Err(Error::conflict(
                ConflictCode::Closed,
                format!("the request is {state}; a closed request cannot be changed"),
            ))
        } else {
            Ok(())
        }
    }

    pub fn is_paused(&self) -> bool {
        self.pauses.iter().any(|p| p.ended_on.is_none())
    }

    pub fn deadline_input(&self) -> DeadlineInput {
        DeadlineInput {
            received_on: super::dutch_date(self.row.received_at),
            extended: self.row.extended,
            pauses: self
                .pauses
                .iter()
                .map(|p| Pause {
                    start: p.started_on,
                    end: p.ended_on,
                })
                .collect(),
        }
    }

    /// Recomputes the due date from receipt, extension and pauses as they stand today.
    pub fn refresh_due_date(&mut self, today: chrono::NaiveDate) {
        self.row.due_on = deadline::due_date(&self.deadline_input(), today);
    }

    pub fn open_tasks(&self) -> impl Iterator<Item = &TaskRow> {
        self.tasks.iter().filter(|t| t.state == TaskState::Open)
    }

    /// The first open task of `kind`, if any.
    pub fn open_task_mut(&mut self, kind: crate::vocabulary::TaskKind) -> Option<&mut TaskRow> {
        self.tasks
            .iter_mut()
            .find(|t| t.kind == kind && t.state == TaskState::Open)
    }

    /// Saves the request row as the next version, with an audit event.
    pub fn save(
        &mut self,
        conn: &mut DbConnection,
        actor: &Actor,
        action: &str,
        summary: String,
    ) -> Result<()> {
        self.row.version += 1;
        self.row.updated_at = crate::db::now();
        // A row not stored yet is inserted by the intake as it ends up, this version included.
        if self.row_stored && !rows::update_request(conn, &self.row)? {
            return Err(stale("request", self.row.version - 1));
        }
        let reference = self.row.reference.clone();
        audit::record(
            conn,
            actor,
            Change {
                action,
                object_type: "request",
                object_id: &reference,
                summary,
            },
        )?;
        if let Some(event) = webhook_event(action, self.row.state.as_str()) {
            self.notify(conn, event)?;
        }
        Ok(())
    }

    /// Tells webhook subscribers about `event` of this request, in the caller's transaction:
    /// reference, kind, state and dates, nothing about the person.
    pub fn notify(&self, conn: &mut DbConnection, event: WebhookEvent) -> Result<()> {
        crate::webhooks::emit(conn, event, EventData::Request(self.facts()), None)?;
        Ok(())
    }

    /// What a webhook may say about this request.
    pub fn facts(&self) -> RequestFacts {
        facts_of(&self.row)
    }

    /// An audit change about this request; summaries never hold personal data.
    pub fn change<'a>(&'a self, action: &'a str, summary: String) -> Change<'a> {
        Change {
            action,
            object_type: "request",
            object_id: &self.row.reference,
            summary,
        }
    }
}

/// What a webhook may say about a request: reference, kind, state and dates.
pub fn facts_of(row: &RequestRow) -> RequestFacts {
    RequestFacts {
        request_id: row.id.clone(),
        reference: row.reference.clone(),
        kind: row.kind,
        state: row.state,
        received_on: super::dutch_date(row.received_at),
        due_on: row.due_on,
        closed_at: row.closed_at,
    }
}

/// The webhook event a saved change is, if any: an identity check, or a move to a final state.
fn webhook_event(action: &str, state: &str) -> Option<WebhookEvent> {
    match (action, state.parse().ok()?) {
        ("request.identity_verified", _) => Some(WebhookEvent::IdentityVerified),
        ("request.state_changed", RequestState::Completed) => Some(WebhookEvent::RequestCompleted),
        ("request.state_changed", RequestState::Refused) => Some(WebhookEvent::RequestRefused),
        _ => None,
    }
}

/// The answer to a stale update: someone else saved first.
pub fn stale(what: &str, current: i32) -> Error {
    Error::conflict(ConflictCode::Stale, format!(
        "the {what} was changed by someone else in the meantime (current version {current}); reload it and try again"
    ))
}
