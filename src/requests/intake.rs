//! Registering a request: what an agent types while the caller is on the line, checked, sealed,
//! given its deadline and checklist, and confirmed to the person — all in one transaction.

use super::answer::Deliverables;
use super::case::Case;
use super::checklist::{self, ChecklistInput, TaskDraft};
use super::letters::{Extras, Preview};
use super::requester::{check_text, place, Representative, Requester, MAX_DETAILS};
use super::view::RequestView;
use super::{deadline, RequestService, Staff};
use crate::catalog::CatalogSnapshot;
use crate::db::models::requests::{self as rows, RequestRow, TaskRow};
use crate::db::DbConnection;
use crate::error::{Error, FieldError, Result};
use crate::ids::{RequestId, TaskId};
use crate::mail::letters::LetterKind;
use crate::vocabulary::{Channel, Language, RequestKind, RequestState, TaskKind, TaskState};
use crate::webhooks::WebhookEvent;
use anyhow::Context;
use chrono::{NaiveDateTime, TimeDelta};
use serde::Deserialize;

/// How far back a receipt time may lie: a letter found in a drawer a year late is still a
/// request, but a typo of a decade is not.
const MAX_RECEIPT_AGE_DAYS: i64 = 366;
/// Clock skew tolerated for a receipt time "now" from another machine.
const MAX_RECEIPT_FUTURE_MINUTES: i64 = 5;

/// A request as an agent registers it.
#[derive(utoipa::ToSchema, Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    pub kind: RequestKind,
    pub channel: Channel,
    /// When the request reached the organisation (UTC): required for a letter, an e-mail and the
    /// counter (a letter keeps the day it arrived); now by default for phone and web form.
    #[serde(default)]
    pub received_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    pub language: Option<Language>,
    pub requester: Requester,
    #[serde(default)]
    pub details: Option<String>,
    #[serde(default)]
    pub representative: Option<Representative>,
    /// Identity already checked during the call (e.g. the caller is signed in).
    #[serde(default)]
    pub identity: Option<IdentityCheck>,
}

/// How identity was verified, and anything worth noting (never the document itself).
#[derive(utoipa::ToSchema, Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityCheck {
    pub method: crate::vocabulary::VerificationMethod,
    #[serde(default)]
    pub note: Option<String>,
}

impl Channel {
    /// Channels where a request waits for someone to register it: its receipt time must be
    /// given, because the clock started when it arrived, not when it was typed in.
    pub fn keeps_its_arrival_time(self) -> bool {
        matches!(self, Channel::Letter | Channel::Email | Channel::Counter)
    }
}

impl IdentityCheck {
    /// An ID copy is the exception (the AP fined a publisher for asking by default): record why
    /// it was necessary. Only that note and the fact are kept, never the document.
    pub fn check(&self, prefix: &str) -> Vec<FieldError> {
        let note = self
            .note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty());
        if self.method == crate::vocabulary::VerificationMethod::IdDocumentChecked && note.is_none()
        {
            return vec![FieldError::new(
                format!("{prefix}.note"),
                "say why a copy of an ID document was necessary (it is deleted after the check; only the fact and this note are kept)",
            )];
        }
        Vec::new()
    }
}

impl IdentityCheck {
    /// Identity checked through a representative's authorisation needs that representative and
    /// the proof, and then covers them.
    pub fn check_representative(
        &self,
        prefix: &str,
        representative: Option<&Representative>,
    ) -> Vec<FieldError> {
        let method = crate::vocabulary::VerificationMethod::RepresentativeAuthorisation;
        let proven = representative.is_some_and(|r| r.authorisation.is_some());
        if self.method == method && !proven {
            return vec![FieldError::new(
                format!("{prefix}.method"),
                "representative_authorisation needs a representative with the proof of their authorisation",
            )];
        }
        Vec::new()
    }
}

