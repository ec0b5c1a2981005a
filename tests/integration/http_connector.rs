//! `connector: http` (issue #22): the shipped Zendesk and HubSpot definitions run against a
//! mock of their documented endpoints, served on loopback by this module: an access through
//! Zendesk with next-link pagination and a 429 waited out, a package with the tickets, an
//! erasure through HubSpot with cursor pagination, a 500 that leaves the task open with a 502,
//! and bad definitions reported at their file, line and field.

use crate::common;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use common::{expect_json, TestApp};
use loket::audit::Actor;
use loket::auth::Role;
use loket::config::{Secret, Settings};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

const EXAMPLE: &str = include_str!("../../examples/catalog.yaml");
const ZENDESK: &str = include_str!("../../connectors/zendesk.yaml");
const HUBSPOT: &str = include_str!("../../connectors/hubspot.yaml");
const JAN: &str = "jan.devries@example.nl";

/// What the mock saw and how it misbehaves next.
#[derive(Default)]
pub struct Mock {
    base: Mutex<String>,
    /// `METHOD /path?query` of every request, in order.
    pub seen: Mutex<Vec<String>>,
    /// The `Authorization` header of every request.
    pub authorizations: Mutex<Vec<String>>,
    /// The next user search answers 429 with `Retry-After: 1`.
    pub throttle_once: AtomicBool,
    /// Deleting a Zendesk user answers 500.
    pub fail_deletes: AtomicBool,
    /// What was deleted: `zendesk users/101`, `zendesk deleted_users/101`, `hubspot 501`.
    pub deleted: Mutex<Vec<String>>,
}

