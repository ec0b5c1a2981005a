//! The outbox: every letter is written here, in the same transaction as the change that caused
//! it, and delivered afterwards by the worker (`super::worker`). A mail server that is down
//! delays letters; it never loses them, and a rolled-back change never sends one.
//!
//! Recipient, subject and body are personal data and stored encrypted, each bound to its column.

use super::letters::LetterKind;
use crate::crypto::Cipher;
use crate::db::models::outbox::{self as rows, OutboxRow};
use crate::db::{DbConnection, StoreError};
use crate::ids::RequestId;
use crate::vocabulary::Language;
use chrono::NaiveDateTime;
use serde::Serialize;

const RECIPIENT: &str = "outbox.recipient";
const SUBJECT: &str = "outbox.subject";
const BODY: &str = "outbox.body";

pub struct NewMail<'a> {
    pub request_id: Option<&'a str>,
    pub letter: LetterKind,
    pub language: Language,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
}

/// Where a message stands: waiting (or being retried), delivered, or given up after
/// `mail.max_attempts` tries and left for a person to look at.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    serde::Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum OutboxStatus {
    Pending,
    Sent,
    Failed,
}

impl OutboxStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A message as an agent or administrator sees it: decrypted, without the body.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct OutboxEntry {
    pub id: String,
    pub request_id: Option<RequestId>,
    pub letter: String,
    pub language: String,
    pub recipient: String,
    pub subject: String,
    pub status: String,
    pub attempts: i32,
    pub created_at: chrono::NaiveDateTime,
    pub sent_at: Option<chrono::NaiveDateTime>,
    pub last_error: Option<String>,
}

/// Puts a message in the outbox, due at once. Runs on the caller's connection and inside the
/// caller's transaction, so the message exists exactly when the caller's change commits; wake
/// the worker (`WorkerHandle::wake`) after the commit to deliver it without waiting for a poll.
pub fn enqueue(
    conn: &mut DbConnection,
    cipher: &Cipher,
    mail: NewMail<'_>,
) -> Result<String, StoreError> {
    let row = letter_row(cipher, mail);
    row.insert(conn)?;
    Ok(row.id)
}

/// The outbox row [`enqueue`] would insert, sealed, with its id: for a caller that must name
/// the message before the request it refers to is written (an intake writes its request
/// once, last).
pub fn letter_row(cipher: &Cipher, mail: NewMail<'_>) -> OutboxRow {
    let template = mail.letter.to_string();
    notice_row(
        cipher,
        Notice {
            request_id: mail.request_id,
            template: &template,
            language: mail.language,
            recipient: mail.recipient,
            subject: mail.subject,
            body: mail.body,
        },
    )
}

/// A message to staff rather than a letter to the person who made the request (a task for a
/// system's owner, its reminder, its escalation): named by its `template`, not a [`LetterKind`].
pub struct Notice<'a> {
    pub request_id: Option<&'a str>,
    pub template: &'a str,
    pub language: Language,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
}

/// Puts a [`Notice`] in the outbox, delivered like a letter; see [`enqueue`].
pub fn enqueue_notice(
    conn: &mut DbConnection,
    cipher: &Cipher,
    mail: Notice<'_>,
) -> Result<String, StoreError> {
    let row = notice_row(cipher, mail);
    row.insert(conn)?;
    Ok(row.id)
}

/// A [`Notice`] as its sealed outbox row, due at once.
fn notice_row(cipher: &Cipher, mail: Notice<'_>) -> OutboxRow {
    let now = crate::db::now();
    OutboxRow {
        id: crate::ids::new_id(),
        request_id: mail.request_id.map(RequestId::from),
        template: mail.template.to_string(),
        language: mail.language.as_str().to_string(),
        recipient_enc: cipher.encrypt(RECIPIENT, mail.recipient),
        subject_enc: cipher.encrypt(SUBJECT, mail.subject),
        body_enc: cipher.encrypt(BODY, mail.body),
        status: rows::PENDING.to_string(),
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
        created_at: now,
        sent_at: None,
    }
}

/// The messages of one request, oldest first.
pub fn list_for_request(
    conn: &mut DbConnection,
    cipher: &Cipher,
    request_id: &RequestId,
) -> Result<Vec<OutboxEntry>, crate::error::Error> {
    let rows = OutboxRow::for_request(conn, request_id)?;
    Ok(decrypt_all(cipher, rows)?)
}

/// One page of the whole outbox, newest first, optionally of one status; with the total count.
pub fn list(
    conn: &mut DbConnection,
    cipher: &Cipher,
    status: Option<OutboxStatus>,
    offset: i64,
    limit: i64,
) -> Result<(Vec<OutboxEntry>, i64), crate::error::Error> {
    let (rows, total) = OutboxRow::page(
        conn,
        status.map(OutboxStatus::as_str),
        offset.max(0),
        limit.max(0),
    )?;
    Ok((decrypt_all(cipher, rows)?, total))
}

