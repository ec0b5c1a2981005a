//! Outgoing webhooks (issue 22): other systems are told when a request arrives, is verified,
//! falls due, ends, or when a retention sweep finishes.
//!
//! Administrators keep the subscriptions (a URL, a signing secret, the events wanted). An event is
//! stored once, in the same transaction as the change it reports ([`emit`]), with one delivery
//! per subscription that wants it; the mail worker delivers them like letters ([`delivery`]):
//! claimed under a lease, retried with exponential backoff, at least once. Every attempt of one
//! event carries the same event id, so a receiver drops a duplicate.
//!
//! Payloads never carry personal data: ids, references, kinds, states, dates and counts only. The
//! types below are the whole vocabulary, so nothing else can slip in.
//!
//! The secret is sealed with the data key like requesters' data and never given back.

pub mod delivery;

use crate::audit::{self, Actor, Change};
use crate::crypto::Cipher;
use crate::db::models::webhooks::{self as rows, DeliveryRow, EventRow, SubscriptionRow};
use crate::db::notices::Topic;
use crate::db::{DbConnection, Store};
use crate::error::{Error, FieldError, Result};
use crate::ids::{RequestId, SweepId};
use crate::vocabulary::{RequestKind, RequestState};
use anyhow::Context;
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

/// The column the secret is sealed for.
const SECRET: &str = "webhook_subscriptions.secret";
/// Shortest and longest signing secret accepted.
pub const SECRET_MIN: usize = 16;
pub const SECRET_MAX: usize = 256;
const URL_MAX: usize = 2000;
const DESCRIPTION_MAX: usize = 200;

pub use crate::vocabulary::WebhookEvent;

/// The facts of a request an event may carry: no name, address or identifier of the person.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct RequestFacts {
    pub request_id: RequestId,
    pub reference: String,
    pub kind: RequestKind,
    pub state: RequestState,
    pub received_on: NaiveDate,
    pub due_on: NaiveDate,
    pub closed_at: Option<NaiveDateTime>,
}

/// The facts of a finished sweep run: counts, never row contents.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct SweepFacts {
    pub run_id: SweepId,
    pub rule: String,
    pub system: Option<String>,
    pub status: String,
    pub dry_run: bool,
    pub matched: i64,
    pub changed: i64,
    pub finished_at: Option<NaiveDateTime>,
}

/// What one event's `data` holds.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum EventData {
    Request(RequestFacts),
    Sweep(SweepFacts),
}

/// The body every delivery of an event carries, the same on each attempt.
#[derive(Debug, Clone, Serialize)]
struct Payload<'a> {
    /// The event id: receivers deduplicate on it.
    id: &'a str,
    event: WebhookEvent,
    created_at: NaiveDateTime,
    data: &'a EventData,
}

/// Stores `event` and a delivery for every active subscription that wants it, in the caller's
/// transaction. With `once_per` (a request id), the event happens at most once for that object:
/// a second call stores nothing and returns `false`.
pub fn emit(
    conn: &mut DbConnection,
    event: WebhookEvent,
    data: EventData,
    once_per: Option<&str>,
) -> Result<bool> {
    let subscriptions = SubscriptionRow::list_once(conn)?;
    let subscribers: Vec<&SubscriptionRow> = subscriptions
        .iter()
        .filter(|s| s.active && parse_events(&s.events).contains(&event))
        .collect();
    if subscribers.is_empty() && once_per.is_none() {
        // Nobody to tell, and nothing to remember.
        return Ok(false);
    }
    let now = crate::db::now();
    let id = crate::ids::new_id();
    let payload = Payload {
        id: &id,
        event,
        created_at: now,
        data: &data,
    };
    let row = EventRow {
        payload: serde_json::to_string(&payload).context("webhook payload")?,
        id,
        event,
        dedup_key: once_per.map(|key| format!("{event}:{key}")),
        created_at: now,
    };
    if !rows::insert_event(conn, &row)? {
        return Ok(false);
    }
    let deliveries: Vec<DeliveryRow> = subscribers
        .iter()
        .map(|s| DeliveryRow {
            id: crate::ids::new_id(),
            event_id: row.id.clone(),
            subscription_id: s.id.clone(),
            status: rows::PENDING.to_string(),
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            last_status_code: None,
            created_at: now,
            delivered_at: None,
        })
        .collect();
    rows::insert_deliveries(conn, &deliveries)?;
    Ok(true)
}

fn parse_events(stored: &str) -> Vec<WebhookEvent> {
    stored
        .split(',')
        .filter_map(|name| name.trim().parse().ok())
        .collect()
}

