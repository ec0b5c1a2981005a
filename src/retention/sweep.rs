//! One sweep of one retention rule over the organisation's database, batch by batch.
//!
//! Each batch is a page of expired rows still to process, in key order after the run's
//! checkpoint. Before loket changes anything it *claims* the batch in its run record (the last
//! key and the number of rows); after the change it *accounts* for it (counts, checkpoint) and
//! clears the claim. A sweep stopped anywhere therefore resumes cleanly: after an accounted
//! batch it simply goes on; inside a claimed batch it reads the batch again, and the rows that no
//! longer match were processed before the stop (deleted rows are gone, anonymised or restricted
//! rows are recognised, see [`crate::connectors::Pending`]), so nothing is done twice and every
//! row is counted once. Only the rows of child tables deleted with such an interrupted batch go
//! uncounted (`related`): once deleted, nothing says how many there were.
//!
//! A deletion needs nothing of the rows before deleting them when it honours no exception
//! (`exceptions: []`), so each batch is one `DELETE … WHERE key IN (SELECT key … LIMIT n)`
//! (on SQLite and PostgreSQL; MySQL cannot, and a table with child tables in the mapping needs
//! them deleted first). A deletion that honours exceptions does the same, with the rows it must
//! keep left out of each statement: rows that may be those of persons under a legal hold or
//! with an open request (by a pattern every way of writing their identifiers matches, made from
//! loket's sealed copies; in the swept table, and through the keys of parent rows looked up
//! when those persons change) and rows marked restricted. Reading the owner of every expired
//! row was what made such a sweep two to three times the plain `DELETE`. The rows left are
//! then read, sorted and counted per exception in key order as above: since the patterns match
//! at least every row the comparison of hashes would keep, a row is never deleted unless the
//! row-by-row check would delete it too. Where a person has no pattern (a hold placed before
//! holds kept their identifier sealed), every row is read and sorted.
//!
//! Such deletions commit in groups too, each after a claim that counts its rows and names one
//! key it deleted, the *witness*. The statements take no key range, so a claim cannot be read
//! again as a page; instead the next run looks the witness up: gone, the group was committed
//! and is counted; still there, it was rolled back and its rows are taken off the count.

use super::owners::{Exceptions, Sorted};
use super::{Counts, RetentionError, SweepService};
use crate::audit::{self, Actor, Change};
use crate::catalog::model::{IdentifierKind, System};
use crate::connectors::{Checkout, ExpiredQuery, Owner, Pending, Spared, SqlConnector, Strategies};
use crate::db::models::sweeps::{self, SweepRunRow, ABANDONED, FAILED, FINISHED, RUNNING};
use crate::db::{self, write_transaction, DbConnection};
use crate::ids::SweepId;
use crate::policies::{Exception, OnExpiry, RetentionRule};
use crate::webhooks::{EventData, SweepFacts, WebhookEvent};
use chrono::NaiveDateTime;
use serde::Serialize;

/// How long the batches of one [`Group`] may take, and how many there may be: a committed
/// write to loket's store costs about as much as a whole batch (a flush to disk), so it is
/// paid once per group. Short enough that the rows stay locked briefly, and that the read of
/// a claim after a stop (one page of up to this many batches) stays small.
const GROUP_FOR: std::time::Duration = std::time::Duration::from_millis(100);
const GROUP_BATCHES: u64 = 16;
/// Fewer for deletions in whole statements: each statement of a group walks past the index
/// entries of the rows the group deleted before it (not yet committed, so not yet marked dead),
/// which grows with the square of the group; four balance that against a claim per group.
const DELETION_GROUP_BATCHES: u64 = 4;

/// Consecutive batches whose changes to the organisation's database are one transaction
/// there. Before it commits, loket's store gets one claim covering all of them (from the
/// checkpoint before the group to its last key, with the rows the group matched), so a stop
/// anywhere resumes exactly as after a claimed batch: changes not committed are simply not
/// there, committed ones are recognised and counted once.
struct Group {
    /// The run as it was before the group: what the claim is written onto, and what the run
    /// goes back to when the group rolls back.
    base: SweepRunRow,
    started: std::time::Instant,
    batches: u64,
    /// The last key a group of whole-statement deletions deleted.
    witness: Option<String>,
}

impl Group {
    fn of(run: &SweepRunRow) -> Self {
        Group {
            base: run.clone(),
            started: std::time::Instant::now(),
            batches: 0,
            witness: None,
        }
    }

    /// Counts one more batch; true when the group is full (`most` batches, or by time).
    fn full(&mut self, most: u64) -> bool {
        self.batches += 1;
        self.batches >= most || self.started.elapsed() >= GROUP_FOR
    }

    /// The run as written before the group commits: the account from before the group, with
    /// a claim on the rows the group matched (`run` holds the group's account).
    fn claim(&self, run: &SweepRunRow) -> SweepRunRow {
        SweepRunRow {
            claim_end: run.checkpoint.clone(),
            claim_rows: run.matched - self.base.matched,
            ..self.base.clone()
        }
    }
}

