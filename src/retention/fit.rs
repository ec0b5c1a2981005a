//! Whether the retention rules fit the organisation's live databases: every column a rule counts
//! from, anonymises or restricts must exist, and what it writes must fit the column. A rule that
//! does not fit would fail on every sweep, so `loket connectors check` reports it, at the rule's
//! file, line and field, before any sweep runs.

use super::sweep::strategies_of;
use crate::catalog::model::System;
use crate::connectors::{ColumnUse, ConnectorError, Connectors};
use crate::policies::{OnExpiry, PolicyProblem, RetentionRule};
use std::collections::BTreeMap;

/// What `loket connectors check` found on one SQL system: nothing when it is ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemCheck {
    pub system: String,
    /// Each line names the system (and for a rule, its file, line and field).
    pub problems: Vec<String>,
    /// Indexes that would spare a lookup of a person a read of a whole table: advice, since
    /// the lookup works without them, only slowly at a million rows.
    pub advice: Vec<String>,
}

impl SystemCheck {
    pub fn is_ready(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Connects to every `connector: sql` system of `systems` and checks its mapped tables and
/// columns and then the columns the retention rules use (blocking). A system is ready only when
/// a sweep or a request task will not fail on what the database lacks.
pub fn check_systems(
    connectors: &Connectors,
    systems: &[System],
    rules: &[RetentionRule],
) -> Vec<SystemCheck> {
    let mut rule_misfits = misfits(connectors, systems, rules);
    connectors
        .check_all(systems)
        .into_iter()
        .map(|(system, checked)| {
            let advice = match (&checked, systems.iter().find(|s| s.key == system)) {
                (Ok(()), Some(found)) => connectors
                    .open(found)
                    .and_then(|mut connector| connector.index_advice())
                    .unwrap_or_else(|error| vec![error.to_string()]),
                _ => Vec::new(),
            };
            let mut problems = match checked {
                Ok(()) => Vec::new(),
                Err(ConnectorError::Missing(missing)) => missing,
                Err(error) => vec![error.to_string()],
            };
            match rule_misfits.remove(&system) {
                Some(Ok(misfits)) => problems.extend(misfits.iter().map(ToString::to_string)),
                Some(Err(error)) if problems.is_empty() => problems.push(error.to_string()),
                _ => {}
            }
            SystemCheck {
                system,
                problems,
                advice,
            }
        })
        .collect()
}

/// The misfits of the rules on reachable SQL systems, by system key (blocking: it connects).
/// A system that cannot be opened is left out: `Connectors::check_all` reports it.
pub fn misfits(
    connectors: &Connectors,
    systems: &[System],
    rules: &[RetentionRule],
) -> BTreeMap<String, Result<Vec<PolicyProblem>, ConnectorError>> {
    let mut found = BTreeMap::new();
    for system in systems.iter().filter(|system| connectors.reaches(system)) {
        let swept: Vec<&RetentionRule> = rules
            .iter()
            .filter(|rule| rule.system == system.key && rule.table.is_some())
            .collect();
        if swept.is_empty() {
            continue;
        }
        let checked = connectors.open(system).and_then(|mut connector| {
            let uses: Vec<(&RetentionRule, String, ColumnUse)> =
                swept.iter().flat_map(|rule| column_uses(rule)).collect();
            let columns: Vec<ColumnUse> = uses.iter().map(|(_, _, used)| used.clone()).collect();
            let unfit = connector.unfit_columns(&columns)?;
            Ok(unfit
                .into_iter()
                .map(|(index, message)| {
                    let (rule, field, _) = &uses[index];
                    rule.source.problem(field, message)
                })
                .collect())
        });
        found.insert(system.key.clone(), checked);
    }
    found
}

/// Each column `rule` touches in its table, with the field of the rule that names it.
fn column_uses(rule: &RetentionRule) -> Vec<(&RetentionRule, String, ColumnUse)> {
    let Some(table) = &rule.table else {
        return Vec::new();
    };
    let use_of = |field: String, column: &str, longest_written: Option<usize>| {
        let used = ColumnUse {
            table: table.clone(),
            column: column.to_string(),
            longest_written,
        };
        (rule, field, used)
    };
    let mut uses = Vec::new();
    if let Some(column) = &rule.counted_from {
        uses.push(use_of("counted_from".into(), column, None));
    }
    if rule.on_expiry == OnExpiry::Anonymise {
        for (column, strategy) in strategies_of(rule) {
            let field = format!("anonymise.{column}");
            uses.push(use_of(field, &column, strategy.longest_written()));
        }
    }
    uses
}
