//! Running a checklist task through the connector of its system: export, erase, restrict or
//! correct the person's rows in the organisation's own database, and close the task with what
//! happened as its evidence (issue #4, part 4).
//!
//! A run has three steps, so no store transaction is held open while a remote database works:
//!
//! 1. **plan** (a read): the request is in progress with identity verified, the task is open at
//!    the version the caller saw, its system is one the connectors reach and can search by the
//!    requester's identifiers, and what runs is worked out (which tables are kept or restricted);
//! 2. **execute** (a blocking thread, outside every store transaction): the connector does it;
//! 3. **record** (a write): the task is closed as done with the outcome as sealed evidence, in
//!    the same transaction as the audit event `request.task.run`, whose summary holds the system,
//!    table names and row counts, never personal data or connection URLs.
//!
//! A connector failure records nothing and leaves the task open for another try or for a person.
//! Exports are not kept: the evidence holds the rows per table and the SHA-256 of the export
//! (the packages of issue #5 will deliver the data itself).
//!
//! Policy `requests.run_automatically` names task kinds loket runs by itself once a request's
//! identity is verified ([`RequestService::run_automatically`]).

use super::case::{stale, Case};
use super::kept::{self, Decision, KeepException, KeepPlan, Kept, KeptRule};
use super::requester::{check_texts, Requester};
use super::tasks::{store_task, task_index};
use super::view::RequestView;
use super::{RequestService, Staff, SystemRead};
use crate::audit::{Actor, Change};
use crate::catalog::model::{Activity, IdentifierKind, System};
use crate::catalog::text::Text;
use crate::catalog::{CatalogSnapshot, Item};
use crate::connectors::http::HttpConnector;
use crate::connectors::{ConnectorError, ErasureMethods, SqlConnector, TableCounts};
use crate::db::models::kept::KeptRowRow;
use crate::db::models::requests::TaskRow;
use crate::db::DbConnection;
use crate::error::{ConflictCode, Error, FieldError, Result};
use crate::ids::{RequestId, TaskId};
use crate::vocabulary::{Language, RequestState, SearchOutcome, TaskKind, TaskState};
use anyhow::Context;
use chrono::NaiveDate;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// `{"version": N}`, and for a correct_data task also `{"table", "column", "value"}`.
#[derive(utoipa::ToSchema, Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunTask {
    /// The version of the task the run is based on.
    pub version: i32,
    /// correct_data: the mapped table to correct.
    #[serde(default)]
    pub table: Option<String>,
    /// correct_data: the personal-data column of `table` to set.
    #[serde(default)]
    pub column: Option<String>,
    /// correct_data: the corrected value.
    #[serde(default)]
    pub value: Option<String>,
}

/// What a run would do, from a dry run ([`RequestService::preview_run`]).
#[derive(utoipa::ToSchema, Debug, Clone, serde::Serialize)]
pub struct RunPreview {
    /// A legal hold turns the erasure into keeping everything (Art. 17(3)(e)).
    pub held: bool,
    pub systems: Vec<SystemPreview>,
}

#[derive(utoipa::ToSchema, Debug, Clone, serde::Serialize)]
pub struct SystemPreview {
    pub system: String,
    /// In Dutch and English: the desk shows it in the agent's language.
    pub system_name: Text,
    pub tables: Vec<TablePreview>,
}

/// The person's rows in one table and what the run would do with them.
#[derive(utoipa::ToSchema, Debug, Clone, serde::Serialize)]
pub struct TablePreview {
    pub table: String,
    pub rows: u64,
    pub effect: Effect,
}

#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Delete,
    Anonymise,
    Keep,
    Export,
    Restrict,
    Change,
}

/// Who runs a task: an agent, or loket itself per policy.
#[derive(Debug, Clone)]
pub struct Runner {
    pub actor: Actor,
    /// The name recorded as the task's closer and in its evidence.
    pub name: String,
}

impl From<&Staff> for Runner {
    fn from(staff: &Staff) -> Self {
        Runner {
            actor: staff.actor(),
            name: staff.username.to_string(),
        }
    }
}

impl Runner {
    /// loket running tasks by itself (`requests.run_automatically`).
    pub fn automatic() -> Self {
        Runner {
            actor: Actor::System("task-runner"),
            name: "loket (run_automatically)".into(),
        }
    }
}

/// What the connector does on one system.
#[derive(Debug, Clone)]
enum Operation {
    Export,
    /// Erase everything but what the plan keeps (Art. 17(3)); kept rows whose duty has ended go
    /// too. Tables in `anonymise` are anonymised instead of deleted from.
    Erase {
        keep: KeepPlan,
        anonymise: ErasureMethods,
    },
    /// Record what the plan keeps, each row with its end, and erase the kept rows whose duty has
    /// ended; nothing else is touched.
    Keep {
        keep: KeepPlan,
    },
    /// Mark the person's rows restricted in these tables.
    Restrict {
        tables: Vec<String>,
    },
    Correct {
        table: String,
        column: String,
        value: String,
    },
    /// An HTTP system's `erase`, `anonymise`, `restrict` or `correct` on the person's located
    /// records (issue #22); a correction carries its field and value.
    Http {
        operation: &'static str,
        correction: Option<(String, String)>,
    },
}

/// One system's part of a run.
#[derive(Debug, Clone)]
struct Step {
    system: System,
    operation: Operation,
}

/// Everything a run needs, worked out before the connector is called.
#[derive(Debug, Clone)]
struct Plan {
    task_id: TaskId,
    task_version: i32,
    steps: Vec<Step>,
    identifiers: Vec<(IdentifierKind, String)>,
    /// The day the run counts ends against.
    today: NaiveDate,
    /// The reason of the legal hold that turns an erasure into a keep (Art. 17(3)(e)), for staff.
    hold: Option<String>,
}

/// What the connector did on one system: row counts per table, never the rows.
#[derive(Debug, Clone, Default)]
struct StepOutcome {
    system: String,
    exported: TableCounts,
    export_sha256: Option<String>,
    erased: TableCounts,
    /// Rows anonymised in place instead of deleted (kept rows refer to them).
    anonymised: TableCounts,
    restricted: TableCounts,
    corrected: Option<(String, String, u64)>,
    /// The rows kept under an exception, each with its end.
    kept_rows: Vec<Kept>,
    /// Kept rows erased because their duty had already ended.
    ended: TableCounts,
    /// Kept tables without a restricted column: the block is recorded in loket's store only.
    blocked_in_store: Vec<String>,
}

