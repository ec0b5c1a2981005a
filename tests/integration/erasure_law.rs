//! Erasure, retention, legal holds and keep choices that are right by law (issue #14), on a web
//! shop whose invoices refer to the customer row through a real FOREIGN KEY.
//!
//! Every test runs four ways: loket's store on SQLite and on PostgreSQL, each with the shop's
//! database on SQLite and on PostgreSQL (the PostgreSQL variants are ignored, with the reason,
//! without `LOKET_TEST_POSTGRES_URL`).

use crate::common;

use common::targets::{TargetDb, TargetKind};
use common::{dump_database, expect_json, TestApp};
use loket::audit::Actor;
use loket::auth::Role;
use loket::config::Secret;
use loket::db::Backend;
use serde_json::{json, Value};

/// The shop: customers, their invoices (kept 7 years from each fiscal year's end) and reviews.
/// Invoices and reviews refer to the customer with a real foreign key, so deleting a customer
/// whose invoices are kept fails; the catalog says to anonymise the customer instead. Jan has
/// invoices of 2016 (duty ended 31 December 2023), 2020 (until 31 December 2027) and 2024
/// (until 31 December 2031).
const SHOP: &[&str] = &[
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, customer_number VARCHAR(80) NOT NULL, \
     name VARCHAR(200), email VARCHAR(200), street VARCHAR(200), last_order_on DATE)",
    "CREATE TABLE invoices (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, \
     invoice_number VARCHAR(20), amount DECIMAL(10,2), fiscal_year_end DATE, \
     FOREIGN KEY (customer_id) REFERENCES customers (id))",
    "CREATE TABLE reviews (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, body VARCHAR(400), \
     FOREIGN KEY (customer_id) REFERENCES customers (id))",
    "INSERT INTO customers (id, customer_number, name, email, street, last_order_on) VALUES \
     (1, 'TN-448812', 'Jan de Vries', 'jan.devries@example.nl', 'Dorpsstraat 1', '2026-01-01'), \
     (2, 'TN-500100', 'Piet Bakker', 'piet@example.nl', 'Markt 2', '2026-02-01')",
    "INSERT INTO invoices (id, customer_id, invoice_number, amount, fiscal_year_end) VALUES \
     (16, 1, 'F-16', 10.00, '2016-12-31'), (20, 1, 'F-20', 20.00, '2020-12-31'), \
     (24, 1, 'F-24', 24.00, '2024-12-31'), (99, 2, 'F-99', 9.00, '2024-12-31')",
    "INSERT INTO reviews (id, customer_id, body) VALUES (1, 1, 'snel geleverd'), (2, 2, 'prima')",
];

const CATALOG: &str = r#"
organisation:
  name: Webwinkel Noord B.V.
  address: "Postbus 1, 9700 AA Groningen, Nederland"
  contact_email: privacy@webwinkel.example
  dpo_email: fg@webwinkel.example
systems:
  - key: shop
    name: Webwinkel
    description: Customers, invoices and reviews of the web shop.
    owner: Manager Webwinkel
    hosting: "In house (NL)"
    identifier_kinds: [customer_number, email]
    connector: sql
    holdings:
      - category: contact
        location: customers.name, customers.email, customers.street
        origin: provided
      - category: identity
        location: customers.customer_number
        origin: provided
      - category: financial
        location: invoices
        origin: observed
      - category: communication_content
        location: reviews.body
        origin: provided
    sql:
      tables:
        - name: customers
          key: id
          identifiers: {customer_number: customer_number, email: email}
          columns: [customer_number, name, email, street]
          anonymise_on_erasure:
            customer_number: keyed_hash
            name: {fixed: Geanonimiseerd}
            email: null
            street: null
        - name: invoices
          key: id
          parent: {table: customers, column: customer_id}
          columns: [invoice_number, amount, fiscal_year_end]
        - name: reviews
          key: id
          parent: {table: customers, column: customer_id}
          columns: [body]
  - key: warehouse
    name: Magazijn
    description: Delivery notes kept on paper in the warehouse.
    owner: Manager Magazijn
    hosting: "In house (NL)"
    identifier_kinds: [customer_number]
    connector: manual
    holdings:
      - category: contact
        location: delivery notes
        origin: provided
