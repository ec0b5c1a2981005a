//! The sealed keys of packages, newest last.

use crate::db::schema::package_keys;
use crate::db::{DbConnection, StoreError};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = package_keys, treat_none_as_default_value = false)]
pub struct PackageKeyRow {
    /// The key id (`crypto::key_id`), as written in every package it sealed.
    pub id: String,
    pub key_enc: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

impl PackageKeyRow {
    pub fn insert(&self, conn: &mut DbConnection) -> Result<(), StoreError> {
        diesel::insert_into(package_keys::table)
            .values(self)
            .execute(conn)?;
        Ok(())
    }

    /// Every key, oldest first.
    pub fn all(conn: &mut DbConnection) -> Result<Vec<Self>, StoreError> {
        Ok(package_keys::table
            .order((package_keys::created_at.asc(), package_keys::id.asc()))
            .select(Self::as_select())
            .load(conn)?)
    }
}
