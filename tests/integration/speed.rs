//! Issue #19: an access request reads each system once (the package's JSON and CSV come from
//! one read, and the export tasks share it), connections are reused per system, and
//! `run_automatically` builds the package and compiles the facts by itself. What is counted is
//! statements and connections (`Connectors::usage`), never time.
//!
//! The CRM is an SQLite database; billing a PostgreSQL one (SQLite, said on stderr, when
//! `LOKET_TEST_POSTGRES_URL` is not set).

use crate::common;

use common::targets::TargetDb;
use common::telco::{BILLING, CRM};
use common::{expect_json, task_of, TestApp};
use loket::audit::Actor;
use loket::auth::Role;
use loket::config::{Secret, Settings};
use serde_json::{json, Value};

const EXAMPLE: &str = include_str!("../../examples/catalog.yaml");

/// The two organisation databases; dropped (and a PostgreSQL one removed) with the test.
struct Targets {
    _crm: TargetDb,
    _billing: TargetDb,
}

fn targets() -> (Targets, String, String) {
    let crm = TargetDb::sqlite().seed(CRM);
    let billing = if std::env::var("LOKET_TEST_POSTGRES_URL").is_ok_and(|url| !url.is_empty()) {
        TargetDb::postgres()
    } else {
        eprintln!("billing runs on SQLite: set LOKET_TEST_POSTGRES_URL for a PostgreSQL system");
        TargetDb::sqlite()
    }
    .seed(BILLING);
    let (crm_url, billing_url) = (crm.url.clone(), billing.url.clone());
    (
        Targets {
            _crm: crm,
            _billing: billing,
        },
        crm_url,
        billing_url,
    )
}

fn connect(settings: &mut Settings, crm: String, billing: String) {
    settings.connectors.insert("crm".into(), Secret::new(crm));
    settings
        .connectors
        .insert("billing".into(), Secret::new(billing));
}

/// The shipped policies with `run_automatically` set to `kinds`.
fn running_automatically(settings: &mut Settings, kinds: &str) {
    let dir = settings.data_dir.join("policies");
    std::fs::create_dir_all(&dir).expect("policies dir");
    for entry in std::fs::read_dir("policies").expect("shipped policies") {
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

async fn app_with(
    backend: loket::db::Backend,
    automatic: Option<&'static str>,
) -> (TestApp, Targets) {
    let (targets, crm, billing) = targets();
    let app = TestApp::spawn_with(backend, move |settings| {
        connect(settings, crm, billing);
        if let Some(kinds) = automatic {
            running_automatically(settings, kinds);
        }
    })
    .await;
    (app, targets)
}

/// The example catalog; with `only_sql`, without the systems searched by hand.
async fn import(app: &TestApp, only_sql: bool) -> String {
    let mut document = loket::catalog::parse_yaml(EXAMPLE).expect("example catalog is valid");
    if only_sql {
        document
            .systems
            .retain(|system| system.connector == loket::catalog::model::ConnectorKind::Sql);
        let kept: Vec<String> = document.systems.iter().map(|s| s.key.clone()).collect();
        for activity in &mut document.activities {
            activity.systems.retain(|system| kept.contains(system));
        }
        document.activities.retain(|a| !a.systems.is_empty());
    }
    loket::catalog::import(&app.store, Actor::Cli, document)
        .await
        .expect("catalog imported");
    app.add_user("anna", Role::Agent).await;
    app.login("anna").await
}

/// Jan's access request, identity checked during the call unless `verified` is false.
async fn access(app: &TestApp, token: &str, verified: bool) -> Value {
    let mut body = json!({
        "kind": "access",
        "channel": "phone",
        "requester": {"name": "Jan de Vries", "email": "jan.devries@example.nl", "customer_number": "TN-448812"}
    });
    if verified {
        body["identity"] = json!({"method": "known_details", "note": "date of birth matched"});
    }
    expect_json(
        app.post_json("/api/v1/requests", Some(token), &body).await,
        201,
    )
    .await
}

fn id(value: &Value) -> &str {
    value["id"].as_str().expect("id")
}

/// The tables of `system` the package holds.
fn tables_in(package: &Value, system: &str) -> u64 {
    package["contents"]["rows"][system]
        .as_object()
        .unwrap_or_else(|| panic!("{system} not in the package: {package:#}"))
        .len() as u64
}

/// Each test on loket's SQLite and PostgreSQL store, with its own organisation databases and
/// `run_automatically` kinds.
macro_rules! speed_tests {
    ($(async fn $name:ident($app:ident, $automatic:expr) $body:block)*) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let ($app, _targets) = app_with(loket::db::Backend::Sqlite, $automatic).await;
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
                    let ($app, _targets) = app_with(loket::db::Backend::Postgres, $automatic).await;
                    $body
                }
            )*
        }
    };
}

