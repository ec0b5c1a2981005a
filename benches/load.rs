//! Load benchmark of request intake and the status calls (issue #3).
//!
//! Starts the real application in-process — on SQLite in a temporary data directory and, when
//! `LOKET_TEST_POSTGRES_URL` is set, on a fresh PostgreSQL database that is dropped afterwards —
//! loads `examples/catalog.yaml`, signs in one agent and drives three calls over loopback HTTP
//! with a fixed number of concurrent clients:
//!
//! 1. `POST /api/v1/requests`: phone-call erasure and access requests, a different person each;
//! 2. `GET /api/v1/requests/{id}`: the agent's view of the requests made in (1);
//! 3. `GET /api/v1/public/status/{token}`: the person's status link for the same requests.
//!
//! Before the calls the store already holds `--existing` requests of other people (100,000 by
//! default), written straight into the table, so the lookups run at the size of a desk that has
//! been in use for years rather than on an empty table (on PostgreSQL the table is then analysed,
//! as autovacuum does in production; on an empty-looking table PostgreSQL scans instead of using
//! the indexes).
//!
//! It prints throughput and latency percentiles as a Markdown table and exits with status 1 when
//! any call failed (a transport error or a status other than 2xx).
//!
//! ```sh
//! cargo bench --bench load
//! LOKET_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench load
//! cargo bench --bench load -- --requests 20000 --concurrency 64 --backend postgres
//! ```
//!
//! With `--client wrk` the measured calls are made by [wrk](https://github.com/wg/wrk) (which
//! must be on the PATH) for `--seconds` each instead of by in-process clients, which on two
//! cores take about half the CPU from the server; the warm-up calls stay in-process.
//!
//! ```sh
//! cargo bench --bench load -- --client wrk --seconds 10 --backend all
//! ```
//!
//! Without `--bench` (as `cargo test --benches` runs it) it makes a quick smoke run of a few
//! requests instead, so the benchmark itself stays tested.

#[path = "../tests/integration/common/mod.rs"]
mod common;
mod support;

use common::{TestApp, JWT_SECRET};
use loket::audit::Actor;
use loket::auth::{Role, TokenService};
use loket::config::MailTransportKind;
use loket::db::Backend;
use serde_json::{json, Value};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::wrk;

const EXAMPLE_CATALOG: &str = include_str!("../examples/catalog.yaml");
const USAGE: &str = "\
usage: cargo bench --bench load [-- OPTIONS]

options (each also as an environment variable):
  --requests N      measured calls per phase        LOKET_BENCH_REQUESTS    (default 5000)
  --concurrency C   clients sending at once         LOKET_BENCH_CONCURRENCY (default 32)
  --warmup N        unmeasured calls per phase      LOKET_BENCH_WARMUP      (default 200)
  --pool-size N     database connections of the app LOKET_BENCH_POOL_SIZE   (default 4)
  --existing N      requests already in the store   LOKET_BENCH_EXISTING    (default 100000)
  --max-seconds S   time limit of each phase        LOKET_BENCH_MAX_SECONDS (default 60)
  --backend B       sqlite, postgres or all         LOKET_BENCH_BACKEND     (default: sqlite, plus
                    postgres when LOKET_TEST_POSTGRES_URL is set)
  --client K        inprocess, or wrk (on the PATH) LOKET_BENCH_CLIENT      (default inprocess)
  --seconds S       length of each phase under wrk  LOKET_BENCH_SECONDS     (default 10; wrk
                    makes as many calls as it can, so --requests is not used)";

