//! The audit trail: every change appends an event, and every event carries the hash of the one
//! before it, so altering or removing a row breaks the chain where it happened.
//!
//! Events are written in the same transaction as the change they record: a change without its
//! event, or an event without its change, cannot be committed.

use crate::db::models::audit::{self as rows, AuditEventRow};
use crate::db::{DbConnection, Store, StoreError};
use crate::error::Result;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;

/// The hash the first event links to.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in user of the API or desk.
    User { username: String },
    /// Somebody at the command line, on the server.
    Cli,
    /// loket itself (a scheduled sweep, a background worker), named by its job.
    System(&'static str),
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::User { username } => write!(f, "user:{username}"),
            Actor::Cli => f.write_str("cli"),
            Actor::System(job) => write!(f, "system:{job}"),
        }
    }
}

/// What happened, before it is chained.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    /// Dotted verb, e.g. `catalog.system.updated`.
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: &'a str,
    /// A short, human summary; never personal data of a requester.
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    pub seq: i64,
    pub occurred_at: chrono::NaiveDateTime,
    pub actor: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub summary: String,
    pub prev_hash: String,
    pub hash: String,
}

impl From<AuditEventRow> for AuditEvent {
    fn from(row: AuditEventRow) -> Self {
        AuditEvent {
            seq: row.seq,
            occurred_at: row.occurred_at,
            actor: row.actor,
            action: row.action,
            object_type: row.object_type,
            object_id: row.object_id,
            summary: row.summary,
            prev_hash: row.prev_hash,
            hash: row.hash,
        }
    }
}

/// Appends an event for `change` inside the caller's transaction.
pub fn record(conn: &mut DbConnection, actor: &Actor, change: Change<'_>) -> Result<AuditEvent> {
    let head = rows::lock_head(conn)?;
    let mut row = AuditEventRow {
        seq: head.seq + 1,
        occurred_at: crate::db::now(),
        actor: actor.to_string(),
        action: change.action.to_string(),
        object_type: change.object_type.to_string(),
        object_id: change.object_id.to_string(),
        summary: change.summary,
        prev_hash: head.hash,
        hash: String::new(),
    };
    row.hash = event_hash(&row);
    rows::append(conn, &row)?;
    Ok(row.into())
}

/// SHA-256 over the previous hash and every field, each length-prefixed so that no two different
/// events can serialise to the same bytes.
pub fn event_hash(row: &AuditEventRow) -> String {
    let mut hasher = Sha256::new();
    let timestamp = row.occurred_at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    let seq = row.seq.to_string();
    for part in [
        row.prev_hash.as_str(),
        seq.as_str(),
        timestamp.as_str(),
        row.actor.as_str(),
        row.action.as_str(),
        row.object_type.as_str(),
        row.object_id.as_str(),
        row.summary.as_str(),
    ] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The outcome of checking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Events checked.
    pub events: i64,
    /// The first broken link, if any.
    pub broken: Option<BrokenLink>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    /// The sequence number where the chain stops holding.
    pub seq: i64,
    pub reason: String,
}

impl Verification {
    pub fn is_intact(&self) -> bool {
        self.broken.is_none()
    }
}

/// Reads the chain in batches (memory stays flat however long it is) and reports the first link
/// that does not hold: a changed field, a removed or reordered row, or missing newest rows.
pub fn verify(conn: &mut DbConnection) -> std::result::Result<Verification, StoreError> {
    const BATCH: i64 = 1000;
    let head = rows::read_head(conn)?;
    let mut expected_seq = 1;
    let mut prev_hash = GENESIS_HASH.to_string();
    loop {
        let batch = rows::list_after(conn, expected_seq - 1, BATCH)?;
        if batch.is_empty() {
            break;
        }
        for row in &batch {
            if let Some(reason) = check_link(row, expected_seq, &prev_hash) {
                return Ok(broken_at(expected_seq - 1, expected_seq, reason));
            }
            prev_hash = row.hash.clone();
            expected_seq += 1;
        }
    }
    let last_seq = expected_seq - 1;
    if head.seq != last_seq || head.hash != prev_hash {
        return Ok(broken_at(
            last_seq,
            last_seq + 1,
            format!(
                "the chain ends at event {last_seq} but its head records event {}: newest events were removed or the head was altered",
                head.seq
            ),
        ));
    }
    Ok(Verification {
        events: last_seq,
        broken: None,
    })
}

/// `intact` events hold; the chain breaks at `seq`.
fn broken_at(intact: i64, seq: i64, reason: String) -> Verification {
    Verification {
        events: intact,
        broken: Some(BrokenLink { seq, reason }),
    }
}

fn check_link(row: &AuditEventRow, expected_seq: i64, prev_hash: &str) -> Option<String> {
    if row.seq != expected_seq {
        return Some(format!(
            "event {expected_seq} is missing (next stored event is {})",
            row.seq
        ));
    }
    if row.prev_hash != prev_hash {
        return Some(format!(
            "event {} does not link to the event before it",
            row.seq
        ));
    }
    if event_hash(row) != row.hash {
        return Some(format!(
            "event {} was altered after it was written (hash mismatch)",
            row.seq
        ));
    }
    None
}

/// A page of events, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct EventPage {
    pub items: Vec<AuditEvent>,
    pub total: i64,
}

pub async fn list(
    store: &Store,
    object: Option<(String, String)>,
    offset: i64,
    limit: i64,
) -> Result<EventPage> {
    store
        .read(move |conn| {
            let object_ref = object.as_ref().map(|(t, i)| (t.as_str(), i.as_str()));
            let (rows, total) = rows::page(conn, object_ref, offset, limit)?;
            Ok(EventPage {
                items: rows.into_iter().map(AuditEvent::from).collect(),
                total,
            })
        })
        .await
}

pub async fn verify_chain(store: &Store) -> Result<Verification> {
    Ok(store.read(verify).await?)
}
