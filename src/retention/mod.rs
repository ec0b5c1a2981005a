//! Retention: sweeps that delete, anonymise or restrict what has passed its retention period in
//! the organisation's own databases, the record of every sweep, and legal holds.
//!
//! The rules come from `policies/` ([`crate::policies::RetentionRule`]), the tables from the
//! catalog's SQL mapping, the connections from the configuration ([`Connectors`]). A sweep works
//! in batches with a checkpoint each ([`sweep`]), skips rows of persons under a legal hold, with a
//! request in progress or under a restriction ([`owners`]), and holds a lease per rule in loket's
//! database, so that of several instances sharing it only one sweeps a rule at a time.
//! [`scheduler`] runs the rules on their cron schedules inside `serve`.
//!
//! **Blocking.** Sweeping does synchronous database I/O on both sides: [`SweepService::sweep`]
//! runs it on a blocking thread; [`SweepService::sweep_blocking`] is for callers already on one.

pub mod fit;
pub mod holds;
pub mod kept;
pub mod owners;
pub mod scheduler;
pub mod sweep;

pub use holds::{LegalHold, NewLegalHold};
pub use sweep::{Outcome, Progress, RuleReport, SweepOptions};

use crate::connectors::{ConnectorError, Connectors};
use crate::crypto::Cipher;
use crate::db::models::sweeps::SweepRunRow;
use crate::db::{Store, StoreError};
use crate::error::{Error, FieldError};
use crate::ids::SweepId;
use crate::policies::{Policies, RetentionRule};
use anyhow::Context;
use chrono::NaiveDateTime;
use serde::Serialize;
use std::sync::Arc;

/// The name under which sweeps report the deletion of spent packages (loket's own copies of a
/// person's data, past their expiry or download limit); `--rule packages` sweeps only those.
pub const PACKAGES_RULE: &str = "packages";

/// How long a sweep's lease on a rule lasts without renewal; renewed whenever the run is written
/// (every claim, at least every quarter of this), so only an instance that died (or hangs longer
/// than this on one group of batches) loses it.
pub const DEFAULT_LEASE: chrono::Duration = chrono::Duration::minutes(5);

/// Why a rule could not be swept; stored with the run and shown to the operator.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("{0}")]
    Connector(#[from] ConnectorError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the rule cannot be swept: {0}")]
    Rule(String),
    #[error("another instance took over the rule's lease; this sweep stopped")]
    LeaseLost,
    #[error(transparent)]
    Domain(#[from] Error),
}

impl From<RetentionError> for Error {
    fn from(error: RetentionError) -> Self {
        match error {
            RetentionError::Domain(error) => error,
            RetentionError::Store(error) => Error::from(error),
            other => Error::Internal(anyhow::Error::new(other)),
        }
    }
}

/// Runs retention sweeps; cheap to clone.
#[derive(Clone)]
pub struct SweepService {
    store: Store,
    cipher: Cipher,
    connectors: Connectors,
    policies: Arc<Policies>,
    /// This instance's name on leases and runs.
    holder: String,
    lease: chrono::Duration,
}

impl std::fmt::Debug for SweepService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SweepService")
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

/// A run as the API and the CLI show it.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize)]
pub struct SweepRun {
    pub id: SweepId,
    pub rule: String,
    pub system: String,
    pub table: Option<String>,
    pub action: String,
    pub dry_run: bool,
    pub origin: String,
    pub scheduled_for: Option<NaiveDateTime>,
    /// Rows counted from before this moment had expired.
    pub cutoff: NaiveDateTime,
    pub status: String,
    pub instance: String,
    pub started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
    pub resumed: i32,
    #[serde(flatten)]
    pub counts: Counts,
    pub error: Option<String>,
}

/// What a run found and did, over all its batches and resumptions.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub batches: i64,
    /// Expired rows found (acted on or skipped).
    pub matched: i64,
    /// Rows deleted, anonymised or restricted (in a dry run: that would be).
    pub changed: i64,
    /// Rows of child tables deleted with them.
    pub related: i64,
    pub skipped_legal_hold: i64,
    pub skipped_open_request: i64,
    pub skipped_restriction: i64,
}

impl From<&SweepRunRow> for Counts {
    fn from(run: &SweepRunRow) -> Self {
        Counts {
            batches: run.batches,
            matched: run.matched,
            changed: run.changed,
            related: run.related,
            skipped_legal_hold: run.skipped_legal_hold,
            skipped_open_request: run.skipped_open_request,
            skipped_restriction: run.skipped_restriction,
        }
    }
}

impl From<SweepRunRow> for SweepRun {
    fn from(row: SweepRunRow) -> Self {
        SweepRun {
            counts: Counts::from(&row),
            id: row.id,
            rule: row.rule,
            system: row.system_key,
            table: row.table_name,
            action: row.action,
            dry_run: row.dry_run,
            origin: row.origin,
            scheduled_for: row.scheduled_for,
            cutoff: row.cutoff,
            status: row.status,
            instance: row.holder,
            started_at: row.started_at,
            finished_at: row.finished_at,
            resumed: row.resumed,
            error: row.error,
        }
    }
}

impl SweepService {
    pub fn new(
        store: Store,
        cipher: Cipher,
        connectors: Connectors,
        policies: Arc<Policies>,
    ) -> Self {
        SweepService {
            store,
            cipher,
            connectors,
            policies,
            holder: crate::instance::instance_name(),
            lease: DEFAULT_LEASE,
        }
    }