activities:
  - key: sales
    name: Verkoop
    description: Selling and delivering orders.
    purposes: [Selling and delivering orders]
    legal_basis: contract
    data_subjects: [Customers]
    categories:
      - {category: contact, retention: 2 years after the last order}
      - {category: identity, retention: 2 years after the last order}
      - {category: communication_content, retention: 2 years after the review}
    recipients:
      - {name: PostNL, kind: controller, country: NL}
    security_measures: [Role-based access]
    systems: [shop, warehouse]
  - key: bookkeeping
    name: Boekhouding
    description: Keeping the accounts.
    purposes: [Keeping the accounting records tax law requires]
    legal_basis: legal_obligation
    legal_basis_detail: AWR art. 52 and BW 2:10
    data_subjects: [Customers]
    categories:
      - {category: financial, retention: 7 years after the end of the fiscal year}
    recipients:
      - {name: Accountantskantoor Zuid, kind: controller, country: NL}
    security_measures: [Role-based access]
    systems: [shop]
"#;

/// The invoices' fiscal duty, and a duty on the warehouse's paper notes that names no table
/// loket reaches (a review task).
const RETENTION: &str = r#"
rules:
  - name: shop_invoices
    description: Invoices, 7 years from the end of their fiscal year.
    system: shop
    activity: bookkeeping
    categories: [financial]
    keep: 7 years
    legal_basis: AWR art. 52; BW 2:10
    legal_duty: true
    table: invoices
    counted_from: fiscal_year_end
    on_expiry: delete
  - name: delivery_notes
    description: Delivery notes, 7 years, kept with the accounts.
    system: warehouse
    categories: [contact]
    keep: 7 years
    legal_basis: AWR art. 52
    legal_duty: true
    on_expiry: review
"#;

struct Shop {
    app: TestApp,
    db: TargetDb,
    agent: String,
    officer: String,
}

/// The customers table's own anonymisation in the catalog, left out by the tests of the other ways.
const MAPPING_ANONYMISES: &str = r#"          anonymise_on_erasure:
            customer_number: keyed_hash
            name: {fixed: Geanonimiseerd}
            email: null
            street: null
"#;

/// The same anonymisation said by a retention rule on the customers table.
const RULE_ANONYMISES: &str = r#"
  - name: shop_customers
    description: Customer records, 2 years after the last order; an erasure anonymises them.
    system: shop
    activity: sales
    categories: [contact, identity]
    keep: 2 years
    legal_basis: Needed for questions about orders; no statutory period.
    table: customers
    counted_from: last_order_on
    on_expiry: anonymise
    on_erasure: anonymise
    anonymise: {customer_number: keyed_hash, name: {fixed: Geanonimiseerd}, email: null, street: null}
"#;

async fn shop(backend: Backend, target: TargetKind) -> Shop {
    shop_with(backend, target, CATALOG, RETENTION.to_string(), false).await
}

async fn shop_with(
    backend: Backend,
    target: TargetKind,
    catalog: &str,
    retention: String,
    name_recipients: bool,
) -> Shop {
    let db = match target {
        TargetKind::Postgres => TargetDb::postgres(),
        _ => TargetDb::sqlite(),
    }
    .seed(SHOP);
    let url = db.url.clone();
    let app = TestApp::spawn_with(backend, move |settings| {
        settings.connectors.insert("shop".into(), Secret::new(url));
        let dir = settings.data_dir.join("policies");
        std::fs::create_dir_all(&dir).expect("policies dir");
        std::fs::copy("policies/sweeps.yaml", dir.join("sweeps.yaml")).expect("copy policy");
        let requests = std::fs::read_to_string("policies/requests.yaml").expect("requests policy");
        let requests = requests.replace(
            "name_recipients_in_letters: false",
            &format!("name_recipients_in_letters: {name_recipients}"),
        );
        std::fs::write(dir.join("requests.yaml"), requests).expect("requests policy");
        std::fs::write(dir.join("retention.yaml"), retention).expect("retention policy");
        settings.policies_dir = dir;
    })
    .await;
    let document = loket::catalog::parse_yaml(catalog).expect("shop catalog is valid");
    loket::catalog::import(&app.store, Actor::Cli, document)
        .await
        .expect("catalog imported");
    app.add_user("anna", Role::Agent).await;
    app.add_user("olga", Role::PrivacyOfficer).await;
    let agent = app.login("anna").await;
    let officer = app.login("olga").await;
    Shop {
        app,
        db,
        agent,
        officer,
    }
}