impl StepOutcome {
    /// The person's rows the step found, whatever it did with them.
    fn rows_found(&self) -> u64 {
        let sum = |counts: &TableCounts| counts.values().sum::<u64>();
        sum(&self.exported)
            + sum(&self.erased)
            + sum(&self.anonymised)
            + sum(&self.ended)
            + sum(&self.restricted)
            + self.kept_rows.len() as u64
            + self.corrected.as_ref().map_or(0, |(_, _, rows)| *rows)
    }
}

impl RunTask {
    fn validate(&self) -> Result<()> {
        check_texts(&[
            ("table", self.table.as_deref()),
            ("column", self.column.as_deref()),
            ("value", self.value.as_deref()),
        ])
    }

    fn has_correction(&self) -> bool {
        self.table.is_some() || self.column.is_some() || self.value.is_some()
    }
}

impl TaskKind {
    /// Whether a task of this kind can be run through the connector of its system.
    pub fn runs_through_connector(self) -> bool {
        matches!(
            self,
            TaskKind::ExportData
                | TaskKind::EraseData
                | TaskKind::RestrictData
                | TaskKind::StopProcessing
                | TaskKind::KeepUnderException
                | TaskKind::CorrectData
        )
    }

    /// Whether loket can run it without an agent: a correction needs the new value from one.
    pub fn runs_unattended(self) -> bool {
        self.runs_through_connector() && self != TaskKind::CorrectData
    }

    /// Whether `requests.run_automatically` may list it: a task loket runs without an agent,
    /// or the access facts, which the automatically built package holds.
    pub fn runs_automatically(self) -> bool {
        self.runs_unattended() || self == TaskKind::CompileAccessFacts
    }
}

impl RequestService {
    /// Runs one task through its system's connector and closes it with the outcome as evidence.
    pub async fn run_task(
        &self,
        staff: Staff,
        request_id: RequestId,
        task_id: TaskId,
        run: RunTask,
    ) -> Result<RequestView> {
        run.validate()?;
        self.run_as(Runner::from(&staff), request_id, task_id, run)
            .await
    }

