//! Benchmark of a retention sweep against a plain, hand-written batched `DELETE` (issue #4).
//!
//! For each backend and table size it seeds an organisation database — `customers` and their
//! `interactions`, every tenth interaction years old, the rest recent — and deletes the expired
//! interactions three times over, reseeding in between:
//!
//! 1. **plain**: `DELETE FROM interactions WHERE id IN (SELECT id … WHERE created_at < ? LIMIT n)`
//!    until nothing is left, each statement its own transaction;
//! 2. **sweep**: `loket`'s sweep of a rule with no exceptions, in batches of the same size, with
//!    its run record, claim and lease written per group of batches;
//! 3. **sweep + exceptions**: the same rule with the default exceptions, so before each batch
//!    it checks legal holds and open requests in loket's store, and leaves out of each `DELETE`
//!    the rows of held persons (their customers looked up when the holds change) and of
//!    restricted customers; the rows left are then read and sorted one by one. One legal hold
//!    is in force, on the e-mail address of customer 11, so the rows of a held person are
//!    really kept (that customer's expired rows stay; the run reports them).
//!
//! Each phase runs `--repeat` times (3) on freshly seeded tables, the phases taking turns; it
//! prints the median times, their ratio to the plain delete and each phase's peak memory as a
//! Markdown table. Every run must leave exactly the recent rows, or the benchmark fails.
//!
//! ```sh
//! cargo bench --bench sweep                                  # SQLite, 1,000,000 rows
//! LOKET_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!   cargo bench --bench sweep -- --backend sqlite,postgres --rows 100000,1000000
//! ```
//!
//! Without `--bench` (as `cargo test --benches` runs it) it makes a quick smoke run of 2,000 rows.

mod support;
#[path = "../tests/integration/common/targets.rs"]
#[allow(dead_code)]
mod targets;

use clap::{Parser, ValueEnum};
use loket::audit::Actor;
use loket::catalog::model::IdentifierKind;
use loket::config::Secret;
use loket::connectors::Connectors;
use loket::crypto::{derive_index_key, Cipher};
use loket::db::Store;
use loket::policies::Policies;
use loket::retention::{NewLegalHold, Outcome, SweepOptions, SweepService};
use std::sync::Arc;
use std::time::Instant;
use targets::TargetDb;

#[derive(Debug, Parser)]
#[command(about = "Times a retention sweep against a plain batched DELETE")]
struct Options {
    /// Interactions to seed, comma-separated for several runs
    #[arg(long, value_delimiter = ',')]
    rows: Vec<i64>,
    /// Rows per batch, for the plain delete and the sweep alike
    #[arg(long, default_value_t = 1000)]
    batch_size: u32,
    /// sqlite, postgres (needs LOKET_TEST_POSTGRES_URL), comma-separated
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Backend::Sqlite])]
    backend: Vec<Backend>,
    /// Runs of each phase; the median is shown
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
    /// Passed by `cargo bench`; without it the run is a smoke test
    #[arg(long)]
    bench: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
}

/// One customer per this many interactions.
const INTERACTIONS_PER_CUSTOMER: i64 = 20;

#[tokio::main]
async fn main() {
    let mut options = Options::parse();
    if !options.bench {
        options.repeat = 1;
    }
    if options.rows.is_empty() {
        options.rows = vec![if options.bench { 1_000_000 } else { 2_000 }];
    }
    println!("{}\n", support::machine());
    println!(
        "| backend | rows | expired | plain DELETE | sweep | ratio | sweep + exceptions | ratio | peak memory plain / sweep / + exceptions |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for backend in &options.backend {
        for rows in &options.rows {
            let row = bench(*backend, *rows, &options).await;
            println!("{row}");
        }
    }
}

