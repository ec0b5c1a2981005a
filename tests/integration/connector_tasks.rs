//! Checklist tasks run through the connectors (issue #4, part 4): an agent runs an erasure's,
//! export's or restriction's task and loket does it in the organisation's own databases, with
//! the outcome as the task's evidence and a `request.task.run` event on the audit trail.
//!
//! loket runs on SQLite and PostgreSQL (the usual macros). The organisation's databases are
//! SQLite files seeded per test with the tables of `examples/catalog.yaml`'s `sql:` mappings;
//! with `LOKET_TEST_POSTGRES_URL` set, one test also runs against a PostgreSQL target.

use crate::common;

use common::targets::TargetDb;
use common::telco::{BILLING, CRM};
use common::{expect_json, running_automatically, TestApp};
use loket::audit::Actor;
use loket::auth::Role;
use loket::config::{Secret, Settings};
use serde_json::{json, Value};

const EXAMPLE: &str = include_str!("../../examples/catalog.yaml");

/// A seeded SQLite database `{name}.db` in the app's data directory, so it lives as long as the
/// app; the same call in the test body opens it again to check what loket did.
fn target_in(settings: &Settings, name: &str) -> TargetDb {
    TargetDb::sqlite_at(&settings.data_dir.join(format!("{name}.db")))
}

/// Seeds the CRM and billing databases and points the connectors at them.
fn with_crm_and_billing(settings: &mut Settings) {
    for (system, schema) in [("crm", CRM), ("billing", BILLING)] {
        let db = target_in(settings, system).seed(schema);
        settings
            .connectors
            .insert(system.into(), Secret::new(db.url.clone()));
    }
}

/// Billing with two older invoices of Jan's, each with a payment: one of 2018, whose fiscal
/// duty ended on 31 December 2025, and one of 2020, kept until 31 December 2027.
fn with_older_invoices(settings: &mut Settings) {
    with_crm_and_billing(settings);
    target_in(settings, "billing").seed(OLDER_INVOICES);
}

const OLDER_INVOICES: &[&str] = &[
    "INSERT INTO invoices (id, account_id, invoice_number, invoice_address, amount, issued_on, fiscal_year_end) VALUES \
     (12, 1, 'F-12', 'Dorpsstraat 1, Groningen', 25.00, '2018-03-31', '2018-12-31'), \
     (13, 1, 'F-13', 'Dorpsstraat 1, Groningen', 25.00, '2020-05-31', '2020-12-31')",
    "INSERT INTO payments (id, invoice_id, amount, paid_on, iban) VALUES \
     (1, 12, 25.00, '2018-04-15', 'NL91ABNA0417164300'), (2, 13, 25.00, '2020-06-15', 'NL91ABNA0417164300')",
];

/// The request's kept rows of one billing table, as the desk shows them.
fn kept_of<'a>(request: &'a Value, table: &str) -> &'a Value {
    request["kept"]
        .as_array()
        .expect("kept")
        .iter()
        .find(|k| k["system"] == "billing" && k["table"] == table)
        .unwrap_or_else(|| panic!("nothing kept in {table}: {request:#}"))
}

/// The example catalog with the mailing system reached through a connector.
fn with_sql_marketing() -> loket::catalog::model::CatalogDocument {
    let mut document = loket::catalog::parse_yaml(EXAMPLE).expect("example catalog is valid");
    let marketing = document
        .systems
        .iter_mut()
        .find(|s| s.key == "marketing")
        .expect("a marketing system");
    marketing.connector = loket::catalog::model::ConnectorKind::Sql;
    marketing.sql = Some(
        serde_json::from_value(json!({"tables": [{
            "name": "subscribers", "key": "id",
            "identifiers": {"email": "email", "customer_number": "customer_number"},
            "columns": ["email", "first_name", "customer_number", "tariff_plan"]
        }]}))
        .expect("mapping"),
    );
    document
}

/// The CRM, billing and a mailing database with Jan on it.
fn with_marketing_db(settings: &mut Settings) {
    with_crm_and_billing(settings);
    let db = target_in(settings, "marketing").seed(&[
        "CREATE TABLE subscribers (id INTEGER PRIMARY KEY, email VARCHAR(200), first_name VARCHAR(80), \
         customer_number VARCHAR(20), tariff_plan VARCHAR(40))",
        "INSERT INTO subscribers (id, email, first_name, customer_number, tariff_plan) VALUES \
         (1, 'Jan.DeVries@example.nl', 'Jan', 'TN-448812', 'Onbeperkt'), (2, 'piet@example.nl', 'Piet', 'TN-500100', 'Basis')",
    ]);
    settings
        .connectors
        .insert("marketing".into(), Secret::new(db.url.clone()));
}

