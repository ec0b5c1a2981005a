//! The life of a request: received → verifying identity → in progress → awaiting approval →
//! completed | refused | withdrawn, with pauses and an extension as properties beside the state.
//!
//! [`RequestState::allowed_next`] is the map; this module adds what each step needs: identity
//! before the work starts, a reason and a privacy officer's approval for a refusal (with a
//! justification for "manifestly unfounded or excessive"), no open task when a request completes,
//! and the letter that goes with each step, queued in the same transaction.

use super::answer::Deliverables;
use super::case::Case;
use super::intake::IdentityCheck;
use super::letters::{answer_letter, Extras, Preview};
use super::requester::{check_texts, open, place};
use super::view::RequestView;
use super::{deadline, RequestService, Staff};
use crate::auth::Permission;
use crate::db::models::requests::{self as rows, PauseRow};
use crate::db::DbConnection;
use crate::error::{ConflictCode, Error, Result};
use crate::ids::{RequestId, Username};
use crate::mail::letters::{LetterKind, RefusalInfo};
use crate::vocabulary::{
    ExtensionGround, PauseReason, QuestionChannel, RefusalGround, RequestState, TaskKind, TaskState,
};
use chrono::NaiveDate;
use serde::Deserialize;

/// `{"to": STATE, "version": N, …}`: move a request to another state.
#[derive(utoipa::ToSchema, Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    pub to: RequestState,
    pub version: i32,
    /// With `to: awaiting_approval`: the outcome proposed for approval.
    #[serde(default)]
    pub outcome: Option<ProposedOutcome>,
    #[serde(default)]
    pub refusal_ground: Option<RefusalGround>,
    /// The written reason: of a refusal (sent to the person), of a withdrawal, or the outcome
    /// note of a completion proposed for approval.
    #[serde(default)]
    pub reason: Option<String>,
    /// Why a request is manifestly unfounded or excessive (kept on file, Art. 12(5)).
    #[serde(default)]
    pub justification: Option<String>,
    /// The person's own word that they withdraw the request: required to withdraw.
    #[serde(default)]
    pub withdrawal: Option<Withdrawal>,
    /// With `outcome: completed`: what the answer refuses and why (an objection partly
    /// rejected, data withheld under Art. 15(4), a rectification partly refused); sent to the
    /// person with the right to complain and the judicial remedy once approved.
    #[serde(default)]
    pub partial_refusal: Option<String>,
}

/// How the person said they withdraw their request. Only the person can withdraw it: an agent
/// who closes a request without their word would drop it from the deadline figures unnoticed.
#[derive(utoipa::ToSchema, Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Withdrawal {
    /// Where the person said it (a call, an e-mail, a letter, …).
    pub channel: crate::vocabulary::Channel,
    /// The day they said it (Dutch time).
    pub received_on: chrono::NaiveDate,
    /// What they said, in a few words; kept sealed, never in a letter.
    pub note: String,
}

pub use crate::vocabulary::ProposedOutcome;

#[derive(utoipa::ToSchema, Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyIdentity {
    pub version: i32,
    pub method: crate::vocabulary::VerificationMethod,
    #[serde(default)]
    pub note: Option<String>,
}

/// `{"version", "reason", "question", "asked_via", "asked_on"}`: the clock stops only while
/// loket waits for the answer to a question it asked (EDPB 01/2022).
#[derive(utoipa::ToSchema, Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartPause {
    pub version: i32,
    pub reason: PauseReason,
    /// The question put to the person: e-mailed as the clarification letter, or the question
    /// asked by phone or post, recorded.
    #[serde(default)]
    pub question: Option<String>,
    /// How the question was asked; `email` (the default) sends it now.
    #[serde(default)]
    pub asked_via: Option<QuestionChannel>,
    /// The day a phone or post question was asked; the clock stands still from then.
    #[serde(default)]
    pub asked_on: Option<NaiveDate>,
}

/// `{"version", "answered_on"}`: the answer arrived, the clock runs again from that day.
#[derive(utoipa::ToSchema, Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndPause {
    pub version: i32,
    pub answered_on: NaiveDate,
}

#[derive(utoipa::ToSchema, Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    pub version: i32,
    /// The ground from the law's list (Art. 12(3)): complexity or number_of_requests.
    pub ground: ExtensionGround,
    /// What makes it so for this request, in words for the person; sent in the notice.
    pub explanation: String,
}

