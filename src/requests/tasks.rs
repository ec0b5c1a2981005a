//! Working the checklist: assigning, completing with evidence, marking not applicable with a
//! reason, reopening, and commenting. Each task carries its own version, so two agents working
//! different tasks of one request never block each other, and a stale update to the same task
//! gets a conflict instead of overwriting.

use super::case::{stale, Case};
use super::requester::{check_text, check_texts, place, MAX_DETAILS};
use super::view::RequestView;
use super::{RequestService, Staff};
use crate::audit::Change;
use crate::db::models::requests::{self as rows, CommentRow, TaskRow};
use crate::db::models::users::UserRow;
use crate::db::DbConnection;
use crate::error::{Error, FieldError, Result};
use crate::ids::{RequestId, TaskId, Username};
use crate::vocabulary::{SearchOutcome, TaskKind, TaskState};
use serde::{Deserialize, Deserializer};

/// A change to one task; only the fields given change.
#[derive(utoipa::ToSchema, Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskUpdate {
    /// The version of the task the change is based on.
    pub version: i32,
    /// A username, or `null` to unassign.
    #[serde(default, deserialize_with = "present")]
    pub assignee: Option<Option<Username>>,
    #[serde(default)]
    pub state: Option<TaskState>,
    /// What proves the task was done (required with `"state": "done"`).
    #[serde(default)]
    pub evidence: Option<String>,
    /// Why the task does not apply (required with `"state": "not_applicable"`).
    #[serde(default)]
    pub reason: Option<String>,
    /// What the search of the task's system found (search tasks, with `"state": "done"`;
    /// required for the export tasks of access and portability requests).
    #[serde(default)]
    pub outcome: Option<SearchOutcome>,
    /// How many rows or records were found (required with `"outcome": "found"`).
    #[serde(default)]
    pub rows: Option<i64>,
}

/// Tells a field given as `null` apart from a field left out.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> std::result::Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

impl TaskUpdate {
    fn validate(&self) -> Result<()> {
        let mut errors = Vec::new();
        match self.state {
            Some(TaskState::Done) => required(&mut errors, "evidence", self.evidence.as_deref()),
            Some(TaskState::NotApplicable) => {
                required(&mut errors, "reason", self.reason.as_deref())
            }
            _ => {}
        }
        if self.state != Some(TaskState::Done) && self.evidence.is_some() {
            errors.push(FieldError::new(
                "evidence",
                "goes with \"state\": \"done\" only",
            ));
        }
        if self.state != Some(TaskState::NotApplicable) && self.reason.is_some() {
            errors.push(FieldError::new(
                "reason",
                "goes with \"state\": \"not_applicable\" only",
            ));
        }
        errors.extend(self.outcome_errors());
        if self.assignee.is_none() && self.state.is_none() {
            errors.push(FieldError::new(
                "body",
                "give assignee and/or state to change",
            ));
        }
        crate::error::all_valid(errors)
    }
}

impl TaskUpdate {
    /// An outcome goes with a done task; "found" needs its count, the others none.
    fn outcome_errors(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.outcome.is_some() && self.state != Some(TaskState::Done) {
            errors.push(FieldError::new(
                "outcome",
                "goes with \"state\": \"done\" only",
            ));
        }
        match (self.outcome, self.rows) {
            (Some(SearchOutcome::Found), None) => errors.push(FieldError::new(
                "rows",
                "say how many rows or records were found",
            )),
            (Some(SearchOutcome::Found), Some(rows)) if rows < 1 => errors.push(FieldError::new(
                "rows",
                "found means at least 1; record \"not_found\" when there is nothing",
            )),
            (Some(SearchOutcome::Found), Some(_)) => {}
            (_, Some(_)) => errors.push(FieldError::new(
                "rows",
                "goes with \"outcome\": \"found\" only",
            )),
            (_, None) => {}
        }
        errors
    }

