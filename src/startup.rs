//! Building and running the server: open the store, migrate, wire the services, listen.

use crate::api::{self, extract::BodyLimit, ApiConfig, AppState};
use crate::auth::{TokenService, UserService};
use crate::config::Settings;
use crate::db::Store;
use crate::mail::worker::WorkerHandle;
use crate::policies::Policies;
use crate::requests::RequestService;
use crate::retention::SweepService;
use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use std::net::TcpListener;
use std::sync::Arc;
use tracing_actix_web::TracingLogger;

pub struct Application {
    port: u16,
    server: Server,
    mail_worker: Option<WorkerHandle>,
    /// Runs the retention rules on their schedules; stopped with the server.
    sweep_scheduler: tokio::task::JoinHandle<()>,
    /// The daily jobs on requests (reminder digests); stopped with the server.
    daily_jobs: tokio::task::JoinHandle<()>,
    /// The connector pools the server uses, for what they did ([`crate::connectors::Usage`]).
    connectors: crate::connectors::Connectors,
    /// What requests set running in the background.
    background: crate::requests::Background,
}

impl Application {
    /// Opens and migrates the database and binds the listener. `bind` may use port 0 (tests).
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let (secrets, warning) = settings.secrets()?;
        if let Some(warning) = warning {
            tracing::warn!("{warning}");
        }
        let store = open_store(settings).await?;
        // A server keeps copies of accounts and the catalog while no instance changes them.
        store.listen_for_changes()?;
        let policies = load_policies(settings)?;
        crate::guide::record_version(&store, &policies.guide).await?;
        if !greet_first_run(&store).await? {
            let problems = policy_problems(&store, &policies).await?.len();
            if problems > 0 {
                tracing::warn!(
                    problems,
                    "the policies do not match the catalog; `loket policies check` lists what"
                );
            }
        }
        let cipher = secrets.cipher();
        // Lookup hashes written under older normal forms are brought up to date before anyone
        // searches (idempotent: nothing changes once they are).
        crate::requests::reindex::reindex(&store, &cipher).await?;
        // Keep tasks from before the agent's reason left the titles lose it there.
        crate::requests::choices::reasons_out_of_titles(&store, &cipher).await?;
        let policies = Arc::new(policies);
        let connectors = connectors_of(settings, &secrets);
        let sweeps = SweepService::new(
            store.clone(),
            cipher.clone(),
            connectors.clone(),
            policies.clone(),
        );
        check_connectors(&store, connectors.clone(), policies.clone());
        let mail_worker = crate::mail::worker::spawn(store.clone(), cipher.clone(), settings)?;
        let waker = mail_worker.waker();
        let tokens = TokenService::new(&secrets.jwt_secret, settings.token_ttl_minutes * 60);
        // One set of connector pools for tasks, packages and sweeps.
        let requests = request_service(settings, &store, &secrets, policies)
            .with_connectors(connectors.clone())
            .on_mail_queued(Arc::new(move || waker.wake()));
        let background = requests.background();
        let sweep_scheduler = crate::retention::scheduler::spawn(sweeps.clone(), requests.clone());
        let daily_jobs = spawn_daily(requests.clone(), sweeps.clone());
        let mut state = AppState::new(store, tokens, requests, sweeps);
        state.users = state.users.with_guard(crate::auth::guard::SignInGuard::new(
            settings.sign_in.clone(),
        ));
        let api_config = ApiConfig::new(settings.public_requests_per_minute);
        let listener = TcpListener::bind(&settings.bind)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let body_limit = settings.max_body_bytes;
        let server = HttpServer::new(move || {
            App::new()
                .wrap(actix_web::middleware::from_fn(
                    api::permissions::authorise_first,
                ))
                .wrap(actix_web::middleware::from_fn(api::refuse_nul_in_address))
                .wrap(TracingLogger::<crate::telemetry::RouteOnlySpan>::new())
                .app_data(web::Data::new(state.clone()))
                .app_data(BodyLimit(body_limit))
                .app_data(web::PayloadConfig::new(body_limit))
                .configure(|cfg| api::configure(cfg, &api_config))
        })
        .listen(listener)?
        // Requests in flight get this long to finish after SIGTERM/SIGINT.
        .shutdown_timeout(15)
        .run();
        tracing::info!(address = %settings.bind, port, "loket is listening");
        Ok(Self {
            port,
            server,
            mail_worker: Some(mail_worker),
            sweep_scheduler,
            daily_jobs,
            connectors,
            background,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The connectors the server uses (their pools and usage).
    pub fn connectors(&self) -> crate::connectors::Connectors {
        self.connectors.clone()
    }

    /// The work requests set running in the background, to await it (tests).
    pub fn background(&self) -> crate::requests::Background {
        self.background.clone()
    }

    /// Hands the outbox worker to the caller, who then decides when it stops (the test harness
    /// stops it before dropping its database).
    pub fn take_mail_worker(&mut self) -> Option<WorkerHandle> {
        self.mail_worker.take()
    }

    /// Serves until a shutdown signal, drains open requests, then lets the outbox worker finish
    /// the letter in hand.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        // A sweep in progress stops at its last checkpoint; the next one resumes it.
        self.sweep_scheduler.abort();
        self.daily_jobs.abort();
        if let Some(worker) = self.mail_worker {
            if let Err(error) = worker.shutdown().await {
                tracing::warn!(%error, "mail worker did not stop cleanly");
            }
        }
        served
    }
}

/// Request handling as `serve` wires it; the caller adds the outbox worker's wake-up, if any.
pub fn request_service(
    settings: &Settings,
    store: &Store,
    secrets: &crate::config::Secrets,
    policies: Arc<Policies>,
) -> RequestService {
    let tokens = TokenService::new(&secrets.jwt_secret, settings.token_ttl_minutes * 60);
    RequestService::new(
        store.clone(),
        secrets.cipher(),
        policies,
        tokens,
        &settings.public_url,
        &settings.mail.from,
    )
    .with_connectors(connectors_of(settings, secrets))
    .with_package_builder(crate::packages::automatic_builder())
}

/// Retention sweeps as this configuration has them, for the command line.
pub fn sweep_service(settings: &Settings, store: &Store) -> anyhow::Result<SweepService> {
    let (secrets, _) = settings.secrets()?;
    Ok(SweepService::new(
        store.clone(),
        secrets.cipher(),
        connectors_of(settings, &secrets),
        Arc::new(load_policies(settings)?),
    ))
}

/// The daily jobs outside retention's own scheduler, one line each; abort the handle to stop
/// them. Joined here, where every module is in reach, so no domain module has to know another
/// one's job.
fn spawn_daily(requests: RequestService, sweeps: SweepService) -> tokio::task::JoinHandle<()> {
    use crate::retention::scheduler::daily;
    tokio::spawn(async move {
        tokio::join!(
            crate::requests::reminders::every_day(requests.clone()),
            daily(move || crate::readiness::scheduled_snapshot(sweeps.clone())),
        );
    })
}

/// Checks in the background that every SQL system's database has the mapped tables and columns
/// and the columns the retention rules use, and logs what is missing; a database that is down
/// must not keep the desk from starting.
fn check_connectors(
    store: &Store,
    connectors: crate::connectors::Connectors,
    policies: Arc<Policies>,
) {
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        use crate::catalog::Item;
        let systems = store
            .connection()
            .map_err(crate::error::Error::from)
            .and_then(|mut conn| crate::catalog::model::System::load_all(&mut conn));
        let systems = match systems {
            Ok(systems) => systems,
            Err(error) => {
                return tracing::warn!(%error, "could not read the catalog to check connectors")
            }
        };
        for checked in
            crate::retention::fit::check_systems(&connectors, &systems, &policies.retention)
        {
            let system = &checked.system;
            if checked.is_ready() {
                tracing::info!(%system, "connector ready");
            }
            for problem in &checked.problems {
                tracing::warn!(%system, %problem, "connector not ready");
            }
            for advice in &checked.advice {
                tracing::info!(%system, %advice, "connector lookup without an index");
            }
        }
    });
}

