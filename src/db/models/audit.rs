//! The audit trail's rows. Events are only ever inserted; the head row is the lock appenders take.
//!
//! Inside [`crate::db::write_transaction`] events are not appended one by one: they wait in a
//! list of the transaction and are appended together just before it commits (see [`Deferred`]),
//! so the head of the chain is locked for one insert instead of the whole transaction.

use crate::db::schema::{audit_events, audit_head};
use crate::db::{DbConnection, StoreError};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Text, Timestamp};
use std::cell::{Cell, RefCell};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_events, treat_none_as_default_value = false)]
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
/// On PostgreSQL a no-op update takes the head's row lock and returns the head as it is under
/// that lock, so two appenders can never both build on the same link; one statement, where a
/// lock and a read were two round trips on every audited write. On SQLite the store's writes
/// hold the database's write lock from their `BEGIN IMMEDIATE` on, so a read is enough.
pub fn lock_head(conn: &mut DbConnection) -> Result<AuditHead, StoreError> {
    if let DbConnection::Sqlite(_) = conn {
        return read_head(conn);
    }
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
/// appends them. On SQLite: one read of the head, one insert per event, one update of the head.
/// On PostgreSQL, where each statement is a round trip: the events and the moved head in one
/// statement, after the head as the store last committed it (see [`Appended`]); when the store
/// knows no head to go after, or another transaction moved it since, the head is locked and read
/// first, and they go after it.
///
/// The ticket it returns (PostgreSQL) is to be settled when the transaction ends.
pub fn append_chained(
    conn: &mut DbConnection,
    mut events: Vec<AuditEventRow>,
    link: Link,
) -> Result<Option<Appended>, StoreError> {
    if events.is_empty() {
        return Ok(None);
    }
    let mut ticket = match conn {
        DbConnection::Sqlite(_) => None,
        DbConnection::Postgres(_) => Appended::begin(),
    };
    let guess = ticket.as_mut().and_then(|ticket| ticket.guess.take());
    if let Some(guess) = guess {
        let head = chain(&mut events, guess.clone(), link);
        if append(conn, &events, &head, Some(&guess))? == events.len() {
            return Ok(ticket.map(|ticket| ticket.with_head(head)));
        }
    }
    let head = chain(&mut events, lock_head(conn)?, link);
    append(conn, &events, &head, None)?;
    Ok(ticket.map(|ticket| ticket.with_head(head)))
}

/// Appends chained `events` and moves the head to `head`, the last of them; with `expected`
/// (PostgreSQL only) only if the head still is that one. Returns the events appended.
fn append(
    conn: &mut DbConnection,
    events: &[AuditEventRow],
    head: &AuditHead,
    expected: Option<&AuditHead>,
) -> QueryResult<usize> {
    match conn {
        // In-process, one cached statement per event costs less than preparing a statement
        // of several rows anew for each transaction (diesel does not cache a batch).
        DbConnection::Sqlite(c) => {
            debug_assert!(expected.is_none(), "SQLite appends under the head's lock");
            for event in events {
                diesel::insert_into(audit_events::table)
                    .values(event)
                    .execute(c)?;
            }
            diesel::update(audit_head::table.find(1))
                .set((
                    audit_head::seq.eq(head.seq),
                    audit_head::hash.eq(&head.hash),
                ))
                .execute(c)?;
            Ok(events.len())
        }
        DbConnection::Postgres(c) => {
            let appended = AppendStatement {
                events: EventArrays::of(events),
                moved: head,
                expected,
            }
            .execute(c)?;
            Ok(match expected {
                Some(_) => appended,
                None => events.len(),
            })
        }
    }
}

/// Links `events` after `head`, stamped now; returns the head they make.
///
/// Stamped after the head was locked (or found unmoved): the trail's times rise with its
/// sequence numbers even though transactions commit in another order than they started.
fn chain(events: &mut [AuditEventRow], head: AuditHead, link: Link) -> AuditHead {
    let occurred_at = crate::db::now();
    let AuditHead { mut seq, hash } = head;
    let mut prev_hash = hash;
    for event in events.iter_mut() {
        seq += 1;
        event.seq = seq;
        event.occurred_at = occurred_at;
        event.prev_hash = std::mem::take(&mut prev_hash);
        event.hash = link(event);
        prev_hash = event.hash.clone();
    }
    AuditHead {
        seq,
        hash: prev_hash,
    }
}

crate::db::arrays::column_arrays!(EventArrays: AuditEventRow => audit_events {
    seq: i64 as BigInt,
    occurred_at: chrono::NaiveDateTime as Timestamp,
    actor: String as Text,
    action: String as Text,
    object_type: String as Text,
    object_id: String as Text,
    summary: String as Text,
    prev_hash: String as Text,
    hash: String as Text,
});

/// The events and the head moved to `moved` in one statement: on PostgreSQL each statement is a
/// round trip of every write transaction (SQLite, in process, has none to save and no `INSERT`
/// in `WITH`). The events go as arrays (see `db::arrays`), so the statement has two texts, with
/// and without `expected`, each prepared once per connection whatever the number of events.
///
/// Without `expected` the caller holds the head's lock and the events are appended; with it,
/// they are appended only if the head still is `expected`, which the statement checks under the
/// head's row lock. Its count is then the events appended.
struct AppendStatement<'a> {
    events: EventArrays<'a>,
    moved: &'a AuditHead,
    expected: Option<&'a AuditHead>,
}