speed_tests! {
    async fn a_package_reads_each_table_of_each_system_once(app, None) {
        let token = import(&app, false).await;
        let request = access(&app, &token, true).await;
        let before = ["crm", "billing"].map(|system| app.connectors.usage(system));
        let path = format!("/api/v1/requests/{}/packages", id(&request));
        let package = expect_json(app.post_json(&path, Some(&token), &json!({})).await, 201).await;
        assert_eq!(package["state"], "ready");
        for (index, system) in ["crm", "billing"].into_iter().enumerate() {
            let after = app.connectors.usage(system);
            // One SELECT per table for package.json and its CSV file together (each table of
            // Jan's holds fewer rows than a page).
            assert_eq!(
                after.statements - before[index].statements,
                tables_in(&package, system),
                "{system}: statements run for the package"
            );
            assert_eq!(after.connections - before[index].connections, 1, "{system}: one connection");
        }
        assert!(tables_in(&package, "crm") >= 2 && tables_in(&package, "billing") >= 2);

        // The export task after it reuses the pooled connection.
        let connections = app.connectors.usage("crm").connections;
        let crm = task_of(&request, "export_data", Some("crm"));
        let run = format!("/api/v1/requests/{}/tasks/{}/run", id(&request), id(crm));
        let done = expect_json(app.post_json(&run, Some(&token), &json!({"version": crm["version"]})).await, 200).await;
        assert_eq!(task_of(&done, "export_data", Some("crm"))["state"], "done");
        assert_eq!(app.connectors.usage("crm").connections, connections, "the connection was reused");

        // Staff see the state of the download link, never the link.
        let listed = expect_json(app.get(&path, Some(&token)).await, 200).await;
        assert_eq!(listed[0]["link_state"], "usable", "{listed:#}");
        assert_eq!(listed[0]["downloads_left"], 3);
        assert!(!listed.to_string().contains("/packages/"), "{listed}");
    }

    async fn run_automatically_builds_the_package_once_and_leaves_manual_systems(app, Some("[export_data, compile_access_facts]")) {
        let token = import(&app, false).await;
        let request = access(&app, &token, false).await;
        let path = format!("/api/v1/requests/{}", id(&request));
        let body = json!({"version": request["version"], "method": "code_to_known_contact"});
        expect_json(app.post_json(&format!("{path}/identity"), Some(&token), &body).await, 200).await;
        let current = wait_for_exports(&app, &token, &path).await;
        for system in ["crm", "billing"] {
            let export = task_of(&current, "export_data", Some(system));
            assert_eq!(export["state"], "done", "{current:#}");
            let evidence = export["evidence"].as_str().expect("evidence");
            assert!(evidence.contains("read once for package"), "{evidence}");
            assert!(evidence.contains("SHA-256"), "{evidence}");
            assert!(export["closed_by"].as_str().expect("closer").contains("run_automatically"));
        }
        assert!(task_of(&current, "export_data", Some("crm"))["evidence"].as_str().unwrap().contains("exported customers 1"));
        // The package read each system once: the export tasks did not read again.
        let packages = expect_json(app.get(&format!("{path}/packages"), Some(&token)).await, 200).await;
        let package = &packages[0];
        assert_eq!(package["state"], "ready", "{packages:#}");
        assert_eq!(package["link_state"], "usable");
        for system in ["crm", "billing"] {
            assert_eq!(app.connectors.usage(system).statements, tables_in(package, system), "{system}");
        }
        // Manual systems, and so the facts, stay with the agents.
        assert_eq!(task_of(&current, "export_data", Some("ticketing"))["state"], "open");
        assert_eq!(task_of(&current, "compile_access_facts", None)["state"], "open");
    }

    async fn run_automatically_compiles_the_facts_when_every_system_was_searched(app, Some("[export_data, compile_access_facts]")) {
        let token = import(&app, true).await;
        let request = access(&app, &token, false).await;
        let path = format!("/api/v1/requests/{}", id(&request));
        let body = json!({"version": request["version"], "method": "code_to_known_contact"});
        expect_json(app.post_json(&format!("{path}/identity"), Some(&token), &body).await, 200).await;
        app.settle().await;
        let current = expect_json(app.get(&path, Some(&token)).await, 200).await;
        let facts = task_of(&current, "compile_access_facts", None).clone();
        assert_eq!(facts["state"], "done", "{facts:#}");
        let evidence = facts["evidence"].as_str().expect("evidence");
        assert!(evidence.contains("crm") && evidence.contains("billing"), "{evidence}");
        // The answer itself stays with the agents.
        let current = expect_json(app.get(&path, Some(&token)).await, 200).await;
        assert_eq!(task_of(&current, "send_answer", None)["state"], "open");
    }
}

/// The request once the work its identity check set running in the background is done.
async fn wait_for_exports(app: &TestApp, token: &str, path: &str) -> Value {
    app.settle().await;
    expect_json(app.get(path, Some(token)).await, 200).await
}