/// How often a deletion that spares rows looks up the parent rows to spare again even when no
/// hold or open request changed: a restriction, or a new customer row of a held person, written
/// in the organisation's database during a long sweep, is honoured from then on.
const RESOLVE_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// What [`SweepService::delete_batches`] works with.
struct DeleteBatches<'a> {
    connector: &'a mut Checkout,
    table: &'a str,
    counted_from: &'a str,
    batch_size: u32,
    exceptions: &'a mut Exceptions,
    /// Batches done by this call of the sweep (not the whole run's).
    batches_now: &'a mut u64,
    group: Option<Group>,
}

/// The rows a deletion with exceptions leaves out, kept up to date between batches.
#[derive(Default)]
struct Sparing {
    spared: Option<Spared>,
    /// The persons `spared` was looked up for, and when: an open request merely updated moves
    /// the exceptions' stamp without changing who they are.
    looked_up_for: Option<Vec<(IdentifierKind, String)>>,
    looked_up_at: Option<std::time::Instant>,
}

impl Sparing {
    /// Reads the exceptions again if they changed, and looks the spared rows up again when the
    /// persons changed or [`RESOLVE_EVERY`] passed; false when they cannot be named.
    fn refresh(
        &mut self,
        conn: &mut DbConnection,
        cipher: &crate::crypto::Cipher,
        rule: &RetentionRule,
        batches: &mut DeleteBatches<'_>,
    ) -> Result<bool, RetentionError> {
        batches.exceptions.refresh(conn, cipher, rule)?;
        let Some(resembling) = batches.exceptions.resembling() else {
            return Ok(false);
        };
        let due = self
            .looked_up_at
            .is_none_or(|at| at.elapsed() >= RESOLVE_EVERY);
        if due || self.looked_up_for.as_deref() != Some(resembling) {
            self.spared = batches.connector.spared(
                batches.table,
                resembling,
                rule.skips(Exception::ActiveRestriction),
            )?;
            self.looked_up_for = Some(resembling.to_vec());
            self.looked_up_at = Some(std::time::Instant::now());
        }
        Ok(self.spared.is_some())
    }
}

/// What follows the deletion in one statement per batch.
enum Then {
    /// The sweep stopped, or (`None`) there is nothing left to do.
    Done(Option<Stop>),
    /// The rows left are read and sorted: only those `Spared` left out, once it has deleted
    /// the rest; all, where they could not be deleted that way.
    CheckTheRest(Option<Spared>),
}

/// What the batches of one rule's sweep work with.
struct Batches<'a> {
    connector: Checkout,
    table: &'a str,
    counted_from: &'a str,
    batch_size: u32,
    strategies: &'a Strategies,
    exceptions: Exceptions,
    /// Only the rows a deletion in whole statements left out.
    only: Option<Spared>,
    group: Option<Group>,
    /// Batches done by this call of the sweep (not the whole run's).
    batches_now: u64,
}

/// What to sweep and how.
#[derive(Debug, Clone, Default)]
pub struct SweepOptions {
    /// Report what would change, change nothing.
    pub dry_run: bool,
    /// Only this rule.
    pub rule: Option<String>,
    /// Only the rules of this system.
    pub system: Option<String>,
    /// Rows per batch instead of `sweeps.batch_size`.
    pub batch_size: Option<u32>,
    /// Stop after this many batches per rule; the run stays open and the next sweep resumes it.
    pub max_batches: Option<u64>,
    /// The schedule slot this sweep is for; a slot already swept (by any instance) is skipped.
    pub scheduled_for: Option<NaiveDateTime>,
    /// Who started the sweep, for the audit trail.
    pub actor: Option<Actor>,
    /// Sweep as if it were this moment (periods end, kept rows fall due), instead of now; only
    /// for tests that move the clock past a retention period.
    #[doc(hidden)]
    pub as_of: Option<NaiveDateTime>,
    /// Simulates an instance dying after changing the data of this batch (1-based) and before
    /// accounting for it; only for tests of resumption.
    #[doc(hidden)]
    pub die_before_checkpoint: Option<u64>,
}

/// How a rule's sweep ended.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every expired row was processed (or, in a dry run, counted).
    Finished,
    /// Stopped before the end (`max_batches`); the next sweep resumes it.
    Paused,
    Failed,
    /// Another instance holds the rule's lease and is sweeping it.
    Busy,
    /// This schedule slot was swept already.
    AlreadyDone,
    /// The rule cannot be swept automatically (no table): a person must review the data.
    ReviewDue,
}

/// The exit status of `loket sweep`: 1 when a rule failed, 75 (EX_TEMPFAIL: try again later)
/// when a rule did not run because another instance holds it, 0 otherwise.
pub fn exit_status(reports: &[RuleReport]) -> u8 {
    if reports.iter().any(|r| r.outcome == Outcome::Failed) {
        1
    } else if reports.iter().any(|r| r.outcome == Outcome::Busy) {
        75
    } else {
        0
    }
}