impl QueryFragment<Pg> for AppendStatement<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let move_head = |mut out: AstPass<'_, 'b, Pg>| -> QueryResult<()> {
            out.push_sql("UPDATE audit_head SET seq = ");
            out.push_bind_param::<BigInt, _>(&self.moved.seq)?;
            out.push_sql(", hash = ");
            out.push_bind_param::<Text, _>(&self.moved.hash)?;
            out.push_sql(" WHERE id = 1");
            Ok(())
        };
        match self.expected {
            None => {
                out.push_sql("WITH appended AS (");
                self.events.walk_ast(out.reborrow())?;
                out.push_sql(") ");
                move_head(out.reborrow())
            }
            Some(expected) => {
                out.push_sql("WITH head AS (");
                move_head(out.reborrow())?;
                out.push_sql(" AND seq = ");
                out.push_bind_param::<BigInt, _>(&expected.seq)?;
                out.push_sql(" AND hash = ");
                out.push_bind_param::<Text, _>(&expected.hash)?;
                out.push_sql(" RETURNING id) ");
                self.events.walk_ast(out.reborrow())?;
                out.push_sql(" WHERE EXISTS (SELECT 1 FROM head)");
                Ok(())
            }
        }
    }
}

/// Cached by its SQL text: one with `expected`, one without.
impl QueryId for AppendStatement<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl RunQueryDsl<diesel::PgConnection> for AppendStatement<'_> {}

/// The head of the chain as a store's own transactions last committed it, kept by the [`Store`]
/// (one per process in production) for the PostgreSQL appends made on its connections. Several
/// instances sharing one database each keep their own; the statement that appends after it
/// checks it against the stored head, so a head another instance moved is only a miss.
///
/// The store's transactions take turns from their append to their end, so that each one's
/// guess is the head the one before it committed. The head's row lock serialised exactly that
/// stretch already, but a transaction that found the head moved had to lock and read it first:
/// under load, when two or more were between append and end, that was every one of them, an
/// extra statement per write transaction.
///
/// [`Store`]: crate::db::Store
#[derive(Debug, Default)]
pub struct HeadCache {
    last: std::sync::Mutex<LastHead>,
    turn_free: std::sync::Condvar,
}

#[derive(Debug, Default)]
struct LastHead {
    head: Option<AuditHead>,
    /// A transaction of the store is between its append and its end.
    turn_taken: bool,
}

/// How long a transaction waits for its turn before it appends the old way, locking and reading
/// the head first. A wait this long only happens where the turn holder waits in turn for the
/// head's row lock, which a transaction that appended outside its turn holds: the one waiting
/// here, if it appended in a nested transaction. Appending without the turn ends that wait.
const TURN_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

thread_local! {
    /// The cache of the store whose work runs on this thread (see [`HeadCache::scope`]).
    static CACHE: RefCell<Option<std::sync::Arc<HeadCache>>> = const { RefCell::new(None) };
}