/// Only the CRM is configured; billing has no connector URL.
fn with_crm_only(settings: &mut Settings) {
    let db = target_in(settings, "crm").seed(CRM);
    settings
        .connectors
        .insert("crm".into(), Secret::new(db.url.clone()));
}

/// The CRM's URL points at a PostgreSQL database that does not exist.
fn with_unreachable_crm(settings: &mut Settings) {
    settings.connectors.insert(
        "crm".into(),
        Secret::new("postgres://loket:s3cret-pw@127.0.0.1:1/no_such_database"),
    );
}

/// The shipped policies with `run_automatically: [export_data]`, and both databases.
fn exporting_automatically(settings: &mut Settings) {
    running_automatically(settings, "[export_data]");
    with_crm_and_billing(settings);
}

async fn desk(app: &TestApp) -> String {
    let document = loket::catalog::parse_yaml(EXAMPLE).expect("example catalog is valid");
    desk_with(app, document).await
}

async fn desk_with(app: &TestApp, document: loket::catalog::model::CatalogDocument) -> String {
    loket::catalog::import(&app.store, Actor::Cli, document)
        .await
        .expect("catalog imported");
    app.add_user("anna", Role::Agent).await;
    app.login("anna").await
}

/// Jan's request, by phone, with identity checked during the call unless `verified` is false.
fn jan(kind: &str, verified: bool) -> Value {
    let mut body = json!({
        "kind": kind,
        "channel": "phone",
        "requester": {
            "name": "Jan de Vries",
            "email": "jan.devries@example.nl",
            "customer_number": "TN-448812"
        }
    });
    if verified {
        body["identity"] = json!({"method": "known_details", "note": "date of birth matched"});
    }
    body
}

async fn register(app: &TestApp, token: &str, body: &Value) -> Value {
    expect_json(
        app.post_json("/api/v1/requests", Some(token), body).await,
        201,
    )
    .await
}

/// The first task of `kind` on `system` (or on any system when `None`).
fn task<'a>(request: &'a Value, kind: &str, system: Option<&str>) -> &'a Value {
    common::task_of(request, kind, system)
}

async fn run(
    app: &TestApp,
    token: Option<&str>,
    request: &Value,
    task: &Value,
) -> reqwest::Response {
    run_with(
        app,
        token,
        request,
        task,
        json!({"version": task["version"]}),
    )
    .await
}

async fn run_with(
    app: &TestApp,
    token: Option<&str>,
    request: &Value,
    task: &Value,
    body: Value,
) -> reqwest::Response {
    let path = format!(
        "/api/v1/requests/{}/tasks/{}/run",
        request["id"].as_str().expect("id"),
        task["id"].as_str().expect("task id")
    );
    app.post_json(&path, token, &body).await
}

/// Every audit event about the request, as a privacy officer reads them.
async fn audit_of(app: &TestApp, request: &Value) -> Vec<Value> {
    app.add_user("fleur", Role::PrivacyOfficer).await;
    let officer = app.login("fleur").await;
    let path = format!(
        "/api/v1/audit/events?object_type=request&object_id={}&per_page=200",
        request["reference"].as_str().expect("reference")
    );
    let page = expect_json(app.get(&path, Some(&officer)).await, 200).await;
    page["items"].as_array().expect("items").clone()
}

