//! Benchmark of building an access package (issue #5): a person with 1,000 and with 1,000,000
//! rows in an organisation database, the package built, sealed and stored as loket builds it for
//! an agent, then opened again to the end as a download does.
//!
//! The person is a customer of a CRM whose `interactions` table holds their rows (and as many of
//! somebody else's, which must stay out). Each size is built `--repeat` times (3); the median
//! build time, the rows per second, the package's size and the peak memory of the build are
//! printed as a Markdown table. Every build must hold exactly the person's rows, or the benchmark
//! fails. The raw speed of the AES-GCM crate is in `cargo bench --bench encryption`.
//!
//! ```sh
//! cargo bench --bench package                                   # SQLite, 1,000 and 1,000,000 rows
//! LOKET_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!   cargo bench --bench package -- --backend sqlite,postgres
//! ```
//!
//! Without `--bench` (as `cargo test --benches` runs it) it makes a quick smoke run of 500 rows.

mod support;
#[path = "../tests/integration/common/targets.rs"]
#[allow(dead_code)]
mod targets;

use clap::{Parser, ValueEnum};
use loket::audit::Actor;
use loket::auth::{Role, TokenService};
use loket::config::Secret;
use loket::connectors::Connectors;
use loket::crypto::{derive_index_key, Cipher};
use loket::db::Store;
use loket::packages::{NewPackage, PackageKeys, PackageService};
use loket::policies::Policies;
use loket::requests::{RequestService, Staff};
use std::sync::Arc;
use std::time::Instant;
use targets::TargetDb;

#[derive(Debug, Parser)]
#[command(about = "Times building an access package and opening it again")]
struct Options {
    /// The person's rows, comma-separated for several runs
    #[arg(long, value_delimiter = ',')]
    rows: Vec<i64>,
    /// Where the organisation's database and loket's store run: sqlite, postgres (needs
    /// LOKET_TEST_POSTGRES_URL), comma-separated
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Backend::Sqlite])]
    backend: Vec<Backend>,
    /// Builds per size; the median is shown
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

#[tokio::main]
async fn main() {
    let mut options = Options::parse();
    if !options.bench {
        options.repeat = 1;
    }
    if options.rows.is_empty() {
        options.rows = if options.bench {
            vec![1_000, 1_000_000]
        } else {
            vec![500]
        };
    }
    println!("{}\n", support::machine());
    println!("| backend | person's rows | build | rows/s | package (sealed) | peak memory of the build | open to the end |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for backend in &options.backend {
        for rows in &options.rows {
            println!("{}", bench(*backend, *rows, options.repeat).await);
        }
    }
}

async fn bench(backend: Backend, rows: i64, repeat: u32) -> String {
    let target = match backend {
        Backend::Sqlite => TargetDb::sqlite(),
        Backend::Postgres => TargetDb::postgres(),
    };
    seed(&target, rows);
    let desk = Desk::new(backend, &target).await;
    let mut builds = Vec::new();
    let mut opened = Vec::new();
    let mut sealed_bytes = 0;
    for _ in 0..repeat {
        support::reset_peak_memory();
        let started = Instant::now();
        let package = desk
            .packages
            .create(
                desk.staff.clone(),
                desk.request_id.clone(),
                NewPackage::default(),
            )
            .await
            .expect("package built");
        builds.push((started.elapsed().as_secs_f64(), support::peak_memory_mib()));
        assert_eq!(
            package.contents.rows["bench"]["interactions"], rows as u64,
            "the package must hold exactly the person's rows"
        );
        sealed_bytes = package.sealed_bytes;
        let started = Instant::now();
        let plain =
            loket::packages::download::verify(&desk.store, desk.packages.keys(), package.id)
                .await
                .expect("package opens");
        assert_eq!(plain as i64, package.plain_bytes);
        opened.push((started.elapsed().as_secs_f64(), 0.0));
    }
    let (build, memory) = median(builds);
    let (open, _) = median(opened);
    format!(
        "| {backend:?} | {rows} | {} | {:.0} | {:.1} MiB | {memory:.0} MiB | {} |",
        seconds(build),
        rows as f64 / build,
        sealed_bytes as f64 / 1024.0 / 1024.0,
        seconds(open),
    )
}