impl Mock {
    /// Serves the mock on a free loopback port; the base URL of each service.
    pub async fn start() -> (Arc<Mock>, String) {
        let mock = Arc::new(Mock::default());
        let state = web::Data::from(mock.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .default_service(web::to(answer))
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .expect("mock binds");
        let base = format!("http://{}", server.addrs()[0]);
        *mock.base.lock().unwrap() = base.clone();
        tokio::spawn(server.run());
        (mock, base)
    }

    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    pub fn deleted(&self) -> Vec<String> {
        self.deleted.lock().unwrap().clone()
    }
}

async fn answer(req: HttpRequest, body: web::Bytes, mock: web::Data<Mock>) -> HttpResponse {
    let query = req.query_string().to_string();
    mock.seen
        .lock()
        .unwrap()
        .push(format!("{} {}?{query}", req.method(), req.path()));
    if let Some(value) = req.headers().get("authorization") {
        mock.authorizations
            .lock()
            .unwrap()
            .push(value.to_str().unwrap_or_default().to_string());
    }
    let params: BTreeMap<String, String> = serde_urlencoded::from_str(&query).unwrap_or_default();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let base = mock.base.lock().unwrap().clone();
    let deleted = mock.deleted();
    let gone = |id: &str| {
        deleted
            .iter()
            .any(|d| d.ends_with(&format!(" {id}")) || d.ends_with(&format!("/{id}")))
    };
    let path = req.path().to_string();
    let method = req.method().as_str().to_string();
    match (method.as_str(), path.as_str()) {
        // Zendesk Support API v2.
        ("GET", "/zendesk/api/v2/users/me.json") => {
            HttpResponse::Ok().json(json!({"user": {"id": 1, "name": "loket", "role": "agent"}}))
        }
        ("GET", "/zendesk/api/v2/users/search.json") => {
            if mock.throttle_once.swap(false, Ordering::SeqCst) {
                return HttpResponse::TooManyRequests()
                    .insert_header(("Retry-After", "1"))
                    .finish();
            }
            let query = params.get("query").cloned().unwrap_or_default();
            let mut users = Vec::new();
            let mut next = Value::Null;
            if query == format!("email:{JAN}") {
                if params.get("page").map(String::as_str) == Some("2") {
                    users.push(zendesk_user(102));
                } else {
                    users.push(zendesk_user(101));
                    next = json!(format!(
                        "{base}/zendesk/api/v2/users/search.json?query=email%3A{}&page=2",
                        JAN.replace('@', "%40")
                    ));
                }
            }
            users.retain(|u| !gone(&u["id"].to_string()));
            HttpResponse::Ok().json(json!({"users": users, "next_page": next, "previous_page": null, "count": users.len()}))
        }
        ("GET", p)
            if p.starts_with("/zendesk/api/v2/users/")
                && p.ends_with("/tickets/requested.json") =>
        {
            let user = p
                .trim_start_matches("/zendesk/api/v2/users/")
                .trim_end_matches("/tickets/requested.json");
            let (tickets, next) = match (user, params.get("page").map(String::as_str)) {
                ("101", None) => (
                    vec![
                        ticket(1, "Storing glasvezel"),
                        ticket(2, "Factuur klopt niet"),
                    ],
                    json!(format!(
                        "{base}/zendesk/api/v2/users/101/tickets/requested.json?page=2"
                    )),
                ),
                ("101", Some("2")) => (vec![ticket(3, "Verhuizing doorgeven")], Value::Null),
                ("102", None) => (vec![ticket(4, "Opzegging")], Value::Null),
                _ => (Vec::new(), Value::Null),
            };
            HttpResponse::Ok()
                .json(json!({"tickets": tickets, "next_page": next, "count": tickets.len()}))
        }
        ("DELETE", p) if p.starts_with("/zendesk/api/v2/users/") => {
            if mock.fail_deletes.load(Ordering::SeqCst) {
                return HttpResponse::InternalServerError()
                    .body(format!("user {JAN} could not be deleted"));
            }
            let id = p
                .trim_start_matches("/zendesk/api/v2/users/")
                .trim_end_matches(".json");
            mock.deleted
                .lock()
                .unwrap()
                .push(format!("zendesk users/{id}"));
            HttpResponse::Ok().json(json!({"user": {"id": id, "active": false}}))
        }
        ("DELETE", p) if p.starts_with("/zendesk/api/v2/deleted_users/") => {
            let id = p
                .trim_start_matches("/zendesk/api/v2/deleted_users/")
                .trim_end_matches(".json");
            mock.deleted
                .lock()
                .unwrap()
                .push(format!("zendesk deleted_users/{id}"));
            HttpResponse::NoContent().finish()
        }
        // HubSpot CRM API v3.
        ("GET", "/hubspot/crm/v3/objects/contacts") => {
            HttpResponse::Ok().json(json!({"results": [{"id": "1", "properties": {}}]}))
        }
        ("POST", "/hubspot/crm/v3/objects/contacts/search") => {
            let email = body["filterGroups"][0]["filters"][0]["value"]
                .as_str()
                .unwrap_or_default();
            let mut results = Vec::new();
            let mut paging = Value::Null;
            if email == JAN {
                if body["after"] == "1" {
                    results.push(contact("502"));
                } else {
                    results.push(contact("501"));
                    paging = json!({"next": {"after": "1", "link": "?after=1"}});
                }
            }
            results.retain(|c| !gone(c["id"].as_str().unwrap_or_default()));
            let mut answer = json!({"total": 2, "results": results});
            if !paging.is_null() {
                answer["paging"] = paging;
            }
            HttpResponse::Ok().json(answer)
        }
        ("POST", "/hubspot/crm/v3/objects/contacts/gdpr-delete") => {
            let id = body["objectId"].as_str().unwrap_or_default();
            mock.deleted.lock().unwrap().push(format!("hubspot {id}"));
            HttpResponse::NoContent().finish()
        }
        _ => HttpResponse::NotFound().json(json!({"error": "RecordNotFound"})),
    }
}

fn zendesk_user(id: u64) -> Value {
    json!({"id": id, "name": "Jan de Vries", "email": JAN, "phone": null, "locale": "nl",
           "time_zone": "Amsterdam", "created_at": "2024-01-05T10:00:00Z", "updated_at": "2026-01-05T10:00:00Z",
           "role": "end-user", "suspended": false})
}

fn ticket(id: u64, subject: &str) -> Value {
    json!({"id": id, "created_at": "2026-02-01T09:00:00Z", "subject": subject,
           "description": format!("{subject}: graag contact"), "status": "solved", "priority": "normal"})
}

fn contact(id: &str) -> Value {
    json!({"id": id, "properties": {"email": JAN, "firstname": "Jan", "lastname": "de Vries"},
           "createdAt": "2025-03-01T08:00:00Z", "updatedAt": "2026-03-01T08:00:00Z", "archived": false})
}

/// The connectors pointed at the mock, with the definitions' secrets configured.
fn pointed_at(settings: &mut Settings, base: &str) {
    settings.connectors.insert(
        "ticketing".into(),
        Secret::new(format!("{base}/zendesk/api/v2")),
    );
    settings
        .connectors
        .insert("marketing".into(), Secret::new(format!("{base}/hubspot")));
    for (name, value) in [
        ("ZENDESK_API_USER", "agent@example.nl/token"),
        ("ZENDESK_API_TOKEN", "zd-test-token"),
        ("HUBSPOT_ACCESS_TOKEN", "pat-eu1-test"),
    ] {
        settings
            .connector_secrets
            .insert(name.into(), Secret::new(value));
    }
    settings.public_requests_per_minute = 10_000;
}

/// The example catalog with the shipped definitions imported over its ticketing and marketing
/// systems; an agent's token.
async fn desk(app: &TestApp) -> String {
    for text in [EXAMPLE, ZENDESK, HUBSPOT] {
        let document = loket::catalog::parse_yaml(text).expect("catalog file is valid");
        loket::catalog::import(&app.store, Actor::Cli, document)
            .await
            .expect("catalog imported");
    }
    app.add_user("anna", Role::Agent).await;
    app.login("anna").await
}

async fn register(app: &TestApp, token: &str, kind: &str) -> Value {
    let body = json!({
        "kind": kind,
        "channel": "phone",
        "requester": {"name": "Jan de Vries", "email": JAN, "customer_number": "TN-448812"},
        "identity": {"method": "known_details", "note": "date of birth matched"}
    });
    expect_json(
        app.post_json("/api/v1/requests", Some(token), &body).await,
        201,
    )
    .await
}

async fn run(app: &TestApp, token: &str, request: &Value, task: &Value) -> reqwest::Response {
    let path = format!(
        "/api/v1/requests/{}/tasks/{}/run",
        request["id"].as_str().expect("id"),
        task["id"].as_str().expect("task id")
    );
    app.post_json(&path, Some(token), &json!({"version": task["version"]}))
        .await
}

/// The package.json of a fresh access package of the request, downloaded through its link.
async fn package_json(app: &TestApp, token: &str, request: &Value) -> Value {
    let id = request["id"].as_str().expect("id");
    let package = expect_json(
        app.post_json(
            &format!("/api/v1/requests/{id}/packages"),
            Some(token),
            &json!({}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(package["state"], "ready", "{package}");
    let preview = expect_json(
        app.post_json(
            &format!("/api/v1/requests/{id}/letters/preview"),
            Some(token),
            &json!({"letter": "access_answer"}),
        )
        .await,
        200,
    )
    .await;
    let body = preview["body"].as_str().expect("letter body");
    let url = body
        .split_whitespace()
        .find(|word| word.contains("/packages/"))
        .unwrap_or_else(|| panic!("no link in the letter:\n{body}"));
    let link = &url[url.find("/packages/").expect("path")..];
    let response = app
        .client
        .post(app.url(link))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .expect("download sent");
    assert_eq!(response.status(), 200, "download refused");
    let bytes = response.bytes().await.expect("body").to_vec();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a ZIP");
    let mut text = String::new();
    archive
        .by_name("package.json")
        .expect("package.json")
        .read_to_string(&mut text)
        .expect("reads");
    serde_json::from_str(&text).expect("JSON")
}

fn rows_of<'a>(package: &'a Value, system: &str, table: &str) -> &'a Vec<Value> {
    let system = package["systems"]
        .as_array()
        .expect("systems")
        .iter()
        .find(|s| s["key"] == system)
        .unwrap_or_else(|| panic!("no system {system} in {package:#}"));
    system["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .find(|t| t["name"] == table)
        .unwrap_or_else(|| panic!("no table {table} in {system:#}"))["rows"]
        .as_array()
        .expect("rows")
}

macro_rules! with_mock {
    ($(async fn $name:ident($app:ident: TestApp, $mock:ident: Mock) $body:block)*) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let ($mock, base) = Mock::start().await;
                    let $app = TestApp::spawn_with(loket::db::Backend::Sqlite, |s| pointed_at(s, &base)).await;
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
                    let ($mock, base) = Mock::start().await;
                    let $app = TestApp::spawn_with(loket::db::Backend::Postgres, |s| pointed_at(s, &base)).await;
                    $body
                }
            )*
        }
    };
}

