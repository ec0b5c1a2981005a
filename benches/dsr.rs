//! The data-subject request end to end (issue #19): access and erasure over HTTP against a
//! webshop's own database of 100,000 and 1,000,000 customers, on SQLite and PostgreSQL.
//!
//! For each backend and size it generates the shop (`tests/integration/common/shop.rs`:
//! customers, three orders and two tickets each, a plain index on every identifier and key
//! column) inside the database, starts loket in-process on a loopback port with its own store on
//! the same backend and a connector to the shop, and then, one request at a time, as an agent
//! calls the API:
//!
//! - **access**: register the request, verify identity, build the package (whose read closes
//!   the export task), close the Art. 15 facts and send the answer;
//! - **erasure**: register the request, verify identity, run the erase task, send the erasure
//!   confirmation;
//! - **access by policy**: with `run_automatically: [export_data, compile_access_facts]` (a
//!   second loket on its own store, same shop), register the request and verify identity, wait
//!   until loket has built the package and closed the export and facts tasks by itself, then
//!   send the answer: the agent's part of issue #19's access request without needless steps.
//!
//! Every request is for another customer, spread over the table. It prints the median and p95 of
//! each flow and of its data step (building the package, running the erase task) next to the
//! time of the plain indexed SELECTs of one customer's rows on an open connection; then the
//! median and p95 of each call of the measured flows, and whether the PostgreSQL connections
//! talk TLS (libpq's default `sslmode=prefer` does over loopback too). It exits with status 1
//! when a call failed or a flow found the wrong rows.
//!
//! ```sh
//! cargo bench --bench dsr                                         # SQLite, 100k and 1M
//! LOKET_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!   cargo bench --bench dsr -- --backend sqlite,postgres --customers 100000,1000000
//! ```
//!
//! Without `--bench` (as `cargo test --benches` runs it) it makes a smoke run on 2,000 customers.

#[path = "../tests/integration/common/mod.rs"]
mod common;
mod support;

use common::shop;
use common::targets::{TargetDb, TargetKind};
use common::{task_of, TestApp};
use loket::audit::Actor;
use loket::auth::Role;
use loket::config::{MailTransportKind, Secret};
use loket::db::Backend;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: cargo bench --bench dsr [-- OPTIONS]

options:
  --customers N,M   shop sizes                 (default 100000,1000000)
  --requests N      measured requests per flow (default 20)
  --warmup N        unmeasured requests first  (default 3)
  --backend B,C     sqlite, postgres           (default: sqlite, plus postgres when
                                                LOKET_TEST_POSTGRES_URL is set)";

#[derive(Debug)]
struct Options {
    customers: Vec<u64>,
    requests: usize,
    warmup: usize,
    backends: Vec<Backend>,
}

impl Options {
    fn parse() -> Result<Self, String> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let full = args.iter().any(|a| a == "--bench");
        let postgres = std::env::var_os("LOKET_TEST_POSTGRES_URL").is_some();
        let mut options = Options {
            customers: if full {
                vec![100_000, 1_000_000]
            } else {
                vec![2_000]
            },
            requests: if full { 20 } else { 2 },
            warmup: if full { 3 } else { 1 },
            backends: if postgres {
                vec![Backend::Sqlite, Backend::Postgres]
            } else {
                vec![Backend::Sqlite]
            },
        };
        let mut args = args.into_iter().filter(|a| a != "--bench");
        while let Some(flag) = args.next() {
            let value = args.next().ok_or(format!("{flag} needs a value"))?;
            let number = |v: &str| v.parse::<u64>().ok().filter(|n| *n > 0);
            match flag.as_str() {
                "--customers" => {
                    options.customers = value
                        .split(',')
                        .map(|v| number(v).ok_or(format!("--customers: '{v}'")))
                        .collect::<Result<_, _>>()?;
                }
                "--requests" => {
                    options.requests = number(&value).ok_or("--requests")? as usize;
                }
                "--warmup" => options.warmup = value.parse().map_err(|_| "--warmup")?,
                "--backend" => {
                    options.backends = value
                        .split(',')
                        .map(|b| match b {
                            "sqlite" => Ok(Backend::Sqlite),
                            "postgres" if postgres => Ok(Backend::Postgres),
                            "postgres" => Err("postgres needs LOKET_TEST_POSTGRES_URL".into()),
                            other => Err(format!("unknown backend '{other}'")),
                        })
                        .collect::<Result<_, String>>()?;
                }
                other => return Err(format!("unknown argument '{other}'")),
            }
        }
        Ok(options)
    }
}