/// The public routes' rate limit during the run: 100,000 a second with a burst of six million,
/// far above what one run sends (the status phase under `wrk` sends tens of thousands).
const PUBLIC_REQUESTS_PER_MINUTE: u32 = 6_000_000;
/// A call slower than this counts as failed, so a stuck server cannot hang the run.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the signed status links stay valid.
const STATUS_LINK_TTL_SECONDS: i64 = 3600;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let options = match Options::from_args_and_env() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}\n\n{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    println!("{}\n", options.describe());
    println!("{}\n", support::machine());
    println!("{}", Measurement::TABLE_HEADER);
    let mut failed = false;
    let mut notes = Vec::new();
    for backend in &options.backends {
        let (measurements, note) = bench_backend(*backend, &options).await;
        notes.push(note);
        for measurement in measurements {
            println!("{}", measurement.table_row());
            if let Some(error) = &measurement.first_error {
                eprintln!(
                    "FAILED: {} of {} {} calls on {}; first: {error}",
                    measurement.errors, measurement.calls, measurement.call, measurement.backend
                );
                failed = true;
            }
        }
    }
    println!();
    for note in notes {
        println!("{note}");
    }
    if failed {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}

/// How big the run is; from flags, then `LOKET_BENCH_*` variables, then defaults.
#[derive(Debug, Clone)]
struct Options {
    requests: usize,
    concurrency: usize,
    warmup: usize,
    pool_size: u32,
    existing: usize,
    max_seconds: u64,
    backends: Vec<Backend>,
    client: Client,
}

/// Who makes the measured calls.
#[derive(Debug, Clone, Copy)]
enum Client {
    /// `concurrency` Tokio tasks in this process, `requests` calls per phase.
    InProcess,
    /// `wrk`, for a fixed time per phase.
    Wrk(wrk::Shape),
}

impl Options {
    fn from_args_and_env() -> Result<Self, String> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        // cargo passes --bench to `cargo bench` runs only; anything else is a smoke run.
        let full_run = args.iter().any(|a| a == "--bench");
        let flags = parse_flags(args.into_iter().filter(|a| a != "--bench"))?;
        let setting = |flag: &str, env: &str, full: usize, smoke: usize| -> Result<usize, String> {
            let (source, value) = match flags.iter().find(|(name, _)| name == flag) {
                Some((_, value)) => (format!("--{flag}"), value.clone()),
                None => match std::env::var(env) {
                    Ok(value) => (env.to_string(), value),
                    Err(_) => return Ok(if full_run { full } else { smoke }),
                },
            };
            value
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(format!(
                    "{source}: expected a positive number, got '{value}'"
                ))
        };
        let flag_or_env = |flag: &str, env: &str| {
            flags
                .iter()
                .find(|(name, _)| name == flag)
                .map(|(_, value)| value.clone())
                .or_else(|| std::env::var(env).ok())
        };
        let backend = flag_or_env("backend", "LOKET_BENCH_BACKEND");
        let concurrency = setting("concurrency", "LOKET_BENCH_CONCURRENCY", 32, 4)?;
        let client = match flag_or_env("client", "LOKET_BENCH_CLIENT").as_deref() {
            None | Some("inprocess") => Client::InProcess,
            Some("wrk") if !wrk::available() => {
                return Err("--client wrk: wrk is not on the PATH (apt install wrk)".into())
            }
            Some("wrk") => Client::Wrk(wrk::Shape {
                threads: std::thread::available_parallelism()
                    .map_or(2, |n| n.get())
                    .min(concurrency),
                connections: concurrency,
                seconds: setting("seconds", "LOKET_BENCH_SECONDS", 10, 2)? as u64,
            }),
            Some(other) => return Err(format!("--client: unknown client '{other}'")),
        };
        Ok(Options {
            requests: setting("requests", "LOKET_BENCH_REQUESTS", 5_000, 50)?,
            concurrency,
            warmup: setting("warmup", "LOKET_BENCH_WARMUP", 200, 1)?,
            pool_size: u32::try_from(setting("pool-size", "LOKET_BENCH_POOL_SIZE", 4, 2)?)
                .map_err(|_| "--pool-size: too large".to_string())?,
            existing: setting("existing", "LOKET_BENCH_EXISTING", 100_000, 10)?,
            max_seconds: setting("max-seconds", "LOKET_BENCH_MAX_SECONDS", 60, 30)? as u64,
            backends: parse_backends(backend.as_deref())?,
            client,
        })
    }

    fn describe(&self) -> String {
        let backends: Vec<String> = self.backends.iter().map(|b| b.to_string()).collect();
        let calls = match self.client {
            Client::InProcess => format!("{} calls per phase", self.requests),
            Client::Wrk(shape) => format!(
                "wrk ({} threads) for {} s per phase",
                shape.threads, shape.seconds
            ),
        };
        format!(
            "loket load benchmark: {calls} after {} warm-up calls, {} requests \
             already stored, {} concurrent clients, app pool size {}, at most {} s per phase, \
             backends: {}",
            self.warmup,
            self.existing,
            self.concurrency,
            self.pool_size,
            self.max_seconds,
            backends.join(", ")
        )
    }
}