backend_tests_with! {
    async fn erasure_erases_the_crm_and_keeps_the_invoices(app: TestApp) configured with_crm_and_billing; {
        let token = desk(&app).await;
        let request = register(&app, &token, &jan("erasure", true)).await;
        let crm = target_in(&app.settings, "crm");
        let billing = target_in(&app.settings, "billing");

        let done = expect_json(run(&app, Some(&token), &request, task(&request, "erase_data", Some("crm"))).await, 200).await;
        let erased = task(&done, "erase_data", Some("crm"));
        assert_eq!(erased["state"], "done");
        assert_eq!(erased["closed_by"], "anna");
        let evidence = erased["evidence"].as_str().expect("evidence");
        assert!(evidence.contains("crm: erased customers 1, interactions 2, subscriptions 1"), "{evidence}");
        assert_eq!(crm.count("SELECT COUNT(*) AS n FROM customers WHERE customer_number = 'TN-448812'"), 0);
        assert_eq!(crm.count("SELECT COUNT(*) AS n FROM interactions"), 1, "Piet's interaction stays");
        assert_eq!(crm.count("SELECT COUNT(*) AS n FROM customers"), 1);

        // Billing: the usage records go; what the fiscal duty covers (the account, mandate,
        // invoices and payments: the rule's categories) stays (Art. 17(3)(b)).
        let keep = task(&done, "keep_under_exception", Some("billing"));
        assert!(keep["legal_exception"].as_str().expect("exception").contains("AWR art. 52"));
        let done = expect_json(run(&app, Some(&token), &done, task(&done, "erase_data", Some("billing"))).await, 200).await;
        let evidence = task(&done, "erase_data", Some("billing"))["evidence"].as_str().expect("evidence").to_string();
        assert!(evidence.contains("kept under Art. 17(3)(b) billing_accounts 1, invoices 2, payment_mandates 1 until 2033-12-31 at the latest"), "{evidence}");
        assert!(evidence.contains("rated_cdrs 2"), "{evidence}");
        assert_eq!(billing.count("SELECT COUNT(*) AS n FROM invoices"), 3, "no invoice erased");
        assert_eq!(billing.count("SELECT COUNT(*) AS n FROM rated_cdrs"), 1);
        assert_eq!(billing.count("SELECT COUNT(*) AS n FROM billing_accounts"), 2, "the accounts stay with their invoices");

        // A keep is not a restriction: the kept invoices need no restricted_column. Running the
        // keep task records each kept row with its end (31 December of the fiscal year + 7).
        let keep = task(&done, "keep_under_exception", Some("billing"));
        let done = expect_json(run(&app, Some(&token), &done, keep).await, 200).await;
        let keep = task(&done, "keep_under_exception", Some("billing"));
        assert_eq!(keep["state"], "done");
        assert_eq!(keep["keep_until"], "2033-12-31");
        assert_eq!(billing.count("SELECT COUNT(*) AS n FROM billing_accounts WHERE processing_restricted = TRUE"), 0, "nothing restricted");

        // The trail says what ran, where and how many rows, and nothing about Jan.
        let events = audit_of(&app, &request).await;
        let runs: Vec<&Value> = events.iter().filter(|e| e["action"] == "request.task.run").collect();
        assert_eq!(runs.len(), 3, "{events:#?}");
        let summary = runs.iter().map(|e| e["summary"].as_str().unwrap_or_default()).collect::<Vec<_>>().join("\n");
        assert!(summary.contains("crm: erased customers 1"), "{summary}");
        assert!(summary.contains("billing: erased"), "{summary}");
        let trail = serde_json::to_string(&events).expect("json");
        for personal in ["jan.devries@example.nl", "TN-448812", "Jan de Vries", "Dorpsstraat", ".db"] {
            assert!(!trail.contains(personal), "{personal} in the audit trail: {trail}");
        }
    }

    async fn export_evidence_holds_counts_and_a_hash_not_the_data(app: TestApp) configured with_crm_and_billing; {
        let token = desk(&app).await;
        let request = register(&app, &token, &jan("access", true)).await;
        let done = expect_json(run(&app, Some(&token), &request, task(&request, "export_data", Some("crm"))).await, 200).await;
        let export = task(&done, "export_data", Some("crm"));
        assert_eq!(export["state"], "done");
        let evidence = export["evidence"].as_str().expect("evidence");
        assert!(evidence.contains("crm: exported customers 1, interactions 2, subscriptions 1"), "{evidence}");
        let hash = evidence.rsplit("SHA-256 of the crm export ").next().expect("hash");
        assert_eq!(hash.len(), 64, "{evidence}");
        assert!(hash.chars().all(|c| c.is_ascii_hexdigit()), "{evidence}");
        assert!(!evidence.contains("Dorpsstraat") && !evidence.contains("verhuisd"), "{evidence}");
        // Exporting changes nothing.
        let crm = target_in(&app.settings, "crm");
        assert_eq!(crm.count("SELECT COUNT(*) AS n FROM customers"), 2);
    }

    async fn restriction_marks_the_rows_restricted(app: TestApp) configured with_crm_and_billing; {
        let token = desk(&app).await;
        let request = register(&app, &token, &jan("restriction", true)).await;
        let done = expect_json(run(&app, Some(&token), &request, task(&request, "restrict_data", Some("billing"))).await, 200).await;
        let evidence = task(&done, "restrict_data", Some("billing"))["evidence"].as_str().expect("evidence").to_string();
        assert!(evidence.contains("billing: restricted billing_accounts 1"), "{evidence}");
        let billing = target_in(&app.settings, "billing");
        assert_eq!(billing.count("SELECT COUNT(*) AS n FROM billing_accounts WHERE processing_restricted = TRUE"), 1);
    }

    async fn rectification_corrects_the_column_named(app: TestApp) configured with_crm_and_billing; {
        let token = desk(&app).await;
        let request = register(&app, &token, &jan("rectification", true)).await;
        let correct = task(&request, "correct_data", Some("crm"));
        // Without the correction, the fields are named.
        let missing = expect_json(run(&app, Some(&token), &request, correct).await, 422).await;
        let fields: Vec<&str> = missing["errors"].as_array().expect("errors").iter().map(|e| e["field"].as_str().unwrap_or_default()).collect();
        assert_eq!(fields, ["table", "column", "value"]);
        let body = json!({"version": correct["version"], "table": "customers", "column": "restricted", "value": "x"});
        let refused = expect_json(run_with(&app, Some(&token), &request, correct, body).await, 422).await;
        assert_eq!(refused["field"], "column");
        let body = json!({"version": correct["version"], "table": "customers", "column": "postal_address", "value": "Nieuwe Weg 5, Groningen"});
        let done = expect_json(run_with(&app, Some(&token), &request, correct, body).await, 200).await;
        let evidence = task(&done, "correct_data", Some("crm"))["evidence"].as_str().expect("evidence").to_string();
        assert!(evidence.contains("corrected customers.postal_address in 1 row(s)"), "{evidence}");
        let crm = target_in(&app.settings, "crm");
        assert_eq!(crm.count("SELECT COUNT(*) AS n FROM customers WHERE postal_address = 'Nieuwe Weg 5, Groningen'"), 1);
        let trail = serde_json::to_string(&audit_of(&app, &request).await).expect("json");
        assert!(!trail.contains("Nieuwe Weg"), "the new value is personal data: {trail}");
    }

    async fn manual_and_unconfigured_systems_are_done_by_hand(app: TestApp) configured with_crm_only; {
        let token = desk(&app).await;
        let request = register(&app, &token, &jan("erasure", true)).await;
        let refused = expect_json(run(&app, Some(&token), &request, task(&request, "erase_data", Some("billing"))).await, 422).await;
        assert_eq!(refused["field"], "task");
        assert_eq!(refused["errors"][0]["message"], "system billing has no connector configured; do this task by hand");
        let refused = expect_json(run(&app, Some(&token), &request, task(&request, "erase_data", Some("ticketing"))).await, 422).await;
        assert!(refused["message"].as_str().expect("message").contains("system ticketing is a manual system"), "{refused}");
        // A task that is not about a system's data is never run.
        let refused = expect_json(run(&app, Some(&token), &request, task(&request, "send_answer", None)).await, 422).await;
        assert_eq!(refused["field"], "task");
    }

    async fn wrong_version_unverified_identity_and_roles_are_refused(app: TestApp) configured with_crm_and_billing; {
        let token = desk(&app).await;
        let request = register(&app, &token, &jan("erasure", true)).await;
        let erase = task(&request, "erase_data", Some("crm"));
        let stale = json!({"version": erase["version"].as_i64().unwrap_or_default() + 1});
        let refused = expect_json(run_with(&app, Some(&token), &request, erase, stale).await, 409).await;
        assert!(refused["message"].as_str().expect("message").contains("changed by someone else"), "{refused}");
        expect_json(run(&app, None, &request, erase).await, 401).await;
        app.add_user("svc", Role::Service).await;
        let service = app.login("svc").await;
        expect_json(run(&app, Some(&service), &request, erase).await, 403).await;
        let crm = target_in(&app.settings, "crm");
        assert_eq!(crm.count("SELECT COUNT(*) AS n FROM customers"), 2, "nothing ran");

        // Before identity is verified, nothing runs.
        let unverified = register(&app, &token, &jan("erasure", false)).await;
        let refused = expect_json(run(&app, Some(&token), &unverified, task(&unverified, "erase_data", Some("crm"))).await, 409).await;
        assert!(refused["message"].as_str().expect("message").contains("in_progress"), "{refused}");
    }

    async fn a_failing_connector_leaves_the_task_open(app: TestApp) configured with_unreachable_crm; {
        let token = desk(&app).await;
        let request = register(&app, &token, &jan("erasure", true)).await;
        let erase = task(&request, "erase_data", Some("crm"));
        let failed = expect_json(run(&app, Some(&token), &request, erase).await, 502).await;
        assert_eq!(failed["error"], "connector_failed");
        assert_eq!(failed["system"], "crm");
        let message = failed["message"].as_str().expect("message");
        assert!(message.contains("crm: cannot connect"), "{message}");
        assert!(!message.contains("s3cret-pw"), "the password leaked: {message}");
        let current = expect_json(app.get(&format!("/api/v1/requests/{}", request["id"].as_str().unwrap()), Some(&token)).await, 200).await;
        let still = task(&current, "erase_data", Some("crm"));
        assert_eq!(still["state"], "open");
        assert_eq!(still["version"], erase["version"]);
        assert!(audit_of(&app, &request).await.iter().all(|e| e["action"] != "request.task.run"));
    }

    async fn run_automatically_exports_once_identity_is_verified(app: TestApp) configured exporting_automatically; {
        let token = desk(&app).await;
        let request = register(&app, &token, &jan("access", false)).await;
        assert_eq!(task(&request, "export_data", Some("crm"))["state"], "open");
        let path = format!("/api/v1/requests/{}", request["id"].as_str().expect("id"));
        let body = json!({"version": request["version"], "method": "code_to_known_contact"});
        expect_json(app.post_json(&format!("{path}/identity"), Some(&token), &body).await, 200).await;
        // The tasks run in the background; wait for that work itself, then look once.
        app.settle().await;
        let current = expect_json(app.get(&path, Some(&token)).await, 200).await;
        let crm = task(&current, "export_data", Some("crm"));
        assert_eq!(crm["state"], "done", "{current:#}");
        assert!(crm["closed_by"].as_str().expect("closer").contains("run_automatically"));
        assert!(crm["evidence"].as_str().expect("evidence").contains("exported customers 1"));
        // Manual systems stay with the agent.
        assert_eq!(task(&current, "export_data", Some("ticketing"))["state"], "open");
        let events = audit_of(&app, &request).await;
        assert!(events.iter().any(|e| e["action"] == "request.task.run" && e["actor"] == "system:task-runner"), "{events:#?}");
    }

    async fn kept_invoices_end_one_by_one_and_a_later_sweep_erases_them(app: TestApp) configured with_older_invoices; {
        let token = desk(&app).await;
        let request = register(&app, &token, &jan("erasure", true)).await;
        let billing = target_in(&app.settings, "billing");
        let done = expect_json(run(&app, Some(&token), &request, task(&request, "erase_data", Some("billing"))).await, 200).await;
        let evidence = task(&done, "erase_data", Some("billing"))["evidence"].as_str().expect("evidence").to_string();
        // The 2018 invoice's seven years ended on 31 December 2025: it goes now, with its payment.
        assert!(evidence.contains("erased as their duty had ended invoices 1, payments 1"), "{evidence}");
        assert!(evidence.contains("kept under Art. 17(3)(b) billing_accounts 1, invoices 3, payment_mandates 1, payments 1 until 2033-12-31 at the latest"), "{evidence}");
        assert_eq!(billing.count("SELECT COUNT(*) AS n FROM invoices WHERE id = 12"), 0);
        assert_eq!(billing.count("SELECT COUNT(*) AS n FROM payments WHERE invoice_id = 12"), 0);
        assert_eq!(billing.count("SELECT COUNT(*) AS n FROM invoices WHERE account_id = 1"), 3);
        assert_eq!(billing.count("SELECT COUNT(*) AS n FROM rated_cdrs WHERE account_id = 1"), 0);
        // The run's own answer shows what it kept, as a read of the request does.
        assert_eq!(kept_of(&done, "invoices")["kept"].as_i64(), Some(3), "{done:#}");

        // Each kept row has its own end: the 2020 invoice and its payment until 31 December 2027,
        // the 2026 invoices until 31 December 2033, the account and mandate with the last of them.
        let current = expect_json(app.get(&format!("/api/v1/requests/{}", request["id"].as_str().unwrap()), Some(&token)).await, 200).await;
        let kept = kept_of(&current, "invoices");
        assert_eq!((kept["kept"].as_i64(), kept["kept_until"].as_str()), (Some(3), Some("2033-12-31")), "{kept}");
        assert_eq!(kept["exception"], "legal_obligation");
        assert_eq!(kept["article"], "Art. 17(3)(b)");
        assert_eq!(kept["legal_basis"], "AWR art. 52; BW 2:10");
        assert_eq!(kept_of(&current, "payments")["kept_until"], "2027-12-31");
        assert_eq!(kept_of(&current, "billing_accounts")["kept_until"], "2033-12-31");
        // Never the row in the clear in loket's store.
        let stored = common::dump_database(&app).await;
        assert!(!stored.contains("F-13") && !stored.contains("TN-448812"), "a kept row in the clear");

        // A sweep a month after the 2020 invoice's end erases it and its payment, and records it;
        // the request still in progress does not stop it: erasing is what the person asked.
        let sweeps = loket::startup::sweep_service(&app.settings, &app.store).expect("sweeps");
        let at = |day: &str| chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").expect("day").and_hms_opt(3, 0, 0);
        let reports = sweeps.sweep(loket::retention::SweepOptions { rule: Some("fiscal_records".into()), as_of: at("2028-01-31"), ..Default::default() }, |_| {}).await.expect("sweep");
        let report = reports.iter().find(|r| r.rule == "kept_rows").expect("kept rows swept");
        assert_eq!((report.system.as_str(), report.counts.changed, report.counts.skipped_legal_hold), ("billing", 2, 0), "{reports:#?}");
        assert_eq!(billing.count("SELECT COUNT(*) AS n FROM invoices WHERE id = 13"), 0);
        assert_eq!(billing.count("SELECT COUNT(*) AS n FROM invoices WHERE account_id = 1"), 2, "the 2026 invoices stay");
        assert_eq!(billing.count("SELECT COUNT(*) AS n FROM billing_accounts WHERE id = 1"), 1);
        let current = expect_json(app.get(&format!("/api/v1/requests/{}", request["id"].as_str().unwrap()), Some(&token)).await, 200).await;
        let kept = kept_of(&current, "invoices");
        assert_eq!((kept["kept"].as_i64(), kept["erased"].as_i64()), (Some(2), Some(1)), "{kept}");
        let events = audit_of(&app, &request).await;
        let erased: Vec<&Value> = events.iter().filter(|e| e["action"] == "request.kept_rows.erased").collect();
        assert_eq!(erased.len(), 1, "{events:#?}");
        assert_eq!(erased[0]["summary"], "billing: kept rows whose Art. 17(3) duty ended erased: invoices 1, payments 1");

        // After 2033 nothing of Jan is left in billing; Piet's data is untouched.
        sweeps.sweep(loket::retention::SweepOptions { rule: Some("kept_rows".into()), as_of: at("2034-01-02"), ..Default::default() }, |_| {}).await.expect("sweep");
        for table in ["billing_accounts WHERE id = 1", "invoices WHERE account_id = 1", "payment_mandates"] {
            assert_eq!(billing.count(&format!("SELECT COUNT(*) AS n FROM {table}")), 0, "{table}");
        }
        assert_eq!(billing.count("SELECT COUNT(*) AS n FROM invoices WHERE id = 20"), 1);
    }

    async fn a_legal_hold_keeps_the_held_system_until_it_is_lifted(app: TestApp) configured with_older_invoices; {
        let token = desk(&app).await;
        app.add_user("fleur", Role::PrivacyOfficer).await;
        let officer = app.login("fleur").await;
        let hold = json!({"system": "billing", "identifier_kind": "customer_number", "identifier": "TN-448812", "reason": "Geschil over factuur F-11, zaak 2026/118"});
        let hold = expect_json(app.post_json("/api/v1/retention/holds", Some(&officer), &hold).await, 201).await;
        let request = register(&app, &token, &jan("erasure", true)).await;
        let billing = target_in(&app.settings, "billing");

        let done = expect_json(run(&app, Some(&token), &request, task(&request, "erase_data", Some("billing"))).await, 200).await;
        assert!(done["tasks"].as_array().expect("tasks").iter().all(|t| !(t["kind"] == "erase_data" && t["system_key"] == "billing")), "the erase task became a keep");
        let kept = done["tasks"].as_array().expect("tasks").iter().find(|t| t["kind"] == "keep_under_exception" && t["legal_exception"].as_str().is_some_and(|e| e.starts_with("Art. 17(3)(e)"))).expect("a keep under Art. 17(3)(e)");
        assert_eq!(kept["state"], "done");
        assert!(kept["title_en"].as_str().expect("title").contains("zaak 2026/118"), "staff see the hold's reason: {kept}");
        let evidence = kept["evidence"].as_str().expect("evidence");
        assert!(evidence.contains("kept under Art. 17(3)(e) billing_accounts 1, invoices 4, payment_mandates 1, payments 2, rated_cdrs 2 until the legal hold is lifted"), "{evidence}");
        assert_eq!(billing.count("SELECT COUNT(*) AS n FROM rated_cdrs WHERE account_id = 1"), 2, "the call records stay");
        assert_eq!(billing.count("SELECT COUNT(*) AS n FROM invoices WHERE id = 12"), 1, "even the invoice past its duty");
        // Other systems are erased as usual.
        expect_json(run(&app, Some(&token), &done, task(&done, "erase_data", Some("crm"))).await, 200).await;

        // Lifting the hold makes what it alone kept due; the next sweep erases it.
        expect_json(app.delete(&format!("/api/v1/retention/holds/{}", hold["id"].as_str().expect("id")), Some(&officer)).await, 200).await;
        let sweeps = loket::startup::sweep_service(&app.settings, &app.store).expect("sweeps");
        let reports = sweeps.sweep(loket::retention::SweepOptions { rule: Some("kept_rows".into()), ..Default::default() }, |_| {}).await.expect("sweep");
        assert_eq!(reports.iter().map(|r| r.counts.changed).sum::<i64>(), 4, "{reports:#?}");
        assert_eq!(billing.count("SELECT COUNT(*) AS n FROM rated_cdrs WHERE account_id = 1"), 0);
        assert_eq!(billing.count("SELECT COUNT(*) AS n FROM invoices WHERE id = 12"), 0);
        assert_eq!(billing.count("SELECT COUNT(*) AS n FROM invoices WHERE account_id = 1"), 3, "the fiscal duty still keeps these");
    }

    async fn recipients_are_notified_only_where_the_persons_data_was_found(app: TestApp) configured with_crm_and_billing; {
        let token = desk(&app).await;
        let billing_only = ["Incassobureau Noorderzon B.V.", "Van der Meer & Bakker Accountants"];
        let notify_state = |request: &Value, name: &str| -> Value {
            request["tasks"].as_array().expect("tasks").iter()
                .find(|t| t["kind"] == "notify_recipient" && t["recipient"] == name)
                .map(|t| t["state"].clone())
                .unwrap_or_else(|| panic!("no notification of {name}"))
        };
        // Kees is in neither database: billing's recipients never had his data.
        let mut kees = jan("erasure", true);
        kees["requester"] = json!({"name": "Kees Smit", "email": "kees@example.nl", "customer_number": "TN-999999"});
        let request = register(&app, &token, &kees).await;
        let done = expect_json(run(&app, Some(&token), &request, task(&request, "erase_data", Some("billing"))).await, 200).await;
        for name in billing_only {
            assert_eq!(notify_state(&done, name), "not_applicable", "{name}");
        }
        let skipped = done["tasks"].as_array().expect("tasks").iter().find(|t| t["recipient"] == billing_only[0]).expect("task");
        assert!(skipped["evidence"].as_str().expect("evidence").contains("nothing of the person was found in billing"), "{skipped}");
        // Noordhost also hosts the CRM and ticketing, not searched yet.
        assert_eq!(notify_state(&done, "Noordhost B.V."), "open");

        // Jan's data was in billing: its recipients are told.
        let request = register(&app, &token, &jan("erasure", true)).await;
        let done = expect_json(run(&app, Some(&token), &request, task(&request, "erase_data", Some("billing"))).await, 200).await;
        for name in billing_only {
            assert_eq!(notify_state(&done, name), "open", "{name}");
        }
    }

    async fn a_restriction_records_its_ground_and_an_officer_lifts_it_after_the_notice(app: TestApp) configured with_crm_and_billing; {
        let token = desk(&app).await;
        let request = register(&app, &token, &jan("restriction", true)).await;
        let path = format!("/api/v1/requests/{}", request["id"].as_str().expect("id"));
        // Only the grounds of Art. 18(1) fit a restriction.
        let refused = expect_json(app.put_json(&format!("{path}/ground"), Some(&token), &json!({"ground": "consent_withdrawn"})).await, 422).await;
        assert_eq!(refused["field"], "ground");
        assert!(refused["message"].as_str().expect("message").contains("accuracy_contested"), "{refused}");
        let view = expect_json(app.put_json(&format!("{path}/ground"), Some(&token), &json!({"ground": "accuracy_contested", "note": "disputes the invoice address"})).await, 200).await;
        assert_eq!(view["ground"]["article"], "Art. 18(1)(a)");

        let billing = target_in(&app.settings, "billing");
        let restricted = "SELECT COUNT(*) AS n FROM billing_accounts WHERE processing_restricted = TRUE";
        expect_json(run(&app, Some(&token), &request, task(&request, "restrict_data", Some("billing"))).await, 200).await;
        assert_eq!(billing.count(restricted), 1);

        // Lifting is a privacy officer's decision with a reason.
        let lift = format!("{path}/restriction/lift");
        expect_json(app.post_json(&lift, Some(&token), &json!({"reason": "address checked"})).await, 403).await;
        app.add_user("olga", Role::PrivacyOfficer).await;
        let officer = app.login("olga").await;
        let refused = expect_json(app.post_json(&lift, Some(&officer), &json!({"reason": "  "})).await, 422).await;
        assert_eq!(refused["field"], "reason");
        assert_eq!(billing.count(restricted), 1, "nothing lifted yet");

        let view = expect_json(app.post_json(&lift, Some(&officer), &json!({"reason": "The address was checked and is right."})).await, 200).await;
        assert_eq!(billing.count(restricted), 0, "the rows are used again");
        assert_eq!(view["ground"]["lifted_by"], "olga");
        assert_eq!(view["ground"]["lift_reason"], "The address was checked and is right.");
        // The person was told first (Art. 18(3)).
        let letters = expect_json(app.get(&format!("{path}/letters"), Some(&officer)).await, 200).await;
        assert!(letters["items"].as_array().expect("items").iter().any(|l| l["letter"] == "restriction_lift_notice"), "{letters:#}");
        let events = audit_of(&app, &request).await;
        let at = |action: &str| events.iter().position(|e| e["action"] == action).unwrap_or_else(|| panic!("no {action}: {events:#?}"));
        let (noticed, lifted) = (at("request.restriction.lift_noticed"), at("request.restriction.lifted"));
        assert!(events[noticed]["seq"].as_i64() < events[lifted]["seq"].as_i64(), "the notice comes first");
        assert!(events[lifted]["summary"].as_str().expect("summary").contains("billing: un-restricted billing_accounts 1"), "{events:#?}");
        expect_json(app.post_json(&lift, Some(&officer), &json!({"reason": "again"})).await, 409).await;

        // An erasure names its ground of Art. 17(1); anything else is refused by name.
        let erasure = register(&app, &token, &jan("erasure", true)).await;
        let path = format!("/api/v1/requests/{}/ground", erasure["id"].as_str().expect("id"));
        let refused = expect_json(app.put_json(&path, Some(&token), &json!({"ground": "because"})).await, 422).await;
        assert_eq!(refused["field"], "ground");
        let view = expect_json(app.put_json(&path, Some(&token), &json!({"ground": "consent_withdrawn"})).await, 200).await;
        assert_eq!(view["ground"]["article"], "Art. 17(1)(b)");
    }

    async fn a_marketing_erasure_keeps_the_address_on_the_suppression_list_only(app: TestApp) configured with_marketing_db; {
        let token = desk_with(&app, with_sql_marketing()).await;
        let request = register(&app, &token, &jan("erasure", true)).await;
        let done = expect_json(run(&app, Some(&token), &request, task(&request, "erase_data", Some("marketing"))).await, 200).await;
        let evidence = task(&done, "erase_data", Some("marketing"))["evidence"].as_str().expect("evidence").to_string();
        assert!(evidence.contains("marketing: erased subscribers 1"), "{evidence}");
        assert!(evidence.contains("on the suppression list as a keyed hash"), "{evidence}");
        let marketing = target_in(&app.settings, "marketing");
        assert_eq!(marketing.count("SELECT COUNT(*) AS n FROM subscribers"), 1, "Piet stays subscribed");
        // loket keeps only the keyed hash of the address.
        let stored = common::dump_database(&app).await;
        assert!(!stored.to_lowercase().contains("jan.devries@example.nl"), "an address in the clear");
        // The letter says so.
        let preview = expect_json(app.post_json(&format!("/api/v1/requests/{}/letters/preview", request["id"].as_str().expect("id")), Some(&token), &json!({"letter": "erasure_confirmation"})).await, 200).await;
        let body = preview["body"].as_str().expect("body");
        assert!(body.contains("geen reclame meer"), "{preview:#}");
        for internal in ["subscribers", "anna", "kh:", "Run through"] {
            assert!(!body.contains(internal), "internal text {internal:?} in the letter:\n{body}");
        }
    }
}

