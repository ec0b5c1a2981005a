//! Delivering events: one step takes the due deliveries one by one, claims each (so two
//! instances never send one at the same time), POSTs the event's body signed with the
//! subscription's secret, and records the answer. A 2xx is delivered; anything else, or no
//! answer within [`TIMEOUT`], is retried when the retry policy says so (the mail outbox's, see
//! `crate::mail::worker`), else marked failed for an administrator to look at.
//!
//! The signature follows Stripe's scheme: HMAC-SHA256 under the secret over
//! `"{timestamp}.{body}"`, hex, in `Loket-Signature: v1=…`, with the Unix timestamp in
//! `Loket-Timestamp`. A receiver recomputes it over the raw body and refuses an old timestamp,
//! so a captured delivery cannot be replayed later. Errors recorded name the status or the kind
//! of failure, never the receiver's answer (which is not ours to keep).

use super::SECRET;
use crate::crypto::Cipher;
use crate::db::models::webhooks::{self as rows, ClaimedRow};
use crate::db::{DbConnection, Store, StoreError};
use chrono::NaiveDateTime;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;

/// Header names, as the README documents them.
pub const SIGNATURE_HEADER: &str = "Loket-Signature";
pub const TIMESTAMP_HEADER: &str = "Loket-Timestamp";
pub const EVENT_HEADER: &str = "Loket-Event";
pub const EVENT_ID_HEADER: &str = "Loket-Event-Id";
pub const DELIVERY_HEADER: &str = "Loket-Delivery";

/// How long one receiver may take to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claimed delivery is held: longer than any attempt can last.
const LEASE: Duration = Duration::from_secs(60);
/// Deliveries looked at per step.
const BATCH: i64 = 50;

/// The signature of `body` sent at `timestamp` (Unix seconds): hex HMAC-SHA256 over
/// `"{timestamp}.{body}"` under `secret`.
pub fn sign(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// What one step did, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StepReport {
    pub attempted: usize,
    pub delivered: usize,
    pub failed_attempts: usize,
}

/// How one attempt ended.
struct Attempt {
    status_code: Option<i32>,
    error: Option<String>,
    /// A failure that no retry will mend (the secret cannot be opened).
    permanent: bool,
}

/// Delivers every delivery due at `now`, once each. Blocking (it makes HTTP calls): run it on a
/// blocking thread. `retry_at(now, attempts, permanent)` says when a failed attempt is tried
/// again, `None` to give up.
pub fn deliver_due(
    store: &Store,
    cipher: &Cipher,
    now: NaiveDateTime,
    retry_at: impl Fn(NaiveDateTime, i32, bool) -> Option<NaiveDateTime>,
) -> Result<StepReport, StoreError> {
    store.blocking(|conn| deliver_due_on(conn, cipher, now, retry_at))
}

/// [`deliver_due`] on one connection.
fn deliver_due_on(
    conn: &mut DbConnection,
    cipher: &Cipher,
    now: NaiveDateTime,
    retry_at: impl Fn(NaiveDateTime, i32, bool) -> Option<NaiveDateTime>,
) -> Result<StepReport, StoreError> {
    let ids = rows::due_ids(conn, now, BATCH)?;
    let mut report = StepReport::default();
    if ids.is_empty() {
        return Ok(report);
    }
    // Made here, on the blocking thread, and dropped here: a blocking client must not live in
    // an async context.
    let client = reqwest::blocking::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("loket-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| StoreError::Corrupt(format!("webhook client: {e}")))?;
    let lease_until = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
    for id in ids {
        let Some(claimed) = rows::claim(conn, &id, now, lease_until)? else {
            continue;
        };
        report.attempted += 1;
        let attempt = send(&client, cipher, &claimed);
        let attempts = claimed.delivery.attempts;
        match attempt.error {
            None => {
                report.delivered += 1;
                tracing::info!(delivery = %id, attempts, "webhook delivered");
                rows::mark_delivered(conn, &id, attempt.status_code.unwrap_or(200), now)?;
            }
            Some(error) => {
                report.failed_attempts += 1;
                let again = retry_at(now, attempts, attempt.permanent);
                tracing::warn!(delivery = %id, attempts, %error, retry = again.is_some(), "webhook delivery failed");
                rows::mark_attempt_failed(conn, &id, &error, attempt.status_code, again)?;
            }
        }
    }
    Ok(report)
}

fn send(client: &reqwest::blocking::Client, cipher: &Cipher, claimed: &ClaimedRow) -> Attempt {
    let secret = match cipher.decrypt(SECRET, &claimed.subscription.secret_enc) {
        Ok(secret) => secret,
        Err(_) => {
            return Attempt {
                status_code: None,
                error: Some("the secret cannot be opened (is its data key configured?)".into()),
                permanent: false,
            }
        }
    };
    let body = &claimed.event.payload;
    let timestamp = chrono::Utc::now().timestamp();
    let answer = client
        .post(&claimed.subscription.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(
            SIGNATURE_HEADER,
            format!("v1={}", sign(&secret, timestamp, body)),
        )
        .header(EVENT_HEADER, claimed.event.event.as_str())
        .header(EVENT_ID_HEADER, &claimed.event.id)
        .header(DELIVERY_HEADER, &claimed.delivery.id)
        .body(body.clone())
        .send();
    match answer {
        Ok(response) if response.status().is_success() => Attempt {
            status_code: Some(i32::from(response.status().as_u16())),
            error: None,
            permanent: false,
        },
        Ok(response) => Attempt {
            status_code: Some(i32::from(response.status().as_u16())),
            error: Some(format!("the receiver answered {}", response.status())),
            permanent: false,
        },
        Err(error) => Attempt {
            status_code: None,
            error: Some(describe(error)),
            permanent: false,
        },
    }
}

/// The kind of failure, without the URL (it may carry a token in its query).
fn describe(error: reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "no answer in time"
    } else if error.is_connect() {
        "cannot connect"
    } else if error.is_request() {
        "the request could not be sent"
    } else {
        "the exchange failed"
    };
    format!("{kind}: {}", error.without_url())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // Computed independently: printf '1733230000.{"a":1}' | openssl dgst -sha256 -hmac secret
        assert_eq!(
            sign("secret", 1_733_230_000, r#"{"a":1}"#),
            "5d8eb699e1edb32f4a386b67203ff63524fa0e28b5233dfbc26cc729286650a5"
        );
        assert_ne!(
            sign("secret", 1_733_230_001, r#"{"a":1}"#),
            sign("secret", 1_733_230_000, r#"{"a":1}"#)
        );
    }
}
