//! The audit trail's rows. Events are only ever inserted; the head row is the lock appenders take.
//!
//! Inside [`crate::db::write_transaction`] events are not appended one by one: they wait in a
//! list of the transaction and are appended together just before it commits (see [`Deferred`]),
//! so the head of the chain is locked for one insert instead of the whole transaction.

use crate::db::schema::{audit_events, audit_head};
use crate::db::{DbConnection, StoreError};
use diesel::prelude::*;
use std::cell::RefCell;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events)]
pub struct AuditEventRow {
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

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = audit_head)]
pub struct AuditHead {
    pub seq: i64,
    pub hash: String,
}

/// Locks the head of the chain for this transaction and returns it.
///
/// The no-op update takes a row lock on PostgreSQL (and the write lock on SQLite) and returns the
/// head as it is under that lock, so two appenders can never both build on the same link; one
/// statement, where a lock and a read were two round trips on every audited write.
pub fn lock_head(conn: &mut DbConnection) -> Result<AuditHead, StoreError> {
    let (seq, hash) = diesel::update(audit_head::table.find(1))
        .set(audit_head::seq.eq(audit_head::seq))
        .returning((audit_head::seq, audit_head::hash))
        .get_result(conn)?;
    Ok(AuditHead { seq, hash })
}

pub fn read_head(conn: &mut DbConnection) -> Result<AuditHead, StoreError> {
    Ok(audit_head::table
        .find(1)
        .select(AuditHead::as_select())
        .first(conn)?)
}

/// How the audit module links an event to the one before it (its keyed hash); the store
/// layer only calls it, so the key never leaves the audit module.
pub type Link = fn(&AuditEventRow) -> String;

/// Chains `events` (seq, prev_hash, hash and the time are filled in here) after the head and
/// appends them: one lock of the head, one multi-row insert, one update of the head (on
/// PostgreSQL the insert and the update are one statement).
pub fn append_chained(
    conn: &mut DbConnection,
    mut events: Vec<AuditEventRow>,
    link: Link,
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let head = lock_head(conn)?;
    // Stamped now, under the lock: the trail's times rise with its sequence numbers even
    // though transactions commit in another order than they started.
    let occurred_at = crate::db::now();
    let (mut seq, mut prev_hash) = (head.seq, head.hash);
    for event in &mut events {
        seq += 1;
        event.seq = seq;
        event.occurred_at = occurred_at;
        event.prev_hash = std::mem::take(&mut prev_hash);
        event.hash = link(event);
        prev_hash = event.hash.clone();
    }
    // On the concrete connection: diesel's MultiConnection has no batch insert. In chunks, so
    // that a transaction of any number of events stays within the parameters a statement
    // takes (32,766 on SQLite, 65,535 on PostgreSQL).
    for chunk in events.chunks(EVENTS_PER_STATEMENT) {
        match conn {
            DbConnection::Sqlite(c) => {
                diesel::insert_into(audit_events::table)
                    .values(chunk)
                    .execute(c)?;
            }
            DbConnection::Postgres(c) => {
                let last = chunk.last().expect("chunks are not empty");
                append_moving_head(c, chunk, last.seq, &last.hash)?;
            }
        }
    }
    if let DbConnection::Sqlite(c) = conn {
        diesel::update(audit_head::table.find(1))
            .set((audit_head::seq.eq(seq), audit_head::hash.eq(&prev_hash)))
            .execute(c)?;
    }
    Ok(())
}

/// Events appended by one statement, nine parameters each.
const EVENTS_PER_STATEMENT: usize = 1_000;