impl Shop {
    async fn erasure(&self) -> Value {
        let body = json!({
            "kind": "erasure", "channel": "phone",
            "requester": {"name": "Jan de Vries", "email": "jan.devries@example.nl", "customer_number": "TN-448812"},
            "identity": {"method": "known_details", "note": "date of birth matched"}
        });
        expect_json(
            self.app
                .post_json("/api/v1/requests", Some(&self.agent), &body)
                .await,
            201,
        )
        .await
    }

    async fn run(&self, request: &Value, task: &Value) -> reqwest::Response {
        let path = format!(
            "/api/v1/requests/{}/tasks/{}/run",
            request["id"].as_str().expect("id"),
            task["id"].as_str().expect("task id")
        );
        self.app
            .post_json(
                &path,
                Some(&self.agent),
                &json!({"version": task["version"]}),
            )
            .await
    }

    async fn get(&self, request: &Value) -> Value {
        let path = format!("/api/v1/requests/{}", request["id"].as_str().expect("id"));
        expect_json(self.app.get(&path, Some(&self.agent)).await, 200).await
    }

    fn count(&self, sql: &str) -> i64 {
        self.db.count(sql)
    }

    /// Sweeps the kept rows as if it were `day` (or now).
    async fn sweep_kept(&self, day: Option<&str>) -> Vec<loket::retention::RuleReport> {
        let sweeps =
            loket::startup::sweep_service(&self.app.settings, &self.app.store).expect("sweeps");
        let as_of = day.map(|day| {
            chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
                .expect("day")
                .and_hms_opt(3, 0, 0)
                .expect("time")
        });
        let options = loket::retention::SweepOptions {
            rule: Some("kept_rows".into()),
            dry_run: false,
            as_of,
            ..Default::default()
        };
        sweeps.sweep(options, |_| {}).await.expect("sweep")
    }

    async fn audit(&self, request: &Value) -> Vec<Value> {
        let path = format!(
            "/api/v1/audit/events?object_type=request&object_id={}&per_page=200",
            request["reference"].as_str().expect("reference")
        );
        let page = expect_json(self.app.get(&path, Some(&self.officer)).await, 200).await;
        page["items"].as_array().expect("items").clone()
    }

    async fn letter(&self, request: &Value) -> String {
        let path = format!(
            "/api/v1/requests/{}/letters/preview",
            request["id"].as_str().expect("id")
        );
        let preview = expect_json(
            self.app
                .post_json(
                    &path,
                    Some(&self.agent),
                    &json!({"letter": "erasure_confirmation"}),
                )
                .await,
            200,
        )
        .await;
        preview["body"].as_str().expect("body").to_string()
    }
}

fn task<'a>(request: &'a Value, kind: &str, system: Option<&str>) -> &'a Value {
    common::task_of(request, kind, system)
}

fn evidence(request: &Value, kind: &str) -> String {
    task(request, kind, Some("shop"))["evidence"]
        .as_str()
        .expect("evidence")
        .to_string()
}

fn kept_invoices(request: &Value) -> Value {
    request["kept"]
        .as_array()
        .expect("kept")
        .iter()
        .find(|k| k["system"] == "shop" && k["table"] == "invoices")
        .cloned()
        .unwrap_or_else(|| panic!("no kept invoices: {request:#}"))
}

const JAN: &str = "SELECT COUNT(*) AS n FROM customers WHERE customer_number = 'TN-448812'";
const ANONYMISED: &str =
    "SELECT COUNT(*) AS n FROM customers WHERE id = 1 AND name = 'Geanonimiseerd' \
                          AND email IS NULL AND street IS NULL AND customer_number LIKE 'kh:%'";
const JANS_INVOICES: &str = "SELECT COUNT(*) AS n FROM invoices WHERE customer_id = 1";

