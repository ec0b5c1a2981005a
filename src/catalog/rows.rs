//! Conversion between the catalog's domain types and its database rows. Closed vocabularies are
//! stored as their snake_case names and lists as JSON text, both through serde, so the stored
//! form is exactly the API's.

use super::model::{Activity, ActivityCategory, Category, Holding, Organisation, System};
use super::text::Text;
use crate::db::models::catalog::{
    ActivityCategoryRow, ActivityRow, ActivityRows, ActivitySystemRow, CategoryRow, HoldingRow,
    OrganisationRow, SystemRow,
};
use crate::db::StoreError;
use crate::error::Result;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A value as stored: an enum's name or a list as JSON.
fn encode<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

fn decode<T: DeserializeOwned>(column: &str, text: &str) -> Result<T> {
    let parsed = serde_json::from_str(text)
        .or_else(|_| serde_json::from_value(serde_json::Value::String(text.to_string())));
    parsed.map_err(|e| StoreError::Corrupt(format!("{column}: {e}")).into())
}

fn decode_opt<T: DeserializeOwned>(column: &str, text: Option<String>) -> Result<Option<T>> {
    text.map(|t| decode(column, &t)).transpose()
}

/// A catalog text in a text column: a plain text as written, so the column reads as before for
/// every other reader; a text per language as its JSON object.
fn text_column(text: Option<&Text>) -> Option<String> {
    text.map(column_of)
}

/// One text as its column holds it: a plain string as it is, a text per language as JSON.
fn column_of(text: &Text) -> String {
    match text {
        Text::Plain(text) => text.clone(),
        Text::Translated { .. } => encode(text),
    }
}

/// The reverse of [`text_column`]: only a JSON object of languages is a text per language.
fn text_from_column(column: Option<String>) -> Option<Text> {
    column.map(text_of)
}

/// The reverse of [`column_of`].
fn text_of(column: String) -> Text {
    let translated = column
        .starts_with('{')
        .then(|| serde_json::from_str::<Text>(&column).ok())
        .flatten();
    translated.unwrap_or(Text::Plain(column))
}

fn position(index: usize) -> i32 {
    i32::try_from(index).unwrap_or(i32::MAX)
}

pub fn category_from_row(row: CategoryRow) -> Result<Category> {
    Ok(Category {
        sensitivity: decode("data_categories.sensitivity", &row.sensitivity)?,
        code: row.code,
        name_nl: row.name_nl,
        name_en: row.name_en,
        description: row.description,
    })
}

pub fn category_row(category: &Category) -> CategoryRow {
    let now = crate::db::now();
    CategoryRow {
        code: category.code.clone(),
        name_nl: category.name_nl.clone(),
        name_en: category.name_en.clone(),
        description: category.description.clone(),
        sensitivity: encode(&category.sensitivity),
        builtin: false,
        created_at: now,
        updated_at: now,
    }
}

pub fn system_from_rows((row, holdings): (SystemRow, Vec<HoldingRow>)) -> Result<System> {
    Ok(System {
        identifier_kinds: decode("systems.identifier_kinds", &row.identifier_kinds)?,
        connector: decode("systems.connector", &row.connector)?,
        sql: decode_opt("systems.sql_mapping", row.sql_mapping)?,
        hosting_country: row.hosting_country,
        http: decode_opt("systems.http_definition", row.http_definition)?,
        holdings: holdings
            .into_iter()
            .map(|h| {
                Ok(Holding {
                    origin: decode("system_holdings.origin", &h.origin)?,
                    category: h.category_code,
                    location: h.location,
                })
            })
            .collect::<Result<_>>()?,
        key: row.key,
        name: text_of(row.name),
        description: text_from_column(row.description),
        owner: row.owner,
        owner_email: row.owner_email,
        hosting: row.hosting,
        processor: row.processor,
    })
}

pub fn system_rows(system: &System) -> (SystemRow, Vec<HoldingRow>) {
    let now = crate::db::now();
    let row = SystemRow {
        key: system.key.clone(),
        name: column_of(&system.name),
        description: text_column(system.description.as_ref()),
        owner: system.owner.clone(),
        hosting: system.hosting.clone(),
        processor: system.processor.clone(),
        identifier_kinds: encode(&system.identifier_kinds),
        connector: encode(&system.connector),
        sql_mapping: system.sql.as_ref().map(encode),
        hosting_country: system.hosting_country.clone(),
        http_definition: system.http.as_ref().map(encode),
        owner_email: system.owner_email.clone(),
        created_at: now,
        updated_at: now,
    };
    let holdings = system
        .holdings
        .iter()
        .enumerate()
        .map(|(index, h)| HoldingRow {
            system_key: system.key.clone(),
            position: position(index),
            category_code: h.category.clone(),
            location: h.location.clone(),
            origin: encode(&h.origin),
        })
        .collect();
    (row, holdings)
}