/// What a sweep did with one rule; the figures are the whole run's, across resumptions.
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleReport {
    pub rule: String,
    pub system: String,
    pub table: Option<String>,
    pub action: OnExpiry,
    pub dry_run: bool,
    pub outcome: Outcome,
    pub run_id: Option<SweepId>,
    /// Whether the run continued one that had stopped.
    pub resumed: bool,
    #[serde(flatten)]
    pub counts: Counts,
    pub error: Option<String>,
}

/// How far a rule's sweep is, after each batch.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    pub rule: &'a str,
    pub batches: i64,
    pub matched: i64,
    pub changed: i64,
}

impl<'a> Progress<'a> {
    fn of(rule: &'a RetentionRule, run: &SweepRunRow) -> Self {
        Progress {
            rule: &rule.name,
            batches: run.batches,
            matched: run.matched,
            changed: run.changed,
        }
    }
}

impl RuleReport {
    /// The report of the sweep of spent packages.
    pub fn packages(dry_run: bool, spent: crate::packages::spent::SpentReport) -> Self {
        let found = i64::try_from(spent.found).unwrap_or(i64::MAX);
        let deleted = i64::try_from(spent.deleted).unwrap_or(i64::MAX);
        RuleReport {
            rule: super::PACKAGES_RULE.to_string(),
            system: "loket".to_string(),
            table: Some("packages".to_string()),
            action: OnExpiry::Delete,
            dry_run,
            outcome: Outcome::Finished,
            run_id: None,
            resumed: false,
            counts: Counts {
                batches: 1,
                matched: found,
                changed: if dry_run { found } else { deleted },
                ..Counts::default()
            },
            error: None,
        }
    }

    fn new(rule: &RetentionRule, dry_run: bool, outcome: Outcome) -> Self {
        RuleReport {
            rule: rule.name.clone(),
            system: rule.system.clone(),
            table: rule.table.clone(),
            action: rule.on_expiry,
            dry_run,
            outcome,
            run_id: None,
            resumed: false,
            counts: Counts::default(),
            error: None,
        }
    }

    fn of_run(rule: &RetentionRule, run: &SweepRunRow, outcome: Outcome) -> Self {
        RuleReport {
            run_id: Some(run.id.clone()),
            resumed: run.resumed > 0,
            counts: Counts::from(run),
            error: run.error.clone(),
            ..RuleReport::new(rule, run.dry_run, outcome)
        }
    }
}

/// Why a rule's sweep stopped early.
enum Stop {
    Paused,
    /// The simulated death of [`SweepOptions::die_before_checkpoint`].
    Died,
}

