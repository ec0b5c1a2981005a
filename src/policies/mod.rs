//! Policies as files: how requests are handled (`requests:`) and how long data is kept (`rules:`),
//! read from the `*.yaml` files of one directory (`policies/` ships the Dutch defaults).
//!
//! A policy file is written by a privacy officer, so every problem names the file, the line and
//! the field to fix, and all problems are reported at once. Loading checks a file on its own
//! ([`load`]); [`Policies::check_against`] then checks what the rules point to against the catalog
//! ([`check`]), because the catalog lives in the database and may change after the files load.
//!
//! A rule that names a `table` can be swept: a sweep finds the rows whose `counted_from` column
//! lies more than `keep` ago and does `on_expiry` with them, skipping the `exceptions`. When
//! sweeps run and in what batches is the `sweeps:` section (shipped in `policies/sweeps.yaml`);
//! a rule may override the schedule with its own.

mod check;
mod expiry;
pub mod guide;
mod load;
mod period;
mod schedule;

pub use expiry::{
    connector_strategies, is_sql_identifier, AnonymiseStrategy, Exception, OnErasure, OnExpiry,
    IDENTIFIER_RULE,
};
pub use period::{PeriodError, PERIOD_EXPECTED};
pub use schedule::{CronSchedule, ScheduleError, SCHEDULE_EXPECTED};

use chrono::{DateTime, Utc};

use crate::catalog::text::Text;
use crate::vocabulary::{Language, RequestKind, TaskKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// Everything the policy files say, merged over the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policies {
    pub requests: RequestPolicy,
    /// Retention rules in file-name order, then file order.
    pub retention: Vec<RetentionRule>,
    /// When and how sweeps run; the defaults when no file has `sweeps:`.
    pub sweeps: SweepPolicy,
    /// The agent's guide and the recognition word lists (`guide:`, shipped in
    /// `policies/guide.yaml`); empty when no file has it.
    pub guide: guide::GuidePolicy,
}

/// When retention sweeps run and how (`sweeps:`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepPolicy {
    /// When every rule without a schedule of its own runs.
    #[serde(default = "SweepPolicy::default_schedule")]
    pub schedule: CronSchedule,
    /// Rows handled per transaction: small enough that no lock is held long.
    #[serde(default = "SweepPolicy::default_batch_size")]
    pub batch_size: u32,
    /// Whether a sweep only reports what it would change unless told otherwise.
    #[serde(default = "SweepPolicy::default_dry_run")]
    pub dry_run_by_default: bool,
}

/// How requests are handled (`requests:`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestPolicy {
    /// Request kinds whose completion a privacy officer must approve (refusals always need it).
    pub approval_required_for: Vec<RequestKind>,
    /// How long the status link in the receipt confirmation stays valid.
    pub status_link_days: i64,
    /// How long a one-time code sent to confirm an e-mail address stays valid.
    pub verification_code_minutes: i64,
    /// How long a link that sends a checklist task to a system's owner stays valid, in days; the
    /// owner's due date defaults to the same day, never after the request's own (issue #22).
    #[serde(default = "default_owner_link_days")]
    pub owner_link_days: i64,
    /// How many days before the owner's due date the owner is reminded once.
    #[serde(default = "default_owner_reminder_days")]
    pub owner_reminder_days: i64,
    /// Checklist task kinds loket runs itself through the connectors once a request's identity
    /// is verified, on the systems they reach; the rest waits for an agent.
    #[serde(default)]
    pub run_automatically: Vec<TaskKind>,
    /// Whether only a privacy officer may extend a request's period by two months (Art. 12(3)).
    #[serde(default)]
    pub extension_needs_privacy_officer: bool,
    /// Whether the answer to an erasure, rectification or restriction names the recipients
    /// told of it (Art. 19) even when the person did not ask who they are.
    #[serde(default)]
    pub name_recipients_in_letters: bool,
    /// The daily reminder digest to assignees and privacy officers (issue 22).
    #[serde(default)]
    pub reminders: ReminderPolicy,
}

/// The daily reminder digest (`requests.reminders`): each assignee gets their open requests due
/// within `due_within_days` days or overdue, each privacy officer all of them; the same daily
/// scan tells webhook subscribers once per request that it is due soon or overdue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReminderPolicy {
    #[serde(default = "ReminderPolicy::default_enabled")]
    pub enabled: bool,
    /// A request due within this many days (today included) is "due soon".
    #[serde(default = "ReminderPolicy::default_days")]
    pub due_within_days: i64,
    /// The hour (0-23, Amsterdam time) at which the digest goes out each day.
    #[serde(default = "ReminderPolicy::default_hour")]
    pub send_hour: u32,
}

impl ReminderPolicy {
    fn default_enabled() -> bool {
        true
    }
    fn default_days() -> i64 {
        5
    }
    fn default_hour() -> u32 {
        7
    }
}

impl Default for ReminderPolicy {
    fn default() -> Self {
        ReminderPolicy {
            enabled: Self::default_enabled(),
            due_within_days: Self::default_days(),
            send_hour: Self::default_hour(),
        }
    }
}

