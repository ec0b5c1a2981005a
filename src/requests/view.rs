//! What the desk shows of a request: decrypted for staff who may read it, with what can be done
//! next spelled out.

use super::case::Case;
use super::requester::{open, place, Representative, Requester};
use crate::crypto::Cipher;
use crate::db::models::requests::{CommentRow, SummaryRow, TaskRow};
use crate::error::Result;
use crate::ids::{RequestId, TaskId, Username};
use crate::vocabulary::{RequestKind, RequestState, TaskKind, TaskState};
use anyhow::Context;
use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;

#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct RequestView {
    pub id: RequestId,
    pub reference: String,
    pub kind: RequestKind,
    pub article: &'static str,
    pub channel: String,
    pub state: RequestState,
    pub language: String,
    pub received_at: NaiveDateTime,
    pub due_on: NaiveDate,
    pub overdue: bool,
    pub paused: bool,
    pub extended: bool,
    pub extension_reason: Option<String>,
    pub extension_ground: Option<String>,
    pub copy_sent_by_post_on: Option<NaiveDate>,
    pub identity_verified: bool,
    pub verification_method: Option<String>,
    pub verified_by: Option<String>,
    pub verified_at: Option<NaiveDateTime>,
    pub email_confirmed: bool,
    pub requester: Requester,
    pub representative: Option<Representative>,
    pub details: Option<String>,
    pub assignee: Option<Username>,
    pub proposed_outcome: Option<String>,
    pub refusal_ground: Option<String>,
    pub decision_reason: Option<String>,
    pub justification: Option<String>,
    pub proposed_by: Option<String>,
    pub approved_by: Option<String>,
    pub version: i32,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
    pub allowed_transitions: Vec<RequestState>,
    pub open_tasks: usize,
    pub tasks: Vec<TaskView>,
    pub pauses: Vec<PauseView>,
    pub earlier_requests: Vec<RequestSummary>,
    /// What an erasure kept under Art. 17(3), per system, table and exception.
    pub kept: Vec<super::kept::KeptView>,
    /// The Art. 17(1) or Art. 18(1) ground, and the lifting of a restriction.
    pub ground: Option<super::grounds::GroundView>,
    /// Tasks sent to a system's owner as a link to a form, oldest first (issue #22).
    pub owner_links: Vec<super::owners::OwnerLink>,
}

#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct TaskView {
    pub id: TaskId,
    pub position: i32,
    pub kind: TaskKind,
    pub title_nl: String,
    pub title_en: String,
    pub system_key: Option<String>,
    pub activity_key: Option<String>,
    pub categories: Vec<String>,
    pub recipient: Option<String>,
    pub legal_exception: Option<String>,
    pub keep_until: Option<NaiveDate>,
    pub state: TaskState,
    pub assignee: Option<Username>,
    /// The evidence of a done task, or the reason a task does not apply.
    pub evidence: Option<String>,
    /// What staff need to do the task that is no title's business: free text such as the reason
    /// of a keep choice (stored sealed), never shown in lists.
    pub detail: Option<String>,
    pub closed_by: Option<String>,
    pub closed_at: Option<NaiveDateTime>,
    /// What searching the system found: found, not_found or not_reachable.
    pub outcome: Option<String>,
    pub found_rows: Option<i64>,
    pub version: i32,
    pub comments: Vec<CommentView>,
}

#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct CommentView {
    pub id: String,
    pub author: String,
    pub body: String,
    pub created_at: NaiveDateTime,
}

#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct PauseView {
    /// The day the question was asked: the clock stands still from then.
    pub started_on: NaiveDate,
    /// The day the answer arrived: the clock runs again from then.
    pub ended_on: Option<NaiveDate>,
    /// The day the end was recorded at the desk.
    pub ended_recorded_on: Option<NaiveDate>,
    pub reason: String,
    pub question: Option<String>,
    pub asked_via: Option<String>,
    pub created_by: String,
}

/// A line in the queue.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct RequestSummary {
    pub id: RequestId,
    pub reference: String,
    pub kind: RequestKind,
    pub channel: String,
    pub state: RequestState,
    pub received_at: NaiveDateTime,
    pub due_on: NaiveDate,
    pub overdue: bool,
    pub extended: bool,
    pub email_confirmed: bool,
    pub assignee: Option<Username>,
    pub requester_name: Option<String>,
    /// For a change made straight from the queue (assigning).
    pub version: i32,
}

impl RequestSummary {
    pub fn from_row(cipher: &Cipher, row: &SummaryRow, today: NaiveDate) -> Result<Self> {
        let state = row.state;
        Ok(RequestSummary {
            id: row.id.clone(),
            reference: row.reference.clone(),
            kind: row.kind,
            channel: row.channel.to_string(),
            state,
            received_at: row.received_at,
            due_on: row.due_on,
            overdue: !state.is_closed() && row.due_on < today,
            extended: row.extended,
            email_confirmed: row.email_confirmed,
            assignee: row.assignee.clone(),
            requester_name: open(cipher, place::NAME, &row.name_enc)?,
            version: row.version,
        })
    }
}

