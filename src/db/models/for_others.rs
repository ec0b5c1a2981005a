//! The processor's record (Art. 30(2)): one row per kind of processing done for other
//! controllers, the entry itself as JSON, since it is only ever read and written whole.

use crate::db::schema::processing_for_others;
use crate::db::{DbConnection, StoreError};
use diesel::prelude::*;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = processing_for_others, treat_none_as_default_value = false)]
pub struct ForOthersRow {
    pub key: String,
    pub body: String,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

pub fn find(conn: &mut DbConnection, key: &str) -> Result<Option<ForOthersRow>, StoreError> {
    Ok(processing_for_others::table
        .find(key)
        .select(ForOthersRow::as_select())
        .first(conn)
        .optional()?)
}

/// Every entry, by key.
pub fn list(conn: &mut DbConnection) -> Result<Vec<ForOthersRow>, StoreError> {
    Ok(processing_for_others::table
        .order(processing_for_others::key.asc())
        .select(ForOthersRow::as_select())
        .load(conn)?)
}

/// Inserts the entry, or replaces the body of the stored one (keeping when it was created).
pub fn save(conn: &mut DbConnection, row: &ForOthersRow, exists: bool) -> Result<(), StoreError> {
    if exists {
        diesel::update(processing_for_others::table.find(&row.key))
            .set((
                processing_for_others::body.eq(&row.body),
                processing_for_others::updated_at.eq(row.updated_at),
            ))
            .execute(conn)?;
    } else {
        diesel::insert_into(processing_for_others::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

pub fn delete(conn: &mut DbConnection, key: &str) -> Result<(), StoreError> {
    diesel::delete(processing_for_others::table.find(key)).execute(conn)?;
    Ok(())
}
