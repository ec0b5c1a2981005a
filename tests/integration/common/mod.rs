//! The test harness: starts the real application on a free port, on SQLite or on a fresh
//! PostgreSQL database, and talks to it over HTTP like any client.
#![allow(dead_code)]

pub mod browser;
pub mod shop;
pub mod targets;
pub mod telco;

use base64::Engine;
use loket::auth::{NewUser, Role, UserService};
use loket::config::{Secret, Settings};
use loket::db::{Backend, Store};
use loket::startup::Application;
use serde_json::Value;

pub const PASSWORD: &str = "a long test password";
pub const JWT_SECRET: &str = "test-signing-key-that-is-long-enough-0123456789";

/// Writes each test twice: once on SQLite, once on PostgreSQL. The PostgreSQL variant is
/// reported as ignored, with the reason, when `LOKET_TEST_POSTGRES_URL` is not set. Written
/// `backend_tests! { browser; … }`, the tests also need a browser (`LOKET_TEST_CHROMEDRIVER`).
#[macro_export]
macro_rules! backend_tests {
    (browser; $(async fn $name:ident($app:ident: TestApp) $body:block)*) => {
        backend_tests!(@each
            [not(loket_browser)] "set LOKET_TEST_CHROMEDRIVER (chromium-driver) to run the browser tests";
            [not(all(loket_test_postgres, loket_browser))] "set LOKET_TEST_POSTGRES_URL and LOKET_TEST_CHROMEDRIVER to run the browser tests on PostgreSQL";
            $(async fn $name($app: TestApp) $body)*);
    };
    (@each [$sqlite:meta] $sqlite_reason:literal; [$postgres:meta] $postgres_reason:literal;
     $(async fn $name:ident($app:ident: TestApp) $body:block)*) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr($sqlite, ignore = $sqlite_reason)]
                async fn $name() {
                    let $app = TestApp::spawn(loket::db::Backend::Sqlite).await;
                    $body
                }
            )*
        }
        mod postgres {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr($postgres, ignore = $postgres_reason)]
                async fn $name() {
                    let $app = TestApp::spawn(loket::db::Backend::Postgres).await;
                    $body
                }
            )*
        }
    };
    ($(async fn $name:ident($app:ident: TestApp) $body:block)*) => {
        backend_tests!(@each
            [any()] "";
            [not(loket_test_postgres)] "set LOKET_TEST_POSTGRES_URL to run on PostgreSQL";
            $(async fn $name($app: TestApp) $body)*);
    };
}

