//! Rows kept under an exception of Art. 17(3) GDPR, in the store: which request kept them, on
//! what ground and until when, and when a sweep erased them. A row is found by its keyed hash;
//! its key is sealed.

use crate::db::models::sweeps::LegalHoldRow;
use crate::db::schema::{
    kept_rows, legal_holds, request_grounds, request_tasks, requests, suppression_list,
    task_findings,
};
use crate::db::{DbConnection, StoreError};
use crate::ids::{RequestId, TaskId};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = kept_rows, treat_none_as_default_value = false)]
pub struct KeptRowRow {
    pub id: String,
    pub request_id: RequestId,
    pub system_key: String,
    pub table_name: String,
    pub row_hash: String,
    pub row_key_enc: String,
    pub exception: String,
    pub legal_basis: String,
    pub rule: Option<String>,
    pub keep_until: Option<NaiveDate>,
    pub kept_at: NaiveDateTime,
    pub erased_at: Option<NaiveDateTime>,
    pub erased_by: Option<String>,
}

impl KeptRowRow {
    /// Stores the keep, or, for a row this request kept before (a task run again), replaces its
    /// ground and end: the later run knows more (a hold placed since, a rule changed).
    pub fn upsert(&self, conn: &mut DbConnection) -> Result<(), StoreError> {
        let existing = kept_rows::table
            .filter(kept_rows::request_id.eq(&self.request_id))
            .filter(kept_rows::row_hash.eq(&self.row_hash))
            .select(kept_rows::id)
            .first::<String>(conn)
            .optional()?;
        match existing {
            Some(id) => {
                diesel::update(kept_rows::table.find(id))
                    .set((
                        kept_rows::exception.eq(&self.exception),
                        kept_rows::legal_basis.eq(&self.legal_basis),
                        kept_rows::rule.eq(&self.rule),
                        kept_rows::keep_until.eq(self.keep_until),
                    ))
                    .execute(conn)?;
            }
            None => {
                diesel::insert_into(kept_rows::table)
                    .values(self)
                    .execute(conn)?;
            }
        }
        Ok(())
    }

    /// The rows a request kept, erased or not.
    pub fn of_request(conn: &mut DbConnection, request_id: &str) -> Result<Vec<Self>, StoreError> {
        Ok(kept_rows::table
            .filter(kept_rows::request_id.eq(request_id))
            .order((kept_rows::system_key, kept_rows::table_name, kept_rows::id))
            .select(Self::as_select())
            .load(conn)?)
    }

    /// Kept rows whose duty ended on or before `today` and that are not erased yet, of `system`
    /// or of every system.
    pub fn due(
        conn: &mut DbConnection,
        system: Option<&str>,
        today: NaiveDate,
    ) -> Result<Vec<Self>, StoreError> {
        let mut query = kept_rows::table
            .filter(kept_rows::erased_at.is_null())
            .filter(kept_rows::keep_until.le(today))
            .order((kept_rows::system_key, kept_rows::table_name, kept_rows::id))
            .select(Self::as_select())
            .into_boxed();
        if let Some(system) = system {
            query = query.filter(kept_rows::system_key.eq(system.to_string()));
        }
        Ok(query.load(conn)?)
    }

    pub fn mark_erased(
        conn: &mut DbConnection,
        ids: &[String],
        at: NaiveDateTime,
        by: &str,
    ) -> Result<(), StoreError> {
        diesel::update(kept_rows::table.filter(kept_rows::id.eq_any(ids)))
            .set((kept_rows::erased_at.eq(at), kept_rows::erased_by.eq(by)))
            .execute(conn)?;
        Ok(())
    }

    /// Rows kept only because of a legal hold on the person with this lookup hash (in `system`,
    /// or anywhere when the hold was on every system) become due on `today`; returns how many.
    pub fn release_hold(
        conn: &mut DbConnection,
        identifier_index: &str,
        system: Option<&str>,
        exception: &str,
        today: NaiveDate,
    ) -> Result<usize, StoreError> {
        let owners = requests::table
            .filter(
                requests::email_index
                    .eq(identifier_index)
                    .or(requests::customer_number_index.eq(identifier_index))
                    .or(requests::phone_index.eq(identifier_index)),
            )
            .select(requests::id);
        let mut query = diesel::update(kept_rows::table)
            .filter(kept_rows::erased_at.is_null())
            .filter(kept_rows::keep_until.is_null())
            .filter(kept_rows::exception.eq(exception))
            .filter(kept_rows::request_id.eq_any(owners))
            .into_boxed();
        if let Some(system) = system {
            query = query.filter(kept_rows::system_key.eq(system.to_string()));
        }
        Ok(query.set(kept_rows::keep_until.eq(today)).execute(conn)?)
    }
}

/// A request that kept rows: its reference and its requester's identifier lookup hashes.
#[derive(Debug, Clone, Default)]
pub struct Keeper {
    pub reference: String,
    pub indexes: Vec<String>,
}