/// Item 7 and the first "Must show": invoices of several fiscal years, the customer row they
/// refer to anonymised (the foreign key holds), each kept invoice with its own end, and the
/// sweeps past each end erasing them and recording it.
async fn anonymises_the_customer_and_keeps_each_invoice_until_its_own_end(
    backend: Backend,
    target: TargetKind,
) {
    let shop = shop(backend, target).await;
    let request = shop.erasure().await;
    let path = format!("/api/v1/requests/{}", request["id"].as_str().expect("id"));
    // The Art. 17(1) ground is recorded, and only a ground of Art. 17(1).
    let refused = expect_json(
        shop.app
            .put_json(
                &format!("{path}/ground"),
                Some(&shop.agent),
                &json!({"ground": "because"}),
            )
            .await,
        422,
    )
    .await;
    assert_eq!(refused["field"], "ground");
    let view = expect_json(
        shop.app
            .put_json(
                &format!("{path}/ground"),
                Some(&shop.agent),
                &json!({"ground": "no_longer_necessary"}),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(view["ground"]["article"], "Art. 17(1)(a)");

    // The warehouse's duty names no table loket reaches: a review task, not a failed run.
    let review = task(&request, "review_retention", Some("warehouse"));
    assert!(
        review["title_en"]
            .as_str()
            .expect("title")
            .contains("delivery_notes"),
        "{review}"
    );
    assert!(review["legal_exception"]
        .as_str()
        .expect("exception")
        .contains("17(3)(b)"));

    // The keep task: invoices have no restricted column; the block is recorded in loket's store
    // and said so, and the invoice whose duty ended (2016) goes now.
    let keep = task(&request, "keep_under_exception", Some("shop"));
    let done = expect_json(shop.run(&request, keep).await, 200).await;
    let kept = evidence(&done, "keep_under_exception");
    assert!(
        kept.contains("erased as their duty had ended invoices 1"),
        "{kept}"
    );
    assert!(
        kept.contains("kept under Art. 17(3)(b) invoices 2 until 2031-12-31 at the latest"),
        "{kept}"
    );
    assert!(
        kept.contains("blocked in loket's store, as invoices has no restricted column"),
        "{kept}"
    );
    assert_eq!(
        task(&done, "keep_under_exception", Some("shop"))["keep_until"],
        "2031-12-31"
    );
    assert_eq!(
        shop.count("SELECT COUNT(*) AS n FROM invoices WHERE id = 16"),
        0
    );

    // The erasure anonymises the customer row the kept invoices refer to, deletes the reviews.
    let erase = task(&done, "erase_data", Some("shop"));
    let done = expect_json(shop.run(&done, erase).await, 200).await;
    let erased = evidence(&done, "erase_data");
    assert!(erased.contains("erased reviews 1"), "{erased}");
    assert!(erased.contains("anonymised customers 1"), "{erased}");
    assert_eq!(shop.count(JAN), 0, "Jan is no longer found");
    assert_eq!(
        shop.count(ANONYMISED),
        1,
        "the row stays, anonymised: {erased}"
    );
    assert_eq!(
        shop.count(JANS_INVOICES),
        2,
        "the kept invoices still point at it"
    );
    assert_eq!(
        shop.count("SELECT COUNT(*) AS n FROM reviews"),
        1,
        "Piet's review stays"
    );
    assert_eq!(
        shop.count("SELECT COUNT(*) AS n FROM customers WHERE customer_number = 'TN-500100' AND name = 'Piet Bakker'"),
        1
    );
    let current = shop.get(&request).await;
    let kept = kept_invoices(&current);
    assert_eq!(
        (kept["kept"].as_i64(), kept["kept_until"].as_str()),
        (Some(2), Some("2031-12-31")),
        "{kept}"
    );

    // A sweep a month after 31 December 2027 erases the 2020 invoice only: each has its own end.
    let reports = shop.sweep_kept(Some("2028-01-31")).await;
    let report = reports
        .iter()
        .find(|r| r.rule == "kept_rows")
        .expect("kept rows swept");
    assert_eq!(
        (report.system.as_str(), report.counts.changed),
        ("shop", 1),
        "{reports:#?}"
    );
    assert_eq!(
        shop.count("SELECT COUNT(*) AS n FROM invoices WHERE id = 20"),
        0
    );
    assert_eq!(
        shop.count("SELECT COUNT(*) AS n FROM invoices WHERE id = 24"),
        1
    );
    let current = shop.get(&request).await;
    let kept = kept_invoices(&current);
    assert_eq!(
        (kept["kept"].as_i64(), kept["erased"].as_i64()),
        (Some(1), Some(1)),
        "{kept}"
    );

    // After 2031 the last one goes; the anonymised row and Piet's invoice stay.
    shop.sweep_kept(Some("2032-01-02")).await;
    assert_eq!(shop.count(JANS_INVOICES), 0);
    assert_eq!(shop.count(ANONYMISED), 1);
    assert_eq!(
        shop.count("SELECT COUNT(*) AS n FROM invoices WHERE id = 99"),
        1
    );
    let events = shop.audit(&request).await;
    let erased: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == "request.kept_rows.erased")
        .collect();
    assert_eq!(erased.len(), 2, "{events:#?}");
    assert_eq!(
        erased[0]["summary"],
        "shop: kept rows whose Art. 17(3) duty ended erased: invoices 1"
    );
    let trail = serde_json::to_string(&events).expect("json");
    for personal in ["TN-448812", "jan.devries", "Dorpsstraat", "snel geleverd"] {
        assert!(!trail.contains(personal), "{personal} in the audit trail");
    }
}

/// A hold placed before the erasure keeps everything in the shop; lifting it makes what it
/// alone kept due, and the sweep erases that the way the erasure would have (the customer row
/// anonymised, so the invoices the duty still keeps hold their key).
async fn a_hold_keeps_the_shop_and_lifting_it_makes_the_rows_due(
    backend: Backend,
    target: TargetKind,
) {
    let shop = shop(backend, target).await;
    let hold = json!({"system": "shop", "identifier_kind": "customer_number", "identifier": "TN-448812",
                      "reason": "Geschil over factuur F-24, zaak 2026/118"});
    let hold = expect_json(
        shop.app
            .post_json("/api/v1/retention/holds", Some(&shop.officer), &hold)
            .await,
        201,
    )
    .await;
    let request = shop.erasure().await;
    let done = expect_json(
        shop.run(&request, task(&request, "erase_data", Some("shop")))
            .await,
        200,
    )
    .await;
    let held = done["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .find(|t| {
            t["legal_exception"]
                .as_str()
                .is_some_and(|e| e.starts_with("Art. 17(3)(e)"))
        })
        .expect("the erase task became a keep under Art. 17(3)(e)");
    assert_eq!(held["kind"], "keep_under_exception");
    assert_eq!(shop.count(JAN), 1, "the customer stays as it is");
    assert_eq!(
        shop.count(JANS_INVOICES),
        3,
        "even the invoice past its duty"
    );
    assert_eq!(
        shop.count("SELECT COUNT(*) AS n FROM reviews WHERE customer_id = 1"),
        1
    );

    let lift = format!(
        "/api/v1/retention/holds/{}",
        hold["id"].as_str().expect("id")
    );
    expect_json(shop.app.delete(&lift, Some(&shop.agent)).await, 403).await;
    expect_json(shop.app.delete(&lift, Some(&shop.officer)).await, 200).await;
    let reports = shop.sweep_kept(None).await;
    let report = reports
        .iter()
        .find(|r| r.rule == "kept_rows")
        .expect("kept rows swept");
    assert_eq!(
        report.counts.changed, 3,
        "customer, review, 2016 invoice: {reports:#?}"
    );
    assert_eq!(shop.count(JAN), 0);
    assert_eq!(shop.count(ANONYMISED), 1);
    assert_eq!(
        shop.count("SELECT COUNT(*) AS n FROM reviews WHERE customer_id = 1"),
        0
    );
    assert_eq!(
        shop.count("SELECT COUNT(*) AS n FROM invoices WHERE id = 16"),
        0
    );
    assert_eq!(
        shop.count(JANS_INVOICES),
        2,
        "the fiscal duty still keeps these"
    );
}

