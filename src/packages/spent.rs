//! Deleting packages loket no longer needs (Art. 5(1)(c) and (e): minimal, not kept longer than
//! needed): past their expiry or download limit, revoked by an agent, or left half-built by an
//! instance that stopped. The record stays, with when and why its content was deleted, so the
//! request can still show what was sent; the sealed content is gone.

use super::package_place;
use crate::audit::{self, Actor, Change};
use crate::db::models::packages::{self as rows, PackageRow};
use crate::db::{DbConnection, PooledConnection};
use crate::error::{Error, Result};
use crate::vocabulary::PackageState;
use serde::Serialize;

/// A package still building after this long was left behind by an instance that stopped (one on
/// another host; a build whose process on this host is gone is found at once).
const BUILD_TIMEOUT: chrono::TimeDelta = chrono::TimeDelta::hours(6);

/// What a sweep of packages found and did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SpentReport {
    /// Packages past expiry or download limit, or abandoned while building.
    pub found: usize,
    /// Of those, deleted (none in a dry run).
    pub deleted: usize,
}

/// Deletes the content of every spent package, one transaction each, so a sweep that stops
/// half-way leaves each package either whole or deleted.
pub fn sweep(conn: &mut PooledConnection, dry_run: bool, actor: &Actor) -> Result<SpentReport> {
    let now = crate::db::now();
    let mut spent = PackageRow::spent(conn, now, now - BUILD_TIMEOUT)?;
    spent.extend(orphaned_builds(conn, &spent)?);
    let mut report = SpentReport {
        found: spent.len(),
        deleted: 0,
    };
    if dry_run {
        return Ok(report);
    }
    for row in spent {
        let reason = why_spent(&row, now);
        let deleted = crate::db::write_transaction(conn, |conn| delete(conn, &row, reason, actor))?;
        report.deleted += usize::from(deleted);
    }
    Ok(report)
}

/// Deletes one package's content and marks it deleted with the reason, audited; `false` when it
/// was deleted already. Call inside a write transaction.
pub fn delete(
    conn: &mut DbConnection,
    row: &PackageRow,
    reason: &str,
    actor: &Actor,
) -> Result<bool> {
    if !PackageRow::mark_gone(
        conn,
        &row.id,
        PackageState::Deleted,
        reason,
        crate::db::now(),
    )? {
        return Ok(false);
    }
    let pieces = rows::delete_blobs(conn, &package_place(&row.id))?;
    let reference = super::reference_of(conn, &row.request_id)?;
    audit::record(
        conn,
        actor,
        Change {
            action: "package.deleted",
            object_type: "request",
            object_id: &reference,
            summary: format!(
                "{} package {} deleted ({pieces} stored piece(s)): {reason}",
                row.kind, row.id
            ),
        },
    )?;
    Ok::<_, Error>(true)
}

/// Builds whose process on this host is gone (killed mid-way): found at once, not after
/// [`BUILD_TIMEOUT`]. The package sweep runs when `serve` starts, so a restart cleans them up.
fn orphaned_builds(conn: &mut DbConnection, found: &[PackageRow]) -> Result<Vec<PackageRow>> {
    Ok(PackageRow::building(conn)?
        .into_iter()
        .filter(|row| !found.iter().any(|f| f.id == row.id))
        .filter(|row| {
            row.builder
                .as_deref()
                .is_some_and(crate::instance::holder_is_dead)
        })
        .collect())
}

fn why_spent(row: &PackageRow, now: chrono::NaiveDateTime) -> &'static str {
    if row.state == PackageState::Building {
        "building stopped and was not resumed"
    } else if row.downloads >= row.max_downloads {
        "download limit reached"
    } else if row.expires_at <= now {
        "expired"
    } else {
        "spent"
    }
}