impl NewRequest {
    /// Tidies the input and returns every field error at once.
    pub fn validate(mut self, now: NaiveDateTime) -> Result<Self> {
        self.requester = self.requester.tidy();
        self.details = self
            .details
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty());
        let mut errors = self.requester.check("requester");
        if let Some(details) = &self.details {
            check_text(&mut errors, "details", details, MAX_DETAILS);
        }
        self.representative = self.representative.map(Representative::tidy);
        if let Some(representative) = &self.representative {
            errors.extend(representative.check("representative"));
        }
        if let Some(note) = self.identity.as_ref().and_then(|i| i.note.as_deref()) {
            check_text(&mut errors, "identity.note", note, MAX_DETAILS);
        }
        match self.received_at {
            Some(received) => errors.extend(check_receipt_time(received.naive_utc(), now)),
            None if self.channel.keeps_its_arrival_time() => errors.push(FieldError::new(
                "received_at",
                format!(
                    "give when the request arrived: a request by {} keeps its own receipt date, however late it is registered",
                    self.channel
                ),
            )),
            None => {}
        }
        if let Some(identity) = &self.identity {
            errors.extend(identity.check("identity"));
            errors.extend(identity.check_representative("identity", self.representative.as_ref()));
        }
        crate::error::all_valid(errors)?;
        Ok(self)
    }
}

fn check_receipt_time(received: NaiveDateTime, now: NaiveDateTime) -> Vec<FieldError> {
    if received > now + TimeDelta::minutes(MAX_RECEIPT_FUTURE_MINUTES) {
        vec![FieldError::new("received_at", "must not be in the future")]
    } else if received < now - TimeDelta::days(MAX_RECEIPT_AGE_DAYS) {
        vec![FieldError::new(
            "received_at",
            "must be within the last year",
        )]
    } else {
        Vec::new()
    }
}

/// Eight characters from an alphabet without look-alikes (no 0/O, 1/I/L), so a reference read out
/// over the phone is understood.
fn new_reference(received: NaiveDateTime) -> String {
    use chrono::Datelike;
    use rand::Rng;
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    let mut rng = rand::thread_rng();
    let code: String = (0..8)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("AVG-{}-{}", received.year(), code)
}

impl RequestService {
    /// Registers a request from a member of staff.
    #[tracing::instrument(skip_all, fields(request_id = tracing::field::Empty))]
    pub async fn register(&self, staff: Staff, new: NewRequest) -> Result<RequestView> {
        let now = crate::db::now();
        let new = new.validate(now)?;
        let received = new.received_at.map(|r| r.naive_utc()).unwrap_or(now);
        // What only reads (the catalog, the receipt letter rendered) happens before the write
        // transaction, so the write lock is held for the inserts alone.
        let (service, draft, username) = (self.clone(), new.clone(), staff.username.clone());
        let (case, receipt, earlier) = self
            .store
            .read(move |conn| {
                let catalog = service.catalog.get(conn)?;
                let case = service.new_case(&catalog, &username, &draft, received, true)?;
                let receipt = service.render_receipt(conn, &catalog, &case)?;
                let earlier = service.earlier_requests(conn, &case)?;
                Ok::<_, Error>((case, receipt, earlier))
            })
            .await?;
        // Sealed here, not in the write: on SQLite every write waits for the one writer thread.
        let letter = self.outbox_row(&case, &receipt);
        let service = self.clone();
        let case = self
            .store
            .write(move |conn| {
                let mut case = case;
                // Receipt, receipt letter and identity are recorded (audit, webhooks) in the
                // order they happen, but applied to the case in memory: the request row, its
                // letter and its checklist are then written once, together, as they end up.
                service.record_receipt(conn, &staff.actor(), &new, &case)?;
                if let Some(letter) = &letter {
                    service.tick_receipt(conn, &mut case, &staff, &letter.id)?;
                }
                service.identity_during_call(conn, &mut case, &staff, &new)?;
                store_new_case(conn, &mut case, letter.as_ref())?;
                Ok::<_, Error>(case)
            })
            .await?;
        (self.mail_queued)();
        // Nothing refers to the new request yet, and its person's earlier requests were read
        // with the catalog: the view needs no read of its own.
        let view = self.fresh_view(&case, earlier)?;
        tracing::Span::current().record("request_id", view.id.as_str());
        if view.identity_verified {
            self.run_automatically(&view.id);
        }
        Ok(view)
    }