    /// Search tasks say what they found; the export tasks of an access or portability request
    /// must, because the answer's facts and copy follow from it.
    fn check_outcome_for(
        &self,
        task: &TaskRow,
        kind: crate::vocabulary::RequestKind,
    ) -> Result<()> {
        let task_kind = task.kind;
        if self.outcome.is_some() && !task_kind.searches_a_system() {
            return Err(Error::invalid(
                "outcome",
                format!("a {task_kind} task does not search a system"),
            ));
        }
        let answers_with_copy = matches!(
            kind,
            crate::vocabulary::RequestKind::Access | crate::vocabulary::RequestKind::Portability
        );
        if answers_with_copy
            && task_kind == TaskKind::ExportData
            && self.state == Some(TaskState::Done)
            && self.outcome.is_none()
        {
            return Err(Error::invalid(
                "outcome",
                format!(
                    "say what the search found: {} (with rows)",
                    SearchOutcome::expected()
                ),
            ));
        }
        Ok(())
    }
}

impl TaskKind {
    /// Tasks that look for the person's data in one system.
    pub fn searches_a_system(self) -> bool {
        matches!(
            self,
            TaskKind::ExportData
                | TaskKind::CorrectData
                | TaskKind::EraseData
                | TaskKind::RestrictData
        )
    }
}

/// Records what a search found on a task closed as done.
pub(crate) fn record_outcome(task: &mut TaskRow, outcome: SearchOutcome, rows: Option<i64>) {
    task.outcome = Some(outcome);
    task.found_rows = rows.filter(|_| outcome == SearchOutcome::Found);
}

fn required(errors: &mut Vec<FieldError>, field: &str, value: Option<&str>) {
    match value {
        Some(value) => check_text(errors, field, value, MAX_DETAILS),
        None => errors.push(FieldError::new(field, "is required for this state")),
    }
}

impl RequestService {
    pub async fn update_task(
        &self,
        staff: Staff,
        request_id: RequestId,
        task_id: TaskId,
        update: TaskUpdate,
    ) -> Result<RequestView> {
        update.validate()?;
        let service = self.clone();
        self.store
            .write(move |conn| {
                let mut case = Case::load(conn, &request_id)?;
                case.expect_open()?;
                let index = task_index(&case, &task_id)?;
                let mut task = case.tasks[index].clone();
                if task.version != update.version {
                    return Err(stale("task", task.version));
                }
                let mut verb = "assigned";
                if let Some(assignee) = &update.assignee {
                    check_assignee(conn, assignee.as_deref())?;
                    task.assignee = assignee.clone();
                }
                if let Some(state) = update.state {
                    update.check_outcome_for(&task, case.kind())?;
                    // An answer posted by hand still needs its copy (Art. 15(3)).
                    if state == TaskState::Done
                        && task.kind == TaskKind::SendAnswer
                        && super::answer::answers_with_copy(case.kind())
                    {
                        let deliverables = super::answer::Deliverables::of(conn, &case)?;
                        service.copy_for_answer(&case, &deliverables)?;
                    }
                    let note = update.evidence.as_deref().or(update.reason.as_deref());
                    service.set_task_state(&mut task, state, note, &staff.username);
                    if let Some(outcome) = update.outcome {
                        record_outcome(&mut task, outcome, update.rows);
                    }
                    verb = state.as_str();
                }
                save_task(conn, &case, &mut task, &staff, verb)?;
                case.tasks[index] = task;
                service.view_in(conn, &case)
            })
            .await
    }

    pub async fn add_comment(
        &self,
        staff: Staff,
        request_id: RequestId,
        task_id: TaskId,
        body: String,
    ) -> Result<RequestView> {
        check_texts(&[("body", Some(&body))])?;
        let service = self.clone();
        self.store
            .write(move |conn| {
                let case = Case::load(conn, &request_id)?;
                let task = &case.tasks[task_index(&case, &task_id)?];
                rows::insert_comment(
                    conn,
                    &CommentRow {
                        id: crate::ids::new_id(),
                        task_id: task.id.clone(),
                        author: staff.username.to_string(),
                        body_enc: service.cipher.encrypt(place::COMMENT, body.trim()),
                        created_at: crate::db::now(),
                    },
                )?;
                crate::audit::record(
                    conn,
                    &staff.actor(),
                    case.change(
                        "request.task.commented",
                        format!("comment on task {} ({})", task.position + 1, task.kind),
                    ),
                )?;
                service.view_in(conn, &case)
            })
            .await
    }