/// The configured connector URLs with the anonymisation key.
pub fn connectors_of(
    settings: &Settings,
    secrets: &crate::config::Secrets,
) -> crate::connectors::Connectors {
    crate::connectors::Connectors::new(settings.connectors.clone(), secrets.anonymise_key)
        .with_http_secrets(&settings.connector_secrets)
}

/// Opens the configured database and brings its schema up to date.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    if settings.uses_embedded_database() {
        crate::config::create_private_dir(&settings.data_dir)?;
    }
    // Every command that writes the store may write the audit trail, and chains it with this key.
    let (secrets, _) = settings.secrets()?;
    crate::audit::use_key(secrets.audit_key);
    let store = Store::open(&settings.database_url(), settings.pool_size)?;
    let migrated = {
        let store = store.clone();
        tokio::task::spawn_blocking(move || store.migrate()).await??
    };
    for version in &migrated {
        tracing::info!(%version, backend = %store.backend(), "applied migration");
    }
    // After opening, so a database file SQLite just made is covered too (its journal files
    // take the database file's permissions).
    if settings.data_dir.exists() {
        for problem in crate::config::restrict_data_dir(&settings.data_dir) {
            tracing::warn!(%problem, "the data directory is not private");
        }
    }
    Ok(store)
}

/// Reads the policy files; an invalid policy stops the start, with the file, line and field.
/// Without a policy directory of its own loket uses the policies it ships with, so the binary
/// runs from any directory.
pub fn load_policies(settings: &Settings) -> anyhow::Result<Policies> {
    if settings.uses_shipped_policies() {
        return Policies::shipped().map_err(|e| anyhow::anyhow!("the shipped policies: {e}"));
    }
    Policies::load_dir(&settings.policies_dir)
        .map_err(|e| anyhow::anyhow!("policies in {}: {e}", settings.policies_dir.display()))
}