async fn bench(backend: Backend, rows: i64, options: &Options) -> String {
    let expired = rows / 10;
    let target = new_database(backend);
    let desk = Desk::new(backend, &target, options.batch_size).await;
    // Each phase runs `repeat` times on freshly seeded tables, the phases taking turns so that
    // a slow moment of the machine does not fall on one of them only; the median counts.
    let mut times: [Vec<(f64, f64)>; 3] = Default::default();
    for _ in 0..options.repeat {
        seed(&target, rows);
        times[0].push(
            measure(|| async {
                plain_delete(&target, options.batch_size);
            })
            .await,
        );
        check(&target, rows, expired, "plain DELETE");
        for (phase, rule) in ["interactions_no_exceptions", "interactions"]
            .into_iter()
            .enumerate()
        {
            seed(&target, rows);
            let held = match rule {
                "interactions" => held_rows(&target),
                _ => 0,
            };
            let service = desk.service.clone();
            times[phase + 1].push(
                measure(|| async {
                    let options = SweepOptions {
                        rule: Some(rule.into()),
                        actor: Some(Actor::Cli),
                        ..SweepOptions::default()
                    };
                    let reports = service.sweep(options, |_| {}).await.expect("sweep runs");
                    assert_eq!(reports[0].outcome, Outcome::Finished, "{reports:?}");
                    assert_eq!(reports[0].counts.changed, expired - held, "{reports:?}");
                    assert_eq!(reports[0].counts.skipped_legal_hold, held, "{reports:?}");
                })
                .await,
            );
            check(&target, rows, expired - held, rule);
        }
    }
    let [(plain, plain_memory), (sweep, sweep_memory), (exceptions, exceptions_memory)] =
        times.map(median);
    format!(
        "| {backend:?} | {rows} | {expired} | {plain:.2} s | {sweep:.2} s | {:.2}× | {exceptions:.2} s | {:.2}× | {plain_memory:.0} / {sweep_memory:.0} / {exceptions_memory:.0} MiB |",
        sweep / plain,
        exceptions / plain,
    )
}

/// The median time of a phase's runs, with the highest peak memory among them.
fn median(mut runs: Vec<(f64, f64)>) -> (f64, f64) {
    let memory = runs.iter().map(|(_, memory)| *memory).fold(0.0, f64::max);
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    (runs[runs.len() / 2].0, memory)
}

/// Runs `work` and returns its wall-clock seconds and the process's peak memory meanwhile.
async fn measure<F, Fut>(work: F) -> (f64, f64)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    support::reset_peak_memory();
    let started = Instant::now();
    work().await;
    (started.elapsed().as_secs_f64(), support::peak_memory_mib())
}

fn new_database(backend: Backend) -> TargetDb {
    match backend {
        Backend::Sqlite => TargetDb::sqlite(),
        Backend::Postgres => TargetDb::postgres(),
    }
}

/// A timestamp literal: typed on PostgreSQL, where a bare string in a CASE becomes text; plain
/// text on SQLite, which stores timestamps as text (a CAST would make it a number).
fn timestamp(target: &TargetDb, text: &str) -> String {
    match target.kind {
        targets::TargetKind::Postgres => format!("TIMESTAMP '{text}'"),
        _ => format!("'{text}'"),
    }
}

const CUTOFF: &str = "2024-01-01 00:00:00";

/// (Re)creates both tables with `rows` interactions, every tenth expired, spread evenly.
fn seed(target: &TargetDb, rows: i64) {
    let customers = (rows / INTERACTIONS_PER_CUSTOMER).max(1);
    let numbers = |n: i64| {
        match target.kind {
        targets::TargetKind::Postgres => format!("generate_series(1, {n}) AS s(n)"),
        _ => format!(
            "(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {n}) SELECT n FROM s) AS s"
        ),
    }
    };
    let mut raw = target.raw();
    for statement in [
        "DROP TABLE IF EXISTS interactions".to_string(),
        "DROP TABLE IF EXISTS customers".to_string(),
        "CREATE TABLE customers (id BIGINT PRIMARY KEY, email VARCHAR(200), \
         restricted BOOLEAN NOT NULL DEFAULT FALSE)"
            .to_string(),
        "CREATE TABLE interactions (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL \
         REFERENCES customers (id), summary VARCHAR(400), created_at TIMESTAMP NOT NULL)"
            .to_string(),
        format!(
            "INSERT INTO customers (id, email) SELECT n, 'klant' || n || '@example.nl' FROM {}",
            numbers(customers)
        ),
        format!(
            "INSERT INTO interactions (id, customer_id, summary, created_at) \
             SELECT n, n % {customers} + 1, 'gesprek ' || n, \
             CASE WHEN n % 10 = 0 THEN {} ELSE {} END FROM {}",
            timestamp(target, "2019-06-01 10:00:00"),
            timestamp(target, "2026-10-01 10:00:00"),
            numbers(rows)
        ),
        "CREATE INDEX interactions_created_at ON interactions (created_at)".to_string(),
        "CREATE INDEX interactions_customer ON interactions (customer_id)".to_string(),
        "ANALYZE".to_string(),
    ] {
        raw.execute(&statement);
    }
    if target.kind == targets::TargetKind::Postgres {
        // Seeding writes more WAL than `max_wal_size`: the checkpoint it asks for, and the
        // vacuum autovacuum starts after a million inserts, otherwise fall on whichever phase
        // runs next (three checkpoints in a run of three phases, moving a phase by up to half).
        raw.execute("VACUUM");
        raw.execute("CHECKPOINT");
    }
}