impl TaskView {
    pub fn from_row(cipher: &Cipher, row: &TaskRow, comments: &[CommentRow]) -> Result<Self> {
        Ok(TaskView {
            id: row.id.clone(),
            position: row.position,
            kind: row.kind,
            title_nl: row.title_nl.clone(),
            title_en: row.title_en.clone(),
            system_key: row.system_key.clone(),
            activity_key: row.activity_key.clone(),
            categories: split_codes(&row.categories),
            recipient: row.recipient.clone(),
            legal_exception: row.legal_exception.clone(),
            keep_until: row.keep_until,
            state: row.state,
            assignee: row.assignee.clone(),
            evidence: open(cipher, place::TASK_EVIDENCE, &row.evidence_enc)?,
            detail: None,
            closed_by: row.closed_by.clone(),
            closed_at: row.closed_at,
            outcome: row.outcome.map(|v| v.to_string()),
            found_rows: row.found_rows,
            version: row.version,
            comments: comments
                .iter()
                .filter(|c| c.task_id == row.id)
                .map(|c| {
                    Ok(CommentView {
                        id: c.id.clone(),
                        author: c.author.clone(),
                        body: cipher
                            .decrypt(place::COMMENT, &c.body_enc)
                            .context("comment")?,
                        created_at: c.created_at,
                    })
                })
                .collect::<Result<_>>()?,
        })
    }
}

/// Category codes are stored comma-separated.
pub fn split_codes(stored: &str) -> Vec<String> {
    stored
        .split(',')
        .filter(|code| !code.is_empty())
        .map(str::to_string)
        .collect()
}

impl RequestView {
    pub fn build(
        cipher: &Cipher,
        case: &Case,
        comments: &[CommentRow],
        earlier_requests: Vec<RequestSummary>,
        today: NaiveDate,
    ) -> Result<Self> {
        let row = &case.row;
        let state = case.state();
        let kind = case.kind();
        let representative = Representative::open(cipher, row)?;
        let tasks = case
            .tasks
            .iter()
            .map(|t| TaskView::from_row(cipher, t, comments))
            .collect::<Result<Vec<_>>>()?;
        Ok(RequestView {
            id: row.id.clone(),
            reference: row.reference.clone(),
            kind,
            article: kind.article(),
            channel: row.channel.to_string(),
            state,
            language: row.language.to_string(),
            received_at: row.received_at,
            due_on: row.due_on,
            overdue: !state.is_closed() && row.due_on < today,
            paused: case.is_paused(),
            extended: row.extended,
            extension_reason: row.extension_reason.clone(),
            extension_ground: row.extension_ground.map(|v| v.to_string()),
            copy_sent_by_post_on: row.copy_sent_by_post_on,
            identity_verified: row.identity_verified,
            verification_method: row.verification_method.map(|v| v.to_string()),
            verified_by: row.verified_by.clone(),
            verified_at: row.verified_at,
            email_confirmed: row.email_confirmed,
            requester: Requester::open(cipher, row)?,
            representative,
            details: open(cipher, place::DETAILS, &row.details_enc)?,
            assignee: row.assignee.clone(),
            proposed_outcome: row.proposed_outcome.map(|v| v.to_string()),
            refusal_ground: row.refusal_ground.map(|v| v.to_string()),
            decision_reason: open(cipher, place::DECISION_REASON, &row.decision_reason_enc)?,
            justification: open(cipher, place::JUSTIFICATION, &row.justification_enc)?,
            proposed_by: row.proposed_by.clone(),
            approved_by: row.approved_by.clone(),
            version: row.version,
            created_by: row.created_by.clone(),
            created_at: row.created_at,
            updated_at: row.updated_at,
            closed_at: row.closed_at,
            allowed_transitions: state.allowed_next().to_vec(),
            open_tasks: tasks.iter().filter(|t| t.state.is_open()).count(),
            tasks,
            pauses: case
                .pauses
                .iter()
                .map(|p| {
                    Ok(PauseView {
                        started_on: p.started_on,
                        ended_on: p.ended_on,
                        ended_recorded_on: p.ended_recorded_on,
                        reason: p.reason.to_string(),
                        question: open(cipher, place::PAUSE_QUESTION, &p.question_enc)?,
                        asked_via: p.asked_via.map(|v| v.to_string()),
                        created_by: p.created_by.clone(),
                    })
                })
                .collect::<Result<_>>()?,
            earlier_requests,
            kept: Vec::new(),
            ground: None,
            owner_links: Vec::new(),
        })
    }
}
