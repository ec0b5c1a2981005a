//! Links that send a checklist task to a system's owner (issue #22). Only the hash of a link's
//! token is stored; claiming a link is one conditional UPDATE, so a link is used at most once
//! even when its form is sent twice at the same moment.

use crate::db::schema::owner_links;
use crate::db::{DbConnection, StoreError};
use crate::ids::{RequestId, TaskId};
use crate::vocabulary::Language;
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

/// What the daily job does with a link still open: remind its owner before the due date, or tell
/// the privacy officer after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUp {
    Reminder,
    Escalation,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = owner_links, treat_none_as_default_value = false)]
pub struct OwnerLinkRow {
    pub id: String,
    pub request_id: RequestId,
    pub task_id: TaskId,
    pub system_key: String,
    pub token_hash: String,
    pub recipient_enc: String,
    pub language: Language,
    pub note_enc: Option<String>,
    pub due_on: NaiveDate,
    pub expires_at: NaiveDateTime,
    pub sent_by: String,
    pub sent_at: NaiveDateTime,
    pub reminded_at: Option<NaiveDateTime>,
    pub escalated_at: Option<NaiveDateTime>,
    pub used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

impl OwnerLinkRow {
    pub fn insert(&self, conn: &mut DbConnection) -> Result<(), StoreError> {
        diesel::insert_into(owner_links::table)
            .values(self)
            .execute(conn)?;
        Ok(())
    }

    pub fn by_token_hash(
        conn: &mut DbConnection,
        token_hash: &str,
    ) -> Result<Option<Self>, StoreError> {
        Ok(owner_links::table
            .filter(owner_links::token_hash.eq(token_hash))
            .select(Self::as_select())
            .first(conn)
            .optional()?)
    }

    /// The links of a request, oldest first.
    pub fn of_request(conn: &mut DbConnection, request_id: &str) -> Result<Vec<Self>, StoreError> {
        Ok(owner_links::table
            .filter(owner_links::request_id.eq(request_id))
            .order((owner_links::sent_at.asc(), owner_links::id.asc()))
            .select(Self::as_select())
            .load(conn)?)
    }

    /// Links neither used nor revoked, due on or before `until`: what the daily job looks at.
    pub fn outstanding(conn: &mut DbConnection, until: NaiveDate) -> Result<Vec<Self>, StoreError> {
        Ok(owner_links::table
            .filter(owner_links::used_at.is_null())
            .filter(owner_links::revoked_at.is_null())
            .filter(owner_links::due_on.le(until))
            .order((owner_links::due_on.asc(), owner_links::id.asc()))
            .select(Self::as_select())
            .load(conn)?)
    }

    /// Revokes the task's links still open: a new link replaces them.
    pub fn revoke_open_of_task(
        conn: &mut DbConnection,
        task_id: &str,
        at: NaiveDateTime,
    ) -> Result<usize, StoreError> {
        Ok(diesel::update(
            owner_links::table
                .filter(owner_links::task_id.eq(task_id))
                .filter(owner_links::used_at.is_null())
                .filter(owner_links::revoked_at.is_null()),
        )
        .set(owner_links::revoked_at.eq(at))
        .execute(conn)?)
    }

    /// Marks the link used, unless it was used or revoked first; false then.
    pub fn claim(conn: &mut DbConnection, id: &str, at: NaiveDateTime) -> Result<bool, StoreError> {
        let changed = diesel::update(
            owner_links::table
                .filter(owner_links::id.eq(id))
                .filter(owner_links::used_at.is_null())
                .filter(owner_links::revoked_at.is_null()),
        )
        .set(owner_links::used_at.eq(at))
        .execute(conn)?;
        Ok(changed == 1)
    }

    /// Records that the link's owner was reminded, or the privacy officer told, unless another
    /// instance did first; false then. Each happens at most once per link.
    pub fn mark_followed_up(
        conn: &mut DbConnection,
        id: &str,
        follow_up: FollowUp,
        at: NaiveDateTime,
    ) -> Result<bool, StoreError> {
        let link = owner_links::table.filter(owner_links::id.eq(id));
        let changed = match follow_up {
            FollowUp::Reminder => diesel::update(link.filter(owner_links::reminded_at.is_null()))
                .set(owner_links::reminded_at.eq(at))
                .execute(conn)?,
            FollowUp::Escalation => {
                diesel::update(link.filter(owner_links::escalated_at.is_null()))
                    .set(owner_links::escalated_at.eq(at))
                    .execute(conn)?
            }
        };
        Ok(changed == 1)
    }
}