/// `--name value` pairs; `--help` and anything else are errors that print the usage.
fn parse_flags(args: impl Iterator<Item = String>) -> Result<Vec<(String, String)>, String> {
    const KNOWN: [&str; 9] = [
        "requests",
        "existing",
        "concurrency",
        "warmup",
        "pool-size",
        "max-seconds",
        "backend",
        "client",
        "seconds",
    ];
    let mut args = args;
    let mut flags = Vec::new();
    while let Some(arg) = args.next() {
        let name = arg
            .strip_prefix("--")
            .filter(|name| KNOWN.contains(name))
            .ok_or(format!("unknown argument '{arg}'"))?;
        let value = args.next().ok_or(format!("{arg} needs a value"))?;
        flags.push((name.to_string(), value));
    }
    Ok(flags)
}

fn parse_backends(choice: Option<&str>) -> Result<Vec<Backend>, String> {
    let postgres_configured = std::env::var_os("LOKET_TEST_POSTGRES_URL").is_some();
    let backends = match choice {
        None if postgres_configured => vec![Backend::Sqlite, Backend::Postgres],
        None | Some("sqlite") => vec![Backend::Sqlite],
        Some("postgres") => vec![Backend::Postgres],
        Some("all") => vec![Backend::Sqlite, Backend::Postgres],
        Some(other) => return Err(format!("unknown backend '{other}'")),
    };
    if backends.contains(&Backend::Postgres) && !postgres_configured {
        return Err("the postgres backend needs LOKET_TEST_POSTGRES_URL".into());
    }
    Ok(backends)
}