/// Milliseconds of each of the measured requests of one flow or step.
#[derive(Default)]
struct Timings(Vec<f64>);

impl Timings {
    fn add(&mut self, elapsed: Duration) {
        self.0.push(elapsed.as_secs_f64() * 1000.0);
    }

    fn percentile(&self, p: f64) -> f64 {
        let mut sorted = self.0.clone();
        sorted.sort_by(f64::total_cmp);
        if sorted.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }

    fn cell(&self) -> String {
        format!(
            "{:.1} / {:.1}",
            self.percentile(50.0),
            self.percentile(95.0)
        )
    }
}

/// What one backend and size measured.
#[derive(Default)]
struct Run {
    access: Timings,
    automatic: Timings,
    package: Timings,
    erasure: Timings,
    erase: Timings,
    selects: Timings,
    /// Each call of the measured flows, as "flow: METHOD route", in the order first made.
    calls: Vec<(String, Timings)>,
}

impl Run {
    fn add_calls(&mut self, calls: Vec<(String, Timings)>) {
        for (call, timings) in calls {
            match self.calls.iter_mut().find(|(known, _)| *known == call) {
                Some((_, known)) => known.0.extend(timings.0),
                None => self.calls.push((call, timings)),
            }
        }
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let options = match Options::parse() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}\n\n{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    println!(
        "loket DSR benchmark: {} measured requests per flow after {} warm-up, one at a time\n",
        options.requests, options.warmup
    );
    println!("{}\n", support::machine());
    println!(
        "| backend | customers | access end to end | of which package | erasure end to end \
         | of which erase task | access by policy | raw indexed SELECTs |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|"
    );
    let mut calls = Vec::new();
    for backend in &options.backends {
        for customers in &options.customers {
            let run = bench(*backend, *customers, &options).await;
            println!(
                "| {backend} | {customers} | {} | {} | {} | {} | {} | {} |",
                run.access.cell(),
                run.package.cell(),
                run.erasure.cell(),
                run.erase.cell(),
                run.automatic.cell(),
                run.selects.cell()
            );
            calls.push((*backend, *customers, run.calls));
        }
    }
    println!("\nms, median / p95");
    if options.backends.contains(&Backend::Postgres) {
        println!("\nPostgreSQL connections: {}", postgres_transport());
    }
    println!("\nEach call of the measured flows:\n\n| backend | customers | call | ms, median / p95 |\n|---|---:|---|---:|");
    for (backend, customers, calls) in calls {
        for (call, timings) in calls {
            println!("| {backend} | {customers} | {call} | {} |", timings.cell());
        }
    }
    std::process::ExitCode::SUCCESS
}

async fn bench(backend: Backend, customers: u64, options: &Options) -> Run {
    let target = match backend {
        Backend::Sqlite => TargetDb::sqlite(),
        Backend::Postgres => TargetDb::postgres(),
    };
    let started = Instant::now();
    shop::create(&target, customers);
    eprintln!(
        "{backend}: {customers} customers generated and indexed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let (app, token) = desk(backend, &target.url, None).await;
    let agent = Agent::new(&app, &token);

    // Customers spread over the table, each asked for once.
    let each = options.warmup + options.requests;
    let count = 3 * each;
    let stride = (customers / count as u64).max(1);
    let people: Vec<u64> = (0..count as u64)
        .map(|k| 1 + (k * stride + (k * 7_919) % stride) % customers)
        .collect();
    let (access_people, rest) = people.split_at(each);
    let (erasure_people, automatic_people) = rest.split_at(each);
    let mut run = Run::default();
    for (index, person) in access_people.iter().enumerate() {
        let measured = index >= options.warmup;
        agent.measure("access", measured);
        agent.access(*person, measured.then_some(&mut run)).await;
    }
    for (index, person) in erasure_people.iter().enumerate() {
        let measured = index >= options.warmup;
        agent.measure("erasure", measured);
        agent.erasure(*person, measured.then_some(&mut run)).await;
        assert_eq!(
            target.count(&format!(
                "SELECT COUNT(*) AS n FROM orders WHERE customer_id = {person}"
            )),
            0,
            "the erasure left orders of customer {person}"
        );
    }
    agent.measure("erasure", false);
    run.add_calls(agent.calls.take());
    let automatic = "[export_data, compile_access_facts]";
    let (app, token) = desk(backend, &target.url, Some(automatic)).await;
    let agent = Agent::new(&app, &token);
    for (index, person) in automatic_people.iter().enumerate() {
        let measured = index >= options.warmup;
        agent.measure("access by policy", measured);
        agent
            .access_by_policy(*person, measured.then_some(&mut run))
            .await;
    }
    run.add_calls(agent.calls.take());
    let mut raw = target.raw();
    for person in &access_people[options.warmup..] {
        let started = Instant::now();
        let rows: usize = raw_selects(target.kind, *person)
            .iter()
            .map(|select| load(&mut raw, select))
            .sum();
        run.selects.add(started.elapsed());
        assert_eq!(rows, 6, "customer {person}'s rows");
    }
    run
}

/// Whether libpq talks TLS to the server at `LOKET_TEST_POSTGRES_URL` (it does by default when
/// the server offers it, loopback or not), which the figures depend on.
fn postgres_transport() -> &'static str {
    // A database of its own, kept until the question is answered (dropping it ends connections).
    let target = TargetDb::postgres();
    let tls = target
        .raw()
        .count("SELECT COUNT(*) AS n FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl");
    match tls {
        0 => "no TLS",
        _ => "TLS (add ?sslmode=disable to the URL for a server on this machine)",
    }
}

/// The route of `path`, ids left out: `/api/v1/requests/7f…/tasks/9a…` is `…/tasks/{id}`.
fn route(path: &str) -> String {
    let segments: Vec<&str> = path
        .trim_start_matches("/api/v1")
        .split('/')
        .map(|segment| match segment.len() >= 20 {
            true => "{id}",
            false => segment,
        })
        .collect();
    segments.join("/")
}

/// loket on `backend` with a connector to the shop at `shop_url`, the shop's catalog, an agent's
/// token, and the shipped policies with `run_automatically` set to `automatic` when given.
async fn desk(backend: Backend, shop_url: &str, automatic: Option<&str>) -> (TestApp, String) {
    let url = shop_url.to_string();
    let app = TestApp::spawn_with(backend, |settings| {
        settings.connectors.insert("shop".into(), Secret::new(url));
        settings.mail.transport = MailTransportKind::File;
        settings.mail.dir = Some(settings.data_dir.join("mail"));
        if let Some(kinds) = automatic {
            common::running_automatically(settings, kinds);
        }
    })
    .await;
    let document = loket::catalog::parse_yaml(shop::CATALOG).expect("shop catalog is valid");
    loket::catalog::import(&app.store, Actor::Cli, document)
        .await
        .expect("catalog imported");
    let token = app.token_for(Role::Agent).await;
    (app, token)
}

#[derive(diesel::QueryableByName)]
struct Row {
    #[diesel(sql_type = diesel::sql_types::Text)]
    #[allow(dead_code)]
    r: String,
}

/// Runs `select` and fetches its rows; returns how many.
fn load(raw: &mut common::targets::Raw, select: &str) -> usize {
    use diesel::RunQueryDsl;
    let rows = match raw {
        common::targets::Raw::Sqlite(conn) => diesel::sql_query(select).load::<Row>(conn),
        common::targets::Raw::Postgres(conn) => diesel::sql_query(select).load::<Row>(conn),
        common::targets::Raw::Mysql(_) => {
            unreachable!("the benchmark runs on SQLite and PostgreSQL")
        }
    };
    rows.unwrap_or_else(|e| panic!("{select}: {e}")).len()
}

/// The plain SELECTs of customer `i`'s rows that a DBA would write, values inlined, each row
/// fetched whole as one JSON text (as loket's export reads them).
fn raw_selects(kind: TargetKind, i: u64) -> [String; 3] {
    let object = |columns: &[&str]| {
        let pairs: Vec<String> = columns.iter().map(|c| format!("'{c}', {c}")).collect();
        match kind {
            TargetKind::Postgres => format!("json_build_object({})::text AS r", pairs.join(", ")),
            _ => format!("json_object({}) AS r", pairs.join(", ")),
        }
    };
    let customers = object(&[
        "id",
        "customer_number",
        "email",
        "name",
        "phone",
        "postal_address",
    ]);
    let orders = object(&[
        "id",
        "customer_id",
        "placed_on",
        "shipping_address",
        "total_cents",
    ]);
    let tickets = object(&["id", "customer_id", "email", "subject", "body"]);
    [
        format!(
            "SELECT {customers} FROM customers WHERE email = 'klant{i}@example.nl' \
             OR customer_number = 'SH-{i}'"
        ),
        format!("SELECT {orders} FROM orders WHERE customer_id = {i}"),
        format!(
            "SELECT {tickets} FROM tickets WHERE customer_id = {i} \
             OR email = 'klant{i}@example.nl'"
        ),
    ]
}

/// An agent working requests over HTTP.
struct Agent<'a> {
    app: &'a TestApp,
    token: &'a str,
    /// The flow being measured, whose calls are timed one by one into `calls`.
    flow: std::cell::Cell<Option<&'static str>>,
    calls: std::cell::RefCell<Vec<(String, Timings)>>,
}

