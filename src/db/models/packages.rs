//! Packages, the sealed blobs they and attachments are stored in, attachments and redactions.
//!
//! A download is claimed with one conditional UPDATE (`downloads < max_downloads`, not expired,
//! ready): of two downloads racing for the last allowed one, only one changes the row.

use crate::db::schema::{attachments, packages, redactions, sealed_blobs};
use crate::db::{DbConnection, StoreError};
use crate::ids::{AttachmentId, PackageId, RequestId, TaskId};
use crate::vocabulary::{Language, RequestKind};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::BTreeMap;

/// What a package holds, in counts: stored with the package and shown to agents.
#[derive(
    utoipa::ToSchema, Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize,
)]
pub struct Summary {
    /// Rows per system and table.
    pub rows: BTreeMap<String, BTreeMap<String, u64>>,
    pub attachments: usize,
    pub withheld: usize,
}

impl Summary {
    pub fn total_rows(&self) -> u64 {
        self.rows.values().flat_map(|tables| tables.values()).sum()
    }
}

impl PackageRow {
    /// What the package holds, as stored with it; a row from before the counts were kept holds
    /// none.
    pub fn summary(&self) -> Summary {
        serde_json::from_str(&self.contents).unwrap_or_default()
    }
}

/// Where the reasons for withholding are sealed: packages seal them, the answer letter opens them.
pub const REDACTION_REASON_PLACE: &str = "redactions.reason";

pub use crate::vocabulary::PackageState;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = packages, treat_none_as_default_value = false)]
pub struct PackageRow {
    pub kind: RequestKind,
    pub language: Language,
    pub state: PackageState,
    pub id: PackageId,
    pub request_id: RequestId,
    pub key_id: Option<String>,
    pub sealed_bytes: i64,
    pub plain_bytes: i64,
    pub contents: String,
    pub passphrase_hash: Option<String>,
    pub failed_attempts: i32,
    pub max_downloads: i32,
    pub downloads: i32,
    pub expires_at: NaiveDateTime,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub deleted_at: Option<NaiveDateTime>,
    pub deleted_reason: Option<String>,
    /// The instance building it (`host-pid-build`), while it builds.
    pub builder: Option<String>,
}

impl PackageRow {
    /// Packages being built now, or left half-built.
    pub fn building(conn: &mut DbConnection) -> Result<Vec<Self>, StoreError> {
        Ok(packages::table
            .filter(packages::state.eq(PackageState::Building))
            .select(Self::as_select())
            .load(conn)?)
    }

    pub fn insert(&self, conn: &mut DbConnection) -> Result<(), StoreError> {
        diesel::insert_into(packages::table)
            .values(self)
            .execute(conn)?;
        Ok(())
    }

    pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<Self>, StoreError> {
        Ok(packages::table
            .find(id)
            .select(Self::as_select())
            .first(conn)
            .optional()?)
    }

    /// The packages of a request, newest first.
    pub fn of_request(conn: &mut DbConnection, request_id: &str) -> Result<Vec<Self>, StoreError> {
        Ok(packages::table
            .filter(packages::request_id.eq(request_id))
            .order((packages::created_at.desc(), packages::id.desc()))
            .select(Self::as_select())
            .load(conn)?)
    }

    /// Marks this built package ready, with what it holds, here and in the store alike.
    pub fn mark_ready(
        &mut self,
        conn: &mut DbConnection,
        key_id: &str,
        sealed_bytes: i64,
        plain_bytes: i64,
        contents: String,
    ) -> Result<(), StoreError> {
        self.state = PackageState::Ready;
        self.key_id = Some(key_id.to_string());
        self.sealed_bytes = sealed_bytes;
        self.plain_bytes = plain_bytes;
        self.contents = contents;
        diesel::update(packages::table.find(&self.id))
            .set((
                packages::state.eq(self.state),
                packages::key_id.eq(key_id),
                packages::sealed_bytes.eq(sealed_bytes),
                packages::plain_bytes.eq(plain_bytes),
                packages::contents.eq(&self.contents),
            ))
            .execute(conn)?;
        Ok(())
    }

    /// Marks a package `state` (deleted or failed) with the reason; its blobs go separately.
    pub fn mark_gone(
        conn: &mut DbConnection,
        id: &str,
        state: PackageState,
        reason: &str,
        at: NaiveDateTime,
    ) -> Result<bool, StoreError> {
        let changed = diesel::update(
            packages::table
                .find(id)
                .filter(packages::state.eq_any([PackageState::Ready, PackageState::Building])),
        )
        .set((
            packages::state.eq(state),
            packages::deleted_at.eq(at),
            packages::deleted_reason.eq(reason),
        ))
        .execute(conn)?;
        Ok(changed == 1)
    }