/// Runs the three phases on one backend; with them, a sentence on the delivery of the intake's
/// letters.
async fn bench_backend(backend: Backend, options: &Options) -> (Vec<Measurement>, String) {
    let pool_size = options.pool_size;
    let app = TestApp::spawn_with(backend, |settings| {
        settings.pool_size = pool_size;
        settings.public_requests_per_minute = PUBLIC_REQUESTS_PER_MINUTE;
        settings.mail.transport = MailTransportKind::File;
        settings.mail.dir = Some(settings.data_dir.join("mail"));
    })
    .await;
    let app = Arc::new(app);
    let document = loket::catalog::parse_yaml(EXAMPLE_CATALOG).expect("example catalog is valid");
    loket::catalog::import(&app.store, Actor::Cli, document)
        .await
        .expect("catalog imported");
    store_earlier_requests(&app, options.existing).await;
    let agent: Arc<str> = app.token_for(Role::Agent).await.into();

    let intake = |first_person: usize| {
        let (app, agent) = (app.clone(), agent.clone());
        move |i: usize| register(app.clone(), agent.clone(), first_person + i)
    };
    run_phase(options, options.warmup, intake(0)).await;
    let (sent_before, _, _) = letters_sent_when_the_outbox_is_empty(&app).await;
    let (created, ids) = match options.client {
        Client::InProcess => {
            let created = run_phase(options, options.requests, intake(options.warmup)).await;
            let ids = created.outputs.clone();
            (created.into_measurement(backend, INTAKE, options), ids)
        }
        Client::Wrk(shape) => {
            let headers = [("Authorization", &*format!("Bearer {agent}"))];
            let calls = wrk::Calls::Post {
                path: "/api/v1/requests",
                headers: &headers,
                body_lua: PHONE_CALL_LUA,
                first_person: options.warmup,
            };
            let created = measure_with_wrk(&app, shape, &calls, backend, INTAKE);
            (created, requests_made_in_the_run(&app).await)
        }
    };
    // Each intake queues a receipt confirmation; the mail worker delivers it in the background.
    // The next phases start once it is done, so they measure their own calls only.
    let (sent, waited, left) = letters_sent_when_the_outbox_is_empty(&app).await;
    let letters = sent - sent_before;
    let intake_seconds = created.calls as f64 / created.per_second.max(f64::MIN_POSITIVE);
    let mail = format!(
        "{backend}: of the {letters} letters of the measured intake, {left} were still to be \
         sent when it ended, and were {:.1} s later ({:.0} letters/s alone, {:.0} letters/s \
         over the phase and the wait)",
        waited.as_secs_f64(),
        left as f64 / waited.as_secs_f64().max(f64::MIN_POSITIVE),
        letters as f64 / (intake_seconds + waited.as_secs_f64())
    );
    let ids: Arc<Vec<String>> = Arc::new(ids);
    if ids.is_empty() {
        return (vec![created], mail);
    }

    let staff_view = {
        let (app, agent, ids) = (app.clone(), agent.clone(), ids.clone());
        move |i: usize| {
            let url = app.url(&format!("/api/v1/requests/{}", ids[i % ids.len()]));
            let request = app.client.get(url).bearer_auth(&*agent);
            async move { expect_success(request).await.map(drop) }
        }
    };
    let view_paths = ids.iter().map(|id| format!("/api/v1/requests/{id}"));
    let bearer = format!("Bearer {agent}");
    let on = (&*app, options, backend);
    let auth = [("Authorization", bearer.as_str())];
    let viewed = measure_gets(on, VIEW, staff_view, view_paths.collect(), &auth).await;

    let links: Arc<Vec<String>> = Arc::new(status_links(&ids));
    let public_status = {
        let (app, links) = (app.clone(), links.clone());
        move |i: usize| {
            let url = app.url(&format!("/api/v1/public/status/{}", links[i % links.len()]));
            let request = app.client.get(url);
            async move { expect_success(request).await.map(drop) }
        }
    };
    let status_paths = links
        .iter()
        .map(|link| format!("/api/v1/public/status/{link}"));
    let checked = measure_gets(on, STATUS, public_status, status_paths.collect(), &[]).await;
    (vec![created, viewed, checked], mail)
}