/// How long one set of data is kept, and whether a law obliges keeping it (`rules:`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionRule {
    /// A stable key (`^[a-z][a-z0-9_]*$`), unique over all files; sweeps and tasks refer to it.
    pub name: String,
    /// What the rule is about, for people, including what the fields cannot say yet; in Dutch
    /// and English where the desk shows it in both (a plain string is shown as it is).
    pub description: Text,
    /// The catalog system the data lives in.
    pub system: String,
    /// The catalog activity the data is kept for; absent means every activity using the system.
    #[serde(default)]
    pub activity: Option<String>,
    /// Category codes; empty means all the system holds (for the activity, if one is given).
    #[serde(default)]
    pub categories: Vec<String>,
    pub keep: Period,
    /// The law or reasoning behind the period, in words ("AWR art. 52; BW 2:10").
    #[serde(default)]
    pub legal_basis: Option<Text>,
    /// A law obliges keeping the data for `keep`, so an erasure request keeps it under
    /// Art. 17(3)(b) instead of erasing it.
    #[serde(default)]
    pub legal_duty: bool,
    /// The table of the system the rule sweeps; without one the rule cannot be swept
    /// automatically (a manual system) and its expiry is a review task.
    #[serde(default)]
    pub table: Option<String>,
    /// The timestamp column of `table` the period counts from (created, last contact, end of
    /// contract); required with `table`.
    #[serde(default)]
    pub counted_from: Option<String>,
    #[serde(default)]
    pub on_expiry: OnExpiry,
    /// Column -> strategy; required with `on_expiry: anonymise` or `on_erasure: anonymise`,
    /// refused otherwise.
    #[serde(default)]
    pub anonymise: BTreeMap<String, AnonymiseStrategy>,
    /// How an erasure request erases the person in `table`: `delete` (the default), or
    /// `anonymise` with the strategies under `anonymise:`, so rows kept under Art. 17(3) that
    /// refer to it keep their keys.
    #[serde(default)]
    pub on_erasure: OnErasure,
    /// Rows a sweep leaves alone although expired; all of them unless the rule says otherwise.
    #[serde(default = "Exception::all")]
    pub exceptions: Vec<Exception>,
    /// When this rule is swept, instead of `sweeps.schedule`.
    #[serde(default)]
    pub schedule: Option<CronSchedule>,
    /// Where the rule was written, to point at it in later checks; not part of the file format.
    #[serde(skip)]
    pub source: RuleSource,
}

/// The file and lines a rule came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleSource {
    /// The file as the loader was given it, e.g. `policies/retention.yaml`.
    pub file: String,
    /// The rule's path in the file, e.g. `rules[2]`.
    pub path: String,
    /// The line of the rule and of each of its fields (`""` for the rule itself, `system`,
    /// `categories[1]`, ...).
    pub lines: BTreeMap<String, usize>,
}

impl RuleSource {
    /// The line of `field` of the rule, or of the rule itself when the field has none.
    pub fn line_of(&self, field: &str) -> Option<usize> {
        self.lines
            .get(field)
            .or_else(|| self.lines.get(""))
            .copied()
    }

    /// A problem with `field` of this rule.
    pub fn problem(&self, field: &str, message: impl Into<String>) -> PolicyProblem {
        PolicyProblem {
            file: self.file.clone(),
            line: self.line_of(field),
            field: join_path(&self.path, field),
            message: message.into(),
        }
    }
}

/// `rules[2]` and `keep` make `rules[2].keep`; an empty field names the rule itself.
fn join_path(path: &str, field: &str) -> String {
    if field.is_empty() {
        path.to_string()
    } else {
        format!("{path}.{field}")
    }
}

/// A period written as "7 years", "3 months", "4 weeks" or "30 days".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Days(u32),
    Weeks(u32),
    Months(u32),
    Years(u32),
}

/// One thing wrong in a policy file, located for the person who has to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyProblem {
    pub file: String,
    pub line: Option<usize>,
    /// The field's path in the file (`rules[2].keep`); empty when the problem is the file itself.
    pub field: String,
    pub message: String,
}

/// `policies/retention.yaml line 12: rules[2].keep: expected a period like "7 years"`.
impl fmt::Display for PolicyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A problem of the directory as a whole (no request policy, no files).
    #[error("{0}")]
    Invalid(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Every problem found in the files, one per line when shown.
    #[error("{}", join_lines(.0))]
    Problems(Vec<PolicyProblem>),
}