/// A subscription as administrators see it: never its secret.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct Subscription {
    pub id: String,
    pub url: String,
    pub description: Option<String>,
    pub events: Vec<WebhookEvent>,
    pub active: bool,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl From<SubscriptionRow> for Subscription {
    fn from(row: SubscriptionRow) -> Self {
        Subscription {
            events: parse_events(&row.events),
            id: row.id,
            url: row.url,
            description: row.description,
            active: row.active,
            created_by: row.created_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// A new subscription, or the fields of one to change (`secret` may then be left out to keep it).
#[derive(utoipa::ToSchema, Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionInput {
    /// Where events are POSTed: `http://` or `https://`.
    pub url: String,
    /// Write-only: at least 16 characters; never shown again.
    #[serde(default)]
    pub secret: Option<String>,
    /// Names from the vocabulary: `request.received`, `identity.verified`, `request.due_soon`,
    /// `request.overdue`, `request.completed`, `request.refused`, `sweep.finished`.
    pub events: Vec<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub active: Option<bool>,
}

/// The input, checked: every problem named by its field.
struct Checked {
    url: String,
    secret: Option<String>,
    events: Vec<WebhookEvent>,
    description: Option<String>,
}

impl SubscriptionInput {
    fn check(self, secret_required: bool) -> Result<Checked> {
        let mut errors = Vec::new();
        let url = self.url.trim().to_string();
        if let Err(message) = check_url(&url) {
            errors.push(FieldError::new("url", message));
        }
        match &self.secret {
            None if secret_required => errors.push(FieldError::new(
                "secret",
                format!("required: {SECRET_MIN} to {SECRET_MAX} characters"),
            )),
            Some(secret)
                if !(SECRET_MIN..=SECRET_MAX).contains(&secret.chars().count())
                    || secret.trim() != secret =>
            {
                errors.push(FieldError::new(
                    "secret",
                    format!(
                        "must be {SECRET_MIN} to {SECRET_MAX} characters, without spaces around it"
                    ),
                ))
            }
            _ => {}
        }
        let mut events = Vec::new();
        if self.events.is_empty() {
            errors.push(FieldError::new(
                "events",
                format!("name at least one of: {}", WebhookEvent::expected()),
            ));
        }
        for (i, name) in self.events.iter().enumerate() {
            match name.parse::<WebhookEvent>() {
                Ok(event) if !events.contains(&event) => events.push(event),
                Ok(_) => {}
                Err(_) => errors.push(FieldError::new(
                    format!("events[{i}]"),
                    format!(
                        "unknown event '{name}' (expected one of: {})",
                        WebhookEvent::expected()
                    ),
                )),
            }
        }
        let description = self
            .description
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty());
        if description
            .as_ref()
            .is_some_and(|d| d.chars().count() > DESCRIPTION_MAX)
        {
            errors.push(FieldError::new(
                "description",
                format!("at most {DESCRIPTION_MAX} characters"),
            ));
        }
        crate::error::all_valid(errors)?;
        Ok(Checked {
            url,
            secret: self.secret,
            events,
            description,
        })
    }
}

/// A URL loket can POST to: absolute, `http` or `https`, with a host and no credentials in it.
fn check_url(url: &str) -> std::result::Result<(), String> {
    if url.is_empty() {
        return Err("required".into());
    }
    if url.len() > URL_MAX {
        return Err(format!("at most {URL_MAX} characters"));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("must start with http:// or https://".into());
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(
            "must not carry a user name or password; the secret signs each delivery".into(),
        );
    }
    Ok(())
}

/// One delivery as administrators see it: where it stands, never the body.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct Delivery {
    pub id: String,
    pub event_id: String,
    pub event: String,
    pub subscription_id: String,
    /// `pending` (waiting or being retried), `delivered`, or `failed` (given up).
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub last_status_code: Option<i32>,
    pub created_at: NaiveDateTime,
    pub next_attempt_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
}

/// Subscriptions and their deliveries, for administrators; every change audited.
#[derive(Clone)]
pub struct WebhookService {
    store: Store,
    cipher: Cipher,
}

impl std::fmt::Debug for WebhookService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookService")
    }
}

impl WebhookService {
    pub fn new(store: Store, cipher: Cipher) -> Self {
        WebhookService { store, cipher }
    }

    pub async fn list(&self) -> Result<Vec<Subscription>> {
        self.store
            .read(|conn| {
                Ok(SubscriptionRow::list(conn)?
                    .into_iter()
                    .map(Subscription::from)
                    .collect())
            })
            .await
    }

    pub async fn get(&self, id: String) -> Result<Subscription> {
        self.store
            .read(move |conn| Ok(find(conn, &id)?.into()))
            .await
    }

    pub async fn create(&self, actor: Actor, input: SubscriptionInput) -> Result<Subscription> {
        let checked = input.check(true)?;
        let cipher = self.cipher.clone();
        self.store
            .write_changing(Topic::Webhooks, move |conn| {
                let now = crate::db::now();
                let row = SubscriptionRow {
                    id: crate::ids::new_id(),
                    url: checked.url,
                    description: checked.description,
                    secret_enc: cipher.encrypt(SECRET, checked.secret.as_deref().unwrap_or("")),
                    events: join_events(&checked.events),
                    active: true,
                    created_by: actor.to_string(),
                    created_at: now,
                    updated_at: now,
                };
                row.insert(conn)?;
                record(conn, &actor, "webhook.created", &row)?;
                Ok(row.into())
            })
            .await
    }