/// Waits until the mail worker has delivered every queued letter; how many letters are sent
/// then, how long the wait took and how many were pending when it began.
async fn letters_sent_when_the_outbox_is_empty(app: &TestApp) -> (i64, Duration, i64) {
    use diesel::dsl::count_star;
    use diesel::prelude::*;
    use loket::db::models::outbox::{PENDING, SENT};
    use loket::db::schema::outbox;
    let started = Instant::now();
    let mut pending_at_start = None;
    loop {
        let (pending, sent) = app
            .store
            .read(|conn| {
                let count = |conn: &mut loket::db::DbConnection, status: &'static str| {
                    outbox::table
                        .filter(outbox::status.eq(status))
                        .select(count_star())
                        .first::<i64>(conn)
                };
                Ok::<_, loket::db::StoreError>((count(conn, PENDING)?, count(conn, SENT)?))
            })
            .await
            .expect("the outbox is read");
        let left = *pending_at_start.get_or_insert(pending);
        if pending == 0 {
            return (sent, started.elapsed(), left);
        }
        assert!(
            started.elapsed() < CALL_TIMEOUT * 10,
            "{pending} letters still pending after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const INTAKE: &str = "POST /api/v1/requests";
const VIEW: &str = "GET /api/v1/requests/{id}";
const STATUS: &str = "GET /api/v1/public/status/{token}";

/// A phase of `GET` calls after its warm-up: made by the in-process clients (`call(i)`), or
/// by `wrk` sending `paths` in turn with `headers`.
async fn measure_gets<F, Fut>(
    (app, options, backend): (&TestApp, &Options, Backend),
    name: &'static str,
    call: F,
    paths: Vec<String>,
    headers: &[(&str, &str)],
) -> Measurement
where
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    run_phase(options, options.warmup, call.clone()).await;
    match options.client {
        Client::InProcess => run_phase(options, options.requests, call)
            .await
            .into_measurement(backend, name, options),
        Client::Wrk(shape) => {
            let calls = wrk::Calls::Get {
                paths: &paths,
                headers,
            };
            measure_with_wrk(app, shape, &calls, backend, name)
        }
    }
}

/// Runs one measured phase under `wrk`. It blocks the benchmark's thread, which makes no calls
/// of its own meanwhile; the server runs on its own threads.
fn measure_with_wrk(
    app: &TestApp,
    shape: wrk::Shape,
    calls: &wrk::Calls<'_>,
    backend: Backend,
    call: &'static str,
) -> Measurement {
    let run = tokio::task::block_in_place(|| wrk::run(&app.address, shape, calls));
    match run {
        Ok(run) => {
            let errors = run.failed_answers + run.socket_errors;
            Measurement {
                backend,
                call,
                calls: run.calls,
                concurrency: shape.connections,
                per_second: run.calls as f64 / run.elapsed.as_secs_f64(),
                p50: run.p50,
                p90: run.p90,
                p99: run.p99,
                max: run.max,
                errors,
                first_error: (errors > 0).then(|| {
                    format!(
                        "{} answers with status 400 or more, {} socket errors",
                        run.failed_answers, run.socket_errors
                    )
                }),
            }
        }
        Err(error) => Measurement {
            backend,
            call,
            calls: 0,
            concurrency: shape.connections,
            per_second: 0.0,
            p50: Duration::ZERO,
            p90: Duration::ZERO,
            p99: Duration::ZERO,
            max: Duration::ZERO,
            errors: 1,
            first_error: Some(error),
        },
    }
}

/// The ids of the requests made by the intake phases (the earlier ones are `created_by` the
/// benchmark itself), for the phases that read them.
async fn requests_made_in_the_run(app: &TestApp) -> Vec<String> {
    use diesel::prelude::*;
    use loket::db::schema::requests;
    app.store
        .read(|conn| {
            requests::table
                .select(requests::id)
                .filter(requests::created_by.ne("bench"))
                .load::<String>(conn)
                .map_err(loket::db::StoreError::from)
        })
        .await
        .expect("the new requests are read")
}

/// Writes `count` closed requests of other people, each with its three lookup indexes, in one
/// statement; on PostgreSQL the table is analysed afterwards, as autovacuum would have.
async fn store_earlier_requests(app: &TestApp, count: usize) {
    use diesel::connection::SimpleConnection;
    const COLUMNS: &str = "id, reference, kind, channel, state, language, received_at, due_on, \
        extended, identity_verified, email_confirmed, confirmation_attempts, email_index, \
        customer_number_index, phone_index, version, created_by, created_at, updated_at, closed_at";
    let sql = match app.backend {
        Backend::Sqlite => format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}) \
             INSERT INTO requests ({COLUMNS}) SELECT 'earlier-' || i, 'AVG-2025-E' || i, \
             'access', 'phone', 'completed', 'nl', '2025-06-01 09:00:00', \
             date('2025-01-01', '+' || (i % 700) || ' days'), 0, 1, 1, 0, 'e' || i, 'c' || i, \
             'p' || i, 1, 'bench', '2025-06-01 09:00:00', '2025-06-01 09:00:00', \
             '2025-06-20 09:00:00' FROM n"
        ),
        Backend::Postgres => format!(
            "INSERT INTO requests ({COLUMNS}) SELECT 'earlier-' || i, 'AVG-2025-E' || i, \
             'access', 'phone', 'completed', 'nl', timestamp '2025-06-01 09:00', \
             date '2025-01-01' + (i % 700), false, true, true, 0, 'e' || i, 'c' || i, 'p' || i, \
             1, 'bench', timestamp '2025-06-01 09:00', timestamp '2025-06-01 09:00', \
             timestamp '2025-06-20 09:00' FROM generate_series(1, {count}) AS i; \
             ANALYZE requests"
        ),
    };
    app.store
        .read(move |conn| {
            conn.batch_execute(&sql)
                .map_err(loket::db::StoreError::from)
        })
        .await
        .expect("earlier requests stored");
}

