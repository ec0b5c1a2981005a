//! What the person sees: the web form, the one-time code that confirms their e-mail address,
//! and the status page behind a signed, expiring link.
//!
//! A web-form request starts its clock when it arrives (any official channel counts), but it
//! is a request only once the code sent to the given address comes back: until then it is kept
//! apart (not in the queue, the statistics or the earlier-requests lookup), no receipt
//! confirmation goes out, and once its code has expired it is deleted, so anyone's address typed
//! into the form leaves nothing behind.

use super::case::Case;
use super::intake::NewRequest;
use super::letters::Extras;
use super::requester::Requester;
use super::{RequestService, Staff, STATUS_LINK_AUDIENCE};
use crate::audit::Actor;
use crate::auth::Role;
use crate::db::models::requests as rows;
use crate::error::{ConflictCode, Error, Result};
use crate::ids::RequestId;
use crate::mail::letters::LetterKind;
use crate::vocabulary::{Channel, Language, RequestKind, RequestState};
use chrono::{NaiveDate, TimeDelta};
use serde::{Deserialize, Serialize};

/// Wrong codes before a request's code is spent and the form must be sent again.
pub const MAX_CODE_ATTEMPTS: i32 = 5;
const CODE_PLACE: &str = "requests.confirmation_code";
const WEB_FORM: &str = "web_form";

#[derive(utoipa::ToSchema, Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicRequest {
    pub kind: RequestKind,
    #[serde(default)]
    pub language: Option<Language>,
    #[serde(default)]
    pub name: Option<String>,
    pub email: String,
    #[serde(default)]
    pub customer_number: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
    /// Someone asking for another person (a parent for a child under 16, a lawyer).
    #[serde(default)]
    pub representative: Option<super::requester::Representative>,
}

#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct Submitted {
    pub reference: String,
    pub message: &'static str,
}

#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct PublicStatus {
    pub reference: String,
    pub kind: RequestKind,
    pub state: RequestState,
    pub received_on: NaiveDate,
    pub due_on: NaiveDate,
    pub paused: bool,
    pub extended: bool,
}

/// Whether a code was right; a wrong one is still counted, so it is not an error inside the
/// transaction (that would roll the count back).
enum CodeCheck {
    Confirmed(PublicStatus),
    Wrong,
}

/// Deletes the web-form requests whose address was never confirmed and whose code expired before
/// `now`, each with an audit event (the reference only); how many.
pub fn purge_unconfirmed(
    conn: &mut crate::db::DbConnection,
    now: chrono::NaiveDateTime,
) -> Result<usize> {
    let purged = rows::delete_unconfirmed(conn, now)?;
    for reference in &purged {
        crate::audit::record(
            conn,
            &Actor::System(WEB_FORM),
            crate::audit::Change {
                action: "request.unconfirmed_purged",
                object_type: "request",
                object_id: reference,
                summary: "web-form request deleted: its address was not confirmed before the code expired".into(),
            },
        )?;
    }
    Ok(purged.len())
}

impl RequestService {
    #[tracing::instrument(skip_all)]
    pub async fn submit_public(&self, form: PublicRequest) -> Result<Submitted> {
        let now = crate::db::now();
        let contact = form.email.clone();
        let new = NewRequest {
            kind: form.kind,
            channel: Channel::WebForm,
            received_at: None,
            language: form.language,
            requester: Requester {
                name: form.name,
                email: Some(form.email),
                customer_number: form.customer_number,
                phone: form.phone,
                bsn: None,
            },
            details: form.details,
            // Whoever fills in the form gets the code and the letters at the address given.
            representative: form.representative.map(|mut r| {
                r.email = r.email.or(Some(contact));
                r
            }),
            identity: None,
        }
        .validate(now)?;
        if new.requester.email.is_none() {
            return Err(Error::invalid("email", "must not be empty"));
        }
        let service = self.clone();
        let minutes = self.policies.requests.verification_code_minutes;
        let reference = self
            .store
            .write(move |conn| {
                let actor = Actor::System(WEB_FORM);
                purge_unconfirmed(conn, now)?;
                let mut case = service.open_case(conn, &actor, WEB_FORM, &new, now, false)?;
                let code = new_code();
                case.row.confirmation_code_hash = Some(service.code_hash(case.id(), &code));
                case.row.confirmation_expires_at = Some(now + TimeDelta::minutes(minutes));
                let extras = Extras {
                    code: Some(code),
                    code_valid_minutes: Some(minutes),
                    ..Extras::default()
                };
                service.queue_letter(conn, &case, LetterKind::VerificationCode, &extras)?;
                case.save(
                    conn,
                    &actor,
                    "request.code_sent",
                    "confirmation code e-mailed to the address given".into(),
                )?;
                Ok::<_, Error>(case.row.reference.clone())
            })
            .await?;
        (self.mail_queued)();
        Ok(Submitted {
            reference,
            message: "check your e-mail: we sent a code to confirm your address",
        })
    }