/// The events and the new head in one statement: on PostgreSQL each statement is a round trip
/// of every write transaction (SQLite, in process, has none to save and no `INSERT` in `WITH`).
fn append_moving_head(
    conn: &mut diesel::PgConnection,
    events: &[AuditEventRow],
    seq: i64,
    hash: &str,
) -> QueryResult<usize> {
    use diesel::sql_types::{BigInt, Text, Timestamp};
    const COLUMNS: usize = 9;
    let rows: Vec<String> = (0..events.len())
        .map(|row| {
            let params: Vec<String> = (1..=COLUMNS)
                .map(|column| format!("${}", row * COLUMNS + column))
                .collect();
            format!("({})", params.join(", "))
        })
        .collect();
    let head = events.len() * COLUMNS;
    let sql = format!(
        "WITH appended AS (INSERT INTO audit_events (seq, occurred_at, actor, action, \
         object_type, object_id, summary, prev_hash, hash) VALUES {}) \
         UPDATE audit_head SET seq = ${}, hash = ${} WHERE id = 1",
        rows.join(", "),
        head + 1,
        head + 2
    );
    let mut query = diesel::sql_query(sql).into_boxed();
    for event in events {
        query = query
            .bind::<BigInt, _>(event.seq)
            .bind::<Timestamp, _>(event.occurred_at)
            .bind::<Text, _>(&event.actor)
            .bind::<Text, _>(&event.action)
            .bind::<Text, _>(&event.object_type)
            .bind::<Text, _>(&event.object_id)
            .bind::<Text, _>(&event.summary)
            .bind::<Text, _>(&event.prev_hash)
            .bind::<Text, _>(&event.hash);
    }
    query
        .bind::<BigInt, _>(seq)
        .bind::<Text, _>(hash)
        .execute(conn)
}

thread_local! {
    /// The events of the write transactions open on this thread, innermost last, with the link
    /// function. A transaction runs on one blocking thread from `BEGIN` to `COMMIT`, and
    /// diesel's connection cannot carry state of ours, so the thread holds the list.
    static PENDING: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

/// One open write transaction's events, and the link function to chain them with.
type Frame = (Vec<AuditEventRow>, Option<Link>);

/// Keeps `event` for the write transaction open on this thread; gives it back when there is
/// none (the caller then appends it at once, in its own transaction).
pub fn defer(event: AuditEventRow, link: Link) -> Option<AuditEventRow> {
    PENDING.with(|pending| match pending.borrow_mut().last_mut() {
        Some((events, links)) => {
            events.push(event);
            *links = Some(link);
            None
        }
        None => Some(event),
    })
}

/// The audit events of one write transaction, collected while it runs. Dropped without
/// [`Deferred::flush`] (the work failed, or panicked), its events go with the rollback.
#[must_use]
pub struct Deferred {
    depth: usize,
}

impl Deferred {
    pub fn open() -> Self {
        let depth = PENDING.with(|pending| {
            let mut pending = pending.borrow_mut();
            pending.push((Vec::new(), None));
            pending.len()
        });
        Deferred { depth }
    }

    /// Appends the transaction's events; call it last before `COMMIT`.
    pub fn flush(self, conn: &mut DbConnection) -> Result<(), StoreError> {
        let (events, link) = PENDING.with(|pending| {
            let mut pending = pending.borrow_mut();
            debug_assert_eq!(pending.len(), self.depth, "transactions close in order");
            pending
                .last_mut()
                .map(|(events, link)| (std::mem::take(events), *link))
                .unwrap_or_default()
        });
        match link {
            Some(link) => append_chained(conn, events, link),
            None => Ok(()),
        }
    }
}

impl Drop for Deferred {
    fn drop(&mut self) {
        PENDING.with(|pending| pending.borrow_mut().truncate(self.depth - 1));
    }
}

/// Events in chain order, starting after `after_seq`, at most `limit` of them.
pub fn list_after(
    conn: &mut DbConnection,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<AuditEventRow>, StoreError> {
    Ok(audit_events::table
        .filter(audit_events::seq.gt(after_seq))
        .order(audit_events::seq.asc())
        .limit(limit)
        .select(AuditEventRow::as_select())
        .load(conn)?)
}

/// Newest first, for people reading the trail; optionally for one object.
pub fn page(
    conn: &mut DbConnection,
    object: Option<(&str, &str)>,
    offset: i64,
    limit: i64,
) -> Result<(Vec<AuditEventRow>, i64), StoreError> {
    let mut query = audit_events::table.into_boxed();
    let mut count = audit_events::table.into_boxed();
    if let Some((object_type, object_id)) = object {
        query = query
            .filter(audit_events::object_type.eq(object_type.to_string()))
            .filter(audit_events::object_id.eq(object_id.to_string()));
        count = count
            .filter(audit_events::object_type.eq(object_type.to_string()))
            .filter(audit_events::object_id.eq(object_id.to_string()));
    }
    let rows = query
        .order(audit_events::seq.desc())
        .offset(offset)
        .limit(limit)
        .select(AuditEventRow::as_select())
        .load(conn)?;
    let total = count.count().get_result(conn)?;
    Ok((rows, total))
}