pub struct TestApp {
    /// First, so it is dropped (and the worker told to stop) before the database goes.
    /// Behind a lock so a test can stop it and deliver by hand (`stop_mail_worker`).
    mail_worker: std::sync::Mutex<Option<loket::mail::worker::WorkerHandle>>,
    pub address: String,
    pub client: reqwest::Client,
    pub store: Store,
    pub settings: Settings,
    pub backend: Backend,
    /// The server's connectors: what they did to each system (`usage`).
    pub connectors: loket::connectors::Connectors,
    /// What the server's requests set running in the background.
    background: loket::requests::Background,
    _data_dir: tempfile::TempDir,
    _database: Option<targets::TargetDb>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts the app with settings adjusted by `configure` (mail transport, intervals, …).
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(targets::TargetDb::postgres()),
        };
        let mut settings = Settings {
            bind: "127.0.0.1:0".into(),
            data_dir: data_dir.path().to_path_buf(),
            database_url: database.as_ref().map(|db| Secret::new(db.url.clone())),
            pool_size: 4,
            jwt_secret: Some(Secret::new(JWT_SECRET)),
            data_key: Some(Secret::new(
                base64::engine::general_purpose::STANDARD.encode([42u8; 32]),
            )),
            ..Settings::default()
        };
        configure(&mut settings);
        let mut app = Application::build(&settings).await.expect("app starts");
        let mail_worker = app.take_mail_worker();
        let connectors = app.connectors();
        let background = app.background();
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        let store = Store::open(&settings.database_url(), 2).expect("test store");
        TestApp {
            mail_worker: std::sync::Mutex::new(mail_worker),
            address,
            client: reqwest::Client::new(),
            store,
            settings,
            backend,
            connectors,
            background,
            _data_dir: data_dir,
            _database: database,
        }
    }

    /// Stops the server's own outbox worker, for a test that drives delivery round by round
    /// ([`loket::mail::worker::Stepper`]) and must be the only one delivering.
    pub async fn stop_mail_worker(&self) {
        let worker = self.mail_worker.lock().expect("mail worker lock").take();
        if let Some(worker) = worker {
            worker.shutdown().await.expect("the mail worker stops");
        }
    }

    /// Waits until the work the server's requests set running in the background (tasks run
    /// once identity is verified) is done: one step, instead of polling for its effect.
    pub async fn settle(&self) {
        self.background.settle().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Creates an account directly in the store.
    pub async fn add_user(&self, username: &str, role: Role) {
        UserService::new(self.store.clone())
            .create(
                loket::audit::Actor::Cli,
                NewUser {
                    username: username.into(),
                    display_name: None,
                    role,
                    password: PASSWORD.into(),
                    // A first-line partner always belongs to a team.
                    team: (role == Role::PartnerAgent).then(|| "partner-a".into()),
                },
            )
            .await
            .expect("user created");
    }

    /// Signs in over HTTP and returns the bearer token.
    pub async fn login(&self, username: &str) -> String {
        let response = self
            .post_json(
                "/api/v1/auth/token",
                None,
                &serde_json::json!({"username": username, "password": PASSWORD}),
            )
            .await;
        assert_eq!(response.status(), 200, "login of {username}");
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    /// Creates a user with `role` (named after it) and returns its token.
    pub async fn token_for(&self, role: Role) -> String {
        let username = format!("{}-1", role.as_str().replace('_', "-"));
        self.add_user(&username, role).await;
        self.login(&username).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request sent")
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.delete(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request sent")
    }

    pub async fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> reqwest::Response {
        self.send_json(reqwest::Method::POST, path, token, body)
            .await
    }

    pub async fn put_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> reqwest::Response {
        self.send_json(reqwest::Method::PUT, path, token, body)
            .await
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> reqwest::Response {
        self.send_raw(method, path, token, "application/json", body.to_string())
            .await
    }

    pub async fn send_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: String,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .request(method, self.url(path))
            .header("Content-Type", content_type)
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request sent")
    }
}

/// Asserts the status and returns the JSON body, printing the body when the status is wrong.
pub async fn expect_json(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Everything the database holds about requests, as text: the SQLite files byte for byte (the
/// write-ahead log included), or every row of the request tables on PostgreSQL.
pub async fn dump_database(app: &TestApp) -> String {
    match app.backend {
        Backend::Sqlite => {
            let mut dump = String::new();
            for suffix in ["", "-wal"] {
                let path = app.settings.data_dir.join(format!("loket.db{suffix}"));
                if let Ok(bytes) = std::fs::read(&path) {
                    dump.push_str(&String::from_utf8_lossy(&bytes));
                }
            }
            dump
        }
        Backend::Postgres => {
            use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
            #[derive(QueryableByName)]
            struct Dump {
                #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
                dump: Option<String>,
            }
            let url = app.settings.database_url();
            tokio::task::spawn_blocking(move || {
                let mut conn = PgConnection::establish(&url).expect("connect");
                [
                    "requests",
                    "request_tasks",
                    "task_comments",
                    "request_pauses",
                    "outbox",
                    "audit_events",
                    "package_keys",
                ]
                .iter()
                .map(|table| {
                    diesel::sql_query(format!(
                        "SELECT string_agg(row_to_json(t)::text, E'\\n') AS dump FROM {table} t"
                    ))
                    .get_result::<Dump>(&mut conn)
                    .expect("dump table")
                    .dump
                    .unwrap_or_default()
                })
                .collect::<Vec<_>>()
                .join("\n")
            })
            .await
            .expect("dump")
        }
    }
}

/// Like [`backend_tests!`], for tests that need their own settings: each test names a
/// `FnOnce(&mut Settings)` after `configured`, applied on both backends through
/// [`TestApp::spawn_with`].
#[macro_export]
macro_rules! backend_tests_with {
    ($(async fn $name:ident($app:ident: TestApp) configured $configure:expr; $body:block)*) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let $app = TestApp::spawn_with(loket::db::Backend::Sqlite, $configure).await;
                    $body
                }
            )*
        }
        mod postgres {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(loket_test_postgres), ignore = "set LOKET_TEST_POSTGRES_URL to run on PostgreSQL")]
                async fn $name() {
                    let $app = TestApp::spawn_with(loket::db::Backend::Postgres, $configure).await;
                    $body
                }
            )*
        }
    };
}