pub fn find(
    conn: &mut DbConnection,
    cipher: &Cipher,
    id: &str,
) -> Result<Option<OutboxEntry>, crate::error::Error> {
    Ok(OutboxRow::find(conn, id)?
        .map(|row| entry(cipher, row))
        .transpose()?)
}

/// A letter of `request_id` with its text, to print it as it went out; `None` when there is no
/// such letter of that request.
pub fn letter_of_request(
    conn: &mut DbConnection,
    cipher: &Cipher,
    request_id: &str,
    id: &str,
) -> Result<Option<(OutboxEntry, String)>, crate::error::Error> {
    let Some(row) = OutboxRow::find(conn, id)? else {
        return Ok(None);
    };
    if row.request_id.as_deref() != Some(request_id) {
        return Ok(None);
    }
    let body = open(cipher, BODY, &row.id, &row.body_enc)?;
    Ok(Some((entry(cipher, row)?, body)))
}

fn decrypt_all(cipher: &Cipher, rows: Vec<OutboxRow>) -> Result<Vec<OutboxEntry>, StoreError> {
    rows.into_iter().map(|row| entry(cipher, row)).collect()
}

fn entry(cipher: &Cipher, row: OutboxRow) -> Result<OutboxEntry, StoreError> {
    Ok(OutboxEntry {
        recipient: open(cipher, RECIPIENT, &row.id, &row.recipient_enc)?,
        subject: open(cipher, SUBJECT, &row.id, &row.subject_enc)?,
        id: row.id,
        request_id: row.request_id,
        letter: row.template,
        language: row.language,
        status: row.status,
        attempts: row.attempts,
        created_at: row.created_at,
        sent_at: row.sent_at,
        last_error: row.last_error,
    })
}

fn open(cipher: &Cipher, place: &str, id: &str, stored: &str) -> Result<String, StoreError> {
    cipher
        .decrypt(place, stored)
        .map_err(|e| StoreError::Corrupt(format!("outbox message {id}: {place}: {e}")))
}

// --- delivery (used by the worker) ------------------------------------------------------------

/// A message claimed for delivery, in the clear. Not `Debug`: it holds personal data.
pub(crate) struct Claimed {
    /// Attempts so far, this one included.
    pub attempts: i32,
    pub recipient: String,
    pub subject: String,
    pub body: String,
}

/// What claiming a message gave: the message, or a message that cannot be opened.
pub(crate) enum ClaimOutcome {
    Claimed(Claimed),
    Unreadable { attempts: i32, error: StoreError },
}

/// Claims at most `limit` due messages until `lease_until` (see [`rows::claim_group`]), oldest
/// first, each with its id.
pub(crate) fn claim_group(
    conn: &mut DbConnection,
    cipher: &Cipher,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<(String, ClaimOutcome)>, StoreError> {
    Ok(rows::claim_group(conn, now, lease_until, limit)?
        .into_iter()
        .map(|row| (row.id.clone(), opened(cipher, row)))
        .collect())
}

/// Gives claimed messages back unsent (see [`rows::release`]).
pub(crate) fn release(conn: &mut DbConnection, ids: &[String]) -> Result<(), StoreError> {
    rows::release(conn, ids, crate::db::now())
}

/// A claimed row, opened.
fn opened(cipher: &Cipher, row: OutboxRow) -> ClaimOutcome {
    let opened = (|| {
        Ok::<_, StoreError>(Claimed {
            recipient: open(cipher, RECIPIENT, &row.id, &row.recipient_enc)?,
            subject: open(cipher, SUBJECT, &row.id, &row.subject_enc)?,
            body: open(cipher, BODY, &row.id, &row.body_enc)?,
            attempts: row.attempts,
        })
    })();
    match opened {
        Ok(claimed) => ClaimOutcome::Claimed(claimed),
        Err(error) => ClaimOutcome::Unreadable {
            attempts: row.attempts,
            error,
        },
    }
}

/// Marks the messages `sent` as sent, each at the time it went.
pub(crate) fn record_sent(conn: &mut DbConnection, sent: &[rows::Sent]) -> Result<(), StoreError> {
    rows::mark_sent(conn, sent)
}

/// Records a failed attempt with a short error that holds no personal data; the message is
/// retried at `retry_at`, or marked failed when that is `None`.
pub(crate) fn record_failure(
    conn: &mut DbConnection,
    id: &str,
    error: &str,
    retry_at: Option<NaiveDateTime>,
) -> Result<(), StoreError> {
    rows::mark_attempt_failed(conn, id, error, retry_at)
}