    /// Registers one validated request inside an open transaction: the case, its receipt
    /// confirmation and the identity check made during the call; returns its view.
    pub(crate) fn register_in(
        &self,
        conn: &mut DbConnection,
        staff: &Staff,
        new: &NewRequest,
        now: NaiveDateTime,
    ) -> Result<RequestView> {
        let received = new.received_at.map(|r| r.naive_utc()).unwrap_or(now);
        let mut case =
            self.open_case(conn, &staff.actor(), &staff.username, new, received, true)?;
        self.confirm_receipt(conn, &mut case, staff)?;
        self.identity_during_call(conn, &mut case, staff, new)?;
        self.view_in(conn, &case)
    }

    /// Records the identity check the agent made during the call, if any.
    fn identity_during_call(
        &self,
        conn: &mut DbConnection,
        case: &mut Case,
        staff: &Staff,
        new: &NewRequest,
    ) -> Result<()> {
        match &new.identity {
            Some(identity) => self.record_identity(conn, case, staff, identity),
            None => Ok(()),
        }
    }

    /// Inserts the request and its checklist, with the audit event of its receipt.
    pub(crate) fn open_case(
        &self,
        conn: &mut DbConnection,
        actor: &crate::audit::Actor,
        created_by: &str,
        new: &NewRequest,
        received: NaiveDateTime,
        email_confirmed: bool,
    ) -> Result<Case> {
        let catalog = self.catalog.get(conn)?;
        let mut case = self.new_case(&catalog, created_by, new, received, email_confirmed)?;
        self.insert_case(conn, actor, new, &mut case)?;
        Ok(case)
    }

    /// The request and its checklist as they will be stored, built in memory from `catalog`
    /// (which the caller read, so that its letters use the same copy without reading it again).
    fn new_case(
        &self,
        catalog: &CatalogSnapshot,
        created_by: &str,
        new: &NewRequest,
        received: NaiveDateTime,
        email_confirmed: bool,
    ) -> Result<Case> {
        let now = crate::db::now();
        let received_on = super::dutch_date(received);
        let mut row = RequestRow {
            id: RequestId::generate(),
            reference: new_reference(received),
            kind: new.kind,
            channel: new.channel,
            state: RequestState::Received,
            language: new.language.unwrap_or(Language::Nl),
            received_at: received,
            due_on: deadline::first_due_date(received_on),
            extended: false,
            extension_reason: None,
            identity_verified: false,
            verification_method: None,
            verified_by: None,
            verified_at: None,
            email_confirmed,
            confirmation_code_hash: None,
            confirmation_expires_at: None,
            confirmation_attempts: 0,
            name_enc: None,
            email_enc: None,
            customer_number_enc: None,
            phone_enc: None,
            details_enc: self
                .cipher
                .encrypt_opt(place::DETAILS, new.details.as_deref()),
            representative_enc: new
                .representative
                .as_ref()
                .map(|r| {
                    let json = serde_json::to_string(r).context("representative")?;
                    Ok::<_, Error>(self.cipher.encrypt(place::REPRESENTATIVE, &json))
                })
                .transpose()?,
            email_index: None,
            customer_number_index: None,
            phone_index: None,
            assignee: None,
            proposed_outcome: None,
            refusal_ground: None,
            decision_reason_enc: None,
            justification_enc: None,
            proposed_by: None,
            approved_by: None,
            version: 1,
            created_by: created_by.to_string(),
            created_at: now,
            updated_at: now,
            closed_at: None,
            copy_sent_by_post_on: None,
            extension_ground: None,
            partial_refusal_enc: None,
            bsn_enc: None,
            bsn_index: None,
            has_pauses: false,
            has_comments: false,
            has_owner_links: false,
            has_packages: false,
            has_attachments: false,
            has_redactions: false,
            has_recipients_asked: false,
            has_keep_choices: false,
            has_kept_rows: false,
            has_ground: false,
        };
        check_bsn_allowed(&new.requester, &catalog.activities)?;
        new.requester.seal_into(&self.cipher, &mut row);
        let drafts = checklist::generate(&ChecklistInput {
            kind: new.kind,
            catalog,
            policies: &self.policies,
            today: received_on.max(super::today()),
            identifiers: &new.requester.identifier_kinds(),
        });
        let tasks: Vec<TaskRow> = drafts
            .into_iter()
            .enumerate()
            .map(|(position, draft)| task_row(&row.id, position, draft, now))
            .collect();
        Ok(Case {
            row,
            tasks,
            pauses: Vec::new(),
            checklist_stored: false,
            row_stored: false,
            fresh: true,
        })
    }