/// The same erasure against a PostgreSQL CRM (loket itself on SQLite).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(loket_test_postgres),
    ignore = "set LOKET_TEST_POSTGRES_URL to run on PostgreSQL"
)]
async fn erasure_runs_against_a_postgres_target() {
    let crm = TargetDb::postgres().seed(CRM);
    let url = crm.url.clone();
    let app = TestApp::spawn_with(loket::db::Backend::Sqlite, move |settings| {
        settings.connectors.insert("crm".into(), Secret::new(url));
    })
    .await;
    let token = desk(&app).await;
    let request = register(&app, &token, &jan("erasure", true)).await;
    let done = expect_json(
        run(
            &app,
            Some(&token),
            &request,
            task(&request, "erase_data", Some("crm")),
        )
        .await,
        200,
    )
    .await;
    let evidence = task(&done, "erase_data", Some("crm"))["evidence"]
        .as_str()
        .expect("evidence")
        .to_string();
    assert!(evidence.contains("crm: erased customers 1"), "{evidence}");
    assert_eq!(crm.count("SELECT COUNT(*) AS n FROM customers"), 1);
}

/// Kept invoices get their own ends on a PostgreSQL billing system too (loket on SQLite).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(loket_test_postgres),
    ignore = "set LOKET_TEST_POSTGRES_URL to run on PostgreSQL"
)]
async fn kept_invoices_end_one_by_one_on_a_postgres_target() {
    let billing = TargetDb::postgres().seed(BILLING).seed(OLDER_INVOICES);
    let url = billing.url.clone();
    let app = TestApp::spawn_with(loket::db::Backend::Sqlite, move |settings| {
        settings
            .connectors
            .insert("billing".into(), Secret::new(url));
    })
    .await;
    let token = desk(&app).await;
    let request = register(&app, &token, &jan("erasure", true)).await;
    let erase = task(&request, "erase_data", Some("billing"));
    let done = expect_json(run(&app, Some(&token), &request, erase).await, 200).await;
    let evidence = task(&done, "erase_data", Some("billing"))["evidence"]
        .as_str()
        .expect("evidence")
        .to_string();
    assert!(
        evidence.contains("erased as their duty had ended invoices 1, payments 1"),
        "{evidence}"
    );
    assert!(evidence.contains("kept under Art. 17(3)(b) billing_accounts 1, invoices 3, payment_mandates 1, payments 1 until 2033-12-31 at the latest"), "{evidence}");
    let current = expect_json(
        app.get(
            &format!("/api/v1/requests/{}", request["id"].as_str().unwrap()),
            Some(&token),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(kept_of(&current, "payments")["kept_until"], "2027-12-31");
    assert_eq!(billing.count("SELECT COUNT(*) AS n FROM invoices"), 4);
}
