//! The mail outbox: messages waiting for, or done with, delivery. Recipient, subject and body are
//! ciphertext (see `crate::crypto`); this layer never sees them in the clear.
//!
//! Several loket instances may share one PostgreSQL database, so a message is claimed before it
//! is sent: [`claim`] moves `next_attempt_at` past the lease with a conditional UPDATE, and only
//! the instance whose UPDATE changed the row sends it.

use crate::db::schema::outbox;
use crate::db::{DbConnection, StoreError};
use crate::ids::RequestId;
use chrono::NaiveDateTime;
use diesel::prelude::*;

pub const PENDING: &str = "pending";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    pub id: String,
    pub request_id: Option<RequestId>,
    pub template: String,
    pub language: String,
    pub recipient_enc: String,
    pub subject_enc: String,
    pub body_enc: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
}

impl OutboxRow {
    pub fn insert(&self, conn: &mut DbConnection) -> Result<(), StoreError> {
        diesel::insert_into(outbox::table)
            .values(self)
            .execute(conn)?;
        Ok(())
    }

    pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<Self>, StoreError> {
        Ok(outbox::table
            .find(id)
            .select(Self::as_select())
            .first(conn)
            .optional()?)
    }

    /// The messages of one request, oldest first.
    pub fn for_request(conn: &mut DbConnection, request_id: &str) -> Result<Vec<Self>, StoreError> {
        Ok(outbox::table
            .filter(outbox::request_id.eq(request_id))
            .order((outbox::created_at.asc(), outbox::id.asc()))
            .select(Self::as_select())
            .load(conn)?)
    }

    /// One page of messages, newest first, optionally of one status; and how many there are.
    pub fn page(
        conn: &mut DbConnection,
        status: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<Self>, i64), StoreError> {
        let filtered = || {
            let mut query = outbox::table.into_boxed();
            if let Some(status) = status {
                query = query.filter(outbox::status.eq(status.to_string()));
            }
            query
        };
        let total = filtered().count().get_result(conn)?;
        let rows = filtered()
            .order((outbox::created_at.desc(), outbox::id.desc()))
            .offset(offset)
            .limit(limit)
            .select(Self::as_select())
            .load(conn)?;
        Ok((rows, total))
    }
}

/// Ids of pending messages due at `now`, those waiting longest first.
pub fn due_ids(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    limit: i64,
) -> Result<Vec<String>, StoreError> {
    Ok(outbox::table
        .filter(outbox::status.eq(PENDING))
        .filter(outbox::next_attempt_at.le(now))
        .order((outbox::next_attempt_at.asc(), outbox::id.asc()))
        .limit(limit)
        .select(outbox::id)
        .load(conn)?)
}

/// Takes a due message for delivery: counts the attempt and holds it until `lease_until`, so no
/// other worker picks it up meanwhile. Returns the row when this call won it, `None` when it was
/// no longer due (sent, failed, or claimed by another worker first).
///
/// One conditional UPDATE is atomic on both backends: on PostgreSQL a concurrent UPDATE of the
/// same row waits for the first to commit and then re-checks the condition, which no longer holds.
pub fn claim(
    conn: &mut DbConnection,
    id: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
) -> Result<Option<OutboxRow>, StoreError> {
    let changed = diesel::update(
        outbox::table
            .filter(outbox::id.eq(id))
            .filter(outbox::status.eq(PENDING))
            .filter(outbox::next_attempt_at.le(now)),
    )
    .set((
        outbox::next_attempt_at.eq(lease_until),
        outbox::attempts.eq(outbox::attempts + 1),
    ))
    .execute(conn)?;
    if changed == 1 {
        OutboxRow::find(conn, id)
    } else {
        Ok(None)
    }
}

pub fn mark_sent(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> Result<(), StoreError> {
    diesel::update(outbox::table.find(id))
        .set((
            outbox::status.eq(SENT),
            outbox::sent_at.eq(Some(now)),
            outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a failed attempt: retried at `retry_at`, or given up (`failed`) when `None`.
pub fn mark_attempt_failed(
    conn: &mut DbConnection,
    id: &str,
    error: &str,
    retry_at: Option<NaiveDateTime>,
) -> Result<(), StoreError> {
    let target = outbox::table.find(id);
    match retry_at {
        Some(at) => diesel::update(target)
            .set((outbox::last_error.eq(error), outbox::next_attempt_at.eq(at)))
            .execute(conn)?,
        None => diesel::update(target)
            .set((outbox::last_error.eq(error), outbox::status.eq(FAILED)))
            .execute(conn)?,
    };
    Ok(())
}