    /// Stores a case built by [`Self::new_case`], with the audit event of its receipt.
    fn insert_case(
        &self,
        conn: &mut DbConnection,
        actor: &crate::audit::Actor,
        new: &NewRequest,
        case: &mut Case,
    ) -> Result<()> {
        store_request(conn, case)?;
        self.record_receipt(conn, actor, new, case)?;
        store_checklist(conn, case)
    }

    /// Records the receipt of a case built by [`Self::new_case`]: its audit event and, but for
    /// an unconfirmed web form, its webhook event.
    fn record_receipt(
        &self,
        conn: &mut DbConnection,
        actor: &crate::audit::Actor,
        new: &NewRequest,
        case: &Case,
    ) -> Result<()> {
        crate::audit::record(
            conn,
            actor,
            case.change(
                "request.received",
                format!(
                    "{} request ({}) received via {}, due {}, {} checklist tasks",
                    new.kind,
                    new.kind.article(),
                    new.channel,
                    case.row.due_on,
                    case.tasks.len()
                ),
            ),
        )?;
        // A web-form request is one only once its address is confirmed (`public::check_code`).
        if new.channel != Channel::WebForm {
            case.notify(conn, WebhookEvent::RequestReceived)?;
        }
        Ok(())
    }

    /// Sends the receipt confirmation with the status link and ticks off its task; without an
    /// e-mail address the task stays open for a letter or a call.
    pub(crate) fn confirm_receipt(
        &self,
        conn: &mut DbConnection,
        case: &mut Case,
        staff: &Staff,
    ) -> Result<()> {
        let catalog = self.catalog.get(conn)?;
        let receipt = self.render_receipt(conn, &catalog, case)?;
        self.send_receipt(conn, case, staff, receipt)
    }

    /// The receipt confirmation of `case`, with its status link.
    fn render_receipt(
        &self,
        conn: &mut DbConnection,
        catalog: &CatalogSnapshot,
        case: &Case,
    ) -> Result<Preview> {
        let extras = Extras {
            status_link: true,
            ..Extras::default()
        };
        let deliverables = Deliverables::of(conn, case)?;
        self.render_letter_with(
            conn,
            catalog,
            &deliverables,
            case,
            LetterKind::ReceiptConfirmation,
            &extras,
        )
    }

    /// Queues the rendered receipt confirmation and ticks off its task.
    fn send_receipt(
        &self,
        conn: &mut DbConnection,
        case: &mut Case,
        staff: &Staff,
        receipt: Preview,
    ) -> Result<()> {
        match self.queue_rendered(conn, case, &receipt)? {
            Some(outbox_id) => self.tick_receipt(conn, case, staff, &outbox_id),
            None => Ok(()),
        }
    }