fn join_lines(problems: &[PolicyProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

fn default_owner_link_days() -> i64 {
    7
}

fn default_owner_reminder_days() -> i64 {
    2
}

/// The shipped request-handling defaults, for running without a policy directory.
impl Default for RequestPolicy {
    fn default() -> Self {
        RequestPolicy {
            approval_required_for: Vec::new(),
            status_link_days: 120,
            verification_code_minutes: 30,
            owner_link_days: default_owner_link_days(),
            owner_reminder_days: default_owner_reminder_days(),
            run_automatically: Vec::new(),
            extension_needs_privacy_officer: false,
            name_recipients_in_letters: false,
            reminders: ReminderPolicy::default(),
        }
    }
}

/// The request-handling and sweep defaults and no retention rules.
impl Default for Policies {
    fn default() -> Self {
        Policies {
            requests: RequestPolicy::default(),
            retention: Vec::new(),
            sweeps: SweepPolicy::default(),
            guide: guide::GuidePolicy::default(),
        }
    }
}

impl SweepPolicy {
    /// The default schedule: 02:30 UTC every night.
    pub const DEFAULT_SCHEDULE: &'static str = "0 30 2 * * *";
    pub const DEFAULT_BATCH_SIZE: u32 = 1000;
    /// Large enough for any sensible batch; beyond it one transaction holds locks for long.
    pub const MAX_BATCH_SIZE: u32 = 100_000;

    fn default_schedule() -> CronSchedule {
        Self::DEFAULT_SCHEDULE
            .parse()
            .expect("the default schedule parses")
    }

    fn default_batch_size() -> u32 {
        Self::DEFAULT_BATCH_SIZE
    }

    /// Without a `sweeps:` section nothing is changed until someone says so: a sweep reports
    /// what it would do.
    fn default_dry_run() -> bool {
        true
    }
}

impl Default for SweepPolicy {
    fn default() -> Self {
        SweepPolicy {
            schedule: Self::default_schedule(),
            batch_size: Self::default_batch_size(),
            dry_run_by_default: Self::default_dry_run(),
        }
    }
}

impl RetentionRule {
    /// The law or reasoning behind the period in `language`; the rule's name where a
    /// hand-built rule gives none (the loader refuses a legal duty without its law).
    pub fn basis(&self, language: Language) -> &str {
        self.legal_basis
            .as_ref()
            .map_or(self.name.as_str(), |basis| basis.get(language))
    }

    /// When the rule is swept: its own schedule, or else the sweeps' one.
    pub fn schedule<'a>(&'a self, sweeps: &'a SweepPolicy) -> &'a CronSchedule {
        self.schedule.as_ref().unwrap_or(&sweeps.schedule)
    }

    /// The rule's first sweep strictly after `after`.
    pub fn next_run_after(
        &self,
        sweeps: &SweepPolicy,
        after: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        self.schedule(sweeps).next_after(after)
    }

    /// Whether a sweep can act on the rule's rows itself (it names a table), rather than only
    /// create a review task.
    pub fn is_sweepable(&self) -> bool {
        self.table.is_some()
    }

    /// Whether rows under `exception` are skipped.
    pub fn skips(&self, exception: Exception) -> bool {
        self.exceptions.contains(&exception)
    }
}

impl Policies {
    /// Reads and checks every `*.yaml` file in `dir` (not its subdirectories). Exactly one file
    /// must hold `requests:`; `rules:` may be spread over several files.
    pub fn load_dir(dir: &Path) -> Result<Self, PolicyError> {
        load::load_dir(dir)
    }

    /// The policies built into the binary (a copy of the source tree's `policies/`), for a
    /// loket started where no policy directory is.
    pub fn shipped() -> Result<Self, PolicyError> {
        let files: Vec<(String, String)> = load::SHIPPED
            .iter()
            .map(|(name, text)| (format!("{name} (built in)"), text.to_string()))
            .collect();
        load::load_files("the built-in policies", &files)
    }

    /// Whether completing a request of `kind` needs a privacy officer's approval.
    pub fn needs_approval(&self, kind: RequestKind) -> bool {
        self.requests.approval_required_for.contains(&kind)
    }

    /// Checks that every rule's system, activity and categories exist in `catalog`, that the
    /// activity uses the system and that the system holds the categories. Empty when all is well.
    pub fn check_against(&self, catalog: &crate::catalog::CatalogSnapshot) -> Vec<PolicyProblem> {
        check::check_rules(&self.retention, catalog)
    }

    /// The rule called `name`.
    pub fn rule(&self, name: &str) -> Option<&RetentionRule> {
        self.retention.iter().find(|rule| rule.name == name)
    }
}

/// The example catalog and the shipped policies, for tests here and in the checklist.
#[cfg(test)]
pub(crate) mod testing {
    use super::Policies;
    use crate::catalog::model::builtin_categories;
    use crate::catalog::CatalogSnapshot;
    use std::path::{Path, PathBuf};

    pub fn shipped_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
    }

    pub fn shipped_policies() -> Policies {
        Policies::load_dir(&shipped_dir()).expect("the shipped policies load")
    }

    /// `examples/catalog.yaml` with the built-in categories, as the database would give it.
    pub fn example_catalog() -> CatalogSnapshot {
        let text = include_str!("../../examples/catalog.yaml");
        let document = crate::catalog::parse_yaml(text).expect("the example catalog parses");
        let mut categories = builtin_categories();
        categories.extend(document.categories);
        CatalogSnapshot {
            systems: document.systems,
            activities: document.activities,
            categories,
            organisation: document.organisation,
        }
    }
}

#[cfg(test)]
mod sweep_tests;
#[cfg(test)]
mod tests;