#[derive(utoipa::ToSchema, Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    pub version: i32,
    /// A username, or `null` to unassign.
    pub assignee: Option<Username>,
}

/// `{"version", "sent_on"}`: the answer letter went by post on that day.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerByPost {
    pub version: i32,
    pub sent_on: NaiveDate,
}

/// A letter an agent previews or sends.
#[derive(utoipa::ToSchema, Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LetterRequest {
    pub letter: LetterKind,
    #[serde(default)]
    pub message: Option<String>,
}

impl RequestService {
    #[tracing::instrument(skip_all, fields(request_id = %request_id))]
    pub async fn transition(
        &self,
        staff: Staff,
        request_id: RequestId,
        transition: Transition,
    ) -> Result<RequestView> {
        check_transition_text(&transition)?;
        // The role is checked before the request is read, so the answer does not depend on
        // (or reveal) the request's state.
        if transition.to == RequestState::Refused && !staff.role.allows(Permission::ApproveRequests)
        {
            return Err(Error::Forbidden(
                "only a privacy officer can approve a refusal".into(),
            ));
        }
        self.on_case(
            staff.actor(),
            request_id,
            transition.version,
            move |service, conn, case| service.apply_transition(conn, case, &staff, &transition),
        )
        .await
    }

    fn apply_transition(
        &self,
        conn: &mut DbConnection,
        case: &mut Case,
        staff: &Staff,
        t: &Transition,
    ) -> Result<String> {
        let from = case.state();
        if !from.can_move_to(t.to) {
            return Err(illegal_transition(from, t.to));
        }
        let mut summary = format!("{from} -> {}", t.to);
        match t.to {
            RequestState::VerifyingIdentity => {}
            RequestState::InProgress if from == RequestState::AwaitingApproval => {
                require_approver(staff, case)?;
                clear_proposal(case);
            }
            RequestState::InProgress => {
                if !case.row.identity_verified {
                    return Err(Error::conflict(
                        ConflictCode::IdentityFirst,
                        "record how identity was verified before the work starts",
                    ));
                }
            }
            RequestState::AwaitingApproval => self.propose(case, staff, t, from)?,
            RequestState::Completed => self.complete(conn, case, staff, from, t)?,
            RequestState::Refused => self.refuse(conn, case, staff)?,
            RequestState::Withdrawn => {
                let word = person_withdraws(case, t.withdrawal.as_ref())?;
                case.row.decision_reason_enc = Some(
                    self.cipher
                        .encrypt(place::DECISION_REASON, word.note.trim()),
                );
                self.close_remaining_tasks(conn, case, staff, "request withdrawn")?;
                self.queue_letter(
                    conn,
                    case,
                    LetterKind::WithdrawalConfirmation,
                    &Extras::default(),
                )?;
                summary = format!(
                    "{summary}, on the person's word by {} on {}",
                    word.channel.as_str(),
                    word.received_on
                );
            }
            RequestState::Received => unreachable!("no state leads back to received"),
        }
        if t.to.is_closed() {
            rows::end_open_pause(conn, case.id(), super::today(), super::today())?;
        }
        close(case, t);
        Ok(summary)
    }

