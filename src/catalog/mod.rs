//! The catalog of personal data (the Art. 30 record): which system holds which categories of data,
//! and which processing activities use them, why, on which basis and for how long.
//!
//! Categories, systems and activities are all handled by the same generic operations over
//! [`Item`]: create, replace, delete and the idempotent upsert behind `loket catalog import`.
//! Every change is written with its audit event in one transaction.

pub mod anonymise;
mod for_others;
pub mod http;
pub mod model;
pub mod privacy;
pub mod ropa;
mod rows;
pub mod snapshot;
pub mod terms;
pub mod text;
pub mod yaml;

use crate::audit::{self, Actor, Change};
use crate::db::models::catalog as store;
use crate::db::notices::Topic;
use crate::db::{DbConnection, Store};
use crate::error::{ConflictCode, Error, FieldError, Result};
use model::{
    Activity, CatalogDocument, Category, Organisation, ProcessingForOthers, System, Validate,
};
use std::collections::HashSet;
use std::fmt;

pub use snapshot::{load_catalog, CatalogSnapshot};
pub use yaml::{parse_yaml, YamlError};

/// A kind of catalog entry, keyed by a stable code (`crm`, `direct_marketing`).
pub trait Item: Validate + Clone + PartialEq + fmt::Debug + Send + 'static {
    /// Singular noun for messages and audit events: `category`, `system`, `activity`.
    const KIND: &'static str;
    /// The JSON field that carries the key.
    const KEY_FIELD: &'static str;

    fn key(&self) -> &str;
    fn load(conn: &mut DbConnection, key: &str) -> Result<Option<Self>>;
    fn load_all(conn: &mut DbConnection) -> Result<Vec<Self>>;
    fn save(&self, conn: &mut DbConnection, exists: bool) -> Result<()>;
    fn remove(conn: &mut DbConnection, key: &str) -> Result<()>;
    /// Checks that what the item refers to exists.
    fn check_references(&self, known: &Known) -> Vec<FieldError>;
    /// Refuses to change or delete what must stay (built-ins, entries still in use).
    fn check_removable(conn: &mut DbConnection, key: &str) -> Result<()>;
    fn check_editable(_conn: &mut DbConnection, _key: &str) -> Result<()> {
        Ok(())
    }
}

/// The category codes and system keys that exist, for checking references.
#[derive(Debug, Default)]
pub struct Known {
    pub categories: HashSet<String>,
    pub systems: HashSet<String>,
}

impl Known {
    fn load(conn: &mut DbConnection) -> Result<Self> {
        Ok(Known {
            categories: store::list_categories(conn)?
                .into_iter()
                .map(|c| c.code)
                .collect(),
            systems: store::list_systems(conn)?
                .into_iter()
                .map(|(s, _)| s.key)
                .collect(),
        })
    }
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
}

// --- generic operations -----------------------------------------------------------------------

pub async fn list<T: Item>(store: &Store) -> Result<Vec<T>> {
    store.read(|conn| T::load_all(conn)).await
}

pub async fn get<T: Item>(store: &Store, key: String) -> Result<T> {
    store
        .read(move |conn| T::load(conn, &key)?.ok_or_else(|| not_found::<T>(&key)))
        .await
}

/// Adds a new entry; 409 if the key is taken.
pub async fn create<T: Item>(store: &Store, actor: Actor, item: T) -> Result<T> {
    item.validate()?;
    store
        .write_changing(Topic::Catalog, move |conn| {
            if T::load(conn, item.key())?.is_some() {
                return Err(Error::conflict(
                    ConflictCode::Exists,
                    format!("{} '{}' already exists", T::KIND, item.key()),
                ));
            }
            upsert(conn, &actor, &item)?;
            Ok(item)
        })
        .await
}