impl<'a> Agent<'a> {
    fn new(app: &'a TestApp, token: &'a str) -> Self {
        Agent {
            app,
            token,
            flow: std::cell::Cell::new(None),
            calls: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// Times the calls of what follows as `flow` when `measured`, until the next call of this.
    fn measure(&self, flow: &'static str, measured: bool) {
        self.flow.set(measured.then_some(flow));
    }

    fn record(&self, method: &reqwest::Method, path: &str, elapsed: Duration) {
        let Some(flow) = self.flow.get() else {
            return;
        };
        let call = format!("{flow}: {method} {}", route(path));
        let mut calls = self.calls.borrow_mut();
        match calls.iter_mut().find(|(known, _)| *known == call) {
            Some((_, timings)) => timings.add(elapsed),
            None => {
                let mut timings = Timings::default();
                timings.add(elapsed);
                calls.push((call, timings));
            }
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let started = Instant::now();
        let response = self
            .app
            .send_json(method.clone(), path, Some(self.token), &body)
            .await;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        self.record(&method, path, started.elapsed());
        assert!(status.is_success(), "{method} {path}: {status}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, body).await
    }

    /// Registers the request and verifies identity; returns it as it then is.
    async fn register(&self, kind: &str, person: u64) -> (String, Value) {
        let body = json!({"kind": kind, "channel": "phone", "requester": shop::requester(person)});
        let request = self.post("/api/v1/requests", body).await;
        let path = format!("/api/v1/requests/{}", request["id"].as_str().expect("id"));
        let body = json!({"version": request["version"], "method": "known_details",
                          "note": "klantnummer en adres kwamen overeen"});
        let request = self.post(&format!("{path}/identity"), body).await;
        (path, request)
    }

    /// Closes every open task but the answer, as an agent does (the facts of an access request,
    /// anything else the checklist holds), then sends `letter`.
    async fn answer(&self, path: &str, letter: &str) {
        let request = self.get(path).await;
        self.answer_from(path, request, letter).await;
    }

    async fn get(&self, path: &str) -> Value {
        let started = Instant::now();
        let response = self.app.get(path, Some(self.token)).await;
        let request = response.json().await.expect("the request");
        self.record(&reqwest::Method::GET, path, started.elapsed());
        request
    }

    /// [`Agent::answer`] from the request as just read.
    async fn answer_from(&self, path: &str, mut request: Value, letter: &str) {
        let open: Vec<Value> = request["tasks"]
            .as_array()
            .expect("tasks")
            .iter()
            .filter(|task| task["state"] == "open" && task["kind"] != "send_answer")
            .cloned()
            .collect();
        for task in open {
            let body = json!({"version": task["version"], "state": "done",
                              "evidence": "afgehandeld"});
            let task_path = format!("{path}/tasks/{}", task["id"].as_str().expect("id"));
            request = self.call(reqwest::Method::PATCH, &task_path, body).await;
        }
        let body = json!({"letter": letter, "version": request["version"]});
        self.post(&format!("{path}/letters"), body).await;
    }

    async fn run_task(&self, path: &str, request: &Value, kind: &str) -> Value {
        let task = task_of(request, kind, Some("shop"));
        let run = format!("{path}/tasks/{}/run", task["id"].as_str().expect("id"));
        self.post(&run, json!({"version": task["version"]})).await
    }

    async fn access(&self, person: u64, run: Option<&mut Run>) {
        let started = Instant::now();
        let (path, _) = self.register("access", person).await;
        let step = Instant::now();
        let package = self.post(&format!("{path}/packages"), json!({})).await;
        let package_time = step.elapsed();
        let rows = &package["contents"]["rows"]["shop"];
        assert_eq!(
            [&rows["customers"], &rows["orders"], &rows["tickets"]],
            [&json!(1), &json!(3), &json!(2)],
            "customer {person}'s package: {package:#}"
        );
        // The package's read closed the export task: the agent does not search again.
        let request = self.get(&path).await;
        assert_eq!(
            task_of(&request, "export_data", Some("shop"))["state"],
            "done",
            "customer {person}: the package left the export task open"
        );
        self.answer_from(&path, request, "access_answer").await;
        if let Some(run) = run {
            run.access.add(started.elapsed());
            run.package.add(package_time);
        }
    }

    /// Access with `run_automatically: [export_data, compile_access_facts]`: after the identity
    /// check the agent waits for loket's own work (`settle`) and sends the answer.
    async fn access_by_policy(&self, person: u64, run: Option<&mut Run>) {
        let started = Instant::now();
        let (path, _) = self.register("access", person).await;
        self.app.settle().await;
        let request = self.get(&path).await;
        for kind in ["export_data", "compile_access_facts"] {
            let system = (kind == "export_data").then_some("shop");
            assert_eq!(
                task_of(&request, kind, system)["state"],
                "done",
                "customer {person}: loket left {kind} open: {request:#}"
            );
        }
        self.answer_from(&path, request, "access_answer").await;
        if let Some(run) = run {
            run.automatic.add(started.elapsed());
        }
    }

    async fn erasure(&self, person: u64, run: Option<&mut Run>) {
        let started = Instant::now();
        let (path, request) = self.register("erasure", person).await;
        let step = Instant::now();
        let done = self.run_task(&path, &request, "erase_data").await;
        let erase_time = step.elapsed();
        let evidence = task_of(&done, "erase_data", Some("shop"))["evidence"].to_string();
        assert!(
            evidence.contains("orders 3"),
            "customer {person}: {evidence}"
        );
        self.answer(&path, "erasure_confirmation").await;
        if let Some(run) = run {
            run.erasure.add(started.elapsed());
            run.erase.add(erase_time);
        }
    }
}