    /// Records the outcome put forward for a privacy officer's approval.
    fn propose(
        &self,
        case: &mut Case,
        staff: &Staff,
        t: &Transition,
        from: RequestState,
    ) -> Result<()> {
        let outcome = t
            .outcome
            .ok_or_else(|| Error::invalid("outcome", "propose an outcome: completed or refused"))?;
        match outcome {
            ProposedOutcome::Refused => {
                let ground = t.refusal_ground.ok_or_else(|| {
                    Error::invalid(
                        "refusal_ground",
                        format!("a refusal needs a ground: {}", RefusalGround::expected()),
                    )
                })?;
                let reason = t.reason.as_deref().ok_or_else(|| {
                    Error::invalid("reason", "a refusal needs a written reason for the person")
                })?;
                if ground == RefusalGround::NoDataProcessed
                    && super::answer::answers_with_copy(case.kind())
                {
                    return Err(Error::invalid(
                        "refusal_ground",
                        "for access and portability, nothing found is a complete answer, not a refusal: record each search as not_found and send the answer",
                    ));
                }
                if ground == RefusalGround::ManifestlyUnfoundedOrExcessive
                    && t.justification.is_none()
                {
                    return Err(Error::invalid(
                        "justification",
                        "\"manifestly unfounded or excessive\" needs a written justification (Art. 12(5)); a repeat after a year or more never qualifies",
                    ));
                }
                case.row.refusal_ground = Some(ground);
                case.row.decision_reason_enc =
                    Some(self.cipher.encrypt(place::DECISION_REASON, reason.trim()));
                case.row.justification_enc = self
                    .cipher
                    .encrypt_opt(place::JUSTIFICATION, t.justification.as_deref());
            }
            ProposedOutcome::Completed => {
                if from != RequestState::InProgress {
                    return Err(Error::conflict(ConflictCode::Other, format!(
                        "only a request in progress can be proposed as completed (this one is {from})"
                    )));
                }
                ensure_tasks_closed(case, &[TaskKind::SendAnswer, TaskKind::CompileAccessFacts])?;
                case.row.decision_reason_enc = self
                    .cipher
                    .encrypt_opt(place::DECISION_REASON, t.reason.as_deref());
                case.row.partial_refusal_enc = self.cipher.encrypt_opt(
                    place::PARTIAL_REFUSAL,
                    t.partial_refusal.as_deref().map(str::trim),
                );
            }
        }
        case.row.proposed_outcome = Some(outcome);
        case.row.proposed_by = Some(staff.username.to_string());
        Ok(())
    }

    fn complete(
        &self,
        conn: &mut DbConnection,
        case: &mut Case,
        staff: &Staff,
        from: RequestState,
        t: &Transition,
    ) -> Result<()> {
        let kind = case.kind();
        if from == RequestState::AwaitingApproval {
            require_approver(staff, case)?;
            if case.row.proposed_outcome != Some(ProposedOutcome::Completed) {
                return Err(Error::conflict(
                    ConflictCode::Other,
                    "the proposal awaiting approval is a refusal: approve it by moving to refused, or send it back to in_progress",
                ));
            }
            let message = open(
                &self.cipher,
                place::DECISION_REASON,
                &case.row.decision_reason_enc,
            )?;
            let deliverables = Deliverables::of(conn, case)?;
            self.send_answer(
                conn,
                case,
                staff,
                answer_letter(kind),
                message,
                &deliverables,
            )?;
            case.row.approved_by = Some(staff.username.to_string());
        } else if self.policies.needs_approval(kind) {
            return Err(Error::conflict(ConflictCode::Other, format!(
                "completing a {kind} request needs a privacy officer's approval: move it to awaiting_approval with outcome completed"
            )));
        }
        let _ = t;
        ensure_tasks_closed(case, &[])
    }

    fn refuse(&self, conn: &mut DbConnection, case: &mut Case, staff: &Staff) -> Result<()> {
        require_approver(staff, case)?;
        if case.row.proposed_outcome != Some(ProposedOutcome::Refused) {
            return Err(Error::conflict(
                ConflictCode::Other,
                "the proposal awaiting approval is a completion, not a refusal",
            ));
        }
        let ground = case.row.refusal_ground.ok_or_else(|| {
            Error::Internal(anyhow::anyhow!(
                "a proposed refusal without its ground in requests.refusal_ground"
            ))
        })?;
        let reason = open(
            &self.cipher,
            place::DECISION_REASON,
            &case.row.decision_reason_enc,
        )?
        .unwrap_or_default();
        let extras = Extras {
            refusal: Some(RefusalInfo { ground, reason }),
            ..Extras::default()
        };
        let evidence = match self.queue_letter(conn, case, LetterKind::Refusal, &extras)? {
            Some(id) => format!("refusal e-mailed (outbox {id})"),
            None => "refusal to be sent by post (no e-mail address on file)".into(),
        };
        self.close_task(
            conn,
            case,
            staff,
            TaskKind::SendAnswer,
            TaskState::Done,
            &evidence,
        )?;
        self.close_remaining_tasks(conn, case, staff, "request refused")?;
        case.row.approved_by = Some(staff.username.to_string());
        Ok(())
    }