    /// Ticks off the receipt task: the confirmation is in the outbox as `outbox_id`.
    fn tick_receipt(
        &self,
        conn: &mut DbConnection,
        case: &mut Case,
        staff: &Staff,
        outbox_id: &str,
    ) -> Result<()> {
        let evidence = format!("receipt confirmation e-mailed (outbox {outbox_id})");
        self.close_task(
            conn,
            case,
            staff,
            TaskKind::ConfirmReceipt,
            TaskState::Done,
            &evidence,
        )
    }
}

/// Inserts a new case, built and changed in memory only, with its receipt letter: on
/// PostgreSQL in one statement (see [`rows::insert_new_request`]).
fn store_new_case(
    conn: &mut DbConnection,
    case: &mut Case,
    letter: Option<&crate::db::models::outbox::OutboxRow>,
) -> Result<()> {
    debug_assert!(
        !case.row_stored && !case.checklist_stored,
        "a new case is stored once"
    );
    rows::insert_new_request(conn, &case.row, letter, &case.tasks)?;
    case.row_stored = true;
    case.checklist_stored = true;
    Ok(())
}

/// Inserts the request row of a new case, once, in the state it has reached in memory.
fn store_request(conn: &mut DbConnection, case: &mut Case) -> Result<()> {
    if !case.row_stored {
        rows::insert_request(conn, &case.row)?;
        case.row_stored = true;
    }
    Ok(())
}

/// Inserts the checklist of a new case, once, in the state it has reached in memory.
fn store_checklist(conn: &mut DbConnection, case: &mut Case) -> Result<()> {
    if !case.checklist_stored {
        rows::insert_tasks(conn, &case.tasks)?;
        case.checklist_stored = true;
    }
    Ok(())
}

/// A BSN is an identifier only for a controller whose catalog names the law that allows it for
/// some activity (UAVG art. 46): a municipality under the Wabb, never a telecom provider.
fn check_bsn_allowed(
    requester: &Requester,
    activities: &[crate::catalog::model::Activity],
) -> Result<()> {
    let named = activities.iter().any(|a| {
        a.bsn_law
            .as_deref()
            .is_some_and(|law| !law.trim().is_empty())
    });
    if requester.bsn.is_some() && !named {
        return Err(Error::invalid(
            "requester.bsn",
            "this organisation may not record a citizen service number (BSN): no processing activity in its catalog names the law that allows it (bsn_law; UAVG art. 46) — leave it out",
        ));
    }
    Ok(())
}

pub(super) fn task_row(
    request_id: &RequestId,
    position: usize,
    draft: TaskDraft,
    now: NaiveDateTime,
) -> TaskRow {
    TaskRow {
        id: TaskId::generate(),
        request_id: request_id.clone(),
        position: position as i32,
        kind: draft.kind,
        title_nl: draft.title_nl,
        title_en: draft.title_en,
        system_key: draft.system_key,
        activity_key: draft.activity_key,
        categories: draft.categories.join(","),
        recipient: draft.recipient,
        legal_exception: draft.legal_exception,
        keep_until: draft.keep_until,
        state: TaskState::Open,
        assignee: None,
        evidence_enc: None,
        closed_by: None,
        closed_at: None,
        version: 1,
        created_at: now,
        updated_at: now,
        outcome: None,
        found_rows: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_readable_over_the_phone() {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 23)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        let reference = new_reference(at);
        assert!(reference.starts_with("AVG-2026-"));
        assert_eq!(reference.len(), "AVG-2026-".len() + 8);
        assert!(!reference[9..].contains(['0', 'O', '1', 'I', 'L']));
    }

    #[test]
    fn receipt_time_must_be_plausible() {
        let now = crate::db::now();
        assert!(check_receipt_time(now - TimeDelta::days(3), now).is_empty());
        assert_eq!(
            check_receipt_time(now + TimeDelta::hours(1), now)[0].field,
            "received_at"
        );
        assert!(!check_receipt_time(now - TimeDelta::days(400), now).is_empty());
    }
}
