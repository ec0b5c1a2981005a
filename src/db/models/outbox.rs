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

/// A message sent, and when: each letter keeps the moment it went (Art. 5(2): when the answer
/// went), though a group's are marked together.
pub type Sent = (String, NaiveDateTime);

/// Marks the messages `sent` as sent, each at its own time: on PostgreSQL in one statement
/// whatever their number (ids and times as two arrays), on SQLite one cached statement each, in
/// process.
pub fn mark_sent(conn: &mut DbConnection, sent: &[Sent]) -> Result<(), StoreError> {
    match conn {
        DbConnection::Sqlite(c) => {
            for (id, at) in sent {
                MarkSent { id, at: *at }.execute(c)?;
            }
        }
        DbConnection::Postgres(c) => {
            let (ids, ats): (Vec<&str>, Vec<NaiveDateTime>) =
                sent.iter().map(|(id, at)| (id.as_str(), *at)).unzip();
            MarkSentAll {
                ids: &ids,
                ats: &ats,
            }
            .execute(c)?;
        }
    };
    Ok(())
}

/// `UPDATE outbox SET status = 'sent', last_error = NULL, sent_at = …`, the start both
/// statements share.
fn set_sent<DB>(out: &mut AstPass<'_, '_, DB>) -> QueryResult<()>
where
    DB: diesel::backend::Backend,
    str: diesel::serialize::ToSql<Text, DB>,
    DB: diesel::sql_types::HasSqlType<Text>,
{
    out.push_sql("UPDATE outbox SET status = ");
    out.push_bind_param::<Text, _>(SENT)?;
    out.push_sql(", last_error = NULL, sent_at = ");
    Ok(())
}

/// `… sent_at = $at WHERE id = $id`, written out so that it stays prepared: diesel prepares
/// every `UPDATE` it builds anew, and this one runs for every letter sent (in SQLite's one
/// writer thread).
struct MarkSent<'a> {
    id: &'a str,
    at: NaiveDateTime,
}

impl QueryFragment<Sqlite> for MarkSent<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        set_sent(&mut out)?;
        out.push_bind_param::<Timestamp, _>(&self.at)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<Text, _>(self.id)?;
        Ok(())
    }
}

/// One statement whatever its values: cached by its type.
impl QueryId for MarkSent<'_> {
    type QueryId = MarkSent<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl RunQueryDsl<diesel::SqliteConnection> for MarkSent<'_> {}

/// The same for a group of letters on PostgreSQL, `… sent_at = sent.at FROM unnest($ids, $ats)
/// AS sent (id, at) WHERE outbox.id = sent.id`: one round trip and one prepared statement for a
/// worker's whole group, where each letter was one.
struct MarkSentAll<'a> {
    ids: &'a [&'a str],
    ats: &'a [NaiveDateTime],
}

impl QueryFragment<Pg> for MarkSentAll<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        set_sent(&mut out)?;
        out.push_sql("sent.at FROM unnest(");
        out.push_bind_param::<Array<Text>, _>(self.ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Timestamp>, _>(self.ats)?;
        out.push_sql(") AS sent (id, at) WHERE outbox.id = sent.id");
        Ok(())
    }
}

impl QueryId for MarkSentAll<'_> {
    type QueryId = MarkSentAll<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl RunQueryDsl<diesel::PgConnection> for MarkSentAll<'_> {}
