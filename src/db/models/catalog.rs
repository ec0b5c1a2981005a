//! The catalog's rows: data categories, systems with their holdings, processing activities with
//! their categories and systems, and the organisation record.
//!
//! A system or activity is saved whole: its child rows are replaced in the same transaction, so
//! a reader never sees half an update.

use crate::db::schema::{
    activity_categories, activity_systems, catalog_stamp, data_categories, organisation,
    processing_activities, system_holdings, systems,
};
use crate::db::{DbConnection, StoreError};
use diesel::prelude::*;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = data_categories, treat_none_as_default_value = false)]
pub struct CategoryRow {
    pub code: String,
    pub name_nl: String,
    pub name_en: String,
    pub description: Option<String>,
    pub sensitivity: String,
    pub builtin: bool,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = systems, treat_none_as_default_value = false)]
pub struct SystemRow {
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub owner: String,
    pub hosting: Option<String>,
    pub processor: Option<String>,
    pub identifier_kinds: String,
    pub connector: String,
    /// The SQL connector's table mapping as JSON, for `connector: sql` systems.
    pub sql_mapping: Option<String>,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
    pub hosting_country: Option<String>,
    /// The HTTP connector's definition as JSON, for `connector: http` systems (issue #22).
    pub http_definition: Option<String>,
    /// Where tasks on the system are sent to its owner (issue #22).
    pub owner_email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = system_holdings, treat_none_as_default_value = false)]
pub struct HoldingRow {
    pub system_key: String,
    pub position: i32,
    pub category_code: String,
    pub location: String,
    pub origin: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = processing_activities, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct ActivityRow {
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub purposes: String,
    pub legal_basis: Option<String>,
    pub legal_basis_detail: Option<String>,
    pub special_category_ground: Option<String>,
    pub criminal_data_basis: Option<String>,
    pub data_subjects: String,
    pub recipients: String,
    pub security_measures: String,
    pub source: Option<String>,
    pub automated_decision_logic: Option<String>,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
    pub bsn_law: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = activity_categories, treat_none_as_default_value = false)]
pub struct ActivityCategoryRow {
    pub activity_key: String,
    pub position: i32,
    pub category_code: String,
    pub retention: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = activity_systems, treat_none_as_default_value = false)]
