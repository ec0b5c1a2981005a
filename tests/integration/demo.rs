//! `loket demo` as a newcomer uses it: the demo databases, catalog, accounts and queue, then the
//! desk at work on them (an erasure through the CRM connector, a retention dry run), a second run
//! that changes nothing, and the shipped catalog and policies checked against the demo databases.

use crate::common;

use common::targets::TargetDb;
use common::{expect_json, TestApp};
use loket::config::{Secret, Settings};
use loket::demo::{organisation, DemoOptions, DemoReport};
use serde_json::json;
use std::path::Path;

/// The connectors `serve` needs for the demo databases in `data_dir`.
fn demo_connectors(settings: &mut Settings) {
    for system in ["crm", "billing"] {
        let path = settings.data_dir.join("demo").join(format!("{system}.db"));
        let url = format!("sqlite://{}", path.display());
        settings.connectors.insert(system.into(), Secret::new(url));
    }
}

async fn run_demo(app: &TestApp) -> DemoReport {
    let options = DemoOptions {
        config_file: app.settings.data_dir.join("loket.toml"),
        ask: false,
    };
    loket::demo::run(&app.settings, &options)
        .await
        .expect("the demo sets up")
}

async fn sign_in(app: &TestApp, report: &DemoReport, username: &str) -> String {
    let (_, _, password) = report
        .accounts
        .iter()
        .find(|(name, _, _)| name == username)
        .expect("the demo shows the account's password");
    let body = json!({"username": username, "password": password});
    let answer = expect_json(app.post_json("/api/v1/auth/token", None, &body).await, 200).await;
    answer["access_token"].as_str().expect("token").to_string()
}

fn crm(app: &TestApp) -> TargetDb {
    TargetDb::sqlite_at(&app.settings.data_dir.join("demo").join("crm.db"))
}

fn count_in(db: &TargetDb, sql: &str) -> i64 {
    db.count(sql)
}

backend_tests_with! {
    async fn the_demo_agent_erases_a_customer_through_the_crm_connector(app: TestApp)
        configured demo_connectors;
    {
        let report = run_demo(&app).await;
        assert!(report.configured, "{:?}", report.lines);
        let agent = sign_in(&app, &report, loket::demo::AGENT.0).await;
        let queue = expect_json(app.get("/api/v1/requests?kind=erasure&state=in_progress", Some(&agent)).await, 200).await;
        let erasure = &queue["items"][0];
        let request = expect_json(
            app.get(&format!("/api/v1/requests/{}", erasure["id"].as_str().unwrap()), Some(&agent)).await,
            200,
        )
        .await;
        let customer_number = request["requester"]["customer_number"].as_str().expect("a customer").to_string();
        let crm = crm(&app);
        let of_customer = format!("SELECT COUNT(*) AS n FROM customers WHERE customer_number = '{customer_number}'");
        assert_eq!(count_in(&crm, &of_customer), 1, "the customer is in the demo CRM");
        let task = common::task_of(&request, "erase_data", Some("crm")).clone();
        let path = format!(
            "/api/v1/requests/{}/tasks/{}/run",
            request["id"].as_str().unwrap(),
            task["id"].as_str().unwrap()
        );
        let ran = expect_json(app.post_json(&path, Some(&agent), &json!({"version": task["version"]})).await, 200).await;
        let done = ran["tasks"].as_array().unwrap().iter().find(|t| t["id"] == task["id"]).unwrap();
        assert_eq!(done["state"], "done", "{done:#}");
        assert_eq!(count_in(&crm, &of_customer), 0, "the customer's row is gone from the demo CRM");
    }

    async fn the_officers_dry_run_finds_expired_rows_in_the_demo_databases(app: TestApp)
        configured demo_connectors;
    {
        let report = run_demo(&app).await;
        let officer = sign_in(&app, &report, loket::demo::OFFICER.0).await;
        let reports = expect_json(
            app.post_json("/api/v1/retention/sweeps", Some(&officer), &json!({"dry_run": true})).await,
            200,
        )
        .await;
        let matched = |rule: &str| {
            reports["rules"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["rule"] == rule)
                .unwrap_or_else(|| panic!("no report for {rule}: {reports:#}"))["matched"]
                .as_i64()
                .unwrap_or(0)
        };
        for rule in ["fiscal_records", "call_detail_records", "crm_contact_history", "crm_customer_records"] {
            assert!(matched(rule) > 0, "{rule} finds expired rows: {reports:#}");
        }
        let register = expect_json(app.get("/api/v1/ropa", Some(&officer)).await, 200).await;
        let warnings = register["warnings"].as_array().expect("warnings");
        assert!(!warnings.is_empty(), "the demo register shows its honest gaps");
        assert!(warnings.len() < 6, "a few gaps, not a wall: {warnings:?}");
    }

    async fn a_second_demo_run_keeps_everything_and_duplicates_nothing(app: TestApp)
        configured demo_connectors;
    {
        let first = run_demo(&app).await;
        assert_eq!(first.accounts.len(), 2);
        let officer = sign_in(&app, &first, loket::demo::OFFICER.0).await;
        let before = expect_json(app.get("/api/v1/requests?per_page=200&state=received,verifying_identity,in_progress,awaiting_approval,completed,refused,withdrawn", Some(&officer)).await, 200).await;
        let customers = "SELECT COUNT(*) AS n FROM customers";
        let rows = count_in(&crm(&app), customers);
        assert_eq!(rows, i64::from(organisation::CUSTOMERS));
        assert!(before["total"].as_i64().unwrap() >= 12, "a dozen requests: {before:#}");

        let again = run_demo(&app).await;
        assert!(again.accounts.is_empty(), "no account is made again");
        assert!(again.lines.iter().any(|l| l.contains("kept")), "{:?}", again.lines);
        let after = expect_json(app.get("/api/v1/requests?per_page=200&state=received,verifying_identity,in_progress,awaiting_approval,completed,refused,withdrawn", Some(&officer)).await, 200).await;
        assert_eq!(after["total"], before["total"]);
        assert_eq!(count_in(&crm(&app), customers), rows);
        // The first password still works: nothing was reset.
        sign_in(&app, &first, loket::demo::AGENT.0).await;
    }

    async fn the_demo_queue_has_every_state_an_agent_meets(app: TestApp)
        configured demo_connectors;
    {
        let report = run_demo(&app).await;
        let agent = sign_in(&app, &report, loket::demo::AGENT.0).await;
        let all = expect_json(app.get("/api/v1/requests?per_page=200&state=received,verifying_identity,in_progress,awaiting_approval,completed,refused,withdrawn", Some(&agent)).await, 200).await;
        let items = all["items"].as_array().unwrap();
        for state in ["received", "in_progress", "awaiting_approval", "completed", "withdrawn"] {
            assert!(items.iter().any(|r| r["state"] == state), "a request in {state}: {all:#}");
        }
        for kind in ["access", "rectification", "erasure", "restriction", "portability", "objection", "human_review"] {
            assert!(items.iter().any(|r| r["kind"] == kind), "a request for {kind}");
        }
        assert!(items.iter().any(|r| r["overdue"] == true), "one is overdue");
        let mut paused = 0;
        for item in items {
            let path = format!("/api/v1/requests/{}", item["id"].as_str().unwrap());
            let request = expect_json(app.get(&path, Some(&agent)).await, 200).await;
            paused += usize::from(request["paused"] == true);
        }
        assert_eq!(paused, 1, "one is paused");
        assert!(items.iter().any(|r| r["channel"] == "web_form"), "some came through the public form");
    }
}

