//! Delivering events: the outbox worker (`crate::mail::worker`) claims due deliveries in
//! groups ([`claim_group`], so two instances never send one at the same time), POSTs each
//! event's body signed with the subscription's secret ([`Sender::send`]), a few at a time, and
//! records the answer ([`record`]). A 2xx is delivered; anything else, or no answer within
//! [`TIMEOUT`], is retried when the retry policy says so (the mail outbox's), else marked failed
//! for an administrator to look at. No database connection is held while a receiver is waited
//! for: a slow receiver must not take one from the desk.
//!
//! The signature follows Stripe's scheme: HMAC-SHA256 under the secret over
//! `"{timestamp}.{body}"`, hex, in `Loket-Signature: v1=…`, with the Unix timestamp in
//! `Loket-Timestamp`. A receiver recomputes it over the raw body and refuses an old timestamp,
//! so a captured delivery cannot be replayed later. Errors recorded name the status or the kind
//! of failure, never the receiver's answer (which is not ours to keep).

use super::SECRET;
use crate::crypto::Cipher;
use crate::db::models::webhooks as rows;
pub use crate::db::models::webhooks::ClaimedRow;
use crate::db::{DbConnection, StoreError};
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

impl StepReport {
    /// Counts one attempt that ended as `attempt` says.
    pub fn count(&mut self, attempt: &Attempt) {
        self.attempted += 1;
        match attempt.error {
            None => self.delivered += 1,
            Some(_) => self.failed_attempts += 1,
        }
    }
}

/// How one attempt ended.
#[derive(Debug, Clone)]
pub struct Attempt {
    status_code: Option<i32>,
    error: Option<String>,
}

impl Attempt {
    fn failed(status_code: Option<i32>, error: String) -> Self {
        Attempt {
            status_code,
            error: Some(error),
        }
    }
}

/// Whether any delivery is due at `now`: a read, so that a worker finding none (most rounds,
/// where webhooks are few) does not queue a claim behind SQLite's writes.
pub fn any_due(conn: &mut DbConnection, now: NaiveDateTime) -> Result<bool, StoreError> {
    Ok(!rows::due_ids(conn, now, 1)?.is_empty())
}

/// Claims at most `limit` due deliveries (see [`rows::claim_group`]), held long enough for all
/// of them to be sent one after the other, each taking the whole [`TIMEOUT`].
pub fn claim_group(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    limit: i64,
) -> Result<Vec<ClaimedRow>, StoreError> {
    let others = u32::try_from(limit.saturating_sub(1)).unwrap_or(u32::MAX);
    let lease = LEASE.saturating_add(TIMEOUT.saturating_mul(others));
    let lease_until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
    rows::claim_group(conn, now, lease_until, limit)
}

/// Records how the attempt on delivery `id` ended at `now`: delivered, due again at `retry_at`,
/// or (without one) failed for good.
pub fn record(
    conn: &mut DbConnection,
    id: &str,
    attempt: &Attempt,
    now: NaiveDateTime,
    retry_at: Option<NaiveDateTime>,
) -> Result<(), StoreError> {
    match &attempt.error {
        None => rows::mark_delivered(conn, id, attempt.status_code.unwrap_or(200), now),
        Some(error) => rows::mark_attempt_failed(conn, id, error, attempt.status_code, retry_at),
    }
}

/// Gives claimed deliveries back unsent (see [`rows::release`]).
pub fn release(conn: &mut DbConnection, ids: &[String]) -> Result<(), StoreError> {
    rows::release(conn, ids, crate::db::now())
}

/// Sends deliveries: one HTTP client, kept for the worker's life so connections to a receiver
/// are reused.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    cipher: Cipher,
}

impl Sender {
    pub fn new(cipher: Cipher) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("loket-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Sender { client, cipher })
    }

    /// POSTs the claimed delivery's event, signed, and says how it went. Logs name the delivery,
    /// its attempt and the kind of failure only.
    pub async fn send(&self, claimed: &ClaimedRow) -> Attempt {
        let attempt = self.post(claimed).await;
        let (id, attempts) = (&claimed.delivery.id, claimed.delivery.attempts);
        match &attempt.error {
            None => tracing::info!(delivery = %id, attempts, "webhook delivered"),
            Some(error) => {
                tracing::warn!(delivery = %id, attempts, %error, "webhook delivery failed")
            }
        }
        attempt
    }

    async fn post(&self, claimed: &ClaimedRow) -> Attempt {
        let Ok(secret) = self
            .cipher
            .decrypt(SECRET, &claimed.subscription.secret_enc)
        else {
            return Attempt::failed(
                None,
                "the secret cannot be opened (is its data key configured?)".into(),
            );
        };
        let body = &claimed.event.payload;
        let timestamp = chrono::Utc::now().timestamp();
        let answer = self
            .client
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
            .send()
            .await;
        match answer {
            Ok(response) if response.status().is_success() => Attempt {
                status_code: Some(i32::from(response.status().as_u16())),
                error: None,
            },
            Ok(response) => Attempt::failed(
                Some(i32::from(response.status().as_u16())),
                format!("the receiver answered {}", response.status()),
            ),
            Err(error) => Attempt::failed(None, describe(error)),
        }
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