pub fn activity_from_rows((row, categories, systems): ActivityRows) -> Result<Activity> {
    Ok(Activity {
        purposes: decode("processing_activities.purposes", &row.purposes)?,
        legal_basis: decode_opt("processing_activities.legal_basis", row.legal_basis)?,
        special_category_ground: decode_opt(
            "processing_activities.special_category_ground",
            row.special_category_ground,
        )?,
        data_subjects: decode("processing_activities.data_subjects", &row.data_subjects)?,
        recipients: decode("processing_activities.recipients", &row.recipients)?,
        security_measures: decode(
            "processing_activities.security_measures",
            &row.security_measures,
        )?,
        categories: categories
            .into_iter()
            .map(|c| ActivityCategory {
                category: c.category_code,
                retention: text_from_column(c.retention),
            })
            .collect(),
        systems: systems.into_iter().map(|s| s.system_key).collect(),
        key: row.key,
        name: text_of(row.name),
        description: text_from_column(row.description),
        legal_basis_detail: row.legal_basis_detail,
        criminal_data_basis: row.criminal_data_basis,
        source: text_from_column(row.source),
        automated_decision_logic: text_from_column(row.automated_decision_logic),
        bsn_law: row.bsn_law,
    })
}

pub fn activity_rows(activity: &Activity) -> ActivityRows {
    let now = crate::db::now();
    let row = ActivityRow {
        key: activity.key.clone(),
        name: column_of(&activity.name),
        description: text_column(activity.description.as_ref()),
        purposes: encode(&activity.purposes),
        legal_basis: activity.legal_basis.as_ref().map(encode),
        legal_basis_detail: activity.legal_basis_detail.clone(),
        special_category_ground: activity.special_category_ground.as_ref().map(encode),
        criminal_data_basis: activity.criminal_data_basis.clone(),
        data_subjects: encode(&activity.data_subjects),
        recipients: encode(&activity.recipients),
        security_measures: encode(&activity.security_measures),
        source: text_column(activity.source.as_ref()),
        automated_decision_logic: text_column(activity.automated_decision_logic.as_ref()),
        created_at: now,
        updated_at: now,
        bsn_law: activity.bsn_law.clone(),
    };
    let categories = activity
        .categories
        .iter()
        .enumerate()
        .map(|(index, c)| ActivityCategoryRow {
            activity_key: activity.key.clone(),
            position: position(index),
            category_code: c.category.clone(),
            retention: text_column(c.retention.as_ref()),
        })
        .collect();
    let systems = activity
        .systems
        .iter()
        .enumerate()
        .map(|(index, key)| ActivitySystemRow {
            activity_key: activity.key.clone(),
            position: position(index),
            system_key: key.clone(),
        })
        .collect();
    (row, categories, systems)
}

pub fn organisation_from_row(row: OrganisationRow) -> Result<Organisation> {
    Ok(Organisation {
        kind: decode("organisation.kind", &row.kind)?,
        joint_controllers: decode("organisation.joint_controllers", &row.joint_controllers)?,
        name: row.name,
        decision_body: row.decision_body,
        address: row.address,
        contact_email: row.contact_email,
        dpo_name: row.dpo_name,
        dpo_email: row.dpo_email,
        eu_representative: row.eu_representative,
    })
}

pub fn organisation_row(organisation: &Organisation) -> OrganisationRow {
    OrganisationRow {
        id: 1,
        name: organisation.name.clone(),
        address: organisation.address.clone(),
        contact_email: organisation.contact_email.clone(),
        dpo_name: organisation.dpo_name.clone(),
        dpo_email: organisation.dpo_email.clone(),
        updated_at: crate::db::now(),
        kind: encode(&organisation.kind),
        decision_body: organisation.decision_body.clone(),
        joint_controllers: encode(&organisation.joint_controllers),
        eu_representative: organisation.eu_representative.clone(),
    }
}
