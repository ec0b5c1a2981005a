//! What of each system goes into a package.
//!
//! An access package (Art. 15) holds every mapped column of the person's rows. A portability
//! package (Art. 20) holds only data the person provided or that was observed from their use of
//! a service, and only where an activity using it on that system rests on consent or a contract:
//! a column is in when a catalog holding of such a category names it (`table.column`) or its
//! whole table (`table`) with origin `provided` or `observed`. The row key always stays, so the
//! rows of related tables can be put together again.
//!
//! What an agent withholds (Art. 15(4)) is then taken out: a whole table, a column, or one row's
//! column; the value is replaced by a marker and the package says why.

use crate::catalog::model::{Activity, LegalBasis, Origin, SqlTable, System};
use crate::catalog::text::Text;
use crate::vocabulary::{Language, RequestKind};
use std::collections::{BTreeMap, BTreeSet};

/// What is withheld from one table, by column (`None`: the whole table) and row key (`None`:
/// every row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withheld {
    pub column: Option<String>,
    pub row_key: Option<String>,
}

/// One table of a system as the package gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablePlan {
    pub name: String,
    pub key: String,
    /// The columns given, in order; the key first.
    pub columns: Vec<String>,
    pub withheld: Vec<Withheld>,
    /// What the table and its columns hold, for people (the catalog mapping's `label` and
    /// `labels`): the package summary shows these, never the database's own names.
    pub label: Option<Text>,
    pub labels: BTreeMap<String, Text>,
}

impl TablePlan {
    /// The whole table is withheld: no rows are given.
    pub fn fully_withheld(&self) -> bool {
        self.withheld.iter().any(|w| w.column.is_none())
    }

    /// Whether `column` of the row with this key is withheld.
    pub fn withholds(&self, column: &str, row_key: &str) -> bool {
        self.withheld.iter().any(|w| {
            w.column.as_deref() == Some(column)
                && w.row_key.as_deref().is_none_or(|key| key == row_key)
        })
    }

    /// What the table holds, for people: its label, or its name made readable.
    pub fn title(&self, language: Language) -> String {
        readable(self.label.as_ref(), &self.name, language)
    }

    /// What `column` holds, for people: its label, or its name made readable.
    pub fn column_title(&self, column: &str, language: Language) -> String {
        readable(self.labels.get(column), column, language)
    }
}

/// A label in `language`, or, where the mapping gives none, the name with its underscores as
/// spaces and a capital (`postal_address` -> "Postal address").
fn readable(label: Option<&Text>, name: &str, language: Language) -> String {
    if let Some(label) = label {
        return label.get(language).to_string();
    }
    let spaced = name.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => spaced,
    }
}

/// The tables of `system` a package of `kind` gives, with their columns; tables with nothing to
/// give are left out.
pub fn tables_of(system: &System, activities: &[Activity], kind: RequestKind) -> Vec<TablePlan> {
    let Some(mapping) = &system.sql else {
        return Vec::new();
    };
    let portable =
        (kind == RequestKind::Portability).then(|| portable_locations(system, activities));
    mapping
        .tables
        .iter()
        .filter_map(|table| {
            let columns: Vec<String> = table
                .exported_columns()
                .into_iter()
                .filter(|column| {
                    *column == table.key
                        || portable
                            .as_ref()
                            .is_none_or(|places| covers(places, table, column))
                })
                .map(str::to_string)
                .collect();
            // Only the key left: nothing of the person's own to give.
            (columns.len() > 1).then(|| TablePlan {
                name: table.name.clone(),
                key: table.key.clone(),
                columns,
                withheld: Vec::new(),
                label: table.label.clone(),
                labels: table.labels.clone(),
            })
        })
        .collect()
}

