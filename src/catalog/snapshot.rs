//! The whole catalog read at once, as the checklist, the letters and the policy checks use it.
//! It lives with the catalog, not with its readers, so that the policies can check against it
//! without importing request handling.

use super::model::{builtin_categories, Activity, Category, Organisation, System};
use super::Item;
use crate::db::DbConnection;
use crate::error::Result;
use crate::vocabulary::Language;

/// The catalog as the checklist needs it.
#[derive(Debug, Clone, Default)]
pub struct CatalogSnapshot {
    pub systems: Vec<System>,
    pub activities: Vec<Activity>,
    pub categories: Vec<Category>,
    /// The controller, who signs every letter; its changes move the catalog's stamp too, so
    /// it is cached with the rest instead of read for each letter.
    pub organisation: Option<Organisation>,
}

/// The catalog as the checklist and the letters read it.
pub fn load_catalog(conn: &mut DbConnection) -> Result<CatalogSnapshot> {
    Ok(CatalogSnapshot {
        systems: System::load_all(conn)?,
        activities: Activity::load_all(conn)?,
        categories: Category::load_all(conn)?,
        organisation: super::organisation_in(conn)?,
    })
}

impl CatalogSnapshot {
    /// The name of system `key` in `language`, for text people read (a task title, a step of
    /// the readiness report); the key itself where the catalog does not have the system.
    pub fn system_name<'a>(&'a self, key: &'a str, language: Language) -> &'a str {
        self.systems
            .iter()
            .find(|system| system.key == key)
            .map_or(key, |system| system.name.get(language))
    }

    /// The name of category `code` in `language`: the catalog's own, else the built-in
    /// taxonomy's, else the code.
    pub fn category_name(&self, code: &str, language: Language) -> String {
        let name = |category: &Category| match language {
            Language::Nl => category.name_nl.clone(),
            Language::En => category.name_en.clone(),
        };
        self.categories
            .iter()
            .find(|c| c.code == code)
            .map(name)
            .or_else(|| {
                builtin_categories()
                    .iter()
                    .find(|c| c.code == code)
                    .map(name)
            })
            .unwrap_or_else(|| code.to_string())
    }
}