    /// Marks every open task not applicable, for a request that ends without the work.
    fn close_remaining_tasks(
        &self,
        conn: &mut DbConnection,
        case: &mut Case,
        staff: &Staff,
        reason: &str,
    ) -> Result<()> {
        let open: Vec<TaskKind> = case.open_tasks().map(|t| t.kind).collect();
        for kind in open {
            self.close_task(conn, case, staff, kind, TaskState::NotApplicable, reason)?;
        }
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(request_id = %request_id))]
    pub async fn verify_identity(
        &self,
        staff: Staff,
        request_id: RequestId,
        verify: VerifyIdentity,
    ) -> Result<RequestView> {
        check_texts(&[("note", verify.note.as_deref())])?;
        let check = IdentityCheck {
            method: verify.method,
            note: verify.note,
        };
        crate::error::all_valid(
            check
                .check("identity")
                .into_iter()
                .map(|e| crate::error::FieldError::new("note", e.message))
                .collect(),
        )?;
        let view = self
            .on_case(
                staff.actor(),
                request_id,
                verify.version,
                move |service, conn, case| service.apply_identity(conn, case, &staff, &check),
            )
            .await?;
        self.run_automatically(&view.id);
        Ok(view)
    }

    /// Records an identity check inside an open transaction and saves the case.
    pub(crate) fn record_identity(
        &self,
        conn: &mut DbConnection,
        case: &mut Case,
        staff: &Staff,
        check: &IdentityCheck,
    ) -> Result<()> {
        let summary = self.apply_identity(conn, case, staff, check)?;
        case.save(conn, &staff.actor(), "request.identity_verified", summary)
    }

    fn apply_identity(
        &self,
        conn: &mut DbConnection,
        case: &mut Case,
        staff: &Staff,
        check: &IdentityCheck,
    ) -> Result<String> {
        case.expect_open()?;
        let state = case.state();
        if state == RequestState::AwaitingApproval {
            return Err(Error::conflict(
                ConflictCode::Other,
                "the request awaits approval; send it back to in_progress first",
            ));
        }
        let representative = super::requester::Representative::open(&self.cipher, &case.row)?;
        crate::error::all_valid(
            check
                .check_representative("identity", representative.as_ref())
                .into_iter()
                .map(|e| crate::error::FieldError::new("method", e.message))
                .collect(),
        )?;
        case.row.identity_verified = true;
        case.row.verification_method = Some(check.method);
        case.row.verified_by = Some(staff.username.to_string());
        case.row.verified_at = Some(crate::db::now());
        let evidence = match &check.note {
            Some(note) => format!("{} by {}: {}", check.method, staff.username, note.trim()),
            None => format!("{} by {}", check.method, staff.username),
        };
        self.close_task(
            conn,
            case,
            staff,
            TaskKind::VerifyIdentity,
            TaskState::Done,
            &evidence,
        )?;
        // Identity established ends the wait for it, today; a clarification pause waits on.
        let waiting_for_identity = case
            .pauses
            .iter()
            .any(|p| p.ended_on.is_none() && p.reason == PauseReason::Identity);
        if waiting_for_identity {
            rows::end_open_pause(conn, case.id(), super::today(), super::today())?;
            case.pauses = rows::list_pauses(conn, case.id())?;
            case.refresh_due_date(super::today());
        }
        if matches!(
            state,
            RequestState::Received | RequestState::VerifyingIdentity
        ) {
            case.row.state = RequestState::InProgress;
        }
        Ok(format!("identity verified ({})", check.method))
    }

    #[tracing::instrument(skip_all, fields(request_id = %request_id))]
    pub async fn start_pause(
        &self,
        staff: Staff,
        request_id: RequestId,
        pause: StartPause,
    ) -> Result<RequestView> {
        check_texts(&[("question", pause.question.as_deref())])?;
        let question = pause
            .question
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_string)
            .ok_or_else(|| {
                Error::invalid(
                    "question",
                    "the clock stops only while waiting for the answer to a question: give the question asked",
                )
            })?;
        let via = pause.asked_via.unwrap_or(QuestionChannel::Email);
        let asked_on = match (via, pause.asked_on) {
            (QuestionChannel::Email, Some(_)) => return Err(Error::invalid(
                "asked_on",
                "an e-mailed question is asked today; asked_on goes with asked_via phone or post",
            )),
            (QuestionChannel::Email, None) => None,
            (_, None) => {
                return Err(Error::invalid(
                    "asked_on",
                    "give the day the question was asked by phone or post",
                ))
            }
            (_, Some(day)) => Some(day),
        };
        self.on_case(
            staff.actor(),
            request_id,
            pause.version,
            move |service, conn, case| {
                case.expect_open()?;
                if case.is_paused() {
                    return Err(Error::conflict(ConflictCode::AlreadyDone, "the request is already paused"));
                }
                if pause.reason == PauseReason::Identity && case.row.identity_verified {
                    return Err(Error::conflict(
                        ConflictCode::AlreadyDone,
                        "identity was verified already; an identity pause is only for while it is not",
                    ));
                }
                let today = super::today();
                let start = asked_on.unwrap_or(today);
                deadline::check_pause_start(&case.deadline_input(), case.row.due_on, start, today)
                    .map_err(|e| match e {
                        deadline::DeadlineError::PauseAfterDueDate { .. } => {
                            Error::conflict(ConflictCode::Other, e.to_string())
                        }
                        _ => Error::invalid("asked_on", e.to_string()),
                    })?;
                if via == QuestionChannel::Email {
                    let extras = Extras {
                        message: Some(question.clone()),
                        ..Extras::default()
                    };
                    service
                        .queue_letter(conn, case, LetterKind::ClarificationQuestion, &extras)?
                        .ok_or_else(|| {
                            Error::conflict(
                                ConflictCode::NoEmail,
                                "no e-mail address on file: ask by phone or post and record it with asked_via and asked_on",
                            )
                        })?;
                }
                rows::insert_pause(
                    conn,
                    &PauseRow {
                        id: crate::ids::new_id(),
                        request_id: case.id().clone(),
                        started_on: start,
                        ended_on: None,
                        reason: pause.reason,
                        created_by: staff.username.to_string(),
                        created_at: crate::db::now(),
                        question_enc: Some(service.cipher.encrypt(place::PAUSE_QUESTION, &question)),
                        asked_via: Some(via),
                        ended_recorded_on: None,
                    },
                )?;
                case.pauses = rows::list_pauses(conn, case.id())?;
                if pause.reason == PauseReason::Identity && case.state() == RequestState::Received
                {
                    case.row.state = RequestState::VerifyingIdentity;
                }
                case.refresh_due_date(today);
                Ok(format!(
                    "paused from {start} (question asked by {via}, recorded {today}): waiting for {}",
                    pause.reason
                ))
            },
        )
        .await
    }

    #[tracing::instrument(skip_all, fields(request_id = %request_id))]
    pub async fn end_pause(
        &self,
        staff: Staff,
        request_id: RequestId,
        body: EndPause,
    ) -> Result<RequestView> {
        self.on_case(
            staff.actor(),
            request_id,
            body.version,
            move |_, conn, case| {
                case.expect_open()?;
                let today = super::today();
                let start = case
                    .pauses
                    .iter()
                    .find(|p| p.ended_on.is_none())
                    .map(|p| p.started_on)
                    .ok_or_else(|| {
                        Error::conflict(ConflictCode::Other, "the request is not paused")
                    })?;
                deadline::check_pause_end(start, body.answered_on, today)
                    .map_err(|e| Error::invalid("answered_on", e.to_string()))?;
                rows::end_open_pause(conn, case.id(), body.answered_on, today)?;
                case.pauses = rows::list_pauses(conn, case.id())?;
                case.refresh_due_date(today);
                Ok(format!(
                    "resumed: paused from {start}, answer arrived {}, recorded {today}; due {}",
                    body.answered_on, case.row.due_on
                ))
            },
        )
        .await
    }

    #[tracing::instrument(skip_all, fields(request_id = %request_id))]
    pub async fn extend(
        &self,
        staff: Staff,
        request_id: RequestId,
        extension: Extension,
    ) -> Result<RequestView> {
        check_texts(&[("explanation", Some(&extension.explanation))])?;
        if self.policies.requests.extension_needs_privacy_officer
            && !staff.role.allows(Permission::ApproveRequests)
        {
            return Err(Error::Forbidden(
                "policy requests.extension_needs_privacy_officer: a privacy officer decides an extension".into(),
            ));
        }
        self.on_case(staff.actor(), request_id, extension.version, move |service, conn, case| {
            case.expect_open()?;
            if case.row.extended {
                return Err(Error::conflict(
                    ConflictCode::AlreadyDone,
                    "the request was already extended; two further months is the most the law allows",
                ));
            }
            let today = super::today();
            deadline::check_extension_allowed(&case.deadline_input(), today, today)
                .map_err(|e| Error::conflict(ConflictCode::Other, e.to_string()))?;
            case.row.extended = true;
            case.row.extension_ground = Some(extension.ground);
            case.row.extension_reason = Some(extension.explanation.trim().to_string());
            case.refresh_due_date(today);
            let extras = Extras {
                message: case.row.extension_reason.clone(),
                ..Extras::default()
            };
            let sent = service.queue_letter(conn, case, LetterKind::ExtensionNotice, &extras)?;
            Ok(format!(
                "extended to {} ({}) by {}; notice {}",
                case.row.due_on,
                extension.ground,
                staff.role.as_str(),
                if sent.is_some() { "e-mailed" } else { "to be sent by post" }
            ))
        })
        .await
    }

    pub async fn assign(
        &self,
        staff: Staff,
        request_id: RequestId,
        assignment: Assignment,
    ) -> Result<RequestView> {
        self.on_case(
            staff.actor(),
            request_id,
            assignment.version,
            move |_, conn, case| {
                case.expect_open()?;
                super::tasks::check_assignee(conn, assignment.assignee.as_deref())?;
                case.row.assignee = assignment.assignee.clone();
                Ok(match &assignment.assignee {
                    Some(username) => format!("assigned to {username}"),
                    None => "unassigned".into(),
                })
            },
        )
        .await
    }

    /// Sends a letter an agent chose: the answer (which closes the send-answer task), the
    /// receipt confirmation again, or a clarification question.
    #[tracing::instrument(skip_all, fields(request_id = %request_id))]
    pub async fn send_letter(
        &self,
        staff: Staff,
        request_id: RequestId,
        version: i32,
        letter: LetterRequest,
    ) -> Result<RequestView> {
        check_message(&letter)?;
        self.on_case(staff.actor(), request_id, version, move |service, conn, case| {
            case.expect_open()?;
            let kind = case.kind();
            match letter.letter {
                l if l == answer_letter(kind) => {
                    let deliverables = Deliverables::of(conn, case)?;
                    service.check_answer_may_go(case, &deliverables)?;
                    service.send_answer(conn, case, &staff, l, letter.message.clone(), &deliverables)?;
                }
                LetterKind::ReceiptConfirmation => {
                    service.confirm_receipt(conn, case, &staff)?;
                }
                LetterKind::ClarificationQuestion => {
                    let extras = Extras {
                        message: letter.message.clone(),
                        ..Extras::default()
                    };
                    if letter.message.is_none() {
                        return Err(Error::invalid("message", "write the question to ask"));
                    }
                    require_email(service.queue_letter(conn, case, letter.letter, &extras)?)?;
                }
                other => {
                    return Err(Error::invalid(
                        "letter",
                        format!(
                            "{other} is not sent this way for a {kind} request (the answer letter is {}; refusals, extensions and codes go with their own step)",
                            answer_letter(kind)
                        ),
                    ))
                }
            }
            Ok(format!("letter {} queued", letter.letter))
        })
        .await
    }

    /// Renders a letter for review; nothing is stored.
    pub async fn preview_letter(
        &self,
        request_id: RequestId,
        letter: LetterRequest,
    ) -> Result<Preview> {
        check_message(&letter)?;
        let service = self.clone();
        self.store
            .read(move |conn| {
                let case = Case::load(conn, &request_id)?;
                let mut extras = Extras {
                    message: letter.message.clone(),
                    status_link: letter.letter == LetterKind::ReceiptConfirmation,
                    ..Extras::default()
                };
                if letter.letter == LetterKind::Refusal {
                    extras.refusal = service.proposed_refusal(&case)?;
                    if extras.refusal.is_none() {
                        return Err(Error::invalid(
                            "letter",
                            "propose the refusal (ground and reason) first: the letter states them",
                        ));
                    }
                }
                if letter.letter == LetterKind::VerificationCode {
                    extras.code = Some("······".into());
                    extras.code_valid_minutes =
                        Some(service.policies.requests.verification_code_minutes);
                }
                service.render_letter(conn, &case, letter.letter, &extras)
            })
            .await
    }

    fn proposed_refusal(&self, case: &Case) -> Result<Option<RefusalInfo>> {
        let Some(ground) = case.row.refusal_ground else {
            return Ok(None);
        };
        Ok(Some(RefusalInfo {
            ground,
            reason: open(
                &self.cipher,
                place::DECISION_REASON,
                &case.row.decision_reason_enc,
            )?
            .unwrap_or_default(),
        }))
    }

    /// The agent sends the answer themselves only when it needs no approval, every other task
    /// is done and nothing is withheld from the copy.
    fn check_answer_may_go(&self, case: &Case, deliverables: &Deliverables) -> Result<()> {
        let kind = case.kind();
        if self.policies.needs_approval(kind) {
            return Err(Error::conflict(
                ConflictCode::NeedsApproval,
                format!(
                    "the answer to a {kind} request is sent when a privacy officer approves it"
                ),
            ));
        }
        ensure_tasks_closed(case, &[TaskKind::SendAnswer, TaskKind::CompileAccessFacts])?;
        if !deliverables.redactions.is_empty() {
            return Err(Error::conflict(
                ConflictCode::NeedsApproval,
                "data is withheld from the copy (Art. 15(4)): that is a partial refusal, which a privacy officer approves; move the request to awaiting_approval with outcome completed and partial_refusal giving the reasons",
            ));
        }
        Ok(())
    }

    /// Records that the answer letter, printed from its print view, went by post on a day: post
    /// is a channel like e-mail, so this completes the send-answer step as sending does. The
    /// day lies between the day the request arrived and today.
    #[tracing::instrument(skip_all, fields(request_id = %request_id))]
    pub async fn record_answer_by_post(
        &self,
        staff: Staff,
        request_id: RequestId,
        post: AnswerByPost,
    ) -> Result<RequestView> {
        self.on_case(
            staff.actor(),
            request_id,
            post.version,
            move |service, conn, case| {
                case.expect_open()?;
                let received = super::dutch_date(case.row.received_at);
                if post.sent_on > super::today() || post.sent_on < received {
                    return Err(Error::invalid(
                        "sent_on",
                        "must be a date between the day the request arrived and today",
                    ));
                }
                let deliverables = Deliverables::of(conn, case)?;
                service.check_answer_may_go(case, &deliverables)?;
                if super::answer::answers_with_copy(case.kind()) {
                    service.copy_for_answer(case, &deliverables)?;
                    service.compile_access_facts(conn, case, &staff, &deliverables)?;
                }
                let letter = answer_letter(case.kind());
                let evidence = format!("{letter} sent by post on {}", post.sent_on);
                service.close_task(
                    conn,
                    case,
                    &staff,
                    TaskKind::SendAnswer,
                    TaskState::Done,
                    &evidence,
                )?;
                Ok(evidence)
            },
        )
        .await
    }

    /// Queues the answer letter and closes the send-answer task with it as evidence.
    fn send_answer(
        &self,
        conn: &mut DbConnection,
        case: &mut Case,
        staff: &Staff,
        letter: LetterKind,
        message: Option<String>,
        deliverables: &Deliverables,
    ) -> Result<()> {
        if super::answer::answers_with_copy(case.kind()) {
            self.copy_for_answer(case, deliverables)?;
            self.compile_access_facts(conn, case, staff, deliverables)?;
        }
        let extras = Extras {
            message,
            partial_refusal: open(
                &self.cipher,
                place::PARTIAL_REFUSAL,
                &case.row.partial_refusal_enc,
            )?,
            ..Extras::default()
        };
        let id =
            require_email(self.queue_letter_with(conn, deliverables, case, letter, &extras)?)?;
        let evidence = format!("{letter} e-mailed (outbox {id})");
        self.close_task(
            conn,
            case,
            staff,
            TaskKind::SendAnswer,
            TaskState::Done,
            &evidence,
        )
    }

    /// Loads the case, checks the caller's version, runs `work`, and saves the case with an
    /// audit event carrying `work`'s summary; returns the request as it now stands.
    pub(crate) async fn on_case<F>(
        &self,
        actor: crate::audit::Actor,
        request_id: RequestId,
        version: i32,
        work: F,
    ) -> Result<RequestView>
    where
        F: FnOnce(&RequestService, &mut DbConnection, &mut Case) -> Result<String> + Send + 'static,
    {
        let service = self.clone();
        let view = self
            .store
            .write(move |conn| {
                let mut case = Case::load(conn, &request_id)?;
                case.expect_version(version)?;
                let before = case.row.state;
                let summary = work(&service, conn, &mut case)?;
                let action = if case.row.state != before {
                    "request.state_changed"
                } else {
                    "request.updated"
                };
                case.save(conn, &actor, action, summary)?;
                // Every change above went through the case in memory, so it is the case as
                // saved: the view is built from it, not from a second read. Debug builds (the
                // tests) check that against a fresh read of the same transaction.
                let view = service.view_in(conn, &case)?;
                #[cfg(debug_assertions)]
                {
                    let saved = Case::load(conn, &request_id)?;
                    let stored = service.view_in(conn, &saved)?;
                    debug_assert_eq!(
                        serde_json::to_value(&view).ok(),
                        serde_json::to_value(&stored).ok(),
                        "the case in memory differs from the case saved"
                    );
                }
                Ok::<_, Error>(view)
            })
            .await?;
        (self.mail_queued)();
        Ok(view)
    }
}

