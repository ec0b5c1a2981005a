//! The audit trail: every change appends an event, and every event carries the hash of the one
//! before it, so altering or removing a row breaks the chain where it happened.
//!
//! Events are written in the same transaction as the change they record: a change without its
//! event, or an event without its change, cannot be committed.
//!
//! Each link is an HMAC under the audit key, which lives in the configuration or key file and
//! never in the database: whoever can write the database can change rows but cannot recompute
//! the links. Trails written before the chain was keyed keep their plain SHA-256 links (without
//! the `k1:` marker); those verify only before the first keyed link, so a tail rewritten with
//! plain hashes is found. Signed checkpoints (head and count, kept outside the database) catch a
//! trail rewritten from the start.

pub mod checkpoints;

use crate::db::models::audit::{self as rows, AuditEventRow};
use crate::db::{DbConnection, Store, StoreError};
use crate::error::Result;
use anyhow::Context;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::OnceLock;

/// The marker of a keyed link: `k1:` and the HMAC-SHA256 in hex.
pub const KEYED: &str = "k1:";

static CHAIN_KEY: OnceLock<[u8; 32]> = OnceLock::new();

/// Sets the key every event of this process is chained with (once; later calls keep the first).
/// Without a key, events get plain links, as before the chain was keyed.
pub fn use_key(key: [u8; 32]) {
    let _ = CHAIN_KEY.set(key);
}

fn chain_key() -> Option<&'static [u8; 32]> {
    CHAIN_KEY.get()
}

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

#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
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

/// Records `change` in the caller's transaction. Inside [`crate::db::write_transaction`] the
/// event is chained and appended with the transaction's other events just before it commits
/// (the head of the chain is then locked for one insert, not for the whole transaction);
/// elsewhere it is appended at once.
pub fn record(conn: &mut DbConnection, actor: &Actor, change: Change<'_>) -> Result<()> {
    let row = AuditEventRow {
        // Sequence, time and links are set when the event is chained.
        seq: 0,
        occurred_at: crate::db::now(),
        actor: actor.to_string(),
        action: change.action.to_string(),
        object_type: change.object_type.to_string(),
        object_id: change.object_id.to_string(),
        summary: change.summary,
        prev_hash: String::new(),
        hash: String::new(),
    };
    if let Some(row) = rows::defer(row, event_hash) {
        // Appended by its own statement, whose end is not known here: nothing is guessed
        // from it (the ticket is dropped unsettled).
        drop(rows::append_chained(conn, vec![row], event_hash)?);
    }
    Ok(())
}

/// The link of `row` as this process writes it: keyed when a key is set.
pub fn event_hash(row: &AuditEventRow) -> String {
    match chain_key() {
        Some(key) => keyed_hash(key, row),
        None => plain_hash(row),
    }
}

/// HMAC-SHA256 under the audit key over the previous hash and every field.
pub fn keyed_hash(key: &[u8; 32], row: &AuditEventRow) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key");
    for_each_part(row, |bytes| mac.update(bytes));
    format!("{KEYED}{}", hex::encode(mac.finalize().into_bytes()))
}

/// SHA-256 over the previous hash and every field: the links of trails written before the chain
/// was keyed.
pub fn plain_hash(row: &AuditEventRow) -> String {
    let mut hasher = Sha256::new();
    for_each_part(row, |bytes| hasher.update(bytes));
    hex::encode(hasher.finalize())
}

/// Every field, each length-prefixed so that no two different events give the same bytes.
fn for_each_part(row: &AuditEventRow, mut feed: impl FnMut(&[u8])) {
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
        feed(&(part.len() as u64).to_be_bytes());
        feed(part.as_bytes());
    }
}

/// The outcome of checking the whole chain.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Events checked.
    pub events: i64,
    /// The first broken link, if any.
    pub broken: Option<BrokenLink>,
}

#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
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
    let mut keyed_since = None;
    loop {
        let batch = rows::list_after(conn, expected_seq - 1, BATCH)?;
        if batch.is_empty() {
            break;
        }
        for row in &batch {
            if keyed_since.is_none() && row.hash.starts_with(KEYED) {
                keyed_since = Some(row.seq);
            }
            if let Some(reason) = check_link(row, expected_seq, &prev_hash, keyed_since) {
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

fn check_link(
    row: &AuditEventRow,
    expected_seq: i64,
    prev_hash: &str,
    keyed_since: Option<i64>,
) -> Option<String> {
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
    let expected = match (row.hash.starts_with(KEYED), keyed_since, chain_key()) {
        (true, _, Some(key)) => keyed_hash(key, row),
        (true, _, None) => {
            return Some(format!(
                "event {} is keyed, but no audit key is configured to check it",
                row.seq
            ))
        }
        (false, Some(first), _) => {
            return Some(format!(
                "event {} has an unkeyed link after keyed event {first}: the trail was rewritten",
                row.seq
            ))
        }
        (false, None, _) => plain_hash(row),
    };
    if expected != row.hash {
        return Some(format!(
            "event {} was altered after it was written (hash mismatch)",
            row.seq
        ));
    }
    None
}

/// The head of the chain at one moment, signed with the audit key, to keep outside the
/// database (a file, a log collector): a trail rewritten since no longer matches it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// Events in the trail (the head's sequence number).
    pub seq: i64,
    pub hash: String,
    pub taken_at: chrono::NaiveDateTime,
    pub signature: String,
}

impl Checkpoint {
    fn signature_with(
        key: &[u8; 32],
        seq: i64,
        hash: &str,
        taken_at: chrono::NaiveDateTime,
    ) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key");
        mac.update(format!("loket audit checkpoint v1\n{seq}\n{hash}\n{taken_at}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// Signs the current head of the chain.
pub async fn checkpoint(store: &Store) -> Result<Checkpoint> {
    let key = chain_key().context("no audit key is configured to sign a checkpoint")?;
    let head = store.read(rows::read_head).await?;
    let taken_at = crate::db::now();
    Ok(Checkpoint {
        signature: Checkpoint::signature_with(key, head.seq, &head.hash, taken_at),
        seq: head.seq,
        hash: head.hash,
        taken_at,
    })
}

/// What does not hold of `checkpoints` against the trail as stored: a bad signature, a
/// checkpoint past the end of the trail, or an event whose link is not the one signed.
pub async fn check_checkpoints(store: &Store, checkpoints: Vec<Checkpoint>) -> Result<Vec<String>> {
    let key = chain_key().copied();
    Ok(store
        .read(move |conn| -> std::result::Result<Vec<String>, StoreError> {
            let head = rows::read_head(conn)?;
            let mut problems = Vec::new();
            for point in &checkpoints {
                let signed = key.is_some_and(|key| {
                    Checkpoint::signature_with(&key, point.seq, &point.hash, point.taken_at)
                        == point.signature
                });
                let stored = match point.seq {
                    0 => Some(GENESIS_HASH.to_string()),
                    seq => rows::list_after(conn, seq - 1, 1)?
                        .into_iter()
                        .find(|row| row.seq == seq)
                        .map(|row| row.hash),
                };
                if !signed {
                    problems.push(format!("checkpoint at event {} has a wrong signature", point.seq));
                } else if point.seq > head.seq || stored.is_none() {
                    problems.push(format!(
                        "checkpoint at event {} but the trail ends at event {}: events were removed",
                        point.seq, head.seq
                    ));
                } else if stored.as_deref() != Some(point.hash.as_str()) {
                    problems.push(format!(
                        "checkpoint mismatch at event {}: the trail was rewritten since {}",
                        point.seq, point.taken_at
                    ));
                }
            }
            Ok(problems)
        })
        .await?)
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
