//! Issue 21: which requests were registered from one call, which partner team registered a
//! request, and the kept snapshots of the readiness report.

use crate::db::schema::{readiness_snapshots, request_calls, requests, users};
use crate::db::{DbConnection, StoreError};
use diesel::prelude::*;

/// Links a request to the call it was registered from.
pub fn link_to_call(
    conn: &mut DbConnection,
    request_id: &str,
    call_id: &str,
) -> Result<(), StoreError> {
    diesel::insert_into(request_calls::table)
        .values((
            request_calls::request_id.eq(request_id),
            request_calls::call_id.eq(call_id),
        ))
        .execute(conn)?;
    Ok(())
}

/// The id and reference of the other requests registered in the same call as `request_id`.
pub fn same_call(
    conn: &mut DbConnection,
    request_id: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let call: Option<String> = request_calls::table
        .find(request_id)
        .select(request_calls::call_id)
        .first(conn)
        .optional()?;
    let Some(call) = call else {
        return Ok(Vec::new());
    };
    let ids = request_calls::table
        .filter(request_calls::call_id.eq(call))
        .filter(request_calls::request_id.ne(request_id))
        .select(request_calls::request_id);
    Ok(requests::table
        .filter(requests::id.eq_any(ids))
        .order(requests::reference.asc())
        .select((requests::id, requests::reference))
        .load(conn)?)
}

/// The partner team of whoever registered `request_id`; `None` when own staff did (or the request
/// does not exist: the caller loads it anyway and gets its own not-found).
pub fn team_of_request(
    conn: &mut DbConnection,
    request_id: &str,
) -> Result<Option<String>, StoreError> {
    let creator = requests::table
        .find(request_id)
        .select(requests::created_by);
    Ok(users::table
        .filter(users::username.eq_any(creator))
        .select(users::team)
        .first::<Option<String>>(conn)
        .optional()?
        .flatten())
}

/// A kept readiness report: the figures at `taken_at`.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = readiness_snapshots, treat_none_as_default_value = false)]
pub struct SnapshotRow {
    pub id: String,
    pub taken_at: chrono::NaiveDateTime,
    /// `on_demand` or `scheduler`.
    pub origin: String,
    pub score: i32,
    /// The report as JSON.
    pub report: String,
}

impl SnapshotRow {
    pub fn insert(&self, conn: &mut DbConnection) -> Result<(), StoreError> {
        diesel::insert_into(readiness_snapshots::table)
            .values(self)
            .execute(conn)?;
        Ok(())
    }

    /// The newest `limit` snapshots, newest first.
    pub fn latest(conn: &mut DbConnection, limit: i64) -> Result<Vec<Self>, StoreError> {
        Ok(readiness_snapshots::table
            .order(readiness_snapshots::taken_at.desc())
            .limit(limit)
            .select(Self::as_select())
            .load(conn)?)
    }

    /// When the last snapshot by `origin` was taken.
    pub fn last_taken(
        conn: &mut DbConnection,
        origin: &str,
    ) -> Result<Option<chrono::NaiveDateTime>, StoreError> {
        Ok(readiness_snapshots::table
            .filter(readiness_snapshots::origin.eq(origin))
            .select(diesel::dsl::max(readiness_snapshots::taken_at))
            .first(conn)?)
    }
}

/// Whether the audit trail holds an event `action` on this object (e.g. a guide version loaded).
pub fn audit_event_exists(
    conn: &mut DbConnection,
    action: &str,
    object_type: &str,
    object_id: &str,
) -> Result<bool, StoreError> {
    use crate::db::schema::audit_events;
    let found: i64 = audit_events::table
        .filter(audit_events::action.eq(action))
        .filter(audit_events::object_type.eq(object_type))
        .filter(audit_events::object_id.eq(object_id))
        .count()
        .get_result(conn)?;
    Ok(found > 0)
}
