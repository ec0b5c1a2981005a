//! Checking retention rules against the catalog: a rule about a system, activity or category the
//! catalog does not have would silently keep or sweep nothing, so each reference must resolve.

use super::{OnExpiry, PolicyProblem, RetentionRule};
use crate::catalog::model::{is_builtin_category, Activity, ConnectorKind, System};
use crate::catalog::CatalogSnapshot;

impl RetentionRule {
    /// The category codes the rule covers in its system, in the order the system holds them:
    /// the listed categories, or else those of the activity, or else all the system holds; never
    /// a category the system does not hold. Empty when the system is not in `catalog`.
    pub fn categories_in(&self, catalog: &CatalogSnapshot) -> Vec<String> {
        let Some(system) = find_system(catalog, &self.system) else {
            return Vec::new();
        };
        let activity = self
            .activity
            .as_deref()
            .and_then(|key| find_activity(catalog, key));
        let covers = |code: &str| {
            if !self.categories.is_empty() {
                self.categories.iter().any(|c| c == code)
            } else if let Some(activity) = activity {
                activity.categories.iter().any(|c| c.category == code)
            } else {
                true
            }
        };
        let mut codes: Vec<String> = Vec::new();
        for holding in &system.holdings {
            if covers(&holding.category) && !codes.contains(&holding.category) {
                codes.push(holding.category.clone());
            }
        }
        codes
    }
}

pub(super) fn check_rules(
    rules: &[RetentionRule],
    catalog: &CatalogSnapshot,
) -> Vec<PolicyProblem> {
    rules
        .iter()
        .flat_map(|rule| check_rule(rule, catalog))
        .collect()
}

fn check_rule(rule: &RetentionRule, catalog: &CatalogSnapshot) -> Vec<PolicyProblem> {
    let source = &rule.source;
    let mut problems = Vec::new();
    let system = find_system(catalog, &rule.system);
    if system.is_none() {
        let known = keys(catalog.systems.iter().map(|s| s.key.as_str()));
        problems.push(source.problem(
            "system",
            format!(
                "unknown system '{}' (the catalog has: {known})",
                rule.system
            ),
        ));
    }
    if let Some(system) = system {
        for (field, message) in table_problems(rule, system) {
            problems.push(source.problem(&field, message));
        }
    }
    let activity = rule.activity.as_deref().and_then(|key| {
        let found = find_activity(catalog, key);
        match found {
            None => {
                let known = keys(catalog.activities.iter().map(|a| a.key.as_str()));
                problems.push(source.problem(
                    "activity",
                    format!("unknown activity '{key}' (the catalog has: {known})"),
                ));
            }
            Some(activity) if system.is_some() && !activity.systems.contains(&rule.system) => {
                problems.push(source.problem(
                    "activity",
                    format!(
                        "activity '{key}' does not use system '{}' (it uses: {})",
                        rule.system,
                        keys(activity.systems.iter().map(String::as_str))
                    ),
                ));
            }
            Some(_) => {}
        }
        found
    });
    for (index, code) in rule.categories.iter().enumerate() {
        let field = format!("categories[{index}]");
        if let Some(message) = category_problem(catalog, code, system, activity) {
            problems.push(source.problem(&field, message));
        }
    }
    if problems.is_empty() && rule.categories_in(catalog).is_empty() {
        problems.push(source.problem(
            "",
            format!(
                "covers no data: system '{}' holds none of the activity's categories",
                rule.system
            ),
        ));
    }
    problems
}

/// Why the rule cannot sweep its table of `system`, by field: the table must be in the system's
/// SQL mapping, the column it counts from must be mapped, the anonymised columns must be its
/// personal-data columns, and a restriction needs its restricted column. Whether the database
/// really has them, with room for what the rule writes, `loket connectors check` asks the
/// database itself ([`crate::retention::fit`]).
fn table_problems(rule: &RetentionRule, system: &System) -> Vec<(String, String)> {
    let Some(table) = &rule.table else {
        return Vec::new();
    };
    let problem = |field: &str, message: String| vec![(field.to_string(), message)];
    if system.connector == ConnectorKind::Manual {
        return problem(
            "table",
            format!(
                "system '{}' has no SQL connector (connector: manual), so loket cannot sweep its \
                 tables; leave out table, counted_from and on_expiry and a review task is created",
                system.key
            ),
        );
    }
    let Some(mapping) = &system.sql else {
        return problem(
            "table",
            format!(
                "system '{}' has no `sql:` mapping in the catalog to say where its tables are",
                system.key
            ),
        );
    };
    let Some(mapped) = mapping.table(table) else {
        return problem(
            "table",
            format!(
                "table '{table}' is not in the SQL mapping of system '{}' (it maps: {})",
                system.key,
                keys(mapping.tables.iter().map(|t| t.name.as_str()))
            ),
        );
    };
    let mut problems = Vec::new();
    if let Some(column) = &rule.counted_from {
        if !mapped.named_columns().contains(&column.as_str()) {
            problems.push((
                "counted_from".to_string(),
                format!(
                    "'{column}' is not a column of {table} in the SQL mapping of system '{}' (it maps: {}); \
                     add it to the table's columns",
                    system.key,
                    keys(mapped.named_columns().into_iter())
                ),
            ));
        }
    }
    for column in rule.anonymise.keys() {
        if !mapped.columns.contains(column) {
            problems.push((
                format!("anonymise.{column}"),
                format!(
                    "'{column}' is not a personal-data column of {table} in the SQL mapping (it lists: {})",
                    keys(mapped.columns.iter().map(String::as_str))
                ),
            ));
        }
    }
    if rule.on_expiry == OnExpiry::Restrict && mapped.restricted_column.is_none() {
        problems.extend(problem(
            "on_expiry",
            format!("restrict needs a restricted_column for {table} in the SQL mapping"),
        ));
    }
    problems
}

/// Why `code` cannot be in the rule, if it cannot.
fn category_problem(
    catalog: &CatalogSnapshot,
    code: &str,
    system: Option<&System>,
    activity: Option<&Activity>,
) -> Option<String> {
    let known = is_builtin_category(code) || catalog.categories.iter().any(|c| c.code == code);
    if !known {
        return Some(format!("unknown data category '{code}'"));
    }
    if let Some(system) = system {
        if !system.holdings.iter().any(|h| h.category == code) {
            return Some(format!(
                "system '{}' holds no '{code}' data (it holds: {})",
                system.key,
                keys(system.holdings.iter().map(|h| h.category.as_str()))
            ));
        }
    }
    if let Some(activity) = activity {
        if !activity.categories.iter().any(|c| c.category == code) {
            return Some(format!(
                "activity '{}' does not use '{code}' data",
                activity.key
            ));
        }
    }
    None
}

fn find_system<'a>(catalog: &'a CatalogSnapshot, key: &str) -> Option<&'a System> {
    catalog.systems.iter().find(|system| system.key == key)
}

fn find_activity<'a>(catalog: &'a CatalogSnapshot, key: &str) -> Option<&'a Activity> {
    catalog
        .activities
        .iter()
        .find(|activity| activity.key == key)
}

/// Distinct keys for a message, in their order; "none" when there are none.
fn keys<'a>(keys: impl Iterator<Item = &'a str>) -> String {
    let mut distinct: Vec<&str> = Vec::new();
    for key in keys {
        if !distinct.contains(&key) {
            distinct.push(key);
        }
    }
    if distinct.is_empty() {
        "none".into()
    } else {
        distinct.join(", ")
    }
}