fn seconds(value: f64) -> String {
    if value < 1.0 {
        format!("{:.0} ms", value * 1000.0)
    } else {
        format!("{value:.2} s")
    }
}

/// The median time of the runs, with the highest peak memory among them.
fn median(mut runs: Vec<(f64, f64)>) -> (f64, f64) {
    let memory = runs.iter().map(|(_, memory)| *memory).fold(0.0, f64::max);
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    (runs[runs.len() / 2].0, memory)
}

/// Two customers; the person (customer 1) has `rows` interactions, customer 2 as many.
fn seed(target: &TargetDb, rows: i64) {
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
        "CREATE TABLE customers (id BIGINT PRIMARY KEY, email VARCHAR(200), name VARCHAR(200))"
            .to_string(),
        "CREATE TABLE interactions (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL \
         REFERENCES customers (id), channel VARCHAR(20), summary VARCHAR(400), \
         occurred_at VARCHAR(40))"
            .to_string(),
        "INSERT INTO customers (id, email, name) VALUES \
         (1, 'jan.devries@example.nl', 'Jan de Vries'), (2, 'piet@example.nl', 'Piet Bakker')"
            .to_string(),
        format!(
            "INSERT INTO interactions (id, customer_id, channel, summary, occurred_at) \
             SELECT n, n % 2 + 1, 'telefoon', 'gesprek ' || n || ' over de factuur van deze maand', \
             '2026-10-01 10:00:00' FROM {}",
            numbers(rows * 2)
        ),
        "CREATE INDEX interactions_customer ON interactions (customer_id)".to_string(),
        "ANALYZE".to_string(),
    ] {
        raw.execute(&statement);
    }
}

/// loket with its own store (on the same backend as the organisation database), the catalog of
/// the CRM and the person's access request, identity verified.
struct Desk {
    store: Store,
    packages: PackageService,
    staff: Staff,
    request_id: loket::ids::RequestId,
    _store_database: Option<TargetDb>,
    _dir: tempfile::TempDir,
}

impl Desk {
    async fn new(backend: Backend, target: &TargetDb) -> Desk {
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
        let key = [7u8; 32];
        let cipher = Cipher::new(&key, &[], derive_index_key(&key));
        let connectors = Connectors::new(
            [("bench".to_string(), Secret::new(target.url.clone()))].into(),
            key,
        );
        let requests = RequestService::new(
            store.clone(),
            cipher.clone(),
            Arc::new(Policies::default()),
            TokenService::new(b"bench-signing-key-that-is-long-enough-0123", 3600),
            "http://127.0.0.1:8080",
            "loket <privacy@example.nl>",
        )
        .with_connectors(connectors);
        let staff = Staff {
            username: "anna".into(),
            role: Role::Agent,
        };
        let request = requests
            .register(
                staff.clone(),
                serde_json::from_value(serde_json::json!({
                    "kind": "access",
                    "channel": "phone",
                    "requester": {"name": "Jan de Vries", "email": "jan.devries@example.nl"},
                    "identity": {"method": "known_details"}
                }))
                .expect("request"),
            )
            .await
            .expect("request registered");
        let keys = PackageKeys::new(store.clone(), cipher);
        Desk {
            packages: PackageService::new(requests, keys),
            store,
            staff,
            request_id: request.id,
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
      - {category: contact, location: 'customers.email, customers.name', origin: provided}
      - {category: communication_content, location: interactions, origin: provided}
    sql:
      tables:
        - name: customers
          key: id
          identifiers: {email: email}
          columns: [name]
        - name: interactions
          key: id
          parent: {table: customers, column: customer_id}
          columns: [channel, summary, occurred_at]
activities:
  - key: customer_service
    name: Klantenservice
    purposes: [Answering customers' questions]
    legal_basis: contract
    data_subjects: [Customers]
    categories:
      - {category: contact, retention: 2 years after the contract ends}
      - {category: communication_content, retention: 2 years after the contact}
    systems: [bench]
";