with_mock! {
    async fn an_access_through_zendesk_pages_waits_out_a_429_and_fills_the_package(app: TestApp, mock: Mock) {
        let token = desk(&app).await;
        let request = register(&app, &token, "access").await;
        let export = common::task_of(&request, "export_data", Some("ticketing"));
        mock.throttle_once.store(true, Ordering::SeqCst);
        let started = std::time::Instant::now();
        let done = expect_json(run(&app, &token, &request, export).await, 200).await;
        assert!(started.elapsed() >= std::time::Duration::from_secs(1), "Retry-After was not honoured");
        let export = common::task_of(&done, "export_data", Some("ticketing"));
        assert_eq!(export["state"], "done");
        let evidence = export["evidence"].as_str().expect("evidence");
        // Two pages of users (a next link) and two pages of one user's tickets.
        assert!(evidence.contains("ticketing: exported tickets 4, users 2"), "{evidence}");
        assert!(evidence.contains("SHA-256 of the ticketing export"), "{evidence}");
        assert!(!evidence.contains(JAN) && !evidence.contains("Storing"), "{evidence}");
        let seen = mock.seen();
        let searches = seen.iter().filter(|s| s.starts_with("GET /zendesk/api/v2/users/search.json")).count();
        // locate and export each read two pages; the throttled request was made again.
        assert_eq!(searches, 5, "{seen:#?}");
        assert!(seen.iter().any(|s| s.contains("/users/101/tickets/requested.json?page=2")), "{seen:#?}");
        use base64::Engine;
        let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("agent@example.nl/token:zd-test-token"));
        assert!(mock.authorizations.lock().unwrap().iter().all(|a| *a == basic));

        // The package holds the ticketing system's records, with the definition's fields.
        let package = package_json(&app, &token, &request).await;
        let tickets = rows_of(&package, "ticketing", "tickets");
        assert_eq!(tickets.len(), 4, "{tickets:#?}");
        let subjects: Vec<&str> = tickets.iter().map(|t| t["subject"].as_str().unwrap_or_default()).collect();
        assert!(subjects.contains(&"Verhuizing doorgeven"), "{subjects:?}");
        let users = rows_of(&package, "ticketing", "users");
        assert_eq!(users.len(), 2);
        assert_eq!(users[0]["email"], JAN);
        assert!(users[0].get("role").is_none(), "only the listed fields: {users:#?}");
    }

    async fn an_erasure_through_hubspot_follows_the_cursor_and_deletes_each_contact(app: TestApp, mock: Mock) {
        let token = desk(&app).await;
        let request = register(&app, &token, "erasure").await;
        let erase = common::task_of(&request, "erase_data", Some("marketing"));
        let done = expect_json(run(&app, &token, &request, erase).await, 200).await;
        let erase = common::task_of(&done, "erase_data", Some("marketing"));
        assert_eq!(erase["state"], "done");
        let evidence = erase["evidence"].as_str().expect("evidence");
        assert!(evidence.contains("marketing: erased contacts 2"), "{evidence}");
        assert_eq!(mock.deleted(), ["hubspot 501", "hubspot 502"]);
        assert!(mock.authorizations.lock().unwrap().iter().all(|a| a == "Bearer pat-eu1-test"));
    }

    async fn a_500_leaves_the_task_open_and_the_api_answers_502(app: TestApp, mock: Mock) {
        let token = desk(&app).await;
        let request = register(&app, &token, "erasure").await;
        let erase = common::task_of(&request, "erase_data", Some("ticketing"));
        mock.fail_deletes.store(true, Ordering::SeqCst);
        let failed = expect_json(run(&app, &token, &request, erase).await, 502).await;
        assert_eq!(failed["error"], "connector_failed");
        let message = failed["message"].as_str().expect("message");
        assert!(
            message.contains("ticketing: erase (DELETE /users/{id}.json): the service answered 500 Internal Server Error"),
            "{message}"
        );
        assert!(!message.contains(JAN) && !message.contains("101"), "no personal data: {message}");
        let path = format!("/api/v1/requests/{}", request["id"].as_str().expect("id"));
        let now = expect_json(app.get(&path, Some(&token)).await, 200).await;
        let erase = common::task_of(&now, "erase_data", Some("ticketing"));
        assert_eq!(erase["state"], "open", "the task stays open");

        // Once the service is well again, the same task runs: both of Jan's users, each
        // deleted and then deleted permanently.
        mock.fail_deletes.store(false, Ordering::SeqCst);
        let done = expect_json(run(&app, &token, &now, erase).await, 200).await;
        let evidence = common::task_of(&done, "erase_data", Some("ticketing"))["evidence"].as_str().expect("evidence").to_string();
        assert!(evidence.contains("ticketing: erased users 2"), "{evidence}");
        assert_eq!(
            mock.deleted(),
            ["zendesk users/101", "zendesk users/102", "zendesk deleted_users/101", "zendesk deleted_users/102"]
        );
    }
}

