//! The audit trail's rows. Events are only ever inserted; the head row is the lock appenders take.

use crate::db::schema::{audit_events, audit_head};
use crate::db::{DbConnection, StoreError};
use diesel::prelude::*;

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
/// The no-op update takes a row lock on PostgreSQL (and the write lock on SQLite) before the head
/// is read, so two appenders can never both build on the same link.
pub fn lock_head(conn: &mut DbConnection) -> Result<AuditHead, StoreError> {
    diesel::update(audit_head::table.find(1))
        .set(audit_head::seq.eq(audit_head::seq))
        .execute(conn)?;
    read_head(conn)
}

pub fn read_head(conn: &mut DbConnection) -> Result<AuditHead, StoreError> {
    Ok(audit_head::table
        .find(1)
        .select(AuditHead::as_select())
        .first(conn)?)
}

pub fn append(conn: &mut DbConnection, event: &AuditEventRow) -> Result<(), StoreError> {
    diesel::insert_into(audit_events::table)
        .values(event)
        .execute(conn)?;
    diesel::update(audit_head::table.find(1))
        .set((
            audit_head::seq.eq(event.seq),
            audit_head::hash.eq(&event.hash),
        ))
        .execute(conn)?;
    Ok(())
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