/// Replaces an existing entry; the key in the body must match the one in the path.
pub async fn replace<T: Item>(store: &Store, actor: Actor, key: String, item: T) -> Result<T> {
    if item.key() != key {
        return Err(Error::invalid(
            T::KEY_FIELD,
            format!("must match the {} in the path ('{key}')", T::KIND),
        ));
    }
    item.validate()?;
    store
        .write_changing(Topic::Catalog, move |conn| {
            if T::load(conn, &key)?.is_none() {
                return Err(not_found::<T>(&key));
            }
            T::check_editable(conn, &key)?;
            upsert(conn, &actor, &item)?;
            Ok(item)
        })
        .await
}

pub async fn delete<T: Item>(store: &Store, actor: Actor, key: String) -> Result<()> {
    store
        .write_changing(Topic::Catalog, move |conn| {
            if T::load(conn, &key)?.is_none() {
                return Err(not_found::<T>(&key));
            }
            T::check_removable(conn, &key)?;
            T::remove(conn, &key)?;
            audit::record(
                conn,
                &actor,
                Change {
                    action: &format!("catalog.{}.deleted", T::KIND),
                    object_type: T::KIND,
                    object_id: &key,
                    summary: format!("{} '{key}' deleted", T::KIND),
                },
            )?;
            Ok(())
        })
        .await
}

/// Saves `item` if it differs from what is stored, with its audit event; checks references first.
fn upsert<T: Item>(conn: &mut DbConnection, actor: &Actor, item: &T) -> Result<Outcome> {
    let errors = item.check_references(&Known::load(conn)?);
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    let existing = T::load(conn, item.key())?;
    let outcome = match &existing {
        None => Outcome::Created,
        Some(current) if current == item => return Ok(Outcome::Unchanged),
        Some(_) => Outcome::Updated,
    };
    item.save(conn, existing.is_some())?;
    let verb = if outcome == Outcome::Created {
        "created"
    } else {
        "updated"
    };
    audit::record(
        conn,
        actor,
        Change {
            action: &format!("catalog.{}.{verb}", T::KIND),
            object_type: T::KIND,
            object_id: item.key(),
            summary: format!("{} '{}' {verb}", T::KIND, item.key()),
        },
    )?;
    Ok(outcome)
}

fn not_found<T: Item>(key: &str) -> Error {
    Error::not_found(format!("{} '{key}'", T::KIND))
}

// --- the three kinds --------------------------------------------------------------------------

impl Item for Category {
    const KIND: &'static str = "category";
    const KEY_FIELD: &'static str = "code";

    fn key(&self) -> &str {
        &self.code
    }
    fn load(conn: &mut DbConnection, key: &str) -> Result<Option<Self>> {
        store::find_category(conn, key)?
            .map(rows::category_from_row)
            .transpose()
    }
    fn load_all(conn: &mut DbConnection) -> Result<Vec<Self>> {
        store::list_categories(conn)?
            .into_iter()
            .map(rows::category_from_row)
            .collect()
    }
    fn save(&self, conn: &mut DbConnection, exists: bool) -> Result<()> {
        let row = rows::category_row(self);
        if exists {
            store::update_category(conn, &row)?;
        } else {
            store::insert_category(conn, &row)?;
        }
        Ok(())
    }
    fn remove(conn: &mut DbConnection, key: &str) -> Result<()> {
        Ok(store::delete_category(conn, key)?)
    }
    fn check_references(&self, _known: &Known) -> Vec<FieldError> {
        Vec::new()
    }
    fn check_editable(_conn: &mut DbConnection, key: &str) -> Result<()> {
        refuse_builtin(key)
    }
    fn check_removable(conn: &mut DbConnection, key: &str) -> Result<()> {
        refuse_builtin(key)?;
        let (systems, activities) = store::category_users(conn, key)?;
        if systems.is_empty() && activities.is_empty() {
            return Ok(());
        }
        Err(Error::conflict(
            ConflictCode::Other,
            format!(
                "category '{key}' is still used by systems [{}] and activities [{}]",
                systems.join(", "),
                activities.join(", ")
            ),
        ))
    }
}