/// What an agent types during a phone call; `person` makes every caller a different one, so the
/// "earlier requests of this person" lookup stays as small as it is on a real desk.
fn phone_call(person: usize) -> Value {
    let kind = if person % 2 == 0 { "erasure" } else { "access" };
    json!({
        "kind": kind,
        "channel": "phone",
        "requester": {
            "name": format!("Beller {person}"),
            "email": format!("beller{person}@example.nl"),
            "customer_number": format!("TN-{person:07}"),
            "phone": format!("+31 6 {:04} {:04}", person / 10_000 % 10_000, person % 10_000)
        },
        "details": "Beller vraagt wat wij over hem vastleggen.",
        "identity": {"method": "known_details", "note": "customer number and date of birth matched"}
    })
}

/// [`phone_call`] as a Lua expression over `person`, for `wrk`.
const PHONE_CALL_LUA: &str = r#"string.format('{"kind":"%s","channel":"phone","requester":{"name":"Beller %d","email":"beller%d@example.nl","customer_number":"TN-%07d","phone":"+31 6 %04d %04d"},"details":"Beller vraagt wat wij over hem vastleggen.","identity":{"method":"known_details","note":"customer number and date of birth matched"}}', person % 2 == 0 and "erasure" or "access", person, person, person, math.floor(person / 10000) % 10000, person % 10000)"#;

/// Registers one request and returns its id.
async fn register(app: Arc<TestApp>, agent: Arc<str>, person: usize) -> Result<String, String> {
    let request = app
        .client
        .post(app.url("/api/v1/requests"))
        .bearer_auth(&*agent)
        .json(&phone_call(person));
    let body = expect_success(request).await?;
    let created: Value =
        serde_json::from_slice(&body).map_err(|e| format!("intake answer is not JSON: {e}"))?;
    created["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| "intake answer has no id".to_string())
}

/// Sends the call and reads the whole body; anything but 2xx is an error naming the status.
async fn expect_success(request: reqwest::RequestBuilder) -> Result<Vec<u8>, String> {
    let response = request
        .timeout(CALL_TIMEOUT)
        .send()
        .await
        .map_err(|e| format!("transport: {e}"))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("reading the body: {e}"))?;
    if status.is_success() {
        Ok(body.to_vec())
    } else {
        let text = String::from_utf8_lossy(&body);
        Err(format!(
            "{status}: {}",
            text.chars().take(300).collect::<String>()
        ))
    }
}

/// The links of the receipt confirmation, signed like the app signs them (same secret).
fn status_links(ids: &[String]) -> Vec<String> {
    let tokens = TokenService::new(JWT_SECRET.as_bytes(), 0);
    ids.iter()
        .map(|id| {
            tokens
                .issue_link(
                    loket::requests::STATUS_LINK_AUDIENCE,
                    id,
                    STATUS_LINK_TTL_SECONDS,
                )
                .expect("status link signed")
        })
        .collect()
}

