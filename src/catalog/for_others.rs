//! The processor's record (Art. 30(2)) as a catalog item: the same create, replace, delete and
//! import as categories, systems and activities, each change with its audit event.

use super::model::ProcessingForOthers;
use super::{Item, Known};
use crate::db::models::for_others as store;
use crate::db::{DbConnection, StoreError};
use crate::error::{FieldError, Result};
use anyhow::Context;

impl Item for ProcessingForOthers {
    const KIND: &'static str = "processing_for_others";
    const KEY_FIELD: &'static str = "key";

    fn key(&self) -> &str {
        &self.key
    }
    fn load(conn: &mut DbConnection, key: &str) -> Result<Option<Self>> {
        store::find(conn, key)?.map(from_row).transpose()
    }
    fn load_all(conn: &mut DbConnection) -> Result<Vec<Self>> {
        store::list(conn)?.into_iter().map(from_row).collect()
    }
    fn save(&self, conn: &mut DbConnection, exists: bool) -> Result<()> {
        let now = crate::db::now();
        let body = serde_json::to_string(self).context("processing_for_others")?;
        let row = store::ForOthersRow {
            key: self.key.clone(),
            body,
            created_at: now,
            updated_at: now,
        };
        Ok(store::save(conn, &row, exists)?)
    }
    fn remove(conn: &mut DbConnection, key: &str) -> Result<()> {
        Ok(store::delete(conn, key)?)
    }
    /// It names controllers and countries, nothing else of the catalog.
    fn check_references(&self, _known: &Known) -> Vec<FieldError> {
        Vec::new()
    }
    fn check_removable(_conn: &mut DbConnection, _key: &str) -> Result<()> {
        Ok(())
    }
}

fn from_row(row: store::ForOthersRow) -> Result<ProcessingForOthers> {
    serde_json::from_str(&row.body).map_err(|e| {
        StoreError::Corrupt(format!("processing_for_others.body ({}): {e}", row.key)).into()
    })
}