/// The record sets an HTTP system's export gives, as tables (issue #22). A portability package
/// gives them whole too: a service's records are not mapped to catalog holdings field by field.
pub fn http_tables_of(system: &System) -> Vec<TablePlan> {
    let Some(definition) = &system.http else {
        return Vec::new();
    };
    crate::connectors::http::HttpConnector::export_tables(definition)
        .into_iter()
        .map(|(name, key, columns)| TablePlan {
            name,
            key,
            columns,
            withheld: Vec::new(),
            label: None,
            labels: BTreeMap::new(),
        })
        .collect()
}

/// `(table, column)` places of provided or observed data under consent or contract; a `None`
/// column is the whole table.
fn portable_locations(
    system: &System,
    activities: &[Activity],
) -> BTreeSet<(String, Option<String>)> {
    let categories: BTreeSet<&str> = activities
        .iter()
        .filter(|a| a.systems.iter().any(|s| s == &system.key))
        .filter(|a| {
            matches!(
                a.legal_basis,
                Some(LegalBasis::Consent) | Some(LegalBasis::Contract)
            )
        })
        .flat_map(|a| a.categories.iter().map(|c| c.category.as_str()))
        .collect();
    system
        .holdings
        .iter()
        .filter(|h| matches!(h.origin, Origin::Provided | Origin::Observed))
        .filter(|h| categories.contains(h.category.as_str()))
        .flat_map(|h| places(&h.location))
        .collect()
}

fn covers(places: &BTreeSet<(String, Option<String>)>, table: &SqlTable, column: &str) -> bool {
    places.contains(&(table.name.clone(), None))
        || places.contains(&(table.name.clone(), Some(column.to_string())))
}

/// The `table` and `table.column` names in a holding's location (`customers.name,
/// customers.email`, `invoices, payments`, `campaign_events (opens, clicks)`); free text such as
/// `call recording (audio file)` names none.
pub fn places(location: &str) -> Vec<(String, Option<String>)> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in location.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => parts.push(std::mem::take(&mut current)),
            _ if depth == 0 => current.push(c),
            _ => {}
        }
    }
    parts.push(current);
    parts
        .iter()
        .filter_map(|part| {
            let part = part.trim();
            let name = part.split_whitespace().next()?;
            // More words than a name: a description, not a place.
            if part.split_whitespace().count() > 1 {
                return None;
            }
            let (table, column) = match name.split_once('.') {
                Some((table, column)) => (table, Some(column)),
                None => (name, None),
            };
            let is_name = |s: &str| crate::catalog::model::is_sql_identifier(s);
            (is_name(table) && column.is_none_or(is_name))
                .then(|| (table.to_string(), column.map(str::to_string)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_name_tables_and_columns_and_skip_descriptions() {
        assert_eq!(
            places("customers.name, customers.email"),
            vec![
                ("customers".into(), Some("name".into())),
                ("customers".into(), Some("email".into()))
            ]
        );
        assert_eq!(
            places("invoices, payments"),
            vec![("invoices".into(), None), ("payments".into(), None)]
        );
        assert_eq!(
            places("campaign_events (opens, clicks)"),
            vec![("campaign_events".into(), None)]
        );
        assert!(places("call recording (audio file)").is_empty());
        assert!(
            places("sessions.city (derived from the truncated IP address)")
                .contains(&("sessions".into(), Some("city".into())))
        );
    }

    #[test]
    fn a_column_withheld_in_one_row_stays_in_the_others() {
        let plan = TablePlan {
            name: "interactions".into(),
            key: "id".into(),
            columns: vec!["id".into(), "summary".into()],
            withheld: vec![Withheld {
                column: Some("summary".into()),
                row_key: Some("7".into()),
            }],
            label: None,
            labels: BTreeMap::from([("summary".into(), Text::from("Samenvatting"))]),
        };
        assert!(plan.withholds("summary", "7"));
        assert!(!plan.withholds("summary", "8"));
        assert!(!plan.withholds("id", "7"));
        assert!(!plan.fully_withheld());
        assert_eq!(plan.column_title("summary", Language::En), "Samenvatting");
        assert_eq!(plan.title(Language::Nl), "Interactions");
    }
}