/// The newcomer's path in the browser: the demo agent signs in with the password the demo
/// showed, opens the caller's erasure request and runs the CRM's erase task in the desk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(loket_browser),
    ignore = "set LOKET_TEST_CHROMEDRIVER (chromium-driver) to run the browser tests"
)]
async fn in_the_desk_the_demo_agent_erases_the_callers_crm_rows() {
    let app = TestApp::spawn_with(loket::db::Backend::Sqlite, demo_connectors).await;
    let report = run_demo(&app).await;
    let agent = sign_in(&app, &report, loket::demo::AGENT.0).await;
    let queue = expect_json(
        app.get(
            "/api/v1/requests?kind=erasure&state=in_progress",
            Some(&agent),
        )
        .await,
        200,
    )
    .await;
    let id = queue["items"][0]["id"]
        .as_str()
        .expect("the demo erasure")
        .to_string();
    let request = expect_json(
        app.get(&format!("/api/v1/requests/{id}"), Some(&agent))
            .await,
        200,
    )
    .await;
    let customer_number = request["requester"]["customer_number"]
        .as_str()
        .unwrap()
        .to_string();
    let task = common::task_of(&request, "erase_data", Some("crm")).clone();
    let of_customer =
        format!("SELECT COUNT(*) AS n FROM customers WHERE customer_number = '{customer_number}'");
    assert_eq!(count_in(&crm(&app), &of_customer), 1);

    let (_, _, password) = report
        .accounts
        .iter()
        .find(|(name, _, _)| name == loket::demo::AGENT.0)
        .unwrap();
    let browser = common::browser::Browser::open(&app.address).await;
    browser.sign_in_with(loket::demo::AGENT.0, password).await;
    browser.goto(&format!("/desk/requests/{id}")).await;
    browser.screenshot("demo-erasure").await;
    // Tasks are numbered from 1 on the page; an erase shows its dry run before it runs.
    let n = task["position"].as_i64().unwrap() + 1;
    browser
        .client
        .execute(
            &format!("document.querySelector('#task-{n} details.task-forms').open = true;"),
            vec![],
        )
        .await
        .unwrap();
    browser
        .find(&format!("#dry-run-{n}"))
        .await
        .click()
        .await
        .unwrap();
    browser
        .find(&format!("#dry-run-result-{n}:not([hidden]) table"))
        .await;
    browser.click_and_wait(&format!("#confirm-{n}")).await;
    browser
        .find(&format!("#task-{n} > summary"))
        .await
        .click()
        .await
        .unwrap();
    let evidence = browser.text(&format!("#task-{n} .evidence")).await;
    assert!(
        evidence.contains("customers"),
        "the task shows what was erased: {evidence}"
    );
    browser.close().await;
    assert_eq!(
        count_in(&crm(&app), &of_customer),
        0,
        "the caller's row is gone from the demo CRM"
    );
}