    /// Counts one download if the package is ready, unexpired and under its limit; whether it was.
    pub fn claim_download(
        conn: &mut DbConnection,
        id: &str,
        limit: i32,
        now: NaiveDateTime,
    ) -> Result<bool, StoreError> {
        let changed = diesel::update(
            packages::table
                .find(id)
                .filter(packages::state.eq(PackageState::Ready))
                .filter(packages::expires_at.gt(now))
                .filter(packages::downloads.lt(packages::max_downloads))
                .filter(packages::downloads.lt(limit)),
        )
        .set(packages::downloads.eq(packages::downloads + 1))
        .execute(conn)?;
        Ok(changed == 1)
    }

    /// Counts a wrong passphrase; returns the failures so far.
    pub fn count_failed_attempt(conn: &mut DbConnection, id: &str) -> Result<i32, StoreError> {
        diesel::update(packages::table.find(id))
            .set(packages::failed_attempts.eq(packages::failed_attempts + 1))
            .execute(conn)?;
        Ok(packages::table
            .find(id)
            .select(packages::failed_attempts)
            .first(conn)?)
    }

    /// Ready packages past their expiry or download limit, and packages whose building stopped
    /// before `stale_before` (an instance died half-way): what the retention sweep deletes.
    pub fn spent(
        conn: &mut DbConnection,
        now: NaiveDateTime,
        stale_before: NaiveDateTime,
    ) -> Result<Vec<Self>, StoreError> {
        let spent = packages::state.eq(PackageState::Ready).and(
            packages::expires_at
                .le(now)
                .or(packages::downloads.ge(packages::max_downloads)),
        );
        let abandoned = packages::state
            .eq(PackageState::Building)
            .and(packages::created_at.lt(stale_before));
        Ok(packages::table
            .filter(spent.or(abandoned))
            .order(packages::created_at.asc())
            .select(Self::as_select())
            .load(conn)?)
    }
}

/// One numbered piece of a sealed stream.
pub fn insert_blob(
    conn: &mut DbConnection,
    owner: &str,
    seq: i32,
    bytes: &[u8],
) -> Result<(), StoreError> {
    diesel::insert_into(sealed_blobs::table)
        .values((
            sealed_blobs::owner.eq(owner),
            sealed_blobs::seq.eq(seq),
            sealed_blobs::bytes.eq(bytes),
        ))
        .execute(conn)?;
    Ok(())
}

/// Piece `seq` of `owner`'s stream, if there is one.
pub fn blob(conn: &mut DbConnection, owner: &str, seq: i32) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(sealed_blobs::table
        .find((owner, seq))
        .select(sealed_blobs::bytes)
        .first(conn)
        .optional()?)
}

/// Deletes every piece of `owner`'s stream; returns how many there were.
pub fn delete_blobs(conn: &mut DbConnection, owner: &str) -> Result<usize, StoreError> {
    Ok(diesel::delete(sealed_blobs::table.filter(sealed_blobs::owner.eq(owner))).execute(conn)?)
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = attachments, treat_none_as_default_value = false)]
pub struct AttachmentRow {
    pub id: AttachmentId,
    pub request_id: RequestId,
    pub task_id: TaskId,
    pub system_key: Option<String>,
    pub name_enc: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

impl AttachmentRow {
    pub fn insert(&self, conn: &mut DbConnection) -> Result<(), StoreError> {
        diesel::insert_into(attachments::table)
            .values(self)
            .execute(conn)?;
        Ok(())
    }

    /// The attachments of a request, oldest first.
    pub fn of_request(conn: &mut DbConnection, request_id: &str) -> Result<Vec<Self>, StoreError> {
        Ok(attachments::table
            .filter(attachments::request_id.eq(request_id))
            .order((attachments::created_at.asc(), attachments::id.asc()))
            .select(Self::as_select())
            .load(conn)?)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = redactions, treat_none_as_default_value = false)]
pub struct RedactionRow {
    pub id: String,
    pub request_id: RequestId,
    pub system_key: Option<String>,
    pub table_name: Option<String>,
    pub column_name: Option<String>,
    pub row_key: Option<String>,
    pub attachment_id: Option<AttachmentId>,
    pub reason_enc: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

impl RedactionRow {
    pub fn insert(&self, conn: &mut DbConnection) -> Result<(), StoreError> {
        diesel::insert_into(redactions::table)
            .values(self)
            .execute(conn)?;
        Ok(())
    }

    pub fn of_request(conn: &mut DbConnection, request_id: &str) -> Result<Vec<Self>, StoreError> {
        Ok(redactions::table
            .filter(redactions::request_id.eq(request_id))
            .order((redactions::created_at.asc(), redactions::id.asc()))
            .select(Self::as_select())
            .load(conn)?)
    }

    /// Removes a redaction of this request; whether there was one.
    pub fn delete(conn: &mut DbConnection, request_id: &str, id: &str) -> Result<bool, StoreError> {
        let deleted = diesel::delete(
            redactions::table
                .find(id)
                .filter(redactions::request_id.eq(request_id)),
        )
        .execute(conn)?;
        Ok(deleted == 1)
    }
}