    /// Replaces URL, events, description and the active flag; the secret only when given.
    pub async fn update(
        &self,
        actor: Actor,
        id: String,
        input: SubscriptionInput,
    ) -> Result<Subscription> {
        let active = input.active;
        let checked = input.check(false)?;
        let cipher = self.cipher.clone();
        self.store
            .write_changing(Topic::Webhooks, move |conn| {
                let mut row = find(conn, &id)?;
                row.url = checked.url;
                row.description = checked.description;
                row.events = join_events(&checked.events);
                row.active = active.unwrap_or(row.active);
                if let Some(secret) = &checked.secret {
                    row.secret_enc = cipher.encrypt(SECRET, secret);
                }
                row.updated_at = crate::db::now();
                row.update(conn)?;
                record(conn, &actor, "webhook.updated", &row)?;
                Ok(row.into())
            })
            .await
    }

    pub async fn delete(&self, actor: Actor, id: String) -> Result<()> {
        self.store
            .write_changing(Topic::Webhooks, move |conn| {
                let row = find(conn, &id)?;
                SubscriptionRow::delete(conn, &id)?;
                record(conn, &actor, "webhook.deleted", &row)
            })
            .await
    }

    /// One page of deliveries, newest first, of one subscription or all.
    pub async fn deliveries(
        &self,
        subscription: Option<String>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<Delivery>, i64)> {
        self.store
            .read(move |conn| {
                if let Some(id) = &subscription {
                    find(conn, id)?;
                }
                let (rows, total) =
                    rows::deliveries_page(conn, subscription.as_deref(), offset, limit)?;
                let items = rows
                    .into_iter()
                    .map(|(row, event)| Delivery {
                        id: row.id,
                        event_id: row.event_id,
                        event,
                        subscription_id: row.subscription_id,
                        status: row.status,
                        attempts: row.attempts,
                        last_error: row.last_error,
                        last_status_code: row.last_status_code,
                        created_at: row.created_at,
                        next_attempt_at: row.next_attempt_at,
                        delivered_at: row.delivered_at,
                    })
                    .collect();
                Ok((items, total))
            })
            .await
    }
}

fn find(conn: &mut DbConnection, id: &str) -> Result<SubscriptionRow> {
    SubscriptionRow::find(conn, id)?.ok_or_else(|| Error::not_found(format!("webhook '{id}'")))
}

fn join_events(events: &[WebhookEvent]) -> String {
    events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// The audit event of a subscription change: its id, host and events, never the secret.
fn record(
    conn: &mut DbConnection,
    actor: &Actor,
    action: &str,
    row: &SubscriptionRow,
) -> Result<()> {
    let host = reqwest::Url::parse(&row.url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    audit::record(
        conn,
        actor,
        Change {
            action,
            object_type: "webhook",
            object_id: &row.id,
            summary: format!(
                "webhook to {host} for {} ({})",
                row.events,
                if row.active { "active" } else { "paused" }
            ),
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(url: &str, secret: Option<&str>, events: &[&str]) -> SubscriptionInput {
        SubscriptionInput {
            url: url.into(),
            secret: secret.map(str::to_string),
            events: events.iter().map(|e| e.to_string()).collect(),
            description: None,
            active: None,
        }
    }

    fn fields(result: Result<Checked>) -> Vec<String> {
        match result {
            Err(Error::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
            Err(other) => panic!("not a validation error: {other}"),
            Ok(_) => Vec::new(),
        }
    }

    #[test]
    fn every_event_name_reads_back() {
        use strum::VariantArray;
        for event in WebhookEvent::VARIANTS {
            assert_eq!(event.as_str().parse::<WebhookEvent>().unwrap(), *event);
            assert_eq!(
                serde_json::to_value(event).unwrap(),
                serde_json::json!(event.as_str())
            );
        }
        assert_eq!(WebhookEvent::VARIANTS.len(), 7);
    }

    #[test]
    fn invalid_input_names_each_field() {
        let good = "a-secret-of-sixteen+";
        assert!(fields(
            input(
                "https://hooks.example.nl/loket",
                Some(good),
                &["request.received"]
            )
            .check(true)
        )
        .is_empty());
        assert_eq!(
            fields(input("ftp://example.nl", Some(good), &["request.received"]).check(true)),
            ["url"]
        );
        assert_eq!(
            fields(
                input(
                    "https://user:pw@example.nl",
                    Some(good),
                    &["request.received"]
                )
                .check(true)
            ),
            ["url"]
        );
        assert_eq!(
            fields(input("not a url", Some(good), &["request.received"]).check(true)),
            ["url"]
        );
        assert_eq!(
            fields(input("https://example.nl", Some("short"), &["request.received"]).check(true)),
            ["secret"]
        );
        assert_eq!(
            fields(input("https://example.nl", None, &["request.received"]).check(true)),
            ["secret"]
        );
        assert!(
            fields(input("https://example.nl", None, &["request.received"]).check(false))
                .is_empty()
        );
        assert_eq!(
            fields(input("https://example.nl", Some(good), &[]).check(true)),
            ["events"]
        );
        assert_eq!(
            fields(
                input(
                    "https://example.nl",
                    Some(good),
                    &["request.received", "request.deleted"]
                )
                .check(true)
            ),
            ["events[1]"]
        );
    }
}