/// Item 3: the other exceptions of Art. 17(3) are keep choices with a reason, each kept table
/// named; bad input is refused by field and stores nothing.
async fn keep_choices_name_their_exception_reason_and_tables(backend: Backend, target: TargetKind) {
    let shop = shop(backend, target).await;
    let request = shop.erasure().await;
    let keeps = format!(
        "/api/v1/requests/{}/keeps",
        request["id"].as_str().expect("id")
    );
    let choose = |body: Value| {
        let (app, token, path) = (&shop.app, shop.agent.clone(), keeps.clone());
        async move { app.post_json(&path, Some(&token), &body).await }
    };
    let valid = json!({"system": "shop", "exception": "legal_claims", "tables": ["reviews"],
                       "reason": "Klacht bij de Geschillencommissie, zaak 2026-77", "until": "2028-06-30"});
    for (field, value, expected) in [
        ("exception", json!("because"), "exception"),
        ("reason", json!("  "), "reason"),
        ("tables", json!(["reviews", "orders"]), "tables[1]"),
        ("system", json!("nope"), "system"),
        ("until", json!("2020-01-01"), "until"),
    ] {
        let mut body = valid.clone();
        body[field] = value;
        let refused = expect_json(choose(body).await, 422).await;
        assert_eq!(refused["field"], expected, "{refused}");
    }
    let unchanged = shop.get(&request).await;
    assert_eq!(
        unchanged["tasks"].as_array().map(Vec::len),
        request["tasks"].as_array().map(Vec::len),
        "nothing stored"
    );
    // Every exception of Art. 17(3) is a choice, with its article.
    for (exception, article) in [
        ("legal_obligation", "Art. 17(3)(b)"),
        ("public_task", "Art. 17(3)(b)"),
        ("public_health", "Art. 17(3)(c)"),
        ("archiving", "Art. 17(3)(d)"),
    ] {
        let other = shop.erasure().await;
        let path = format!(
            "/api/v1/requests/{}/keeps",
            other["id"].as_str().expect("id")
        );
        let mut body = valid.clone();
        body["exception"] = json!(exception);
        let view = expect_json(
            shop.app.post_json(&path, Some(&shop.agent), &body).await,
            201,
        )
        .await;
        let chosen = view["tasks"]
            .as_array()
            .expect("tasks")
            .last()
            .expect("task")
            .clone();
        assert_eq!(
            chosen["legal_exception"],
            format!("{article} AVG/GDPR"),
            "{chosen}"
        );
    }

    let view = expect_json(choose(valid).await, 201).await;
    let chosen = view["tasks"]
        .as_array()
        .expect("tasks")
        .last()
        .expect("task")
        .clone();
    assert_eq!(chosen["kind"], "keep_under_exception");
    assert_eq!(chosen["legal_exception"], "Art. 17(3)(e) AVG/GDPR");
    assert_eq!(chosen["keep_until"], "2028-06-30");
    assert!(
        chosen["title_en"]
            .as_str()
            .expect("title")
            .contains("reviews"),
        "{chosen}"
    );
    // The free-text reason is no part of a title (titles are listed, unsealed); it is the
    // task's detail, stored sealed with the choice.
    for title in ["title_nl", "title_en"] {
        assert!(
            !chosen[title]
                .as_str()
                .expect("title")
                .contains("Geschillencommissie"),
            "{chosen}"
        );
    }
    assert_eq!(
        chosen["detail"], "Klacht bij de Geschillencommissie, zaak 2026-77",
        "{chosen}"
    );
    let dump = dump_database(&shop.app).await;
    assert!(
        !dump.contains("Geschillencommissie"),
        "the reason stored in the clear"
    );
    // A title written before, with the reason in it, loses it at start-up.
    let task_id = chosen["id"].as_str().expect("id").to_string();
    let (old_nl, old_en) = (
        format!(
            "{}: Klacht bij de Geschillencommissie, zaak 2026-77)",
            chosen["title_nl"].as_str().unwrap().trim_end_matches(')')
        ),
        format!(
            "{}: Klacht bij de Geschillencommissie, zaak 2026-77)",
            chosen["title_en"].as_str().unwrap().trim_end_matches(')')
        ),
    );
    shop.app
        .store
        .write(move |conn| {
            loket::db::models::requests::set_task_titles(conn, &task_id, &old_nl, &old_en)
        })
        .await
        .expect("old titles");
    let cipher = common::cipher_of(&shop.app.settings);
    let cleaned = loket::requests::choices::reasons_out_of_titles(&shop.app.store, &cipher)
        .await
        .expect("cleaned");
    assert_eq!(cleaned, 1);
    assert_eq!(
        loket::requests::choices::reasons_out_of_titles(&shop.app.store, &cipher)
            .await
            .expect("again"),
        0,
        "idempotent"
    );
    let again = shop.get(&view).await;
    let cleaned_task = again["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .find(|t| t["id"] == chosen["id"])
        .expect("task")
        .clone();
    assert_eq!(
        (&cleaned_task["title_nl"], &cleaned_task["title_en"]),
        (&chosen["title_nl"], &chosen["title_en"]),
        "{cleaned_task}"
    );

    // The choice's run records what it keeps with its end; the erasure then keeps it too.
    let ran = expect_json(shop.run(&view, &chosen).await, 200).await;
    let chosen = ran["tasks"]
        .as_array()
        .expect("tasks")
        .last()
        .expect("task")
        .clone();
    assert_eq!(
        (chosen["state"].as_str(), chosen["keep_until"].as_str()),
        (Some("done"), Some("2028-06-30")),
        "{chosen}"
    );
    let done = expect_json(
        shop.run(&ran, task(&ran, "erase_data", Some("shop"))).await,
        200,
    )
    .await;
    let erased = evidence(&done, "erase_data");
    assert!(
        erased.contains("kept under Art. 17(3)(e) reviews 1 until 2028-06-30 at the latest"),
        "{erased}"
    );
    assert_eq!(
        shop.count("SELECT COUNT(*) AS n FROM reviews WHERE id = 1"),
        1
    );
    assert_eq!(shop.count(ANONYMISED), 1);

    // Its end comes like any other.
    shop.sweep_kept(Some("2028-07-01")).await;
    assert_eq!(
        shop.count("SELECT COUNT(*) AS n FROM reviews WHERE id = 1"),
        0
    );
    assert_eq!(
        shop.count("SELECT COUNT(*) AS n FROM reviews WHERE id = 2"),
        1
    );
    let events = shop.audit(&request).await;
    assert!(
        events.iter().any(|e| e["action"] == "request.keep.chosen"),
        "{events:#?}"
    );
    let trail = serde_json::to_string(&events).expect("json");
    assert!(
        !trail.contains("Geschillencommissie"),
        "the reason stays out of the trail"
    );
}

/// Item 4: the erasure letter names the recipients only when the person asked (Art. 19, last
/// sentence); otherwise it says they were told.
async fn the_letter_names_recipients_only_when_the_person_asked(
    backend: Backend,
    target: TargetKind,
) {
    let shop = shop(backend, target).await;
    let request = shop.erasure().await;
    let id = request["id"].as_str().expect("id");
    let mut current = expect_json(
        shop.run(&request, task(&request, "erase_data", Some("shop")))
            .await,
        200,
    )
    .await;
    for name in ["PostNL", "Accountantskantoor Zuid"] {
        let notify = current["tasks"]
            .as_array()
            .expect("tasks")
            .iter()
            .find(|t| t["kind"] == "notify_recipient" && t["recipient"] == name)
            .unwrap_or_else(|| panic!("{name} is told: its system held Jan's data"))
            .clone();
        assert_eq!(notify["state"], "open");
        let path = format!(
            "/api/v1/requests/{id}/tasks/{}",
            notify["id"].as_str().expect("id")
        );
        let body =
            json!({"version": notify["version"], "state": "done", "evidence": "e-mail sent"});
        current = expect_json(
            shop.app
                .send_json(reqwest::Method::PATCH, &path, Some(&shop.agent), &body)
                .await,
            200,
        )
        .await;
    }
    let letter = shop.letter(&request).await;
    assert!(
        !letter.contains("PostNL") && !letter.contains("Accountantskantoor"),
        "{letter}"
    );
    assert!(
        letter.contains("op de hoogte gebracht") && letter.contains("Wilt u weten wie dat zijn"),
        "{letter}"
    );

    let wants = format!("/api/v1/requests/{id}/wants-recipients");
    let refused = expect_json(
        shop.app
            .put_json(
                &wants,
                Some(&shop.agent),
                &json!({"wants_recipients": "ja"}),
            )
            .await,
        422,
    )
    .await;
    assert_eq!(refused["field"], "wants_recipients", "{refused}");
    expect_json(
        shop.app
            .put_json(
                &wants,
                Some(&shop.agent),
                &json!({"wants_recipients": true}),
            )
            .await,
        200,
    )
    .await;
    let letter = shop.letter(&request).await;
    assert!(
        letter.contains("- PostNL") && letter.contains("- Accountantskantoor Zuid"),
        "{letter}"
    );
    for internal in ["customers", "anna", "kh:", "Run through"] {
        assert!(
            !letter.contains(internal),
            "internal text {internal:?} in the letter:\n{letter}"
        );
    }
}

/// A retention rule can say the same as the mapping (`on_erasure: anonymise`); without either,
/// the database refuses to delete the customer the kept invoices refer to, the run fails with
/// 502 and nothing of the person is lost. A policy can name the recipients in every letter.
async fn a_rule_can_say_anonymise_and_without_it_the_foreign_key_refuses(
    backend: Backend,
    target: TargetKind,
) {
    let plain = CATALOG.replace(MAPPING_ANONYMISES, "");
    assert_ne!(plain, CATALOG);
    let shop = shop_with(backend, target, &plain, RETENTION.to_string(), false).await;
    let request = shop.erasure().await;
    let failed = expect_json(
        shop.run(&request, task(&request, "erase_data", Some("shop")))
            .await,
        502,
    )
    .await;
    assert_eq!(failed["error"], "connector_failed", "{failed}");
    assert_eq!(shop.count(JAN), 1, "the customer is still there");
    assert_eq!(
        shop.count("SELECT COUNT(*) AS n FROM reviews WHERE customer_id = 1"),
        1,
        "nothing half-erased"
    );
    assert_eq!(
        task(&shop.get(&request).await, "erase_data", Some("shop"))["state"],
        "open"
    );
    drop(shop);

    let retention = format!("{RETENTION}{RULE_ANONYMISES}");
    let shop = shop_with(backend, target, &plain, retention, true).await;
    let request = shop.erasure().await;
    let done = expect_json(
        shop.run(&request, task(&request, "erase_data", Some("shop")))
            .await,
        200,
    )
    .await;
    let erased = evidence(&done, "erase_data");
    assert!(erased.contains("anonymised customers 1"), "{erased}");
    assert_eq!(shop.count(ANONYMISED), 1, "{erased}");
    assert_eq!(shop.count(JANS_INVOICES), 2);
    // By policy the letter names the recipients told, without the person asking.
    let notify = done["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .find(|t| t["kind"] == "notify_recipient" && t["recipient"] == "PostNL")
        .expect("PostNL is told")
        .clone();
    let path = format!(
        "/api/v1/requests/{}/tasks/{}",
        request["id"].as_str().expect("id"),
        notify["id"].as_str().expect("id")
    );
    let body = json!({"version": notify["version"], "state": "done", "evidence": "e-mail sent"});
    expect_json(
        shop.app
            .send_json(reqwest::Method::PATCH, &path, Some(&shop.agent), &body)
            .await,
        200,
    )
    .await;
    let letter = shop.letter(&request).await;
    assert!(letter.contains("- PostNL"), "{letter}");
}

/// Four tests per scenario: loket's store × the shop's database, SQLite and PostgreSQL each.
macro_rules! four_ways {
    ($($name:ident),* $(,)?) => {
        mod sqlite_store_sqlite_shop {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(loket::db::Backend::Sqlite, super::TargetKind::Sqlite).await
                }
            )*
        }
        mod sqlite_store_postgres_shop {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(loket_test_postgres), ignore = "set LOKET_TEST_POSTGRES_URL to run on PostgreSQL")]
                async fn $name() {
                    super::$name(loket::db::Backend::Sqlite, super::TargetKind::Postgres).await
                }
            )*
        }
        mod postgres_store_sqlite_shop {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(loket_test_postgres), ignore = "set LOKET_TEST_POSTGRES_URL to run on PostgreSQL")]
                async fn $name() {
                    super::$name(loket::db::Backend::Postgres, super::TargetKind::Sqlite).await
                }
            )*
        }
        mod postgres_store_postgres_shop {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(loket_test_postgres), ignore = "set LOKET_TEST_POSTGRES_URL to run on PostgreSQL")]
                async fn $name() {
                    super::$name(loket::db::Backend::Postgres, super::TargetKind::Postgres).await
                }
            )*
        }
    };
}

four_ways!(
    anonymises_the_customer_and_keeps_each_invoice_until_its_own_end,
    a_hold_keeps_the_shop_and_lifting_it_makes_the_rows_due,
    keep_choices_name_their_exception_reason_and_tables,
    the_letter_names_recipients_only_when_the_person_asked,
    a_rule_can_say_anonymise_and_without_it_the_foreign_key_refuses,
);