fn check_message(letter: &LetterRequest) -> Result<()> {
    check_texts(&[("message", letter.message.as_deref())])
}

/// Moves the case to the transition's state, and stamps the closing time of a final one.
fn close(case: &mut Case, t: &Transition) {
    case.row.state = t.to;
    if t.to.is_closed() {
        case.row.closed_at = Some(crate::db::now());
    }
}

/// The person's word to withdraw, checked: given on a day between the receipt and today.
fn person_withdraws<'a>(case: &Case, word: Option<&'a Withdrawal>) -> Result<&'a Withdrawal> {
    let word = word.ok_or_else(|| {
        Error::invalid(
            "withdrawal",
            "only the person can withdraw a request: record how and when they said so",
        )
    })?;
    if word.note.trim().is_empty() {
        return Err(Error::invalid(
            "withdrawal.note",
            "say what the person said",
        ));
    }
    let received = super::dutch_date(case.row.received_at);
    if word.received_on > super::today() || word.received_on < received {
        return Err(Error::invalid(
            "withdrawal.received_on",
            "must lie between the day the request arrived and today",
        ));
    }
    Ok(word)
}

fn check_transition_text(t: &Transition) -> Result<()> {
    check_texts(&[
        ("reason", t.reason.as_deref()),
        ("justification", t.justification.as_deref()),
        ("partial_refusal", t.partial_refusal.as_deref()),
        (
            "withdrawal.note",
            t.withdrawal.as_ref().map(|w| w.note.as_str()),
        ),
    ])
}