/// The shipped catalog and policies against the demo databases, as `loket policies check` and
/// `loket connectors check` see them.
#[tokio::test]
async fn the_shipped_catalog_and_policies_pass_both_checks_on_the_demo_databases() {
    let dir = tempfile::tempdir().unwrap();
    let (systems, policies, connectors) = shipped_against_demo(dir.path());
    let catalog = snapshot(&systems);
    assert_eq!(policies.check_against(&catalog), vec![], "policies check");
    let checks = loket::retention::fit::check_systems(&connectors, &systems, &policies.retention);
    assert_eq!(checks.len(), 2, "crm and billing are checked: {checks:?}");
    for checked in &checks {
        assert!(
            checked.is_ready(),
            "{}: {:?}",
            checked.system,
            checked.problems
        );
    }
}

#[tokio::test]
async fn connectors_check_names_the_file_line_and_column_a_rule_counts_from_that_the_database_lacks(
) {
    let dir = tempfile::tempdir().unwrap();
    let (systems, _, connectors) = shipped_against_demo(dir.path());
    let policies_dir = dir.path().join("policies");
    std::fs::create_dir(&policies_dir).unwrap();
    for name in ["requests.yaml", "sweeps.yaml", "retention.yaml"] {
        let text = std::fs::read_to_string(Path::new("policies").join(name)).unwrap();
        let text = text.replace("counted_from: occurred_at", "counted_from: closed_at");
        std::fs::write(policies_dir.join(name), text).unwrap();
    }
    let policies = loket::policies::Policies::load_dir(&policies_dir).unwrap();
    let line = std::fs::read_to_string(policies_dir.join("retention.yaml"))
        .unwrap()
        .lines()
        .position(|l| l.contains("counted_from: closed_at"))
        .unwrap()
        + 1;
    let checks = loket::retention::fit::check_systems(&connectors, &systems, &policies.retention);
    let crm = checks.iter().find(|c| c.system == "crm").unwrap();
    assert!(
        !crm.is_ready(),
        "a system a sweep would fail on is not ready"
    );
    let expected = format!(
        "retention.yaml line {line}: rules[2].counted_from: crm: table interactions has no column closed_at"
    );
    assert!(
        crm.problems.iter().any(|p| p.ends_with(&expected)),
        "{:?} should end with {expected}",
        crm.problems
    );
    // The static check says the same without a database: the column is not mapped.
    let problems = policies.check_against(&snapshot(&systems));
    assert!(
        problems
            .iter()
            .any(|p| p.field == "rules[2].counted_from" && p.line == Some(line)),
        "{problems:?}"
    );
}

/// On PostgreSQL a text column has a length, and a keyed hash is 67 characters: the shipped
/// customer-records rule cannot write one into a 20-character customer number.
#[test]
#[cfg_attr(
    not(loket_test_postgres),
    ignore = "set LOKET_TEST_POSTGRES_URL to run on PostgreSQL"
)]
fn connectors_check_says_when_what_a_rule_writes_does_not_fit_the_column() {
    let target = TargetDb::postgres();
    let narrow: Vec<String> = common::telco::CRM
        .iter()
        .map(|s| s.replace("customer_number VARCHAR(80)", "customer_number VARCHAR(20)"))
        .collect();
    let target = target.seed(&narrow.iter().map(String::as_str).collect::<Vec<_>>());
    let (systems, policies) = shipped();
    let mut urls = std::collections::BTreeMap::new();
    urls.insert("crm".to_string(), Secret::new(target.url.clone()));
    let connectors = loket::connectors::Connectors::new(urls, [7u8; 32]);
    let checks = loket::retention::fit::check_systems(&connectors, &systems, &policies.retention);
    let crm = checks.iter().find(|c| c.system == "crm").unwrap();
    assert!(
        crm.problems
            .iter()
            .any(|p| p.contains("anonymise.customer_number")
                && p.contains(
                    "customers.customer_number holds at most 20 characters, but the rule writes 67"
                )),
        "{:?}",
        crm.problems
    );
}