impl HeadCache {
    /// Runs `work` with this cache as the one the appends on this thread use.
    pub fn scope<T>(self: &std::sync::Arc<Self>, work: impl FnOnce() -> T) -> T {
        struct Restore(Option<std::sync::Arc<HeadCache>>);
        impl Drop for Restore {
            fn drop(&mut self) {
                CACHE.with(|cache| *cache.borrow_mut() = self.0.take());
            }
        }
        let _restore = Restore(CACHE.with(|cache| cache.replace(Some(self.clone()))));
        work()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LastHead> {
        self.last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits up to [`TURN_WAIT`] for the turn; with it, the head to guess.
    fn take_turn(&self) -> Option<Option<AuditHead>> {
        let deadline = std::time::Instant::now() + TURN_WAIT;
        let mut last = self.lock();
        while last.turn_taken {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return None;
            }
            last = self
                .turn_free
                .wait_timeout(last, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        last.turn_taken = true;
        Some(last.head.clone())
    }
}

/// A PostgreSQL transaction's append, settled when the transaction ends. Committed, its head is
/// where the store's next transaction appends without locking and reading the head first.
/// Dropped unsettled (rolled back, failed), nothing is guessed until a commit is known again.
/// Either way the turn (see [`HeadCache`]) passes on.
#[must_use]
pub struct Appended {
    cache: std::sync::Arc<HeadCache>,
    has_turn: bool,
    guess: Option<AuditHead>,
    head: Option<AuditHead>,
}

impl Appended {
    /// Takes the store's turn, with the head to guess; none outside a store's scope.
    fn begin() -> Option<Self> {
        let cache = CACHE.with(|cache| cache.borrow().clone())?;
        let turn = cache.take_turn();
        Some(Appended {
            cache,
            has_turn: turn.is_some(),
            guess: turn.flatten(),
            head: None,
        })
    }

    fn with_head(mut self, head: AuditHead) -> Self {
        self.head = Some(head);
        self
    }

    /// The transaction committed: its head is the chain's head now, unless another commit of
    /// the store already moved past it.
    pub fn committed(mut self) {
        if let Some(head) = self.head.take() {
            let mut last = self.cache.lock();
            if last.head.as_ref().is_none_or(|known| known.seq < head.seq) {
                last.head = Some(head);
            }
        }
    }
}

impl Drop for Appended {
    fn drop(&mut self) {
        let mut last = self.cache.lock();
        if self.head.is_some() {
            // Appended but not known to be committed: the stored head is not known.
            last.head = None;
        }
        if self.has_turn {
            last.turn_taken = false;
            self.cache.turn_free.notify_one();
        }
    }
}

thread_local! {
    /// The events of the write transactions open on this thread, innermost last, with the link
    /// function. A transaction runs on one blocking thread from `BEGIN` to `COMMIT`, and
    /// diesel's connection cannot carry state of ours, so the thread holds the list.
    static PENDING: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
    /// How many write transactions this thread has opened: each one's number.
    static OPENED: Cell<u64> = const { Cell::new(0) };
}

/// One open write transaction's events, the link function to chain them with, and its number.
type Frame = (Vec<AuditEventRow>, Option<Link>, u64);

/// The number of the (innermost) write transaction open on this thread, which no other
/// transaction of the thread had; `None` outside one. Lets a reader keep what it read for the
/// rest of the transaction ([`super::webhooks::SubscriptionRow::list_once`]).
pub fn open_transaction() -> Option<u64> {
    PENDING.with(|pending| pending.borrow().last().map(|frame| frame.2))
}

/// Keeps `event` for the write transaction open on this thread; gives it back when there is
/// none (the caller then appends it at once, in its own transaction).
pub fn defer(event: AuditEventRow, link: Link) -> Option<AuditEventRow> {
    PENDING.with(|pending| match pending.borrow_mut().last_mut() {
        Some((events, links, _)) => {
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
            let number = OPENED.with(|opened| opened.get() + 1);
            OPENED.with(|opened| opened.set(number));
            let mut pending = pending.borrow_mut();
            pending.push((Vec::new(), None, number));
            pending.len()
        });
        Deferred { depth }
    }

    /// Appends the transaction's events; call it last before `COMMIT`, and settle what it
    /// returns when the transaction has ended.
    pub fn flush(self, conn: &mut DbConnection) -> Result<Option<Appended>, StoreError> {
        let (events, link) = PENDING.with(|pending| {
            let mut pending = pending.borrow_mut();
            debug_assert_eq!(pending.len(), self.depth, "transactions close in order");
            pending
                .last_mut()
                .map(|(events, link, _)| (std::mem::take(events), *link))
                .unwrap_or_default()
        });
        match link {
            Some(link) => append_chained(conn, events, link),
            None => Ok(None),
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