/// E-mail is the only channel loket sends itself; without an address the agent posts the
/// previewed letter and records that as the task's evidence.
fn require_email(outbox_id: Option<String>) -> Result<String> {
    outbox_id.ok_or_else(|| {
        Error::conflict(
            ConflictCode::NoEmail,
            "no e-mail address on file: print the letter preview, send it by post, and complete the send_answer task with that as evidence",
        )
    })
}

fn illegal_transition(from: RequestState, to: RequestState) -> Error {
    let allowed = from.allowed_next();
    let allowed = if allowed.is_empty() {
        format!("none: a {from} request is closed")
    } else {
        allowed
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Error::conflict(
        ConflictCode::WrongState,
        format!("a request cannot move from {from} to {to}; allowed from {from}: {allowed}"),
    )
}

/// Approving needs the role, and another person than the one who proposed (four eyes).
fn require_approver(staff: &Staff, case: &Case) -> Result<()> {
    if !staff.role.allows(Permission::ApproveRequests) {
        return Err(Error::Forbidden(
            "only a privacy officer can approve or send back a proposed outcome".into(),
        ));
    }
    if case.row.proposed_by.as_deref() == Some(staff.username.as_str()) {
        return Err(Error::Forbidden(
            "the person who proposed an outcome cannot also approve it".into(),
        ));
    }
    Ok(())
}

fn clear_proposal(case: &mut Case) {
    case.row.proposed_outcome = None;
    case.row.proposed_by = None;
    case.row.refusal_ground = None;
    case.row.decision_reason_enc = None;
    case.row.justification_enc = None;
    case.row.partial_refusal_enc = None;
}

/// Refuses to go on while tasks other than `except` are open, naming them.
fn ensure_tasks_closed(case: &Case, except: &[TaskKind]) -> Result<()> {
    let open: Vec<String> = case
        .open_tasks()
        .filter(|t| !except.contains(&t.kind))
        .map(|t| format!("{} ({})", t.position + 1, t.title_en))
        .collect();
    if open.is_empty() {
        Ok(())
    } else {
        Err(Error::conflict(
            ConflictCode::TasksOpen,
            format!("{} task(s) still open: {}", open.len(), open.join("; ")),
        ))
    }
}