    /// Sets a task's state with its evidence or reason, sealed, and who closed it.
    pub(super) fn set_task_state(
        &self,
        task: &mut TaskRow,
        state: TaskState,
        note: Option<&str>,
        closed_by: &str,
    ) {
        task.state = state;
        task.outcome = None;
        task.found_rows = None;
        if state.is_open() {
            task.evidence_enc = None;
            task.closed_by = None;
            task.closed_at = None;
        } else {
            task.evidence_enc = self
                .cipher
                .encrypt_opt(place::TASK_EVIDENCE, note.map(str::trim));
            task.closed_by = Some(closed_by.to_string());
            task.closed_at = Some(crate::db::now());
        }
    }

    /// Closes the first open task of `kind` as `state` with `note` as evidence or reason
    /// (loket's own bookkeeping: a letter was queued, identity was recorded, the request ended).
    /// Nothing happens when there is no such open task.
    pub(crate) fn close_task(
        &self,
        conn: &mut DbConnection,
        case: &mut Case,
        staff: &Staff,
        kind: TaskKind,
        state: TaskState,
        note: &str,
    ) -> Result<()> {
        let Some(task) = case.open_task_mut(kind) else {
            return Ok(());
        };
        self.set_task_state(task, state, Some(note), &staff.username);
        let mut task = task.clone();
        save_task(conn, case, &mut task, staff, state.as_str())?;
        if let Some(stored) = case.tasks.iter_mut().find(|t| t.id == task.id) {
            *stored = task;
        }
        Ok(())
    }
}

pub(super) fn task_index(case: &Case, task_id: &TaskId) -> Result<usize> {
    case.tasks
        .iter()
        .position(|t| t.id == *task_id)
        .ok_or_else(|| Error::not_found(format!("task '{task_id}' of this request")))
}

/// Assignees must be active accounts, so work is never parked with nobody.
pub(crate) fn check_assignee(conn: &mut DbConnection, username: Option<&str>) -> Result<()> {
    let Some(username) = username else {
        return Ok(());
    };
    match UserRow::find_by_username(conn, username)? {
        Some(user) if user.active => Ok(()),
        _ => Err(Error::invalid(
            "assignee",
            format!("no active account '{username}'"),
        )),
    }
}

/// Saves a task as its next version, refusing when someone else saved it first; the caller
/// records the audit event in the same transaction.
pub(super) fn store_task(conn: &mut DbConnection, task: &mut TaskRow) -> Result<()> {
    task.version += 1;
    task.updated_at = crate::db::now();
    if !rows::update_task(conn, task)? {
        return Err(stale("task", task.version - 1));
    }
    Ok(())
}

/// Saves a task as its next version with an audit event; the summary names the task, never
/// its evidence (which may hold personal data).
fn save_task(
    conn: &mut DbConnection,
    case: &Case,
    task: &mut TaskRow,
    staff: &Staff,
    verb: &str,
) -> Result<()> {
    if case.checklist_stored {
        store_task(conn, task)?;
    } else {
        // Stored with the rest of the checklist when the intake inserts it.
        task.version += 1;
        task.updated_at = crate::db::now();
    }
    let subject = task
        .system_key
        .as_deref()
        .or(task.recipient.as_deref())
        .or(task.activity_key.as_deref())
        .map(|s| format!(", {s}"))
        .unwrap_or_default();
    crate::audit::record(
        conn,
        &staff.actor(),
        Change {
            action: &format!("request.task.{verb}"),
            object_type: "request",
            object_id: &case.row.reference,
            summary: format!(
                "task {} ({}{subject}) {verb}: {}",
                task.position + 1,
                task.kind,
                task.state
            ),
        },
    )?;
    Ok(())
}