/// What one phase produced: the latency of every call, the successful outputs, the failures.
struct PhaseResult<T> {
    latencies: Vec<Duration>,
    outputs: Vec<T>,
    errors: usize,
    first_error: Option<String>,
    elapsed: Duration,
}

/// Makes `count` calls `call(0..count)`, `options.concurrency` at a time, and stops taking new
/// ones after `options.max_seconds`.
async fn run_phase<T, F, Fut>(options: &Options, count: usize, call: F) -> PhaseResult<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, String>> + Send + 'static,
{
    let call = Arc::new(call);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(options.max_seconds);
    let clients: Vec<_> = (0..options.concurrency.min(count))
        .map(|_| {
            let (call, next) = (call.clone(), next.clone());
            tokio::spawn(async move {
                let mut result = PhaseResult::empty();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count || Instant::now() >= deadline {
                        return result;
                    }
                    let sent = Instant::now();
                    let outcome = call(i).await;
                    result.record(sent.elapsed(), outcome);
                }
            })
        })
        .collect();
    let mut total = PhaseResult::empty();
    for client in clients {
        total.absorb(client.await.expect("client task ran to the end"));
    }
    total.elapsed = started.elapsed();
    total
}

impl<T> PhaseResult<T> {
    fn empty() -> Self {
        PhaseResult {
            latencies: Vec::new(),
            outputs: Vec::new(),
            errors: 0,
            first_error: None,
            elapsed: Duration::ZERO,
        }
    }

    fn record(&mut self, latency: Duration, outcome: Result<T, String>) {
        self.latencies.push(latency);
        match outcome {
            Ok(output) => self.outputs.push(output),
            Err(error) => {
                self.errors += 1;
                self.first_error.get_or_insert(error);
            }
        }
    }

    fn absorb(&mut self, other: PhaseResult<T>) {
        self.latencies.extend(other.latencies);
        self.outputs.extend(other.outputs);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    fn into_measurement(
        mut self,
        backend: Backend,
        call: &'static str,
        options: &Options,
    ) -> Measurement {
        self.latencies.sort_unstable();
        let calls = self.latencies.len();
        let mut first_error = self.first_error;
        if calls < options.requests && first_error.is_none() {
            first_error = Some(format!(
                "only {calls} of {} calls within {} s",
                options.requests, options.max_seconds
            ));
        }
        Measurement {
            backend,
            call,
            calls,
            concurrency: options.concurrency,
            per_second: calls as f64 / self.elapsed.as_secs_f64(),
            p50: percentile(&self.latencies, 50.0),
            p90: percentile(&self.latencies, 90.0),
            p99: percentile(&self.latencies, 99.0),
            max: self.latencies.last().copied().unwrap_or_default(),
            errors: self.errors,
            first_error,
        }
    }
}

/// Nearest-rank percentile of sorted latencies.
fn percentile(sorted: &[Duration], percent: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (percent / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One row of the table.
struct Measurement {
    backend: Backend,
    call: &'static str,
    calls: usize,
    concurrency: usize,
    per_second: f64,
    p50: Duration,
    p90: Duration,
    p99: Duration,
    max: Duration,
    errors: usize,
    first_error: Option<String>,
}

impl Measurement {
    const TABLE_HEADER: &'static str = "\
| backend | call | calls | concurrency | requests/s | p50 ms | p90 ms | p99 ms | max ms | errors |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|";

    fn table_row(&self) -> String {
        let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1000.0);
        format!(
            "| {} | `{}` | {} | {} | {:.0} | {} | {} | {} | {} | {} |",
            self.backend,
            self.call,
            self.calls,
            self.concurrency,
            self.per_second,
            ms(self.p50),
            ms(self.p90),
            ms(self.p99),
            ms(self.max),
            self.errors
        )
    }
}