/// (id, reference, e-mail, customer number and phone lookup hashes) of a request.
type KeeperRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// The requests with these ids, by id.
pub fn keepers(
    conn: &mut DbConnection,
    request_ids: &[String],
) -> Result<HashMap<String, Keeper>, StoreError> {
    let rows: Vec<KeeperRow> = requests::table
        .filter(requests::id.eq_any(request_ids))
        .select((
            requests::id,
            requests::reference,
            requests::email_index,
            requests::customer_number_index,
            requests::phone_index,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, reference, a, b, c)| {
            let indexes = [a, b, c].into_iter().flatten().collect();
            (id, Keeper { reference, indexes })
        })
        .collect())
}

/// The legal holds in force on any of these lookup hashes, in `system` or on every system,
/// oldest first.
pub fn holds_on(
    conn: &mut DbConnection,
    system: &str,
    indexes: &[String],
) -> Result<Vec<LegalHoldRow>, StoreError> {
    if indexes.is_empty() {
        return Ok(Vec::new());
    }
    Ok(super::sweeps::in_force_on(system)
        .filter(legal_holds::identifier_index.eq_any(indexes))
        .order(legal_holds::placed_at)
        .select(LegalHoldRow::as_select())
        .load(conn)?)
}

/// Records how many of the person's rows a task found in a system (a run again replaces it).
pub fn record_finding(
    conn: &mut DbConnection,
    task_id: &TaskId,
    system: &str,
    rows_found: i64,
) -> Result<(), StoreError> {
    // One statement where a delete and an insert were two round trips on every task run; on
    // the concrete connection, because diesel's MultiConnection has no upsert.
    let upsert = diesel::insert_into(task_findings::table)
        .values((
            task_findings::task_id.eq(task_id),
            task_findings::system_key.eq(system),
            task_findings::rows_found.eq(rows_found),
        ))
        .on_conflict((task_findings::task_id, task_findings::system_key))
        .do_update()
        .set(task_findings::rows_found.eq(rows_found));
    match conn {
        DbConnection::Sqlite(c) => upsert.execute(c)?,
        DbConnection::Postgres(c) => upsert.execute(c)?,
    };
    Ok(())
}

/// (task id, system, rows found) of every finding of a request's tasks.
pub fn findings_of(
    conn: &mut DbConnection,
    request_id: &str,
) -> Result<Vec<(String, String, i64)>, StoreError> {
    Ok(task_findings::table
        .inner_join(request_tasks::table)
        .filter(request_tasks::request_id.eq(request_id))
        .select((
            task_findings::task_id,
            task_findings::system_key,
            task_findings::rows_found,
        ))
        .load(conn)?)
}

/// A request's ground and, for a restriction, its lifting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = request_grounds, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct GroundRow {
    pub request_id: RequestId,
    pub ground: Option<String>,
    pub note_enc: Option<String>,
    pub recorded_by: Option<String>,
    pub recorded_at: Option<NaiveDateTime>,
    pub lift_reason_enc: Option<String>,
    pub lift_noticed_at: Option<NaiveDateTime>,
    pub lifted_by: Option<String>,
    pub lifted_at: Option<NaiveDateTime>,
}

impl GroundRow {
    pub fn of(conn: &mut DbConnection, request_id: &str) -> Result<Option<Self>, StoreError> {
        Ok(request_grounds::table
            .find(request_id)
            .select(Self::as_select())
            .first(conn)
            .optional()?)
    }

    /// Inserts the row or writes every field of it back.
    pub fn save(&self, conn: &mut DbConnection) -> Result<(), StoreError> {
        if Self::of(conn, &self.request_id)?.is_some() {
            diesel::update(request_grounds::table.find(&self.request_id))
                .set(self)
                .execute(conn)?;
        } else {
            diesel::insert_into(request_grounds::table)
                .values(self)
                .execute(conn)?;
        }
        Ok(())
    }
}

/// Puts a keyed e-mail hash on the suppression list; true when it was not there yet.
pub fn suppress(
    conn: &mut DbConnection,
    email_hash: &str,
    request_id: &str,
    at: NaiveDateTime,
) -> Result<bool, StoreError> {
    if is_suppressed(conn, email_hash)? {
        return Ok(false);
    }
    diesel::insert_into(suppression_list::table)
        .values((
            suppression_list::email_hash.eq(email_hash),
            suppression_list::request_id.eq(request_id),
            suppression_list::added_at.eq(at),
        ))
        .execute(conn)?;
    Ok(true)
}

pub fn is_suppressed(conn: &mut DbConnection, email_hash: &str) -> Result<bool, StoreError> {
    Ok(suppression_list::table
        .find(email_hash)
        .select(suppression_list::email_hash)
        .first::<String>(conn)
        .optional()?
        .is_some())
}