fn refuse_builtin(code: &str) -> Result<()> {
    if model::BUILTIN_CATEGORY_CODES.contains(&code) {
        Err(Error::conflict(ConflictCode::Other, format!(
            "category '{code}' is built in and cannot be changed or deleted; add your own category instead"
        )))
    } else {
        Ok(())
    }
}

impl Item for System {
    const KIND: &'static str = "system";
    const KEY_FIELD: &'static str = "key";

    fn key(&self) -> &str {
        &self.key
    }
    fn load(conn: &mut DbConnection, key: &str) -> Result<Option<Self>> {
        store::find_system(conn, key)?
            .map(rows::system_from_rows)
            .transpose()
    }
    fn load_all(conn: &mut DbConnection) -> Result<Vec<Self>> {
        let mut all = store::list_systems(conn)?
            .into_iter()
            .map(rows::system_from_rows)
            .collect::<Result<Vec<_>>>()?;
        all.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(all)
    }
    fn save(&self, conn: &mut DbConnection, exists: bool) -> Result<()> {
        let (row, holdings) = rows::system_rows(self);
        Ok(store::save_system(conn, &row, &holdings, exists)?)
    }
    fn remove(conn: &mut DbConnection, key: &str) -> Result<()> {
        Ok(store::delete_system(conn, key)?)
    }
    fn check_references(&self, known: &Known) -> Vec<FieldError> {
        model::check_system_references(self, &|code| known.categories.contains(code))
    }
    fn check_removable(conn: &mut DbConnection, key: &str) -> Result<()> {
        let activities = store::system_users(conn, key)?;
        if activities.is_empty() {
            Ok(())
        } else {
            Err(Error::conflict(
                ConflictCode::Other,
                format!(
                    "system '{key}' is still used by activities [{}]",
                    activities.join(", ")
                ),
            ))
        }
    }
}

impl Item for Activity {
    const KIND: &'static str = "activity";
    const KEY_FIELD: &'static str = "key";

    fn key(&self) -> &str {
        &self.key
    }
    fn load(conn: &mut DbConnection, key: &str) -> Result<Option<Self>> {
        store::find_activity(conn, key)?
            .map(rows::activity_from_rows)
            .transpose()
    }
    fn load_all(conn: &mut DbConnection) -> Result<Vec<Self>> {
        let mut all = store::list_activities(conn)?
            .into_iter()
            .map(rows::activity_from_rows)
            .collect::<Result<Vec<_>>>()?;
        all.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(all)
    }
    fn save(&self, conn: &mut DbConnection, exists: bool) -> Result<()> {
        Ok(store::save_activity(
            conn,
            &rows::activity_rows(self),
            exists,
        )?)
    }
    fn remove(conn: &mut DbConnection, key: &str) -> Result<()> {
        Ok(store::delete_activity(conn, key)?)
    }
    fn check_references(&self, known: &Known) -> Vec<FieldError> {
        model::check_activity_references(self, &|code| known.categories.contains(code), &|key| {
            known.systems.contains(key)
        })
    }
    fn check_removable(_conn: &mut DbConnection, _key: &str) -> Result<()> {
        Ok(())
    }
}

// --- organisation -----------------------------------------------------------------------------

pub async fn get_organisation(store: &Store) -> Result<Option<Organisation>> {
    store.read(organisation_in).await
}

/// The controller, read inside the caller's transaction.
pub fn organisation_in(conn: &mut DbConnection) -> Result<Option<Organisation>> {
    store::find_organisation(conn)?
        .map(rows::organisation_from_row)
        .transpose()
}

pub async fn put_organisation(
    store: &Store,
    actor: Actor,
    organisation: Organisation,
) -> Result<Organisation> {
    organisation.validate()?;
    store
        .write_changing(Topic::Catalog, move |conn| {
            save_organisation(conn, &actor, &organisation)?;
            Ok(organisation)
        })
        .await
}

