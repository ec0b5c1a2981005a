//! Art. 17(3) exceptions chosen by an agent for an erasure (each a keep_under_exception task
//! naming the tables it keeps), and whether the person asked who the recipients are (Art. 19).

use crate::db::schema::{keep_choices, recipients_asked};
use crate::db::{DbConnection, StoreError};
use crate::ids::{RequestId, TaskId};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = keep_choices, treat_none_as_default_value = false)]
pub struct KeepChoiceRow {
    pub task_id: TaskId,
    pub request_id: RequestId,
    pub system_key: String,
    pub exception: String,
    /// Mapped table names, comma-separated.
    pub tables: String,
    pub reason_enc: String,
    pub keep_until: Option<NaiveDate>,
    pub chosen_by: String,
    pub chosen_at: NaiveDateTime,
}

impl KeepChoiceRow {
    pub fn insert(&self, conn: &mut DbConnection) -> Result<(), StoreError> {
        diesel::insert_into(keep_choices::table)
            .values(self)
            .execute(conn)?;
        Ok(())
    }

    /// The choices of a request, oldest first.
    pub fn of_request(conn: &mut DbConnection, request_id: &str) -> Result<Vec<Self>, StoreError> {
        Ok(keep_choices::table
            .filter(keep_choices::request_id.eq(request_id))
            .order((keep_choices::chosen_at, keep_choices::task_id))
            .select(Self::as_select())
            .load(conn)?)
    }

    /// Every choice of every request (they are few: one per judgement an agent made).
    pub fn all(conn: &mut DbConnection) -> Result<Vec<Self>, StoreError> {
        Ok(keep_choices::table
            .order((keep_choices::chosen_at, keep_choices::task_id))
            .select(Self::as_select())
            .load(conn)?)
    }

    /// The table names, in order.
    pub fn table_names(&self) -> Vec<String> {
        self.tables
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// Records that the person asked who the recipients are; false when it was recorded already.
pub fn ask_recipients(
    conn: &mut DbConnection,
    request_id: &str,
    by: &str,
    at: NaiveDateTime,
) -> Result<bool, StoreError> {
    if asked_recipients(conn, request_id)? {
        return Ok(false);
    }
    diesel::insert_into(recipients_asked::table)
        .values((
            recipients_asked::request_id.eq(request_id),
            recipients_asked::recorded_by.eq(by),
            recipients_asked::recorded_at.eq(at),
        ))
        .execute(conn)?;
    Ok(true)
}

/// Withdraws the record that the person asked; false when there was none.
pub fn unask_recipients(conn: &mut DbConnection, request_id: &str) -> Result<bool, StoreError> {
    let deleted = diesel::delete(recipients_asked::table.find(request_id)).execute(conn)?;
    Ok(deleted > 0)
}

pub fn asked_recipients(conn: &mut DbConnection, request_id: &str) -> Result<bool, StoreError> {
    Ok(recipients_asked::table
        .find(request_id)
        .select(recipients_asked::request_id)
        .first::<String>(conn)
        .optional()?
        .is_some())
}