/// The cipher the test app encrypts with, for reading what it stored.
pub fn cipher_of(settings: &Settings) -> loket::crypto::Cipher {
    let (secrets, _) = settings.secrets().expect("test secrets");
    secrets.cipher()
}

/// The newest letter of `kind` to a request, decrypted from the outbox: (recipient, body).
pub async fn outbox_letter(app: &TestApp, request_id: &str, kind: &str) -> (String, String) {
    use diesel::prelude::*;
    use loket::db::schema::outbox;
    let (request_id, kind) = (request_id.to_string(), kind.to_string());
    let (recipient, body): (String, String) = app
        .store
        .read(move |conn| {
            outbox::table
                .filter(outbox::request_id.eq(request_id))
                .filter(outbox::template.eq(kind))
                .order(outbox::created_at.desc())
                .select((outbox::recipient_enc, outbox::body_enc))
                .first(conn)
                .map_err(loket::db::StoreError::from)
        })
        .await
        .expect("letter in the outbox");
    let cipher = cipher_of(&app.settings);
    (
        cipher
            .decrypt("outbox.recipient", &recipient)
            .expect("recipient decrypts"),
        cipher.decrypt("outbox.body", &body).expect("body decrypts"),
    )
}

/// The first date written as a machine writes it (`2026-12-02`, also inside a time such as
/// `2026-12-02T14:05:00Z`) in a page's text: a desk page spells days for people.
pub fn iso_date(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let digits = |from: usize, n: usize| bytes[from..from + n].iter().all(u8::is_ascii_digit);
    (0..bytes.len().saturating_sub(9)).find_map(|at| {
        let date = digits(at, 4)
            && bytes[at + 4] == b'-'
            && digits(at + 5, 2)
            && bytes[at + 7] == b'-'
            && digits(at + 8, 2);
        date.then(|| &text[at..at + 10])
    })
}

/// The first task of `kind` on `system` (or on any system when `None`) of a request as the API
/// gives it.
pub fn task_of<'a>(request: &'a Value, kind: &str, system: Option<&str>) -> &'a Value {
    request["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .find(|t| t["kind"] == kind && system.is_none_or(|s| t["system_key"] == s))
        .unwrap_or_else(|| panic!("no {kind} task on {system:?} in {request:#}"))
}

/// What every test in this binary logged, written as the server writes its log. One subscriber
/// for the whole binary: every module that reads the log shares it.
#[derive(Clone, Default)]
pub struct Captured(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Starts capturing (at TRACE) on first use and returns the capture.
pub fn captured_log() -> &'static Captured {
    static LOG: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || loket::telemetry::OneLinePerEvent(writer.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
        captured
    })
}

/// Points `settings` at a copy of the shipped policies with `run_automatically: {kinds}`
/// (`kinds` as YAML, e.g. `[export_data]`), in the app's data directory.
pub fn running_automatically(settings: &mut Settings, kinds: &str) {
    let dir = settings.data_dir.join("policies");
    std::fs::create_dir_all(&dir).expect("policies dir");
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    for entry in std::fs::read_dir(shipped).expect("shipped policies") {
        let path = entry.expect("policy file").path();
        let mut text = std::fs::read_to_string(&path).expect("policy file");
        if path.file_name().is_some_and(|name| name == "requests.yaml") {
            text = text.replace(
                "run_automatically: []",
                &format!("run_automatically: {kinds}"),
            );
        }
        std::fs::write(dir.join(path.file_name().expect("file name")), text).expect("copy");
    }
    settings.policies_dir = dir;
}