impl SweepService {
    /// Sweeps one rule: takes its lease, runs or resumes its run, gives the lease back.
    pub(super) fn sweep_rule(
        &self,
        rule: &RetentionRule,
        systems: &[System],
        options: &SweepOptions,
        progress: &dyn Fn(Progress<'_>),
    ) -> Result<RuleReport, RetentionError> {
        let mut conn = self.store.connection()?;
        if !rule.is_sweepable() {
            return self.review_due(&mut conn, rule, options);
        }
        if let Some(slot) = options.scheduled_for {
            if SweepRunRow::slot_taken(&mut conn, &rule.name, slot)? {
                return Ok(RuleReport::new(rule, options.dry_run, Outcome::AlreadyDone));
            }
        }
        let now = db::now();
        if !self.take_lease(&mut conn, &rule.name, now)? {
            return Ok(RuleReport::new(rule, options.dry_run, Outcome::Busy));
        }
        let report = self.sweep_leased(&mut conn, rule, systems, options, progress);
        if let Err(error) = sweeps::release_lease(&mut conn, &rule.name, &self.holder) {
            // The lease expires by itself; the sweep's result stands.
            tracing::warn!(rule = %rule.name, %error, "could not release the sweep lease");
        }
        report
    }

    /// Takes the rule's lease when it is free, expired, or held by a process on this host that
    /// is gone (killed mid-sweep): that one is taken over at once, and the run resumes.
    fn take_lease(
        &self,
        conn: &mut DbConnection,
        rule: &str,
        now: chrono::NaiveDateTime,
    ) -> Result<bool, RetentionError> {
        let until = now + self.lease;
        if sweeps::take_lease(conn, rule, &self.holder, now, until)? {
            return Ok(true);
        }
        match sweeps::lease_holder(conn, rule)? {
            Some(gone) if crate::instance::holder_is_dead(&gone) => {
                tracing::warn!(%rule, "taking over the lease of a sweep whose process is gone");
                Ok(sweeps::take_over_lease(
                    conn,
                    rule,
                    &gone,
                    &self.holder,
                    until,
                )?)
            }
            _ => Ok(false),
        }
    }

    fn sweep_leased(
        &self,
        conn: &mut DbConnection,
        rule: &RetentionRule,
        systems: &[System],
        options: &SweepOptions,
        progress: &dyn Fn(Progress<'_>),
    ) -> Result<RuleReport, RetentionError> {
        let mut run = self.start_or_resume(conn, rule, options)?;
        let outcome = match self.run_batches(conn, rule, systems, options, &mut run, progress) {
            Ok(None) => {
                run.status = FINISHED.into();
                run.finished_at = Some(db::now());
                Outcome::Finished
            }
            Ok(Some(Stop::Paused)) => Outcome::Paused,
            Ok(Some(Stop::Died)) => return Ok(RuleReport::of_run(rule, &run, Outcome::Paused)),
            Err(error) => {
                run.status = FAILED.into();
                run.finished_at = Some(db::now());
                run.error = Some(error.to_string());
                Outcome::Failed
            }
        };
        run.updated_at = db::now();
        let actor = options
            .actor
            .clone()
            .unwrap_or(Actor::System("retention-sweep"));
        write_transaction(conn, |conn| {
            run.save(conn)?;
            record_run(conn, &actor, rule, &run, outcome)
        })?;
        Ok(RuleReport::of_run(rule, &run, outcome))
    }

    /// The rule's unfinished run if it can be continued as asked, else a new one.
    fn start_or_resume(
        &self,
        conn: &mut DbConnection,
        rule: &RetentionRule,
        options: &SweepOptions,
    ) -> Result<SweepRunRow, RetentionError> {
        let now = db::now();
        if let Some(mut run) = SweepRunRow::unfinished(conn, &rule.name)? {
            let same = run.dry_run == options.dry_run
                && run.table_name == rule.table
                && run.action == action_name(rule.on_expiry);
            if same {
                run.resumed += 1;
                run.holder = self.holder.clone();
                run.updated_at = now;
                run.save(conn)?;
                return Ok(run);
            }
            // A claimed batch of an abandoned run is safe: a new run re-reads those rows.
            run.status = ABANDONED.into();
            run.finished_at = Some(now);
            run.save(conn)?;
        }
        let run = self.blank_run(rule, options, now);
        run.insert(conn)?;
        Ok(run)
    }

    /// A new run of `rule`, started `now`, running.
    fn blank_run(
        &self,
        rule: &RetentionRule,
        options: &SweepOptions,
        now: NaiveDateTime,
    ) -> SweepRunRow {
        SweepRunRow {
            id: SweepId::generate(),
            rule: rule.name.clone(),
            system_key: rule.system.clone(),
            table_name: rule.table.clone(),
            action: action_name(rule.on_expiry).into(),
            dry_run: options.dry_run,
            origin: origin_of(options).into(),
            scheduled_for: options.scheduled_for,
            cutoff: rule.keep.before(options.as_of.unwrap_or(now)),
            status: RUNNING.into(),
            holder: self.holder.clone(),
            started_at: now,
            updated_at: now,
            finished_at: None,
            checkpoint: None,
            claim_end: None,
            claim_rows: 0,
            batches: 0,
            matched: 0,
            changed: 0,
            related: 0,
            skipped_legal_hold: 0,
            skipped_open_request: 0,
            skipped_restriction: 0,
            resumed: 0,
            error: None,
            claim_witness: None,
        }
    }

    /// Processes batches until no expired row is left (`None`) or the sweep must stop.
    fn run_batches(
        &self,
        conn: &mut DbConnection,
        rule: &RetentionRule,
        systems: &[System],
        options: &SweepOptions,
        run: &mut SweepRunRow,
        progress: &dyn Fn(Progress<'_>),
    ) -> Result<Option<Stop>, RetentionError> {
        let (table, counted_from) = match (&rule.table, &rule.counted_from) {
            (Some(table), Some(counted_from)) => (table.as_str(), counted_from.as_str()),
            _ => {
                return Err(RetentionError::Rule(
                    "it names no table and counted_from".into(),
                ))
            }
        };
        let system = systems
            .iter()
            .find(|system| system.key == rule.system)
            .ok_or_else(|| {
                RetentionError::Rule(format!("system {} is not in the catalog", rule.system))
            })?;
        let mut connector = self.connectors.open(system)?;
        connector.check()?;
        let batch_size = options
            .batch_size
            .unwrap_or(self.policies.sweeps.batch_size);
        self.settle_deletions(run, &mut connector, table)?;
        let mut batches_now = 0;
        let mut exceptions = Exceptions::default();
        let mut only = None;
        if rule.on_expiry == OnExpiry::Delete && !options.dry_run && run.claim_end.is_none() {
            let mut deletions = DeleteBatches {
                connector: &mut connector,
                table,
                counted_from,
                batch_size,
                exceptions: &mut exceptions,
                batches_now: &mut batches_now,
                group: None,
            };
            let deleted = self.delete_batches(conn, rule, options, run, &mut deletions, progress);
            if let Some(group) = deletions.group.take() {
                // Stopped by an error inside a group: its deletions roll back, so the run is
                // as it was before the group.
                let _ = deletions.connector.end_batches(false);
                *run = group.base;
            }
            match deleted? {
                Then::Done(stop) => return Ok(stop),
                Then::CheckTheRest(spared) => only = spared,
            }
        }
        let strategies = strategies_of(rule);
        let mut batches = Batches {
            connector,
            table,
            counted_from,
            batch_size,
            strategies: &strategies,
            exceptions,
            only,
            group: None,
            batches_now,
        };
        let stopped = self.checked_batches(conn, rule, options, run, &mut batches, progress);
        if let Some(group) = batches.group.take() {
            // Stopped by an error inside a group: its changes roll back (a claim it may have
            // written covers only rows still there), so the run is as it was before the group.
            let _ = batches.connector.end_batches(false);
            *run = group.base;
        }
        stopped
    }

    /// Deletes expired rows a batch at a time, one statement each, as a hand-written batched
    /// delete would. A rule that honours exceptions has its spared rows
    /// ([`crate::connectors::Spared`]) left out of each statement, looked up again whenever
    /// holds or open requests change and at least every [`RESOLVE_EVERY`]; the rows left are
    /// then read, sorted and counted by [`Self::checked_batches`], as is everything when the
    /// spared rows cannot be named.
    ///
    /// Consecutive batches commit together, after a claim in the run that counts them and
    /// names one deleted key (the witness), so every row is counted once however the sweep
    /// stops.
    fn delete_batches(
        &self,
        conn: &mut DbConnection,
        rule: &RetentionRule,
        options: &SweepOptions,
        run: &mut SweepRunRow,
        batches: &mut DeleteBatches<'_>,
        progress: &dyn Fn(Progress<'_>),
    ) -> Result<Then, RetentionError> {
        let honours = !rule.exceptions.is_empty();
        if !batches.connector.groups_batches() {
            // MySQL: no deletion in one statement either (see `delete_expired`).
            return Ok(Then::CheckTheRest(None));
        }
        let mut sparing = Sparing::default();
        loop {
            if options
                .max_batches
                .is_some_and(|max| *batches.batches_now >= max)
            {
                self.end_deletions(conn, run, batches)?;
                return Ok(Then::Done(Some(Stop::Paused)));
            }
            // The exceptions are checked before each group, not each batch: a group is at most
            // a few batches and 100 ms, and the check is a round trip to loket's store.
            let starts_group = batches.group.is_none();
            if honours && starts_group && !sparing.refresh(conn, &self.cipher, rule, batches)? {
                self.end_deletions(conn, run, batches)?;
                return Ok(Then::CheckTheRest(None));
            }
            if starts_group {
                batches.connector.begin_batches()?;
                batches.group = Some(Group::of(run));
            }
            let Some(deleted) = batches.connector.delete_expired(
                batches.table,
                batches.counted_from,
                run.cutoff,
                batches.batch_size,
                sparing.spared.as_ref(),
            )?
            else {
                self.end_deletions(conn, run, batches)?;
                return Ok(Then::CheckTheRest(None));
            };
            if deleted.rows == 0 {
                self.end_deletions(conn, run, batches)?;
                return Ok(match honours {
                    true => Then::CheckTheRest(sparing.spared),
                    false => Then::Done(None),
                });
            }
            let rows = count_u64(deleted.rows);
            run.batches += 1;
            run.matched += rows;
            run.changed += rows;
            *batches.batches_now += 1;
            let group_full = batches.group.as_mut().is_some_and(|group| {
                group.witness = deleted.witness;
                group.full(DELETION_GROUP_BATCHES)
            });
            if options.die_before_checkpoint == Some(*batches.batches_now) {
                // As if the instance died once this batch's change was committed.
                self.end_deletions(conn, run, batches)?;
                return Ok(Then::Done(Some(Stop::Died)));
            }
            if group_full {
                self.end_deletions(conn, run, batches)?;
            }
            progress(Progress::of(rule, run));
        }
    }

    /// Ends the open group of deletions, if any: writes the run with its count and a claim
    /// naming one key the group deleted, then commits the group. A stop between the two leaves
    /// the claim, which the next run settles ([`Self::settle_deletions`]).
    fn end_deletions(
        &self,
        conn: &mut DbConnection,
        run: &mut SweepRunRow,
        batches: &mut DeleteBatches<'_>,
    ) -> Result<(), RetentionError> {
        let Some(group) = batches.group.take() else {
            return Ok(());
        };
        let mut claimed = SweepRunRow {
            claim_rows: run.matched - group.base.matched,
            claim_witness: group.witness,
            ..run.clone()
        };
        if let Err(error) = self.save_run(conn, &mut claimed) {
            let _ = batches.connector.end_batches(false);
            *run = group.base;
            return Err(error);
        }
        batches.connector.end_batches(true)?;
        run.updated_at = claimed.updated_at;
        Ok(())
    }

    /// Settles the claim a group of deletions left when its instance stopped between writing
    /// the claim and committing: its rows were counted with the claim, so where the witness is
    /// still there (the group was rolled back) they are taken off again.
    fn settle_deletions(
        &self,
        run: &mut SweepRunRow,
        connector: &mut SqlConnector,
        table: &str,
    ) -> Result<(), RetentionError> {
        let Some(witness) = run.claim_witness.take() else {
            return Ok(());
        };
        if connector.holds_key(table, &witness)? {
            run.matched -= run.claim_rows;
            run.changed -= run.claim_rows;
        }
        run.claim_rows = 0;
        Ok(())
    }

    /// The batches of a rule whose rows are read before they are changed: each page of expired
    /// rows after the checkpoint is sorted by the rule's exceptions and the rest is changed.
    ///
    /// Where the organisation's database allows it (SQLite, PostgreSQL: not MySQL, whose
    /// `START TRANSACTION` ends an open one), the changes of consecutive batches commit together
    /// in one [`Group`], after one claim that covers all of them; a dry run changes nothing and
    /// needs no claims.
    fn checked_batches(
        &self,
        conn: &mut DbConnection,
        rule: &RetentionRule,
        options: &SweepOptions,
        run: &mut SweepRunRow,
        batches: &mut Batches<'_>,
        progress: &dyn Fn(Progress<'_>),
    ) -> Result<Option<Stop>, RetentionError> {
        let pending = match rule.on_expiry {
            OnExpiry::Anonymise => Pending::NotAnonymised(batches.strategies),
            OnExpiry::Restrict => Pending::NotRestricted,
            OnExpiry::Delete | OnExpiry::Review => Pending::All,
        };
        let grouped = !options.dry_run && batches.connector.groups_batches();
        let renew_every = (self.lease / 4).to_std().unwrap_or_default();
        let mut saved_at = std::time::Instant::now();
        loop {
            if options
                .max_batches
                .is_some_and(|max| batches.batches_now >= max)
            {
                self.end_group(conn, run, batches)?;
                return Ok(Some(Stop::Paused));
            }
            let starts_group = grouped && batches.group.is_none();
            if starts_group {
                batches.connector.begin_batches()?;
                batches.group = Some(Group::of(run));
            }
            let claim = run.claim_end.clone();
            if starts_group || !grouped {
                batches.exceptions.refresh(conn, &self.cipher, rule)?;
            }
            let kinds = batches.exceptions.kinds();
            let rows = batches.connector.expired_rows(&ExpiredQuery {
                table: batches.table,
                counted_from: batches.counted_from,
                cutoff: run.cutoff,
                after: run.checkpoint.as_deref(),
                up_to: claim.as_deref(),
                limit: match claim {
                    Some(_) => u32::try_from(run.claim_rows).unwrap_or(u32::MAX).max(1),
                    None => batches.batch_size,
                },
                pending,
                owner: Owner {
                    identifiers: kinds.as_deref(),
                    restriction: rule.skips(Exception::ActiveRestriction),
                },
                only: batches.only.as_ref(),
            })?;
            let Some(last_key) = claim.or_else(|| rows.last().map(|row| row.key.clone())) else {
                self.end_group(conn, run, batches)?;
                return Ok(None);
            };
            if run.claim_end.is_some() {
                // Rows of the claimed batch that no longer match were processed before the stop.
                let done_before = (run.claim_rows - count(rows.len())).max(0);
                run.matched += done_before;
                run.changed += done_before;
            }
            let found = count(rows.len());
            let sorted = batches.exceptions.sort(&self.cipher, rule, rows);
            let mut changed = (count(sorted.act_on.len()), 0);
            let acts = !options.dry_run && !sorted.act_on.is_empty();
            if acts {
                if !grouped {
                    run.claim_end = Some(last_key.clone());
                    run.claim_rows = found;
                    self.save_run(conn, run)?;
                    saved_at = std::time::Instant::now();
                }
                changed = apply(
                    &mut batches.connector,
                    rule,
                    batches.table,
                    batches.strategies,
                    &sorted.act_on,
                )?;
            }
            account(run, last_key, found, changed, &sorted);
            batches.batches_now += 1;
            if acts && options.die_before_checkpoint == Some(batches.batches_now) {
                // As if the instance died once this batch's change was committed.
                self.end_group(conn, run, batches)?;
                return Ok(Some(Stop::Died));
            }
            let group_full = batches
                .group
                .as_mut()
                .map(|group| group.full(GROUP_BATCHES));
            if group_full == Some(true) {
                self.end_group(conn, run, batches)?;
            } else if group_full.is_none() && saved_at.elapsed() >= renew_every {
                // The account is written with the next batch's claim, or when the run ends:
                // one write per batch. A stretch of batches that change nothing (all skipped,
                // or a dry run) still writes now and then, to keep the lease.
                self.save_run(conn, run)?;
                saved_at = std::time::Instant::now();
            }
            progress(Progress::of(rule, run));
        }
    }

    /// Ends the open group, if any: writes its claim (with the account from before the group),
    /// then commits its changes. The run in memory keeps the group's account; it is written
    /// with the next group's claim or when the run ends.
    fn end_group(
        &self,
        conn: &mut DbConnection,
        run: &mut SweepRunRow,
        batches: &mut Batches<'_>,
    ) -> Result<(), RetentionError> {
        let Some(group) = &batches.group else {
            return Ok(());
        };
        let mut claimed = group.claim(run);
        self.save_run(conn, &mut claimed)?;
        batches.connector.end_batches(true)?;
        batches.group = None;
        run.updated_at = claimed.updated_at;
        Ok(())
    }

    /// Writes the run's progress and extends the lease; fails when the lease was lost (the
    /// instance stalled longer than the lease and another took the rule over). Flushed to disk
    /// before it returns: a claim must be there before the batches it claims are committed.
    fn save_run(
        &self,
        conn: &mut DbConnection,
        run: &mut SweepRunRow,
    ) -> Result<(), RetentionError> {
        let now = db::now();
        run.updated_at = now;
        if run.save_under_lease(conn, &self.holder, now, now + self.lease)? {
            Ok(())
        } else {
            Err(RetentionError::LeaseLost)
        }
    }

    /// A rule without a table: its run only records that its data is due for a review.
    fn review_due(
        &self,
        conn: &mut DbConnection,
        rule: &RetentionRule,
        options: &SweepOptions,
    ) -> Result<RuleReport, RetentionError> {
        if let Some(slot) = options.scheduled_for {
            if SweepRunRow::slot_taken(conn, &rule.name, slot)? {
                return Ok(RuleReport::new(rule, options.dry_run, Outcome::AlreadyDone));
            }
        }
        let now = db::now();
        let mut run = SweepRunRow {
            status: FINISHED.into(),
            finished_at: Some(now),
            ..self.blank_run(rule, options, now)
        };
        run.action = action_name(OnExpiry::Review).into();
        let actor = options
            .actor
            .clone()
            .unwrap_or(Actor::System("retention-sweep"));
        write_transaction(conn, |conn| {
            run.insert(conn)?;
            record_run(conn, &actor, rule, &run, Outcome::ReviewDue)
        })?;
        Ok(RuleReport::of_run(rule, &run, Outcome::ReviewDue))
    }
}

/// Adds an accounted batch to the run and moves its checkpoint past it.
fn account(
    run: &mut SweepRunRow,
    last_key: String,
    found: i64,
    changed: (i64, i64),
    sorted: &Sorted,
) {
    run.checkpoint = Some(last_key);
    run.claim_end = None;
    run.claim_rows = 0;
    run.batches += 1;
    run.matched += found;
    run.changed += changed.0;
    run.related += changed.1;
    run.skipped_legal_hold += count_u64(sorted.legal_hold);
    run.skipped_open_request += count_u64(sorted.open_request);
    run.skipped_restriction += count_u64(sorted.restriction);
}

/// Does the rule's action to the rows with `keys`: (rows of the table changed, rows of child
/// tables deleted with them).
fn apply(
    connector: &mut SqlConnector,
    rule: &RetentionRule,
    table: &str,
    strategies: &Strategies,
    keys: &[String],
) -> Result<(i64, i64), RetentionError> {
    Ok(match rule.on_expiry {
        OnExpiry::Delete => {
            let deleted = connector.delete_keys(table, keys)?;
            let own = deleted.get(table).copied().unwrap_or(0);
            let related: u64 = deleted.values().sum::<u64>() - own;
            (count_u64(own), count_u64(related))
        }
        OnExpiry::Anonymise => (
            count_u64(connector.anonymise_keys(table, keys, strategies)?),
            0,
        ),
        OnExpiry::Restrict => (count_u64(connector.restrict_keys(table, keys)?), 0),
        OnExpiry::Review => (0, 0),
    })
}

/// The policy's anonymisation as the connector's.
pub(crate) fn strategies_of(rule: &RetentionRule) -> Strategies {
    crate::policies::connector_strategies(&rule.anonymise)
}

/// Audits a run that ended (or paused); one that ended is also a `sweep.finished` webhook event
/// with the counts, in the same transaction.
fn record_run(
    conn: &mut DbConnection,
    actor: &Actor,
    rule: &RetentionRule,
    run: &SweepRunRow,
    outcome: Outcome,
) -> crate::error::Result<()> {
    audit::record(conn, actor, run_event(rule, run, outcome))?;
    if outcome != Outcome::Paused {
        let facts = SweepFacts {
            run_id: run.id.clone(),
            rule: run.rule.clone(),
            system: Some(run.system_key.clone()),
            status: run.status.clone(),
            dry_run: run.dry_run,
            matched: run.matched,
            changed: run.changed,
            finished_at: run.finished_at,
        };
        crate::webhooks::emit(
            conn,
            WebhookEvent::SweepFinished,
            EventData::Sweep(facts),
            None,
        )?;
    }
    Ok(())
}

/// The audit event of a run that ended (or paused): the rule, where, and the counts; never a
/// row's content.
fn run_event<'a>(rule: &RetentionRule, run: &'a SweepRunRow, outcome: Outcome) -> Change<'a> {
    let action = match outcome {
        Outcome::ReviewDue => "retention.review_due",
        Outcome::Failed => "retention.sweep.failed",
        Outcome::Paused => "retention.sweep.paused",
        _ if run.dry_run => "retention.sweep.dry_run",
        _ => "retention.sweep.finished",
    };
    let place = match &rule.table {
        Some(table) => format!("{}.{table}", rule.system),
        None => rule.system.clone(),
    };
    let summary = match outcome {
        Outcome::ReviewDue => format!(
            "rule {} ({place}): data kept {} is due for a review by a person",
            rule.name, rule.keep
        ),
        _ => format!(
            "rule {} ({place}, {}): {} expired rows, {} {}, {} related rows, skipped {} under legal hold, {} with an open request, {} restricted{}",
            rule.name,
            action_name(rule.on_expiry),
            run.matched,
            run.changed,
            if run.dry_run { "would change" } else { "changed" },
            run.related,
            run.skipped_legal_hold,
            run.skipped_open_request,
            run.skipped_restriction,
            run.error.as_deref().map(|e| format!("; error: {e}")).unwrap_or_default()
        ),
    };
    Change {
        action,
        object_type: "sweep_run",
        object_id: &run.id,
        summary,
    }
}

pub(super) fn action_name(action: OnExpiry) -> &'static str {
    match action {
        OnExpiry::Delete => "delete",
        OnExpiry::Anonymise => "anonymise",
        OnExpiry::Restrict => "restrict",
        OnExpiry::Review => "review",
    }
}

fn origin_of(options: &SweepOptions) -> &'static str {
    if options.scheduled_for.is_some() {
        "schedule"
    } else {
        "command"
    }
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn count_u64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The reports as a plain-text table for a terminal, with each failure's reason below it.
pub fn summary_table(reports: &[RuleReport]) -> String {
    let header = [
        "rule",
        "where",
        "action",
        "outcome",
        "matched",
        "changed",
        "related",
        "legal hold",
        "open request",
        "restricted",
    ]
    .map(String::from);
    let mut rows = vec![header];
    for report in reports {
        let place = match &report.table {
            Some(table) => format!("{}.{table}", report.system),
            None => report.system.clone(),
        };
        let outcome = serde_json::to_value(report.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        rows.push([
            report.rule.clone(),
            place,
            format!(
                "{}{}",
                action_name(report.action),
                if report.dry_run && report.action != OnExpiry::Review {
                    " (dry run)"
                } else {
                    ""
                }
            ),
            outcome,
            report.counts.matched.to_string(),
            report.counts.changed.to_string(),
            report.counts.related.to_string(),
            report.counts.skipped_legal_hold.to_string(),
            report.counts.skipped_open_request.to_string(),
            report.counts.skipped_restriction.to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut table = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(column, (cell, width))| {
                // Text left, counts right.
                if column < 4 {
                    format!("{cell:<width$}")
                } else {
                    format!("{cell:>width$}")
                }
            })
            .collect();
        table.push_str(cells.join("  ").trim_end());
        table.push('\n');
    }
    for report in reports {
        if let Some(error) = &report.error {
            table.push_str(&format!("{}: {error}\n", report.rule));
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_lines_up_and_names_failures() {
        let rule = crate::policies::testing::shipped_policies()
            .rule("crm_contact_history")
            .cloned()
            .unwrap();
        let mut done = RuleReport::new(&rule, false, Outcome::Finished);
        done.counts.matched = 1234;
        done.counts.changed = 1200;
        done.counts.skipped_legal_hold = 34;
        let mut failed = RuleReport::new(&rule, true, Outcome::Failed);
        failed.error = Some("crm: cannot connect".into());
        let table = summary_table(&[done, failed]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert!(lines[0].starts_with("rule "));
        assert!(lines[1].contains("crm.interactions") && lines[1].contains("delete "));
        assert!(
            lines[1].contains(" 1234  ") && lines[1].contains(" 1200 "),
            "{table}"
        );
        assert!(lines[2].contains("delete (dry run)") && lines[2].contains("failed"));
        assert_eq!(lines[3], "crm_contact_history: crm: cannot connect");
        // Counts are right-aligned under their headers.
        let column_end = lines[0].find("matched").unwrap() + "matched".len();
        assert_eq!(&lines[1][column_end - 4..column_end], "1234");
    }
}
