//! The end of rows kept under an exception of Art. 17(3) GDPR: a sweep erases every kept row
//! whose duty has ended (its `keep_until` has come) and whose person is under no legal hold, and
//! records that on the row and on the request's trail. A kept row is not restricted (Art. 18):
//! nothing but a legal hold stops its erasure once its end has come.

use super::sweep::{Outcome, RuleReport, SweepOptions};
use super::SweepService;
use crate::audit::{self, Actor, Change};
use crate::catalog::model::System;
use crate::connectors::TableCounts;
use crate::db::models::kept::{keepers, KeptRowRow};
use crate::db::models::sweeps::held_indexes;
use crate::db::{self, write_transaction, DbConnection};
use crate::error::{ConflictCode, Error, Result};
use crate::policies::OnExpiry;
use crate::requests::kept::ROW_KEY_PLACE;
use anyhow::Context;
use std::collections::{BTreeMap, HashSet};

/// The name under which sweeps report the erasure of kept rows whose duty ended; `--rule
/// kept_rows` sweeps only those.
pub const KEPT_RULE: &str = "kept_rows";

impl SweepService {
    /// Erases the kept rows that are due, system by system; one report per system.
    pub(super) fn sweep_kept(
        &self,
        systems: &[System],
        only: Option<&str>,
        options: &SweepOptions,
    ) -> Result<Vec<RuleReport>> {
        let today = options.as_of.unwrap_or_else(db::now).date();
        let mut conn = self.store.connection()?;
        let due = KeptRowRow::due(&mut conn, only, today)?;
        let mut by_system: BTreeMap<String, Vec<KeptRowRow>> = BTreeMap::new();
        for row in due {
            by_system
                .entry(row.system_key.clone())
                .or_default()
                .push(row);
        }
        let mut reports = Vec::new();
        for (key, rows) in by_system {
            let mut report = RuleReport::kept(&key, options.dry_run);
            let system = systems.iter().find(|s| s.key == key);
            if let Err(error) = self.erase_due(&mut conn, system, &key, rows, options, &mut report)
            {
                report.outcome = Outcome::Failed;
                report.error = Some(error.to_string());
            }
            reports.push(report);
        }
        Ok(reports)
    }

    fn erase_due(
        &self,
        conn: &mut DbConnection,
        system: Option<&System>,
        key: &str,
        rows: Vec<KeptRowRow>,
        options: &SweepOptions,
        report: &mut RuleReport,
    ) -> Result<()> {
        let request_ids: Vec<String> = rows.iter().map(|r| r.request_id.to_string()).collect();
        let keepers = keepers(conn, &request_ids)?;
        let indexes: Vec<String> = keepers.values().flat_map(|k| k.indexes.clone()).collect();
        let held: HashSet<String> = held_indexes(conn, key, &indexes)?;
        let (on_hold, act_on): (Vec<KeptRowRow>, Vec<KeptRowRow>) =
            rows.into_iter().partition(|row| {
                keepers
                    .get(row.request_id.as_str())
                    .is_some_and(|k| k.indexes.iter().any(|i| held.contains(i)))
            });
        report.counts.batches = 1;
        report.counts.matched = count(on_hold.len() + act_on.len());
        report.counts.skipped_legal_hold = count(on_hold.len());
        if options.dry_run || act_on.is_empty() {
            report.counts.changed = count(act_on.len());
            return Ok(());
        }
        let system = system.ok_or_else(|| {
            Error::conflict(
                ConflictCode::Other,
                format!("system {key} is no longer in the catalog"),
            )
        })?;
        let mut connector = self
            .connectors
            .open(system)
            .with_context(|| format!("opening the connector of {key}"))?;
        let mut erased = TableCounts::new();
        // A table the erasure anonymises (a customer row kept invoices refer to) is anonymised
        // here too: deleting it would take the rows under it, kept or not.
        let methods = crate::requests::kept::erasure_methods(&self.policies.retention, system);
        let mut tables: Vec<&str> = act_on.iter().map(|r| r.table_name.as_str()).collect();
        tables.dedup();
        for table in tables {
            let keys = act_on
                .iter()
                .filter(|r| r.table_name == table)
                .map(|r| {
                    self.cipher
                        .decrypt(ROW_KEY_PLACE, &r.row_key_enc)
                        .context(ROW_KEY_PLACE)
                        .map_err(Error::from)
                })
                .collect::<Result<Vec<String>>>()?;
            if let Some(strategies) = methods.get(table) {
                let rows = connector
                    .anonymise_keys(table, &keys, strategies)
                    .with_context(|| format!("anonymising kept rows in {key}.{table}"))?;
                *erased.entry(table.to_string()).or_default() += rows;
                continue;
            }
            let deleted = connector
                .delete_keys(table, &keys)
                .with_context(|| format!("erasing kept rows in {key}.{table}"))?;
            for (table, rows) in deleted {
                *erased.entry(table).or_default() += rows;
            }
        }
        let own: u64 = act_on
            .iter()
            .map(|r| r.table_name.as_str())
            .collect::<HashSet<_>>()
            .iter()
            .map(|t| erased.get(*t).copied().unwrap_or(0))
            .sum();
        report.counts.changed = count(act_on.len());
        report.counts.related =
            i64::try_from(erased.values().sum::<u64>().saturating_sub(own)).unwrap_or(i64::MAX);
        let actor = options
            .actor
            .clone()
            .unwrap_or(Actor::System("retention-sweep"));
        write_transaction(conn, |conn| {
            let ids: Vec<String> = act_on.iter().map(|r| r.id.clone()).collect();
            KeptRowRow::mark_erased(conn, &ids, db::now(), &actor.to_string())?;
            for (request_id, rows) in group_by_request(&act_on) {
                let Some(keeper) = keepers.get(request_id) else {
                    continue;
                };
                let tables = count_tables(&rows);
                audit::record(
                    conn,
                    &actor,
                    Change {
                        action: "request.kept_rows.erased",
                        object_type: "request",
                        object_id: &keeper.reference,
                        summary: format!(
                            "{key}: kept rows whose Art. 17(3) duty ended erased: {tables}"
                        ),
                    },
                )?;
            }
            Ok::<_, Error>(())
        })
    }
}

fn group_by_request(rows: &[KeptRowRow]) -> BTreeMap<&str, Vec<&KeptRowRow>> {
    let mut grouped: BTreeMap<&str, Vec<&KeptRowRow>> = BTreeMap::new();
    for row in rows {
        grouped
            .entry(row.request_id.as_str())
            .or_default()
            .push(row);
    }
    grouped
}

/// `billing_accounts 1, invoices 2`.
fn count_tables(rows: &[&KeptRowRow]) -> String {
    crate::requests::kept::counts(rows.iter().map(|r| r.table_name.as_str()))
        .iter()
        .map(|(table, n)| format!("{table} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl RuleReport {
    /// The report of the erasure of one system's kept rows whose duty ended.
    pub fn kept(system: &str, dry_run: bool) -> Self {
        RuleReport {
            rule: KEPT_RULE.to_string(),
            system: system.to_string(),
            table: None,
            action: OnExpiry::Delete,
            dry_run,
            outcome: Outcome::Finished,
            run_id: None,
            resumed: false,
            counts: Default::default(),
            error: None,
        }
    }
}