    /// What running the task would do, counted on the system and not done (a dry run): the
    /// person's rows per table and what would happen to them. The agent sees this before they
    /// confirm an erasure; nothing is written, here or in the system, and nothing is audited.
    pub async fn preview_run(
        &self,
        request_id: RequestId,
        task_id: TaskId,
        run: RunTask,
    ) -> Result<RunPreview> {
        run.validate()?;
        let service = self.clone();
        let plan = self
            .store
            .read(move |conn| service.plan(conn, &request_id, &task_id, run))
            .await?;
        let connectors = self.connectors.clone();
        tokio::task::spawn_blocking(move || {
            let systems = plan
                .steps
                .iter()
                .map(|step| {
                    let failed = |error: ConnectorError| Error::Connector {
                        system: step.system.key.clone(),
                        message: error.to_string(),
                    };
                    let tables = if let Operation::Http { operation, .. } = &step.operation {
                        let connector = connectors.open_http(&step.system).map_err(failed)?;
                        http_dry_run(&connector, operation, &plan.identifiers).map_err(failed)?
                    } else {
                        let mut connector = connectors.open(&step.system).map_err(failed)?;
                        dry_run(
                            &mut connector,
                            &step.operation,
                            &plan.identifiers,
                            plan.today,
                        )
                        .map_err(failed)?
                    };
                    Ok(SystemPreview {
                        system: step.system.key.clone(),
                        system_name: step.system.name.clone(),
                        tables,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(RunPreview {
                held: plan.hold.is_some(),
                systems,
            })
        })
        .await
        .context("the connector thread failed")?
    }

    #[tracing::instrument(skip_all, fields(request_id = %request_id, task_id = %task_id))]
    async fn run_as(
        &self,
        runner: Runner,
        request_id: RequestId,
        task_id: TaskId,
        run: RunTask,
    ) -> Result<RequestView> {
        let service = self.clone();
        let id = request_id.clone();
        let plan = self
            .store
            .read(move |conn| service.plan(conn, &id, &task_id, run))
            .await?;
        let outcomes = self.execute(plan.clone()).await?;
        let service = self.clone();
        self.store
            .write(move |conn| service.record(conn, &request_id, &runner, &plan, &outcomes))
            .await
    }

    /// Runs, in the background after a request's identity was verified, its open tasks of the
    /// kinds `requests.run_automatically` lists on systems the connectors reach. A failure is
    /// logged and leaves the task open for an agent.
    pub(crate) fn run_automatically(&self, request_id: &RequestId) {
        if self.policies.requests.run_automatically.is_empty() {
            return;
        }
        let service = self.clone();
        let request_id = request_id.clone();
        self.background.clone().spawn(async move {
            if let Err(error) = service.answer_by_package(&request_id).await {
                tracing::warn!(request = %request_id, %error, "the package could not be built automatically; the tasks run one by one");
            }
            let due = service.automatic_tasks(request_id.clone()).await;
            let tasks = match due {
                Ok(tasks) => tasks,
                Err(error) => {
                    tracing::warn!(request = %request_id, %error, "could not list tasks to run automatically");
                    return;
                }
            };
            for (task_id, position, version) in tasks {
                let run = RunTask {
                    version,
                    ..RunTask::default()
                };
                let outcome = service
                    .run_as(Runner::automatic(), request_id.clone(), task_id, run)
                    .await;
                match outcome {
                    Ok(_) => {
                        tracing::info!(request = %request_id, task = position + 1, "task run automatically")
                    }
                    Err(error) => tracing::warn!(
                        request = %request_id, task = position + 1, %error,
                        "task could not be run automatically; it stays open for an agent"
                    ),
                }
            }
        });
    }

    /// For an access or portability request with `export_data` in `run_automatically`: builds
    /// the package, which reads every reachable system once and settles the tasks that read
    /// answers ([`RequestService::record_package_read`]). Tasks on manual systems and the
    /// answer stay with the agents. Nothing happens when there is nothing to search.
    #[tracing::instrument(skip_all, fields(request_id = %request_id))]
    async fn answer_by_package(&self, request_id: &RequestId) -> Result<()> {
        let kinds = &self.policies.requests.run_automatically;
        let Some(build_package) = self.build_package.clone() else {
            return Ok(());
        };
        if !kinds.contains(&TaskKind::ExportData) {
            return Ok(());
        }
        let service = self.clone();
        let id = request_id.clone();
        let due = self
            .store
            .read(move |conn| {
                let case = Case::load(conn, &id)?;
                let answers_with_package = matches!(
                    case.kind(),
                    crate::vocabulary::RequestKind::Access
                        | crate::vocabulary::RequestKind::Portability
                );
                if !answers_with_package || !case.row.identity_verified {
                    return Ok(false);
                }
                for task in case.open_tasks() {
                    if task.kind != TaskKind::ExportData {
                        continue;
                    }
                    let systems = service.systems_of(conn, task)?;
                    if systems
                        .iter()
                        .any(|system| service.connectors.reaches(system))
                    {
                        return Ok(true);
                    }
                }
                Ok::<_, Error>(false)
            })
            .await?;
        if !due {
            return Ok(());
        }
        build_package(self.clone(), Runner::automatic(), request_id.clone()).await?;
        Ok(())
    }

    /// Settles, in the transaction that records package `package_id` ready, the tasks its read
    /// answers, whoever built it: the open export tasks of the systems it searched are closed
    /// from that read (rows per table and their SHA-256 as evidence: the export and the package
    /// are the same rows); with `compile_access_facts` in `run_automatically` and no search left
    /// open, an access request's facts task too; then the Art. 19 notifications that nothing
    /// found makes needless. So the agent does not search again what the package just read, and
    /// the whole step is one commit.
    pub(crate) fn record_package_read(
        &self,
        conn: &mut DbConnection,
        request_id: &RequestId,
        package_id: &crate::ids::PackageId,
        runner: &Runner,
        read: &BTreeMap<String, SystemRead>,
    ) -> Result<()> {
        let mut case = Case::load(conn, request_id)?;
        let searched: Vec<(usize, String)> = case
            .tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| t.state == TaskState::Open && t.kind == TaskKind::ExportData)
            .filter_map(|(index, t)| Some((index, t.system_key.clone()?)))
            .filter(|(_, system)| read.contains_key(system))
            .collect();
        for (index, system) in searched {
            let read = &read[&system];
            let outcome = StepOutcome {
                system: system.clone(),
                exported: read.rows.clone(),
                export_sha256: Some(read.sha256.clone()),
                ..StepOutcome::default()
            };
            let note = format!(
                "; read once for package {package_id} (the export and the package are the same rows)"
            );
            self.close_run(conn, &mut case, index, runner, None, &[outcome], &note)?;
        }
        let facts_by_loket = self
            .policies
            .requests
            .run_automatically
            .contains(&TaskKind::CompileAccessFacts);
        let facts_open = case
            .open_tasks()
            .any(|t| t.kind == TaskKind::CompileAccessFacts);
        if facts_by_loket && facts_open && case.kind() == crate::vocabulary::RequestKind::Access {
            let deliverables = super::answer::Deliverables::of(conn, &case)?;
            if self.findings(&case, &deliverables).open_searches.is_empty() {
                let loket = Staff {
                    username: Runner::automatic().name.as_str().into(),
                    role: crate::auth::Role::Agent,
                };
                self.compile_access_facts(conn, &mut case, &loket, &deliverables)?;
            }
        }
        self.settle_notifications(conn, &mut case, runner)
    }

    /// (id, position, version) of the open tasks to run automatically.
    async fn automatic_tasks(&self, request_id: RequestId) -> Result<Vec<(TaskId, i32, i32)>> {
        let service = self.clone();
        self.store
            .read(move |conn| {
                let case = Case::load(conn, &request_id)?;
                let kinds = &service.policies.requests.run_automatically;
                let mut due = Vec::new();
                for task in case.open_tasks() {
                    let kind = task.kind;
                    if !kinds.contains(&kind) {
                        continue;
                    }
                    let systems = service.systems_of(conn, task)?;
                    let reachable = !systems.is_empty()
                        && systems
                            .iter()
                            .all(|system| service.connectors.reaches_any(system));
                    if reachable {
                        due.push((task.id.clone(), task.position, task.version));
                    }
                }
                Ok(due)
            })
            .await
    }

    // --- plan ------------------------------------------------------------------------------

    fn plan(
        &self,
        conn: &mut DbConnection,
        request_id: &RequestId,
        task_id: &TaskId,
        run: RunTask,
    ) -> Result<Plan> {
        let case = Case::load(conn, request_id)?;
        let task = &case.tasks[task_index(&case, task_id)?];
        let state = case.state();
        if state != RequestState::InProgress {
            return Err(Error::conflict(
                ConflictCode::WrongState,
                format!("tasks are run while a request is in_progress; this one is {state}"),
            ));
        }
        if !case.row.identity_verified {
            return Err(Error::conflict(
                ConflictCode::IdentityFirst,
                "record how identity was verified before running tasks",
            ));
        }
        if task.version != run.version {
            return Err(stale("task", task.version));
        }
        if task.state != TaskState::Open {
            return Err(Error::conflict(
                ConflictCode::Other,
                format!(
                    "task {} is {}; only an open task is run",
                    task.position + 1,
                    task.state
                ),
            ));
        }
        let kind = task.kind;
        if !kind.runs_through_connector() {
            return Err(Error::invalid(
                "task",
                format!("a {kind} task is not run through a connector; complete it by hand"),
            ));
        }
        if kind != TaskKind::CorrectData && run.has_correction() {
            return Err(Error::invalid(
                "table",
                "table, column and value go with a correct_data task only",
            ));
        }
        let systems = self.systems_of(conn, task)?;
        if systems.is_empty() {
            return Err(Error::invalid(
                "task",
                format!("a {kind} task names no system; do this task by hand"),
            ));
        }
        let requester = Requester::open(&self.cipher, &case.row)?;
        let identifiers = requester.search_identifiers();
        let mut steps = Vec::new();
        let mut hold = None;
        for system in systems {
            self.check_reachable(&system, &identifiers)?;
            let choices = self.keep_choices(conn, &case, &system.key)?;
            let mut operation = self.operation(kind, task, &system, &run, &choices)?;
            if matches!(
                &operation,
                Operation::Http {
                    operation: "erase" | "anonymise",
                    ..
                }
            ) && self.hold_on(conn, &case, &system.key)?.is_some()
            {
                return Err(Error::conflict(
                    ConflictCode::Other,
                    format!(
                        "a legal hold is in force on {}; keep everything there (Art. 17(3)(e))",
                        system.key
                    ),
                ));
            }
            if let Operation::Erase { keep, .. } | Operation::Keep { keep } = &mut operation {
                hold = self.hold_on(conn, &case, &system.key)?;
                keep.held = hold.is_some();
                if keep.held {
                    operation = Operation::Keep { keep: keep.clone() };
                }
            }
            steps.push(Step { system, operation });
        }
        Ok(Plan {
            task_id: task.id.clone(),
            task_version: task.version,
            steps,
            identifiers,
            today: crate::db::now().date(),
            hold,
        })
    }

    /// The systems a task is about: its own, or those of its activity (stop_processing).
    pub(super) fn systems_of(
        &self,
        conn: &mut DbConnection,
        task: &TaskRow,
    ) -> Result<Vec<System>> {
        // From the cached catalog: one stamp read where each system was two reads.
        let catalog = self.catalog.get(conn)?;
        let keys: Vec<String> = match (&task.system_key, &task.activity_key) {
            (Some(system), _) => vec![system.clone()],
            (None, Some(activity)) if task.kind == TaskKind::StopProcessing => catalog
                .activities
                .iter()
                .find(|a| &a.key == activity)
                .map(|a| a.systems.clone())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        keys.iter()
            .map(|key| {
                let system = catalog.systems.iter().find(|system| &system.key == key);
                system.cloned().ok_or_else(|| {
                    Error::conflict(
                        ConflictCode::Other,
                        format!("system {key} is no longer in the catalog; do this task by hand"),
                    )
                })
            })
            .collect()
    }

    /// The system can be reached and searched by at least one of the requester's identifiers.
    fn check_reachable(
        &self,
        system: &System,
        identifiers: &[(IdentifierKind, String)],
    ) -> Result<()> {
        let key = &system.key;
        if self.connectors.reaches_http(system) {
            return check_http_searchable(system, identifiers);
        }
        if !self.connectors.reaches(system) {
            let why = match (&system.sql, system.connector) {
                (_, crate::catalog::model::ConnectorKind::Manual) => {
                    "is a manual system (connector: manual)"
                }
                (None, _) => "has no `sql:` mapping in the catalog",
                (Some(_), _) => "has no connector configured",
            };
            return Err(Error::invalid(
                "task",
                format!("system {key} {why}; do this task by hand"),
            ));
        }
        let searchable: Vec<IdentifierKind> = system
            .sql
            .iter()
            .flat_map(|mapping| &mapping.tables)
            .flat_map(|table| table.identifiers.keys().copied())
            .collect();
        if !identifiers
            .iter()
            .any(|(kind, _)| searchable.contains(kind))
        {
            let names = |kinds: &mut dyn Iterator<Item = IdentifierKind>| {
                let mut names: Vec<&str> = kinds.map(IdentifierKind::as_str).collect();
                names.sort();
                names.dedup();
                names.join(", ")
            };
            return Err(Error::conflict(
                ConflictCode::Other,
                format!(
                "system {key} finds people by {}, and the requester gave {}; do this task by hand",
                names(&mut searchable.iter().copied()),
                names(&mut identifiers.iter().map(|(kind, _)| *kind)),
            ),
            ));
        }
        Ok(())
    }

    fn operation(
        &self,
        kind: TaskKind,
        task: &TaskRow,
        system: &System,
        run: &RunTask,
        choices: &[(TaskId, KeptRule)],
    ) -> Result<Operation> {
        if self.connectors.reaches_http(system) {
            return self.http_operation(kind, system, run);
        }
        let mapping = system
            .sql
            .as_ref()
            .with_context(|| format!("system {} is reachable without a mapping", system.key))?;
        let key = &system.key;
        Ok(match kind {
            TaskKind::ExportData => Operation::Export,
            TaskKind::EraseData => {
                // What the agent chose to keep in this system stays too.
                let mut keep = self.keep_plan(system, None)?;
                keep.rules
                    .extend(choices.iter().map(|(_, rule)| rule.clone()));
                Operation::Erase {
                    keep,
                    anonymise: kept::erasure_methods(&self.policies.retention, system),
                }
            }
            TaskKind::RestrictData | TaskKind::StopProcessing => {
                let tables: Vec<String> = mapping
                    .tables
                    .iter()
                    .filter(|table| table.restricted_column.is_some())
                    .map(|table| table.name.clone())
                    .collect();
                if tables.is_empty() {
                    return Err(Error::conflict(ConflictCode::Other, format!(
                        "no table of {key} has a restricted_column in the catalog's sql mapping; do this task by hand"
                    )));
                }
                Operation::Restrict { tables }
            }
            TaskKind::KeepUnderException => {
                let chosen = choices.iter().find(|(id, _)| *id == task.id);
                let keep = match chosen {
                    Some((_, rule)) => KeepPlan {
                        rules: vec![rule.clone()],
                        held: false,
                    },
                    None => self.keep_plan(system, task.activity_key.as_deref())?,
                };
                if keep.rules.iter().all(|rule| rule.tables.is_empty()) {
                    return Err(Error::conflict(ConflictCode::Other, format!(
                        "no retention rule with legal_duty names a table of {key} for this data; keep it by hand"
                    )));
                }
                Operation::Keep { keep }
            }
            TaskKind::CorrectData => correction(mapping, run)?,
            other => {
                return Err(Error::invalid(
                    "task",
                    format!("a {other} task is not run through a connector"),
                ))
            }
        })
    }

    /// What a task does on an HTTP system. What the law says to keep there (a retention rule
    /// with a legal duty on the system) is left to a person: a service's records cannot be
    /// split into kept and erased by loket.
    fn http_operation(&self, kind: TaskKind, system: &System, run: &RunTask) -> Result<Operation> {
        let key = &system.key;
        let has = |operation: &str| {
            system
                .http
                .as_ref()
                .is_some_and(|definition| definition.operations.contains_key(operation))
        };
        let missing = |what: &str| {
            Error::conflict(
                ConflictCode::Other,
                format!(
                    "the HTTP definition of {key} has no `{what}` operation; do this task by hand"
                ),
            )
        };
        let plain = |operation: &'static str| Operation::Http {
            operation,
            correction: None,
        };
        Ok(match kind {
            TaskKind::ExportData if has("export") => Operation::Export,
            TaskKind::ExportData => return Err(missing("export")),
            TaskKind::EraseData => {
                let duty = self
                    .policies
                    .retention
                    .iter()
                    .any(|rule| rule.legal_duty && rule.system == system.key);
                if duty {
                    return Err(Error::conflict(ConflictCode::Other, format!(
                        "a retention rule with legal_duty keeps data of {key}; erase what may go by hand"
                    )));
                }
                if has("erase") {
                    plain("erase")
                } else if has("anonymise") {
                    plain("anonymise")
                } else {
                    return Err(missing("erase"));
                }
            }
            TaskKind::RestrictData | TaskKind::StopProcessing if has("restrict") => {
                plain("restrict")
            }
            TaskKind::RestrictData | TaskKind::StopProcessing => return Err(missing("restrict")),
            TaskKind::CorrectData if has("correct") => {
                let mut errors = Vec::new();
                for (field, value) in [("column", &run.column), ("value", &run.value)] {
                    if value.is_none() {
                        errors.push(FieldError::new(
                            field,
                            "is required to run a correct_data task",
                        ));
                    }
                }
                crate::error::all_valid(errors)?;
                Operation::Http {
                    operation: "correct",
                    correction: run.column.clone().zip(run.value.clone()),
                }
            }
            TaskKind::CorrectData => return Err(missing("correct")),
            other => {
                return Err(Error::conflict(
                    ConflictCode::Other,
                    format!(
                    "a {other} task on {key} is not run through its HTTP connector; do it by hand"
                ),
                ))
            }
        })
    }

    /// What retention rules with a legal duty keep in `system` (Art. 17(3)(b)); with `activity`,
    /// only the rules for that activity (or for every activity). A rule keeps its own table and
    /// every mapped table where the catalog says the system holds the rule's categories (all of
    /// them when it lists none): a fiscal duty keeps the invoices and the payments and the
    /// account they belong to, not the invoice table alone.
    fn keep_plan(&self, system: &System, activity: Option<&str>) -> Result<KeepPlan> {
        let mapped = |name: &str| {
            system
                .sql
                .as_ref()
                .is_some_and(|mapping| mapping.table(name).is_some())
        };
        let mut rules = Vec::new();
        for rule in self
            .policies
            .retention
            .iter()
            .filter(|rule| rule.legal_duty && rule.system == system.key)
            .filter(|rule| {
                activity.is_none()
                    || rule.activity.is_none()
                    || rule.activity.as_deref() == activity
            })
        {
            let mut tables: Vec<String> = rule.table.iter().cloned().collect();
            let holds = |category: &str| {
                rule.categories.is_empty() || rule.categories.iter().any(|c| c == category)
            };
            for holding in system.holdings.iter().filter(|h| holds(&h.category)) {
                // Locations are written as `table.column, table.column` or `table`.
                tables.extend(
                    holding
                        .location
                        .split(',')
                        .filter_map(|place| place.trim().split('.').next())
                        .filter(|name| mapped(name))
                        .map(str::to_string),
                );
            }
            // A rule table the mapping does not list cannot be reached: the checklist gave it a
            // review task, where a person keeps it by hand.
            tables.retain(|t| mapped(t));
            tables.sort();
            tables.dedup();
            rules.push(KeptRule {
                rule: Some(rule.name.clone()),
                exception: KeepException::LegalObligation,
                legal_basis: rule.basis(Language::Nl).to_string(),
                keep: Some(rule.keep),
                dated: rule
                    .table
                    .clone()
                    .filter(|t| mapped(t))
                    .zip(rule.counted_from.clone()),
                until: None,
                tables,
            });
        }
        Ok(KeepPlan { rules, held: false })
    }

    /// Whether the task's system serves direct marketing.
    fn is_marketing(&self, conn: &mut DbConnection, task: &TaskRow) -> Result<bool> {
        let Some(system) = &task.system_key else {
            return Ok(false);
        };
        Ok(<Activity as Item>::load_all(conn)?.iter().any(|activity| {
            activity.systems.contains(system) && super::checklist::is_direct_marketing(activity)
        }))
    }

    /// The reason of a legal hold in force on the requester in `system` (or on every system).
    fn hold_on(
        &self,
        conn: &mut DbConnection,
        case: &Case,
        system: &str,
    ) -> Result<Option<String>> {
        let row = &case.row;
        let indexes: Vec<String> = [
            &row.email_index,
            &row.customer_number_index,
            &row.phone_index,
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        let holds = crate::db::models::kept::holds_on(conn, system, &indexes)?;
        holds
            .first()
            .map(|hold| hold.reason(&self.cipher))
            .transpose()
            .map_err(Error::from)
    }

    // --- execute ---------------------------------------------------------------------------

    /// Calls the connectors on a blocking thread, outside every store transaction.
    async fn execute(&self, plan: Plan) -> Result<Vec<StepOutcome>> {
        let connectors = self.connectors.clone();
        tokio::task::spawn_blocking(move || {
            plan.steps
                .iter()
                .map(|step| {
                    let failed = |error: ConnectorError| Error::Connector {
                        system: step.system.key.clone(),
                        message: error.to_string(),
                    };
                    if connectors.reaches_http(&step.system) {
                        let mut connector = connectors.open_http(&step.system).map_err(failed)?;
                        return run_http_step(&mut connector, &step.operation, &plan.identifiers)
                            .map_err(failed);
                    }
                    let mut connector = connectors.open(&step.system).map_err(failed)?;
                    run_step(
                        &mut connector,
                        &step.operation,
                        &plan.identifiers,
                        plan.today,
                    )
                    .map_err(failed)
                })
                .collect()
        })
        .await
        .context("the connector thread failed")?
    }

    // --- record ----------------------------------------------------------------------------

    fn record(
        &self,
        conn: &mut DbConnection,
        request_id: &RequestId,
        runner: &Runner,
        plan: &Plan,
        outcomes: &[StepOutcome],
    ) -> Result<RequestView> {
        let mut case = Case::load(conn, request_id)?;
        let index = task_index(&case, &plan.task_id)?;
        let task = &case.tasks[index];
        if task.version != plan.task_version || task.state != TaskState::Open {
            return Err(Error::conflict(ConflictCode::Stale, format!(
                "task {} was changed by someone else while the connector ran (current version {}); reload it: the connector did its work, running it again finds what is left",
                task.position + 1,
                task.version
            )));
        }
        self.close_run(
            conn,
            &mut case,
            index,
            runner,
            plan.hold.as_deref(),
            outcomes,
            "",
        )?;
        self.settle_notifications(conn, &mut case, runner)?;
        self.view_in(conn, &case)
    }

    /// Closes task `index` of `case` as done with what the connectors did as its evidence
    /// (`note` added to it), with the audit event `request.task.run`.
    #[allow(clippy::too_many_arguments)]
    fn close_run(
        &self,
        conn: &mut DbConnection,
        case: &mut Case,
        index: usize,
        runner: &Runner,
        hold: Option<&str>,
        outcomes: &[StepOutcome],
        note: &str,
    ) -> Result<()> {
        let mut task = case.tasks[index].clone();
        for outcome in outcomes {
            self.store_kept(conn, case, outcome)?;
            let found = i64::try_from(outcome.rows_found()).unwrap_or(i64::MAX);
            crate::db::models::kept::record_finding(conn, &task.id, &outcome.system, found)?;
        }
        if let Some(reason) = hold {
            let catalog = self.catalog.get(conn)?;
            turn_into_keep(&mut task, &catalog, reason);
        }
        let ends: Vec<Option<NaiveDate>> = outcomes
            .iter()
            .flat_map(|outcome| &outcome.kept_rows)
            .map(|kept| kept.until)
            .collect();
        // A run that found nothing more to keep (an erasure before it took what was not kept)
        // leaves the end the task had.
        if task.kind == TaskKind::KeepUnderException && !ends.is_empty() {
            task.keep_until = kept::latest_end(ends.into_iter());
        }
        let counts = describe(outcomes);
        let at = crate::db::now().format("%Y-%m-%d %H:%M:%S UTC");
        let mut evidence = format!(
            "Run through the connector by {} at {at}: {counts}",
            runner.name
        );
        evidence.push_str(note);
        let erases_marketing =
            task.kind == TaskKind::EraseData && self.is_marketing(conn, &task)?;
        if erases_marketing && self.suppress_email(conn, case)? {
            evidence.push_str("; the e-mail address is on the suppression list as a keyed hash, so no mail is sent to it again");
        }
        for outcome in outcomes {
            if let Some(hash) = &outcome.export_sha256 {
                let _ = write!(
                    evidence,
                    "; SHA-256 of the {} export {hash}",
                    outcome.system
                );
            }
        }
        self.set_task_state(&mut task, TaskState::Done, Some(&evidence), &runner.name);
        let rows = rows_found(outcomes);
        let found = if rows > 0 {
            SearchOutcome::Found
        } else {
            SearchOutcome::NotFound
        };
        super::tasks::record_outcome(&mut task, found, i64::try_from(rows).ok());
        store_task(conn, &mut task)?;
        crate::audit::record(
            conn,
            &runner.actor,
            Change {
                action: "request.task.run",
                object_type: "request",
                object_id: &case.row.reference,
                summary: format!(
                    "task {} ({}) run through the connector: {counts}",
                    task.position + 1,
                    task.kind
                ),
            },
        )?;
        case.tasks[index] = task;
        Ok(())
    }
}

impl RequestService {
    /// Records the rows a run kept, by keyed hash with the key sealed, each with its exception
    /// and end; a row kept before by this request gets the newer ground and end. The case is
    /// marked as having kept rows, as the database marks the stored row.
    fn store_kept(
        &self,
        conn: &mut DbConnection,
        case: &mut Case,
        outcome: &StepOutcome,
    ) -> Result<()> {
        let now = crate::db::now();
        let request_id = case.id().clone();
        case.row.has_kept_rows |= !outcome.kept_rows.is_empty();
        for kept in &outcome.kept_rows {
            let place = format!("{}\u{1f}{}\u{1f}{}", outcome.system, kept.table, kept.key);
            KeptRowRow {
                id: crate::ids::new_id(),
                request_id: request_id.clone(),
                system_key: outcome.system.clone(),
                table_name: kept.table.clone(),
                row_hash: self.cipher.index(kept::ROW_PLACE, &place),
                row_key_enc: self.cipher.encrypt(kept::ROW_KEY_PLACE, &kept.key),
                exception: kept.exception.as_str().to_string(),
                legal_basis: kept.legal_basis.clone(),
                rule: kept.rule.clone(),
                keep_until: kept.until,
                kept_at: now,
                erased_at: None,
                erased_by: None,
            }
            .upsert(conn)?;
        }
        Ok(())
    }
}

/// The correction of a correct_data task: a mapped table and one of its personal-data columns.
fn correction(mapping: &crate::catalog::model::SqlMapping, run: &RunTask) -> Result<Operation> {
    let mut errors = Vec::new();
    let mut need = |field: &str, value: &Option<String>| match value {
        Some(value) => Some(value.trim().to_string()),
        None => {
            errors.push(FieldError::new(
                field,
                "is required to run a correct_data task",
            ));
            None
        }
    };
    let (table, column, value) = (
        need("table", &run.table),
        need("column", &run.column),
        need("value", &run.value),
    );
    crate::error::all_valid(errors)?;
    let (Some(table), Some(column), Some(value)) = (table, column, value) else {
        return Err(anyhow::anyhow!("a checked correction lost a field").into());
    };
    let Some(mapped) = mapping.table(&table) else {
        let names: Vec<&str> = mapping.tables.iter().map(|t| t.name.as_str()).collect();
        return Err(Error::invalid(
            "table",
            format!(
                "'{table}' is not a mapped table (expected {})",
                names.join(", ")
            ),
        ));
    };
    if !mapped.columns.contains(&column) {
        return Err(Error::invalid(
            "column",
            format!(
                "'{column}' is not a personal-data column of {table} (expected {})",
                mapped.columns.join(", ")
            ),
        ));
    }
    Ok(Operation::Correct {
        table,
        column,
        value,
    })
}

/// The system can be searched over HTTP by at least one of the requester's identifiers: a
/// `locate` request uses only identifiers the requester gave.
fn check_http_searchable(system: &System, identifiers: &[(IdentifierKind, String)]) -> Result<()> {
    if http_searchable(system, identifiers) {
        return Ok(());
    }
    Err(Error::conflict(
        ConflictCode::Other,
        format!(
        "system {} finds people by identifiers the requester did not give; do this task by hand",
        system.key
    ),
    ))
}

/// Whether a `locate` request of the HTTP system needs only identifiers the requester gave.
pub fn http_searchable(system: &System, identifiers: &[(IdentifierKind, String)]) -> bool {
    let locate = system
        .http
        .as_ref()
        .and_then(|definition| definition.operations.get("locate"))
        .cloned()
        .unwrap_or_default();
    let given: Vec<IdentifierKind> = identifiers.iter().map(|(kind, _)| *kind).collect();
    locate.iter().any(|call| {
        call.identifier_kinds()
            .iter()
            .all(|kind| given.contains(kind))
    })
}

/// One HTTP system's part of a run: the export's records are hashed like an SQL export.
fn run_http_step(
    connector: &mut HttpConnector,
    operation: &Operation,
    identifiers: &[(IdentifierKind, String)],
) -> std::result::Result<StepOutcome, ConnectorError> {
    let mut outcome = StepOutcome {
        system: connector.system().to_string(),
        ..StepOutcome::default()
    };
    match operation {
        Operation::Export => {
            let records = connector.export(identifiers)?;
            let bytes = serde_json::to_vec(&records).unwrap_or_default();
            outcome.export_sha256 = Some(hex::encode(Sha256::digest(&bytes)));
            outcome.exported = records
                .iter()
                .map(|(name, rows)| (name.clone(), rows.len() as u64))
                .collect();
        }
        Operation::Http {
            operation,
            correction,
        } => {
            let correction = correction
                .as_ref()
                .map(|(column, value)| (column.as_str(), value.as_str()));
            let counts = connector.apply(operation, identifiers, correction)?;
            match *operation {
                "restrict" => outcome.restricted = counts,
                "correct" => {
                    let rows = counts.values().sum();
                    let (column, _) = correction.unwrap_or_default();
                    let name = counts.keys().next().cloned().unwrap_or_default();
                    outcome.corrected = Some((name, column.to_string(), rows));
                }
                _ => outcome.erased = counts,
            }
        }
        // The plan gives an HTTP system only the two kinds above.
        _ => {
            return Err(ConnectorError::NotReachable {
                system: connector.system().to_string(),
                reason: "this operation does not run over HTTP".into(),
            })
        }
    }
    Ok(outcome)
}

fn run_step(
    connector: &mut SqlConnector,
    operation: &Operation,
    identifiers: &[(IdentifierKind, String)],
    today: NaiveDate,
) -> std::result::Result<StepOutcome, ConnectorError> {
    let mut outcome = StepOutcome {
        system: connector.system().to_string(),
        ..StepOutcome::default()
    };
    match operation {
        Operation::Export => {
            let mut digest = HashingWriter::default();
            outcome.exported = connector.export(identifiers, &mut digest)?;
            outcome.export_sha256 = Some(hex::encode(digest.0.finalize()));
        }
        Operation::Erase { keep, anonymise } => {
            let decision = keep_and_end(connector, identifiers, keep, today, &mut outcome)?;
            let tables = decision.kept_tables();
            let tables: Vec<&str> = tables.iter().map(String::as_str).collect();
            let erasure = connector.erase_with(identifiers, &tables, anonymise)?;
            outcome.erased = erasure.deleted;
            outcome.anonymised = erasure.anonymised;
        }
        Operation::Keep { keep } => {
            keep_and_end(connector, identifiers, keep, today, &mut outcome)?;
        }
        Operation::Restrict { tables } => {
            for table in tables {
                let rows = connector.restrict(identifiers, table)?;
                outcome.restricted.insert(table.clone(), rows);
            }
        }
        Operation::Correct {
            table,
            column,
            value,
        } => {
            let rows = connector.correct(identifiers, table, column, value)?;
            outcome.corrected = Some((table.clone(), column.clone(), rows));
        }
        Operation::Http { .. } => {
            return Err(ConnectorError::NotReachable {
                system: connector.system().to_string(),
                reason: "an HTTP operation reached the SQL connector".into(),
            })
        }
    }
    Ok(outcome)
}

/// What an HTTP operation would do: the person's records the system locates, per record set.
fn http_dry_run(
    connector: &HttpConnector,
    operation: &str,
    identifiers: &[(IdentifierKind, String)],
) -> std::result::Result<Vec<TablePreview>, ConnectorError> {
    let effect = match operation {
        "erase" => Effect::Delete,
        "anonymise" => Effect::Anonymise,
        "restrict" => Effect::Restrict,
        _ => Effect::Change,
    };
    let located = connector.locate(identifiers)?;
    Ok(located
        .counts
        .into_iter()
        .map(|(table, rows)| TablePreview {
            table,
            rows,
            effect,
        })
        .collect())
}

/// What a run would do on one system, per table: counted, nothing changed.
fn dry_run(
    connector: &mut SqlConnector,
    operation: &Operation,
    identifiers: &[(IdentifierKind, String)],
    today: NaiveDate,
) -> std::result::Result<Vec<TablePreview>, ConnectorError> {
    let each = |counts: TableCounts, effect: Effect| {
        counts.into_iter().map(move |(table, rows)| TablePreview {
            table,
            rows,
            effect,
        })
    };
    Ok(match operation {
        Operation::Erase { keep, .. } | Operation::Keep { keep } => {
            let decision = kept::decide(connector, identifiers, keep, today)?;
            let kept_tables = decision.kept_tables();
            let kept_tables: Vec<&str> = kept_tables.iter().map(String::as_str).collect();
            let mut ended = TableCounts::new();
            for (table, _) in &decision.ended {
                *ended.entry(table.clone()).or_default() += 1;
            }
            let no_anonymising = ErasureMethods::new();
            let anonymise = match operation {
                Operation::Erase { anonymise, .. } => anonymise,
                _ => &no_anonymising,
            };
            let preview = connector.erase_preview(identifiers, &kept_tables, anonymise)?;
            let erases = matches!(operation, Operation::Erase { .. });
            let mut tables: Vec<TablePreview> = each(ended, Effect::Delete).collect();
            if erases {
                tables.extend(each(preview.deleted, Effect::Delete));
                tables.extend(each(preview.anonymised, Effect::Anonymise));
            }
            tables.extend(each(preview.kept, Effect::Keep));
            tables
        }
        Operation::Export => each(connector.locate(identifiers)?, Effect::Export).collect(),
        Operation::Restrict { tables } => {
            let mut found = connector.locate(identifiers)?;
            found.retain(|table, _| tables.contains(table));
            each(found, Effect::Restrict).collect()
        }
        Operation::Correct { table, .. } => {
            let mut found = connector.locate(identifiers)?;
            found.retain(|name, _| name == table);
            each(found, Effect::Change).collect()
        }
        // Counted through the HTTP connector by `http_dry_run`; an SQL connector has none.
        Operation::Http { .. } => Vec::new(),
    })
}

/// Decides what `keep` keeps, erases the kept rows whose duty has already ended, and puts both
/// in `outcome`.
fn keep_and_end(
    connector: &mut SqlConnector,
    identifiers: &[(IdentifierKind, String)],
    keep: &KeepPlan,
    today: NaiveDate,
    outcome: &mut StepOutcome,
) -> std::result::Result<Decision, ConnectorError> {
    let decision = kept::decide(connector, identifiers, keep, today)?;
    let mut tables: Vec<&str> = decision.ended.iter().map(|(t, _)| t.as_str()).collect();
    tables.dedup();
    for table in tables {
        let keys: Vec<String> = decision
            .ended
            .iter()
            .filter(|(t, _)| t == table)
            .map(|(_, key)| key.clone())
            .collect();
        for (table, rows) in connector.delete_keys(table, &keys)? {
            *outcome.ended.entry(table).or_default() += rows;
        }
    }
    outcome.ended.retain(|_, rows| *rows > 0);
    outcome.kept_rows = decision.kept.clone();
    // A keep is recorded in loket's store whatever the table has; where it has no restricted
    // column the store is the only place the block is written, and the evidence says so.
    outcome.blocked_in_store = decision
        .kept_tables()
        .into_iter()
        .filter(|table| {
            connector
                .mapping()
                .table(table)
                .is_some_and(|t| t.restricted_column.is_none())
        })
        .collect();
    Ok(decision)
}

/// An erase task on a system under a legal hold becomes a keep under Art. 17(3)(e); the hold's
/// reason is for staff and stays in the title, never in a letter. The title names the system as
/// the agent knows it, in each language.
fn turn_into_keep(task: &mut TaskRow, catalog: &CatalogSnapshot, reason: &str) {
    let key = task.system_key.clone().unwrap_or_default();
    let name = |language| catalog.system_name(&key, language);
    task.kind = TaskKind::KeepUnderException;
    task.title_nl = format!(
        "Bewaar alles in {} zolang de juridische blokkade loopt (uitzondering art. 17 lid 3 sub e AVG: {reason})",
        name(Language::Nl)
    );
    task.title_en = format!(
        "Keep everything in {} while the legal hold lasts (exception Art. 17(3)(e) GDPR: {reason})",
        name(Language::En)
    );
    task.legal_exception = Some(format!(
        "{} AVG/GDPR; legal hold",
        KeepException::LegalClaims.article()
    ));
}

/// An export streamed into SHA-256: the rows pass through and are gone.
#[derive(Default)]
struct HashingWriter(Sha256);

impl std::io::Write for HashingWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `crm: erased customers 1, interactions 2; kept under Art. 17(3)(b) invoices 2 until
/// 2033-12-31 at the latest` — systems, tables, row counts and ends only, fit for the audit trail.
fn describe(outcomes: &[StepOutcome]) -> String {
    outcomes
        .iter()
        .map(|outcome| {
            let mut parts = Vec::new();
            let mut add = |verb: &str, counts: &TableCounts| {
                if !counts.is_empty() {
                    parts.push(format!("{verb} {}", list(counts)));
                }
            };
            add("exported", &outcome.exported);
            add("erased", &outcome.erased);
            add("anonymised", &outcome.anonymised);
            add("erased as their duty had ended", &outcome.ended);
            add("restricted", &outcome.restricted);
            for (exception, rows) in kept_by_exception(&outcome.kept_rows) {
                let counts = kept::counts(rows.iter().map(|k| k.table.as_str()));
                let end = match kept::latest_end(rows.iter().map(|k| k.until)) {
                    Some(day) => format!("until {day} at the latest"),
                    None if exception == KeepException::LegalClaims => {
                        "until the legal hold is lifted".into()
                    }
                    None => "without an end date".into(),
                };
                parts.push(format!(
                    "kept under {} {} {end}",
                    exception.article(),
                    list(&counts)
                ));
            }
            if !outcome.blocked_in_store.is_empty() {
                parts.push(format!(
                    "blocked in loket's store, as {} has no restricted column",
                    outcome.blocked_in_store.join(", ")
                ));
            }
            if let Some((table, column, rows)) = &outcome.corrected {
                parts.push(format!("corrected {table}.{column} in {rows} row(s)"));
            }
            format!("{}: {}", outcome.system, parts.join("; "))
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

fn kept_by_exception(rows: &[Kept]) -> BTreeMap<KeepException, Vec<&Kept>> {
    let mut grouped: BTreeMap<KeepException, Vec<&Kept>> = Default::default();
    for row in rows {
        grouped.entry(row.exception).or_default().push(row);
    }
    grouped
}

/// Every row the connectors found of the person, whatever they did with it.
fn rows_found(outcomes: &[StepOutcome]) -> u64 {
    outcomes.iter().map(StepOutcome::rows_found).sum()
}

/// `customers 1, invoices 2`.
fn list(counts: &TableCounts) -> String {
    counts
        .iter()
        .map(|(table, rows)| format!("{table} {rows}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_hold_systems_tables_and_counts_only() {
        let outcome = StepOutcome {
            system: "crm".into(),
            erased: [
                ("customers".to_string(), 1),
                ("interactions".to_string(), 2),
            ]
            .into(),
            kept_rows: vec![Kept {
                table: "invoices".into(),
                key: "10".into(),
                until: NaiveDate::from_ymd_opt(2033, 12, 31),
                exception: KeepException::LegalObligation,
                legal_basis: "AWR art. 52".into(),
                rule: Some("fiscal_records".into()),
            }],
            ..StepOutcome::default()
        };
        assert_eq!(
            describe(&[outcome]),
            "crm: erased customers 1, interactions 2; kept under Art. 17(3)(b) invoices 1 until 2033-12-31 at the latest"
        );
    }

    #[test]
    fn only_connector_kinds_run_and_corrections_need_an_agent() {
        assert!(TaskKind::EraseData.runs_unattended());
        assert!(TaskKind::CorrectData.runs_through_connector());
        assert!(!TaskKind::CorrectData.runs_unattended());
        assert!(!TaskKind::SendAnswer.runs_through_connector());
    }

    #[test]
    fn the_hashing_writer_matches_sha256_of_the_bytes() {
        use std::io::Write;
        let mut writer = HashingWriter::default();
        writer.write_all(b"{\"customers\":[]}").unwrap();
        assert_eq!(
            hex::encode(writer.0.finalize()),
            hex::encode(Sha256::digest(b"{\"customers\":[]}"))
        );
    }
}