pub struct ActivitySystemRow {
    pub activity_key: String,
    pub position: i32,
    pub system_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = organisation, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct OrganisationRow {
    pub id: i32,
    pub name: String,
    pub address: Option<String>,
    pub contact_email: String,
    pub dpo_name: Option<String>,
    pub dpo_email: Option<String>,
    pub updated_at: chrono::NaiveDateTime,
    pub kind: String,
    pub decision_body: Option<String>,
    /// JSON list of the joint controllers' names.
    pub joint_controllers: String,
    pub eu_representative: Option<String>,
}

// --- categories -------------------------------------------------------------------------------

pub fn list_categories(conn: &mut DbConnection) -> Result<Vec<CategoryRow>, StoreError> {
    Ok(data_categories::table
        .order(data_categories::code.asc())
        .select(CategoryRow::as_select())
        .load(conn)?)
}

pub fn find_category(
    conn: &mut DbConnection,
    code: &str,
) -> Result<Option<CategoryRow>, StoreError> {
    Ok(data_categories::table
        .find(code)
        .select(CategoryRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn insert_category(conn: &mut DbConnection, row: &CategoryRow) -> Result<(), StoreError> {
    diesel::insert_into(data_categories::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

pub fn update_category(conn: &mut DbConnection, row: &CategoryRow) -> Result<(), StoreError> {
    diesel::update(data_categories::table.find(&row.code))
        .set((
            data_categories::name_nl.eq(&row.name_nl),
            data_categories::name_en.eq(&row.name_en),
            data_categories::description.eq(&row.description),
            data_categories::sensitivity.eq(&row.sensitivity),
            data_categories::updated_at.eq(row.updated_at),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn delete_category(conn: &mut DbConnection, code: &str) -> Result<(), StoreError> {
    diesel::delete(data_categories::table.find(code)).execute(conn)?;
    Ok(())
}

/// The systems and activities that refer to a category, so a delete can say what blocks it.
pub fn category_users(
    conn: &mut DbConnection,
    code: &str,
) -> Result<(Vec<String>, Vec<String>), StoreError> {
    let systems = system_holdings::table
        .filter(system_holdings::category_code.eq(code))
        .select(system_holdings::system_key)
        .distinct()
        .load(conn)?;
    let activities = activity_categories::table
        .filter(activity_categories::category_code.eq(code))
        .select(activity_categories::activity_key)
        .distinct()
        .load(conn)?;
    Ok((systems, activities))
}

// --- systems ----------------------------------------------------------------------------------

pub fn list_systems(
    conn: &mut DbConnection,
) -> Result<Vec<(SystemRow, Vec<HoldingRow>)>, StoreError> {
    let rows: Vec<SystemRow> = systems::table
        .order(systems::key.asc())
        .select(SystemRow::as_select())
        .load(conn)?;
    let holdings: Vec<HoldingRow> = system_holdings::table
        .order((
            system_holdings::system_key.asc(),
            system_holdings::position.asc(),
        ))
        .select(HoldingRow::as_select())
        .load(conn)?;
    Ok(group_children(
        rows,
        holdings,
        |s| &s.key,
        |h| &h.system_key,
    ))
}

pub fn find_system(
    conn: &mut DbConnection,
    key: &str,
) -> Result<Option<(SystemRow, Vec<HoldingRow>)>, StoreError> {
    let Some(row) = systems::table
        .find(key)
        .select(SystemRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let holdings = system_holdings::table
        .filter(system_holdings::system_key.eq(key))
        .order(system_holdings::position.asc())
        .select(HoldingRow::as_select())
        .load(conn)?;
    Ok(Some((row, holdings)))
}

/// Inserts or replaces a system and its holdings.
pub fn save_system(
    conn: &mut DbConnection,
    row: &SystemRow,
    holdings: &[HoldingRow],
    exists: bool,
) -> Result<(), StoreError> {
    if exists {
        diesel::update(systems::table.find(&row.key))
            .set((
                systems::name.eq(&row.name),
                systems::description.eq(&row.description),
                systems::owner.eq(&row.owner),
                systems::hosting.eq(&row.hosting),
                systems::processor.eq(&row.processor),
                systems::identifier_kinds.eq(&row.identifier_kinds),
                systems::connector.eq(&row.connector),
                systems::sql_mapping.eq(&row.sql_mapping),
                systems::hosting_country.eq(&row.hosting_country),
                systems::http_definition.eq(&row.http_definition),
                systems::owner_email.eq(&row.owner_email),
                systems::updated_at.eq(row.updated_at),
            ))
            .execute(conn)?;
        diesel::delete(system_holdings::table.filter(system_holdings::system_key.eq(&row.key)))
            .execute(conn)?;
    } else {
        diesel::insert_into(systems::table)
            .values(row)
            .execute(conn)?;
    }
    for holding in holdings {
        diesel::insert_into(system_holdings::table)
            .values(holding)
            .execute(conn)?;
    }
    Ok(())
}

pub fn delete_system(conn: &mut DbConnection, key: &str) -> Result<(), StoreError> {
    diesel::delete(systems::table.find(key)).execute(conn)?;
    Ok(())
}

/// Activities that run on a system.
pub fn system_users(conn: &mut DbConnection, key: &str) -> Result<Vec<String>, StoreError> {
    Ok(activity_systems::table
        .filter(activity_systems::system_key.eq(key))
        .select(activity_systems::activity_key)
        .distinct()
        .load(conn)?)
}

// --- processing activities --------------------------------------------------------------------

pub type ActivityRows = (
    ActivityRow,
    Vec<ActivityCategoryRow>,
    Vec<ActivitySystemRow>,
);

pub fn list_activities(conn: &mut DbConnection) -> Result<Vec<ActivityRows>, StoreError> {
    let rows: Vec<ActivityRow> = processing_activities::table
        .order(processing_activities::key.asc())
        .select(ActivityRow::as_select())
        .load(conn)?;
    let categories: Vec<ActivityCategoryRow> = activity_categories::table
        .order((
            activity_categories::activity_key.asc(),
            activity_categories::position.asc(),
        ))
        .select(ActivityCategoryRow::as_select())
        .load(conn)?;
    let systems: Vec<ActivitySystemRow> = activity_systems::table
        .order((
            activity_systems::activity_key.asc(),
            activity_systems::position.asc(),
        ))
        .select(ActivitySystemRow::as_select())
        .load(conn)?;
    let with_categories = group_children(rows, categories, |a| &a.key, |c| &c.activity_key);
    let keys: Vec<ActivityRow> = with_categories.iter().map(|(a, _)| a.clone()).collect();
    let with_systems = group_children(keys, systems, |a| &a.key, |s| &s.activity_key);
    Ok(with_categories
        .into_iter()
        .zip(with_systems)
        .map(|((activity, categories), (_, systems))| (activity, categories, systems))
        .collect())
}

pub fn find_activity(
    conn: &mut DbConnection,
    key: &str,
) -> Result<Option<ActivityRows>, StoreError> {
    let Some(row) = processing_activities::table
        .find(key)
        .select(ActivityRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let categories = activity_categories::table
        .filter(activity_categories::activity_key.eq(key))
        .order(activity_categories::position.asc())
        .select(ActivityCategoryRow::as_select())
        .load(conn)?;
    let systems = activity_systems::table
        .filter(activity_systems::activity_key.eq(key))
        .order(activity_systems::position.asc())
        .select(ActivitySystemRow::as_select())
        .load(conn)?;
    Ok(Some((row, categories, systems)))
}

/// Inserts or replaces an activity with its categories and systems.
pub fn save_activity(
    conn: &mut DbConnection,
    (row, categories, systems): &ActivityRows,
    exists: bool,
) -> Result<(), StoreError> {
    if exists {
        // Keep the original creation time; everything else is replaced.
        let created_at = processing_activities::table
            .find(&row.key)
            .select(processing_activities::created_at)
            .first(conn)?;
        diesel::update(processing_activities::table.find(&row.key))
            .set(&ActivityRow {
                created_at,
                ..row.clone()
            })
            .execute(conn)?;
        diesel::delete(
            activity_categories::table.filter(activity_categories::activity_key.eq(&row.key)),
        )
        .execute(conn)?;
        diesel::delete(activity_systems::table.filter(activity_systems::activity_key.eq(&row.key)))
            .execute(conn)?;
    } else {
        diesel::insert_into(processing_activities::table)
            .values(row)
            .execute(conn)?;
    }
    for category in categories {
        diesel::insert_into(activity_categories::table)
            .values(category)
            .execute(conn)?;
    }
    for system in systems {
        diesel::insert_into(activity_systems::table)
            .values(system)
            .execute(conn)?;
    }
    Ok(())
}

pub fn delete_activity(conn: &mut DbConnection, key: &str) -> Result<(), StoreError> {
    diesel::delete(processing_activities::table.find(key)).execute(conn)?;
    Ok(())
}

// --- organisation -----------------------------------------------------------------------------

/// The catalog's stamp: it changes (triggers set a new random value) whenever any catalog
/// table does, so a copy of the catalog loaded under the same stamp is still the catalog.
pub fn stamp(conn: &mut DbConnection) -> Result<i64, StoreError> {
    Ok(catalog_stamp::table
        .find(1)
        .select(catalog_stamp::stamp)
        .first(conn)?)
}

pub fn find_organisation(conn: &mut DbConnection) -> Result<Option<OrganisationRow>, StoreError> {
    Ok(organisation::table
        .find(1)
        .select(OrganisationRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn save_organisation(conn: &mut DbConnection, row: &OrganisationRow) -> Result<(), StoreError> {
    let updated = diesel::update(organisation::table.find(1))
        .set(row)
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(organisation::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

/// Pairs each parent with its children: one query per table instead of one per parent. Grouped
/// by key rather than merged in sort order, because PostgreSQL may sort text by a locale collation
/// that differs from Rust's byte order.
fn group_children<P, C>(
    parents: Vec<P>,
    children: Vec<C>,
    parent_key: impl Fn(&P) -> &String,
    child_key: impl Fn(&C) -> &String,
) -> Vec<(P, Vec<C>)> {
    let mut by_parent: std::collections::HashMap<String, Vec<C>> = std::collections::HashMap::new();
    for child in children {
        by_parent
            .entry(child_key(&child).clone())
            .or_default()
            .push(child);
    }
    parents
        .into_iter()
        .map(|parent| {
            let mine = by_parent.remove(parent_key(&parent)).unwrap_or_default();
            (parent, mine)
        })
        .collect()
}