/// The line (1-based) of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("no {needle}"))
        + 1
}

async fn check(connectors: loket::connectors::Connectors, text: String) -> Vec<String> {
    tokio::task::spawn_blocking(move || {
        loket::connectors::http::check_file(&connectors, "connectors/zendesk.yaml", &text)
    })
    .await
    .expect("check ran")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_definitions_are_reported_with_file_line_and_field() {
    let (_mock, base) = Mock::start().await;
    let urls: BTreeMap<String, Secret> = [(
        "ticketing".to_string(),
        Secret::new(format!("{base}/zendesk/api/v2")),
    )]
    .into();
    let secrets: BTreeMap<String, Secret> = [
        (
            "ZENDESK_API_USER".to_string(),
            Secret::new("agent@example.nl/token"),
        ),
        (
            "ZENDESK_API_TOKEN".to_string(),
            Secret::new("zd-test-token"),
        ),
    ]
    .into();
    let configured =
        loket::connectors::Connectors::new(urls.clone(), [7u8; 32]).with_http_secrets(&secrets);

    // The shipped definition is ready.
    assert_eq!(
        check(configured.clone(), ZENDESK.to_string()).await,
        Vec::<String>::new()
    );

    // An unknown operation.
    let text = ZENDESK.replace("        restrict:", "        purge_everything:");
    let problems = check(configured.clone(), text.clone()).await;
    let line = line_of(&text, "purge_everything:");
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].starts_with(&format!("connectors/zendesk.yaml:{line}: systems[0].http.operations.purge_everything: unknown operation 'purge_everything'")),
        "{problems:#?}"
    );

    // A secret that is configured nowhere.
    let unconfigured = loket::connectors::Connectors::new(urls, [7u8; 32]);
    let text = ZENDESK.replace("ZENDESK_API_TOKEN", "LOKET_TEST_NO_SUCH_SECRET");
    let problems = check(unconfigured, text.clone()).await;
    let line = line_of(&text, "password: LOKET_TEST_NO_SUCH_SECRET");
    assert!(
        problems.contains(&format!("connectors/zendesk.yaml:{line}: systems[0].http.auth.basic.password: secret LOKET_TEST_NO_SUCH_SECRET is not configured (connector_secrets.LOKET_TEST_NO_SUCH_SECRET in the configuration, or the environment variable LOKET_TEST_NO_SUCH_SECRET)")),
        "{problems:#?}"
    );

    // A records path the response does not have: in the check request, and in a search.
    let text = ZENDESK
        .replace("records: user\n", "records: agent\n")
        .replacen("records: users\n", "records: data.users\n", 1);
    let problems = check(configured, text.clone()).await;
    let check_line = line_of(&text, "records: agent");
    let search_line = line_of(&text, "records: data.users");
    assert_eq!(
        problems,
        [
            format!("connectors/zendesk.yaml:{check_line}: systems[0].http.check.records: the response has no `agent` (the records path)"),
            format!("connectors/zendesk.yaml:{search_line}: systems[0].http.operations.locate[0].records: the response has no `data.users` (the records path)"),
        ]
    );
}