/// What a person would write by hand: delete a batch of expired rows until there are none.
fn plain_delete(target: &TargetDb, batch_size: u32) {
    let mut raw = target.raw();
    let statement = format!(
        "DELETE FROM interactions WHERE id IN (SELECT id FROM interactions \
         WHERE created_at < {} LIMIT {batch_size})",
        timestamp(target, CUTOFF)
    );
    while raw.execute(&statement) > 0 {}
}

/// The customer under a legal hold in the phase with exceptions.
const HELD_CUSTOMER: i64 = 11;

/// The expired rows of [`HELD_CUSTOMER`]: every interaction of customer 11 is an old one.
fn held_rows(target: &TargetDb) -> i64 {
    target.count(&format!(
        "SELECT COUNT(*) AS n FROM interactions WHERE customer_id = {HELD_CUSTOMER} \
         AND created_at < {}",
        timestamp(target, CUTOFF)
    ))
}

/// Exactly the recent rows are left, and of the old ones only those of the held customer when
/// the phase kept them.
fn check(target: &TargetDb, rows: i64, deleted: i64, phase: &str) {
    let left = target.count("SELECT COUNT(*) AS n FROM interactions");
    let old = target.count(&format!(
        "SELECT COUNT(*) AS n FROM interactions WHERE created_at < {} \
         AND customer_id <> {HELD_CUSTOMER}",
        timestamp(target, CUTOFF)
    ));
    assert_eq!(
        (left, old),
        (rows - deleted, 0),
        "{phase} left the wrong rows"
    );
}

/// loket with its own store (on the same backend as the organisation database), a catalog
/// mapping the two tables and two rules on them.
struct Desk {
    service: SweepService,
    _store_database: Option<TargetDb>,
    _dir: tempfile::TempDir,
}

impl Desk {
    async fn new(backend: Backend, target: &TargetDb, batch_size: u32) -> Desk {
        let dir = tempfile::tempdir().expect("temp dir");
        let (url, store_database) = match backend {
            Backend::Sqlite => (
                format!("sqlite://{}", dir.path().join("loket.db").display()),
                None,
            ),
            Backend::Postgres => {
                let database = TargetDb::postgres();
                (database.url.clone(), Some(database))
            }
        };
        let store = Store::open(&url, 4).expect("store opens");
        store.migrate().expect("store migrates");
        let catalog = loket::catalog::parse_yaml(CATALOG).expect("bench catalog");
        loket::catalog::import(&store, Actor::Cli, catalog)
            .await
            .expect("catalog imported");
        std::fs::write(
            dir.path().join("requests.yaml"),
            include_str!("../policies/requests.yaml"),
        )
        .expect("policy written");
        std::fs::write(
            dir.path().join("retention.yaml"),
            RULES.replace("BATCH", &batch_size.to_string()),
        )
        .expect("policy written");
        let policies = Policies::load_dir(dir.path()).expect("bench policies load");
        let key = [7u8; 32];
        let connectors = Connectors::new(
            [("bench".to_string(), Secret::new(target.url.clone()))].into(),
            key,
        );
        let service = SweepService::new(
            store,
            Cipher::new(&key, &[], derive_index_key(&key)),
            connectors,
            Arc::new(policies),
        );
        // Written as a person would give it; the row holds `klant11@example.nl`.
        let hold = NewLegalHold {
            system: Some("bench".into()),
            identifier_kind: IdentifierKind::Email,
            identifier: format!("Klant{HELD_CUSTOMER}@Example.nl"),
            reason: "Geschil over factuur 2019-114".into(),
        };
        service
            .place_hold(Actor::Cli, hold)
            .await
            .expect("hold placed");
        Desk {
            service,
            _store_database: store_database,
            _dir: dir,
        }
    }
}

const CATALOG: &str = "\
systems:
  - key: bench
    name: Benchmark CRM
    owner: Klantenservice
    identifier_kinds: [email]
    connector: sql
    holdings:
      - {category: contact, location: customers.email, origin: provided}
      - {category: communication_content, location: interactions.summary, origin: provided}
    sql:
      tables:
        - name: customers
          key: id
          identifiers: {email: email}
          columns: [email]
          restricted_column: restricted
        - name: interactions
          key: id
          parent: {table: customers, column: customer_id}
          columns: [summary]
";

const RULES: &str = "\
sweeps:
  batch_size: BATCH
  dry_run_by_default: false
rules:
  - name: interactions
    description: Contact history, 2 years.
    system: bench
    keep: 2 years
    table: interactions
    counted_from: created_at
    on_expiry: delete
  - name: interactions_no_exceptions
    description: Contact history, 2 years, without exceptions.
    system: bench
    keep: 2 years
    table: interactions
    counted_from: created_at
    on_expiry: delete
    exceptions: []
";
