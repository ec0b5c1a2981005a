//! The mail outbox: messages waiting for, or done with, delivery. Recipient, subject and body are
//! ciphertext (see `crate::crypto`); this layer never sees them in the clear.
//!
//! Several loket instances may share one PostgreSQL database, so a message is claimed before it
//! is sent: [`claim_group`] moves `next_attempt_at` past the lease with a conditional UPDATE, and
//! only the instance whose UPDATE changed the row sends it.

use crate::db::schema::outbox;
use crate::db::{DbConnection, StoreError};
use crate::ids::RequestId;
use chrono::NaiveDateTime;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Array, Text, Timestamp};
use diesel::sqlite::Sqlite;

pub const PENDING: &str = "pending";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = outbox, treat_none_as_default_value = false)]
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

super::queue::retried_queue!(outbox, OutboxRow);

/// Takes at most `limit` due messages for delivery (see `take_due_group`), oldest first.
pub fn claim_group(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<OutboxRow>, StoreError> {
    take_due_group(conn, now, lease_until, limit)
}

/// Marks the messages `ids` sent at `now`: on PostgreSQL in one statement whatever their number
/// (the ids as one array), on SQLite one cached statement each, in process.
pub fn mark_sent(
    conn: &mut DbConnection,
    ids: &[String],
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    match conn {
        DbConnection::Sqlite(c) => {
            for id in ids {
                MarkSent { id, at: now }.execute(c)?;
            }
        }
        DbConnection::Postgres(c) => {
            MarkSentAll { ids, at: now }.execute(c)?;
        }
    };
    Ok(())
}

/// `UPDATE outbox SET status = 'sent', sent_at = …, last_error = NULL WHERE id = …`, written out
/// so that it stays prepared: diesel prepares every `UPDATE` it builds anew, and this one runs
/// for every letter sent (in SQLite's one writer thread).
struct MarkSent<'a> {
    id: &'a str,
    at: NaiveDateTime,
}

impl QueryFragment<Sqlite> for MarkSent<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        set_sent(&mut out, &self.at)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<Text, _>(self.id)?;
        Ok(())
    }
}

/// `UPDATE outbox SET status = 'sent', sent_at = $at, last_error = NULL`, for either statement.
fn set_sent<'b, DB>(out: &mut AstPass<'_, 'b, DB>, at: &'b NaiveDateTime) -> QueryResult<()>
where
    DB: diesel::backend::Backend,
    str: diesel::serialize::ToSql<Text, DB>,
    NaiveDateTime: diesel::serialize::ToSql<Timestamp, DB>,
    DB: diesel::sql_types::HasSqlType<Text> + diesel::sql_types::HasSqlType<Timestamp>,
{
    out.push_sql("UPDATE outbox SET status = ");
    out.push_bind_param::<Text, _>(SENT)?;
    out.push_sql(", sent_at = ");
    out.push_bind_param::<Timestamp, _>(at)?;
    out.push_sql(", last_error = NULL");
    Ok(())
}

/// One statement whatever its values: cached by its type.
impl QueryId for MarkSent<'_> {
    type QueryId = MarkSent<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl RunQueryDsl<diesel::SqliteConnection> for MarkSent<'_> {}

/// The same for a group of letters on PostgreSQL, `… WHERE id = ANY($3)`: one round trip and one
/// prepared statement for a worker's whole group, where each letter was one.
struct MarkSentAll<'a> {
    ids: &'a [String],
    at: NaiveDateTime,
}

impl QueryFragment<Pg> for MarkSentAll<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        set_sent(&mut out, &self.at)?;
        out.push_sql(" WHERE id = ANY(");
        out.push_bind_param::<Array<Text>, _>(self.ids)?;
        out.push_sql(")");
        Ok(())
    }
}

impl QueryId for MarkSentAll<'_> {
    type QueryId = MarkSentAll<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl RunQueryDsl<diesel::PgConnection> for MarkSentAll<'_> {}