fn save_organisation(
    conn: &mut DbConnection,
    actor: &Actor,
    organisation: &Organisation,
) -> Result<Outcome> {
    let current = organisation_in(conn)?;
    if current.as_ref() == Some(organisation) {
        return Ok(Outcome::Unchanged);
    }
    store::save_organisation(conn, &rows::organisation_row(organisation))?;
    audit::record(
        conn,
        actor,
        Change {
            action: "catalog.organisation.updated",
            object_type: "organisation",
            object_id: "1",
            summary: "controller and DPO details updated".into(),
        },
    )?;
    Ok(if current.is_some() {
        Outcome::Updated
    } else {
        Outcome::Created
    })
}

// --- catalog as code --------------------------------------------------------------------------

/// Counts per kind of what an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    pub categories: Counts,
    pub systems: Counts,
    pub activities: Counts,
    pub organisation: Option<String>,
    pub processing_for_others: Counts,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

impl Counts {
    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Created => self.created += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
        }
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, counts) in [
            ("categories", &self.categories),
            ("systems", &self.systems),
            ("activities", &self.activities),
            ("for others", &self.processing_for_others),
        ] {
            writeln!(
                f,
                "{name:<11} {} created, {} updated, {} unchanged",
                counts.created, counts.updated, counts.unchanged
            )?;
        }
        if let Some(outcome) = &self.organisation {
            writeln!(f, "organisation {outcome}")?;
        }
        Ok(())
    }
}

/// Upserts a whole document in one transaction: all of it lands, or none. Entries not in the
/// document are left alone; importing the same file twice changes nothing the second time.
pub async fn import(
    store: &Store,
    actor: Actor,
    document: CatalogDocument,
) -> Result<ImportReport> {
    document.validate()?;
    store
        .write_changing(Topic::Catalog, move |conn| {
            let mut report = ImportReport::default();
            if let Some(organisation) = &document.organisation {
                let outcome = save_organisation(conn, &actor, organisation)?;
                report.organisation = Some(format!("{outcome:?}").to_lowercase());
            }
            for category in &document.categories {
                report.categories.add(upsert(conn, &actor, category)?);
            }
            for system in &document.systems {
                report.systems.add(upsert(conn, &actor, system)?);
            }
            for activity in &document.activities {
                report.activities.add(upsert(conn, &actor, activity)?);
            }
            for entry in &document.processing_for_others {
                report
                    .processing_for_others
                    .add(upsert(conn, &actor, entry)?);
            }
            Ok(report)
        })
        .await
}

/// The whole catalog in the format [`import`] reads; built-in categories are left out.
pub async fn export(store: &Store) -> Result<CatalogDocument> {
    store
        .read(|conn| {
            Ok(CatalogDocument {
                organisation: organisation_in(conn)?,
                categories: Category::load_all(conn)?
                    .into_iter()
                    .filter(|c| !model::BUILTIN_CATEGORY_CODES.contains(&c.code.as_str()))
                    .collect(),
                systems: System::load_all(conn)?,
                activities: Activity::load_all(conn)?,
                processing_for_others: ProcessingForOthers::load_all(conn)?,
            })
        })
        .await
}

/// The Art. 30 register with its gap warnings.
pub async fn register(store: &Store) -> Result<ropa::Register> {
    store
        .read(|conn| {
            let organisation = organisation_in(conn)?;
            let categories = Category::load_all(conn)?
                .into_iter()
                .map(|c| (c.code.clone(), c))
                .collect();
            let systems = System::load_all(conn)?;
            let activities = Activity::load_all(conn)?;
            Ok(ropa::build_register(
                organisation,
                &activities,
                &categories,
                &systems,
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            )
            .with_processing_for_others(ProcessingForOthers::load_all(conn)?))
        })
        .await
}