/// Where the policies come from, for messages: the directory, or the shipped set.
pub fn policies_origin(settings: &Settings) -> String {
    if settings.uses_shipped_policies() {
        "the shipped policies (no policies/ directory here)".into()
    } else {
        format!("policies in {}", settings.policies_dir.display())
    }
}

/// Where the policies and the catalog in the database disagree (a rule naming a system the
/// catalog does not have, say).
pub async fn policy_problems(
    store: &Store,
    policies: &Policies,
) -> anyhow::Result<Vec<crate::policies::PolicyProblem>> {
    let catalog = store.read(crate::catalog::load_catalog).await?;
    Ok(policies.check_against(&catalog))
}

/// loket ships no default password and no catalog: on an empty store it says what to do next
/// instead of listing what does not match yet. Returns whether it did.
async fn greet_first_run(store: &Store) -> anyhow::Result<bool> {
    let users = UserService::new(store.clone()).count().await?;
    let systems = crate::catalog::list::<crate::catalog::model::System>(store)
        .await?
        .len();
    if users > 0 && systems > 0 {
        return Ok(false);
    }
    let mut steps =
        vec!["loket is running, but it has nothing to work with yet. Next:".to_string()];
    steps.push(
        "  - to see it work on demo data: stop it, run `loket demo`, and start it again".into(),
    );
    if users == 0 {
        steps.push(
            "  - or create the first admin: `loket user add --username NAME --role admin`".into(),
        );
    }
    if systems == 0 {
        steps.push(
            "  - and import your catalog: `loket catalog import catalog.yaml` (examples/catalog.yaml shows the format)"
                .into(),
        );
    }
    tracing::info!("{}", steps.join("\n"));
    Ok(true)
}