    /// Checks the code from the e-mail; a right one verifies the request and sends the receipt
    /// confirmation with the status link.
    pub async fn confirm_public(&self, reference: String, code: String) -> Result<PublicStatus> {
        let code = code.trim().to_string();
        if code.is_empty() || code.len() > 12 {
            return Err(Error::invalid("code", "must be the code from the e-mail"));
        }
        let service = self.clone();
        let outcome = self
            .store
            .write(move |conn| {
                let row = rows::find_request_by_reference(conn, &reference)?
                    .ok_or_else(|| Error::not_found(format!("request '{reference}'")))?;
                let mut case = Case::with_row(conn, row)?;
                service.check_code(conn, &mut case, &code)
            })
            .await?;
        match outcome {
            CodeCheck::Confirmed(status) => {
                (self.mail_queued)();
                Ok(status)
            }
            CodeCheck::Wrong => Err(Error::invalid(
                "code",
                "this code is not right; check the e-mail and try again",
            )),
        }
    }

    fn check_code(
        &self,
        conn: &mut crate::db::DbConnection,
        case: &mut Case,
        code: &str,
    ) -> Result<CodeCheck> {
        let actor = Actor::System(WEB_FORM);
        if case.row.email_confirmed {
            return Err(Error::conflict(
                ConflictCode::AlreadyDone,
                "this request was already confirmed",
            ));
        }
        if case.row.confirmation_attempts >= MAX_CODE_ATTEMPTS {
            return Err(Error::conflict(
                ConflictCode::Other,
                "too many wrong codes: send the form again for a new code",
            ));
        }
        let expired = case
            .row
            .confirmation_expires_at
            .is_none_or(|at| at < crate::db::now());
        if expired {
            return Err(Error::invalid(
                "code",
                "the code has expired: send the form again for a new code",
            ));
        }
        if case.row.confirmation_code_hash.as_deref() != Some(&self.code_hash(case.id(), code)) {
            case.row.confirmation_attempts += 1;
            let attempts = case.row.confirmation_attempts;
            case.save(
                conn,
                &actor,
                "request.code_rejected",
                format!("wrong confirmation code (attempt {attempts} of {MAX_CODE_ATTEMPTS})"),
            )?;
            return Ok(CodeCheck::Wrong);
        }
        case.row.email_confirmed = true;
        case.row.confirmation_code_hash = None;
        case.row.confirmation_expires_at = None;
        let web_form = Staff {
            username: WEB_FORM.into(),
            role: Role::Service,
        };
        self.confirm_receipt(conn, case, &web_form)?;
        case.save(
            conn,
            &actor,
            "request.email_confirmed",
            "e-mail address confirmed with the code".into(),
        )?;
        case.notify(conn, crate::webhooks::WebhookEvent::RequestReceived)?;
        Ok(CodeCheck::Confirmed(public_status(rows::StatusRow {
            reference: case.row.reference.clone(),
            kind: case.kind(),
            state: case.state(),
            received_at: case.row.received_at,
            due_on: case.row.due_on,
            extended: case.row.extended,
            paused: case.is_paused(),
        })))
    }

    /// The status page's facts, for a holder of a valid link.
    pub async fn public_status(&self, token: String) -> Result<PublicStatus> {
        let request_id = self
            .links
            .verify_link(STATUS_LINK_AUDIENCE, &token)
            .map(RequestId::from)
            .map_err(|_| Error::Forbidden("this status link is not valid or has expired".into()))?;
        self.store
            .read(move |conn| {
                let row = rows::find_status(conn, &request_id)?
                    .ok_or_else(|| Error::not_found(format!("request '{request_id}'")))?;
                Ok(public_status(row))
            })
            .await
    }

    /// Codes are kept only as a keyed hash bound to their request.
    fn code_hash(&self, request_id: &RequestId, code: &str) -> String {
        self.cipher
            .index(CODE_PLACE, &format!("{request_id}:{code}"))
    }
}

fn public_status(row: rows::StatusRow) -> PublicStatus {
    PublicStatus {
        reference: row.reference,
        kind: row.kind,
        state: row.state,
        received_on: super::dutch_date(row.received_at),
        due_on: row.due_on,
        paused: row.paused,
        extended: row.extended,
    }
}

/// Six digits: short enough to type, and with five tries a guess succeeds once in 200,000.
fn new_code() -> String {
    use rand::Rng;
    format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000))
}