    /// Names this instance on leases and runs (tests play several instances in one process).
    /// The store it sweeps loket's own data in (spent packages, unconfirmed web-form requests).
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn with_holder(mut self, holder: impl Into<String>, lease: chrono::Duration) -> Self {
        self.holder = holder.into();
        self.lease = lease;
        self
    }

    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    /// Sweeps the rules `options` selects, one after another, on a blocking thread.
    #[tracing::instrument(skip_all, fields(rule = ?options.rule, system = ?options.system, dry_run = options.dry_run))]
    pub async fn sweep(
        &self,
        options: SweepOptions,
        progress: impl Fn(Progress<'_>) + Send + 'static,
    ) -> Result<Vec<RuleReport>, Error> {
        let service = self.clone();
        tokio::task::spawn_blocking(move || service.sweep_blocking(&options, &progress))
            .await
            .context("the sweep thread stopped")?
    }

    /// [`SweepService::sweep`] for a caller on a blocking thread (the CLI). A rule that fails is
    /// reported as failed and the others still run.
    pub fn sweep_blocking(
        &self,
        options: &SweepOptions,
        progress: &dyn Fn(Progress<'_>),
    ) -> Result<Vec<RuleReport>, Error> {
        let rules = self.select(options)?;
        let catalog = {
            let mut conn = self.store.connection()?;
            crate::catalog::load_catalog(&mut conn)?
        };
        let mut reports = rules
            .into_iter()
            .map(|rule| {
                self.sweep_rule(rule, &catalog.systems, options, progress)
                    .map_err(Error::from)
            })
            .collect::<Result<Vec<_>, Error>>()?;
        if let Some(system) = self.kept_scope(options) {
            reports.extend(self.sweep_kept(&catalog.systems, system, options)?);
        }
        if sweeps_packages(options) {
            reports.push(self.sweep_packages(options)?);
        }
        Ok(reports)
    }

    /// Deletes the content of spent packages (see [`crate::packages::spent`]); in a dry run,
    /// only counts them.
    fn sweep_packages(&self, options: &SweepOptions) -> Result<RuleReport, Error> {
        let actor = options
            .actor
            .clone()
            .unwrap_or(crate::audit::Actor::System("retention-sweep"));
        let mut conn = self.store.connection()?;
        let spent = crate::packages::spent::sweep(&mut conn, options.dry_run, &actor)?;
        Ok(RuleReport::packages(options.dry_run, spent))
    }

    /// The rules `options` names, or all; an unknown name is the caller's mistake.
    pub fn select(&self, options: &SweepOptions) -> Result<Vec<&RetentionRule>, Error> {
        let rules = &self.policies.retention;
        if matches!(
            options.rule.as_deref(),
            Some(PACKAGES_RULE | kept::KEPT_RULE)
        ) {
            return Ok(Vec::new());
        }
        let mut errors = Vec::new();
        if let Some(name) = &options.rule {
            if self.policies.rule(name).is_none() {
                errors.push(FieldError::new(
                    "rule",
                    format!(
                        "no retention rule is called {name:?}; `loket policies check` lists them"
                    ),
                ));
            }
        }
        if let Some(system) = &options.system {
            if !rules.iter().any(|rule| &rule.system == system) {
                errors.push(FieldError::new(
                    "system",
                    format!("no retention rule is about system {system:?}"),
                ));
            }
        }
        crate::error::all_valid(errors)?;
        Ok(rules
            .iter()
            .filter(|rule| options.rule.as_ref().is_none_or(|name| &rule.name == name))
            .filter(|rule| {
                options
                    .system
                    .as_ref()
                    .is_none_or(|system| &rule.system == system)
            })
            .collect())
    }

    /// Kept rows whose duty ended are erased with every sweep of their system's rules (a
    /// scheduled run of one rule included), or on their own with `--rule kept_rows`: `None` when
    /// this sweep leaves them, else the system it covers (`Some(None)`: every system).
    fn kept_scope<'o>(&'o self, options: &'o SweepOptions) -> Option<Option<&'o str>> {
        match options.rule.as_deref() {
            Some(PACKAGES_RULE) => None,
            Some(kept::KEPT_RULE) | None => Some(options.system.as_deref()),
            Some(name) => self
                .policies
                .rule(name)
                .map(|rule| Some(rule.system.as_str())),
        }
    }

    /// The newest runs first, optionally of one rule.
    pub async fn runs(&self, rule: Option<String>, limit: i64) -> Result<Vec<SweepRun>, Error> {
        if let Some(name) = &rule {
            if self.policies.rule(name).is_none() {
                return Err(Error::invalid(
                    "rule",
                    format!("no retention rule is called {name:?}"),
                ));
            }
        }
        let rows = self
            .store
            .read(move |conn| SweepRunRow::recent(conn, rule.as_deref(), limit))
            .await?;
        Ok(rows.into_iter().map(SweepRun::from).collect())
    }
}

/// Spent packages are swept with every rule, or on their own with `--rule packages`; not when
/// the sweep is narrowed to one system's rules.
fn sweeps_packages(options: &SweepOptions) -> bool {
    match &options.rule {
        Some(rule) => rule == PACKAGES_RULE,
        None => options.system.is_none(),
    }
}