fn shipped() -> (
    Vec<loket::catalog::model::System>,
    loket::policies::Policies,
) {
    let document =
        loket::catalog::parse_yaml(loket::demo::EXAMPLE_CATALOG).expect("the example catalog");
    let policies =
        loket::policies::Policies::load_dir(Path::new("policies")).expect("the shipped policies");
    (document.systems, policies)
}

/// The example catalog's systems, the shipped policies, and connectors to freshly made demo
/// databases in `dir`.
fn shipped_against_demo(
    dir: &Path,
) -> (
    Vec<loket::catalog::model::System>,
    loket::policies::Policies,
    loket::connectors::Connectors,
) {
    let today = chrono::Utc::now().date_naive();
    let customers = organisation::customers(today);
    let mut urls = std::collections::BTreeMap::new();
    let crm = dir.join("crm.db");
    let billing = dir.join("billing.db");
    organisation::make_crm(&crm, &customers, today).unwrap();
    organisation::make_billing(&billing, &customers, today).unwrap();
    urls.insert(
        "crm".to_string(),
        Secret::new(format!("sqlite://{}", crm.display())),
    );
    urls.insert(
        "billing".to_string(),
        Secret::new(format!("sqlite://{}", billing.display())),
    );
    let (systems, policies) = shipped();
    (
        systems,
        policies,
        loket::connectors::Connectors::new(urls, [7u8; 32]),
    )
}

fn snapshot(
    systems: &[loket::catalog::model::System],
) -> loket::requests::checklist::CatalogSnapshot {
    let document = loket::catalog::parse_yaml(loket::demo::EXAMPLE_CATALOG).unwrap();
    let mut categories = loket::catalog::model::builtin_categories();
    categories.extend(document.categories);
    loket::requests::checklist::CatalogSnapshot {
        systems: systems.to_vec(),
        activities: document.activities,
        categories,
        organisation: document.organisation,
    }
}

/// The indexes a DBA would add for the telco's identifier and parent-key columns.
const INDEXES: &[&str] = &[
    "CREATE INDEX customers_customer_number ON customers (customer_number)",
    "CREATE INDEX customers_email ON customers (email)",
    "CREATE INDEX customers_phone ON customers (phone)",
    "CREATE INDEX subscriptions_customer_id ON subscriptions (customer_id)",
    "CREATE INDEX interactions_customer_id ON interactions (customer_id)",
];

/// With the identifiers' forms declared in the mapping (`stored:`) and plain indexes on them,
/// looking a person up reads no table whole, on every dialect; without the index,
/// `connectors check` names the one to add.
fn lookups_use_the_indexes_on(target: TargetDb) {
    let statements: Vec<&str> = common::telco::CRM.iter().chain(INDEXES).copied().collect();
    let target = target.seed(&statements);
    let (systems, policies) = shipped();
    let crm: Vec<_> = systems.into_iter().filter(|s| s.key == "crm").collect();
    let mut urls = std::collections::BTreeMap::new();
    urls.insert("crm".to_string(), Secret::new(target.url.clone()));
    let connectors = loket::connectors::Connectors::new(urls, [7u8; 32]);
    let checks = loket::retention::fit::check_systems(&connectors, &crm, &policies.retention);
    assert_eq!(
        checks[0].advice,
        Vec::<String>::new(),
        "every lookup uses an index"
    );

    let drop = match target.kind {
        common::targets::TargetKind::Mysql => "DROP INDEX customers_email ON customers",
        _ => "DROP INDEX customers_email",
    };
    target.execute(drop);
    let checks = loket::retention::fit::check_systems(&connectors, &crm, &policies.retention);
    assert!(
        checks[0].is_ready(),
        "a missing index is advice, not a failure"
    );
    assert!(
        checks[0].advice.iter().any(|a| a.starts_with(
            "crm: a lookup by customers.email reads all of customers; add: CREATE INDEX"
        ) && a.contains("customers_email")),
        "{:?}",
        checks[0].advice
    );
}

#[test]
fn lookups_use_the_indexes_on_sqlite() {
    lookups_use_the_indexes_on(TargetDb::sqlite());
}

#[test]
#[cfg_attr(
    not(loket_test_postgres),
    ignore = "set LOKET_TEST_POSTGRES_URL to run on PostgreSQL"
)]
fn lookups_use_the_indexes_on_postgres() {
    lookups_use_the_indexes_on(TargetDb::postgres());
}

#[test]
fn lookups_use_the_indexes_on_mysql() {
    match TargetDb::mysql() {
        Some(target) => lookups_use_the_indexes_on(target),
        None => eprintln!("skipped: set LOKET_TEST_MYSQL_URL to run on MySQL/MariaDB"),
    }
}
