//! The whole catalog read at once, as the checklist, the letters and the policy checks use it.
//! It lives with the catalog, not with its readers, so that the policies can check against it
//! without importing request handling.

use super::model::{Activity, Category, System};
use super::Item;
use crate::db::DbConnection;
use crate::error::Result;

/// The catalog as the checklist needs it.
#[derive(Debug, Clone, Default)]
pub struct CatalogSnapshot {
    pub systems: Vec<System>,
    pub activities: Vec<Activity>,
    pub categories: Vec<Category>,
}

/// The catalog as the checklist and the letters read it.
pub fn load_catalog(conn: &mut DbConnection) -> Result<CatalogSnapshot> {
    Ok(CatalogSnapshot {
        systems: System::load_all(conn)?,
        activities: Activity::load_all(conn)?,
        categories: Category::load_all(conn)?,
    })
}
