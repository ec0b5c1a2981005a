//! Package keys: rotation adds a key, new packages are sealed with it, and packages sealed
//! before still open; the keys are stored only sealed, and every rotation is audited.

use crate::common;

use common::{cipher_of, dump_database, TestApp};
use loket::audit::Actor;
use loket::packages::PackageKeys;

async fn keys_of(app: &TestApp) -> PackageKeys {
    PackageKeys::new(app.store.clone(), cipher_of(&app.settings))
}

fn seal(cipher: &loket::crypto::Cipher, text: &str) -> Vec<u8> {
    let mut sealed = Vec::new();
    cipher
        .seal_stream("packages/p1", text.as_bytes(), &mut sealed)
        .expect("sealed");
    sealed
}

fn open(cipher: &loket::crypto::Cipher, sealed: &[u8]) -> String {
    let mut plain = Vec::new();
    cipher
        .open_stream("packages/p1", sealed, &mut plain)
        .expect("opened");
    String::from_utf8(plain).expect("text")
}

backend_tests! {
    async fn rotation_keeps_old_packages_readable(app: TestApp) {
        let keys = keys_of(&app).await;
        assert!(keys.list().await.unwrap().is_empty());
        // The first package makes the first key.
        let first = keys.cipher().await.unwrap();
        let listed = keys.list().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].id, first.current_key_id());
        let old_package = seal(&first, "inzage: 3 systemen");

        let rotated = keys.rotate(Actor::Cli).await.unwrap();
        let listed = keys.list().await.unwrap();
        assert_eq!(listed.len(), 2);
        assert!(listed[1].current && !listed[0].current);
        assert_eq!(listed[1].id, rotated.id);

        let second = keys.cipher().await.unwrap();
        assert_eq!(second.current_key_id(), rotated.id);
        assert_ne!(second.current_key_id(), first.current_key_id());
        assert_eq!(open(&second, &old_package), "inzage: 3 systemen");
        let new_package = seal(&second, "inzage: 4 systemen");
        assert!(first.open_stream("packages/p1", new_package.as_slice(), &mut Vec::new()).is_err(),
            "the old key alone does not open what the new key sealed");

        // The keys are stored only sealed with the data key: the key text is nowhere in the
        // database.
        let rows = {
            let mut conn = app.store.connection().unwrap();
            loket::db::models::package_keys::PackageKeyRow::all(&mut conn).unwrap()
        };
        let data = cipher_of(&app.settings);
        let dump = dump_database(&app).await;
        for row in &rows {
            assert!(row.key_enc.starts_with("v1:"), "{}", row.key_enc);
            let key = data.decrypt("package_keys.key", &row.key_enc).expect("opens with the data key");
            assert_eq!(key.len(), 44, "base64 of 32 bytes");
            assert!(dump.contains(&row.id), "the dump holds the key table");
            assert!(!dump.contains(&key), "a package key in the clear");
        }
        let officer = app.token_for(loket::auth::Role::PrivacyOfficer).await;
        let events: serde_json::Value = app
            .get("/api/v1/audit/events?per_page=200", Some(&officer))
            .await
            .json()
            .await
            .unwrap();
        let rotations = events["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "package_key.rotated")
            .count();
        assert_eq!(rotations, 2, "{events}");

    }
}

// --- building and delivering packages ---------------------------------------------------------
//
// The example telecom's CRM is a SQLite database and its billing system a PostgreSQL database
// (SQLite as well, said on stderr, when LOKET_TEST_POSTGRES_URL is not set), seeded with Jan,
// who asks, and Piet, who does not. loket itself runs on SQLite and on PostgreSQL.

use common::expect_json;
use common::targets::TargetDb;
use common::telco::{BILLING, CRM};
use loket::auth::Role;
use loket::config::Secret;
use loket::db::Backend;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Read;

const EXAMPLE: &str = include_str!("../../examples/catalog.yaml");

/// An inferred column (a churn score) in the CRM, known to the catalog as inferred data.
const CHURN: &[&str] = &[
    "ALTER TABLE customers ADD COLUMN churn_score INTEGER",
    "UPDATE customers SET churn_score = 87 WHERE id = 1",
];

struct Desk {
    app: TestApp,
    agent: String,
    officer: String,
    _crm: TargetDb,
    _billing: TargetDb,
}

/// The example catalog with the churn score mapped as inferred data.
fn catalog() -> loket::catalog::model::CatalogDocument {
    let yaml = EXAMPLE
        .replace(
            "columns: [customer_number, name, email, phone, postal_address, date_of_birth, contract_ended_at]",
            "columns: [customer_number, name, email, phone, postal_address, date_of_birth, contract_ended_at, churn_score]",
        )
        .replace(
            "      - category: contract_details\n        location: subscriptions\n        origin: provided",
            "      - category: contract_details\n        location: subscriptions\n        origin: provided\n      - category: contract_details\n        location: customers.churn_score\n        origin: inferred",
        );
    assert!(
        yaml.contains("customers.churn_score"),
        "the example catalog changed"
    );
    loket::catalog::parse_yaml(&yaml).expect("catalog is valid")
}

fn billing_target() -> TargetDb {
    if std::env::var("LOKET_TEST_POSTGRES_URL").is_ok_and(|url| !url.is_empty()) {
        TargetDb::postgres()
    } else {
        eprintln!("billing runs on SQLite: set LOKET_TEST_POSTGRES_URL for a PostgreSQL system");
        TargetDb::sqlite()
    }
}

impl Desk {
    async fn open(backend: Backend) -> Desk {
        let crm = TargetDb::sqlite().seed(CRM).seed(CHURN);
        let billing = billing_target().seed(BILLING);
        let (crm_url, billing_url) = (crm.url.clone(), billing.url.clone());
        let app = TestApp::spawn_with(backend, move |settings| {
            settings
                .connectors
                .insert("crm".into(), Secret::new(crm_url));
            settings
                .connectors
                .insert("billing".into(), Secret::new(billing_url));
            // The tests download and refuse more often in a minute than a person would.
            settings.public_requests_per_minute = 10_000;
        })
        .await;
        loket::catalog::import(&app.store, Actor::Cli, catalog())
            .await
            .expect("catalog imported");
        app.add_user("anna", Role::Agent).await;
        app.add_user("fleur", Role::PrivacyOfficer).await;
        let agent = app.login("anna").await;
        let officer = app.login("fleur").await;
        Desk {
            app,
            agent,
            officer,
            _crm: crm,
            _billing: billing,
        }
    }

    /// Jan's request of `kind`, by phone, identity checked during the call.
    async fn request(&self, kind: &str) -> Value {
        let body = json!({
            "kind": kind,
            "channel": "phone",
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

    async fn package(&self, request: &Value, body: Value) -> Value {
        expect_json(self.post_package(request, &body).await, 201).await
    }

    /// The request's packages, as agents see them.
    async fn packages(&self, request: &Value) -> Value {
        let path = format!("/api/v1/requests/{}/packages", id(request));
        expect_json(self.app.get(&path, Some(&self.agent)).await, 200).await
    }

    async fn post_package(&self, request: &Value, body: &Value) -> reqwest::Response {
        let path = format!("/api/v1/requests/{}/packages", id(request));
        self.app.post_json(&path, Some(&self.agent), body).await
    }

    /// The download link in the answer letter, as the preview shows it.
    async fn link(&self, request: &Value, letter: &str) -> String {
        let path = format!("/api/v1/requests/{}/letters/preview", id(request));
        let preview = expect_json(
            self.app
                .post_json(&path, Some(&self.agent), &json!({"letter": letter}))
                .await,
            200,
        )
        .await;
        let body = preview["body"].as_str().expect("letter body");
        let url = body
            .split_whitespace()
            .find(|word| word.contains("/packages/"))
            .unwrap_or_else(|| panic!("no link in the letter:\n{body}"));
        url[url.find("/packages/").expect("path")..].to_string()
    }

    async fn download(&self, link: &str, passphrase: Option<&str>) -> reqwest::Response {
        let form = passphrase
            .map(|p| format!("passphrase={}", p.replace(' ', "+")))
            .unwrap_or_default();
        self.app
            .client
            .post(self.app.url(link))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .expect("download sent")
    }

    async fn zip(&self, link: &str) -> Zip {
        let response = self.download(link, None).await;
        assert_eq!(response.status(), 200, "download refused");
        assert_eq!(response.headers()["content-type"], "application/zip");
        Zip::read(response.bytes().await.expect("body").to_vec())
    }

    async fn audit(&self) -> Vec<Value> {
        let page = expect_json(
            self.app
                .get("/api/v1/audit/events?per_page=200", Some(&self.officer))
                .await,
            200,
        )
        .await;
        page["items"].as_array().expect("items").clone()
    }

    /// A sweep run by the privacy officer; its reports, one per rule.
    async fn sweep(&self, body: Value) -> Vec<Value> {
        let answer = expect_json(
            self.app
                .post_json("/api/v1/retention/sweeps", Some(&self.officer), &body)
                .await,
            200,
        )
        .await;
        answer["rules"].as_array().expect("reports").clone()
    }

    fn raw(&self, sql: &str) {
        use diesel::RunQueryDsl;
        let mut conn = self.app.store.connection().expect("connection");
        match &mut **conn {
            loket::db::DbConnection::Sqlite(c) => diesel::sql_query(sql).execute(c),
            loket::db::DbConnection::Postgres(c) => diesel::sql_query(sql).execute(c),
        }
        .expect("statement runs");
    }
}

fn id(value: &Value) -> &str {
    value["id"].as_str().expect("id")
}

/// A downloaded package, its files by name.
struct Zip(BTreeMap<String, Vec<u8>>);

impl Zip {
    fn read(bytes: Vec<u8>) -> Zip {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a ZIP");
        let mut files = BTreeMap::new();
        for index in 0..archive.len() {
            let mut file = archive.by_index(index).expect("entry");
            let mut content = Vec::new();
            file.read_to_end(&mut content).expect("entry reads");
            files.insert(file.name().expect("entry name").to_string(), content);
        }
        Zip(files)
    }

    fn text(&self, name: &str) -> String {
        let bytes = self
            .0
            .get(name)
            .unwrap_or_else(|| panic!("no {name} in {:?}", self.0.keys()));
        String::from_utf8(bytes.clone()).expect("text")
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.text("package.json")).expect("package.json is JSON")
    }

    fn everything(&self) -> String {
        self.0
            .values()
            .map(|b| String::from_utf8_lossy(b).to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The rows of a table in package.json.
    fn rows(&self, system: &str, table: &str) -> Vec<Value> {
        let document = self.json();
        let system = document["systems"]
            .as_array()
            .expect("systems")
            .iter()
            .find(|s| s["key"] == system)
            .unwrap_or_else(|| panic!("no system {system}"));
        let table = system["tables"]
            .as_array()
            .expect("tables")
            .iter()
            .find(|t| t["name"] == table)
            .unwrap_or_else(|| panic!("no table {table}"));
        table["rows"].as_array().expect("rows").clone()
    }

    /// One column of a table in package.json, as text.
    fn values(&self, system: &str, table: &str, column: &str) -> Vec<String> {
        self.rows(system, table)
            .iter()
            .map(|row| {
                row[column]
                    .as_str()
                    .map_or_else(|| row[column].to_string(), str::to_string)
            })
            .collect()
    }

    fn columns(&self, system: &str, table: &str) -> Vec<String> {
        let document = self.json();
        let system = document["systems"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["key"] == system)
            .unwrap()
            .clone();
        let table = system["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == table)
            .unwrap_or_else(|| panic!("no table {table}"))
            .clone();
        serde_json::from_value(table["columns"].clone()).unwrap()
    }
}

macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Desk::open(loket::db::Backend::Sqlite).await).await;
                }
            )*
        }
        mod postgres_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(loket_test_postgres), ignore = "set LOKET_TEST_POSTGRES_URL to run on PostgreSQL")]
                async fn $name() {
                    super::$name(super::Desk::open(loket::db::Backend::Postgres).await).await;
                }
            )*
        }
    };
}

on_both_stores!(
    an_access_package_holds_exactly_the_persons_rows_and_the_facts,
    a_portability_package_leaves_out_inferred_data,
    attachments_and_withheld_data_are_in_the_package_and_the_letter,
    tampered_or_truncated_packages_fail_with_a_clear_error,
    expired_used_up_and_wrong_links_are_refused,
    rotated_keys_keep_old_packages_readable,
    the_sweep_deletes_spent_packages,
    a_build_whose_process_is_gone_is_cleaned_up_at_once,
    package_routes_check_role_and_input,
);

async fn an_access_package_holds_exactly_the_persons_rows_and_the_facts(desk: Desk) {
    let request = desk.request("access").await;
    let package = desk.package(&request, json!({})).await;
    assert_eq!(package["state"], "ready");
    assert_eq!(package["kind"], "access");
    assert_eq!(package["max_downloads"], 3);
    assert!(package.get("passphrase").is_none());
    let link = desk.link(&request, "access_answer").await;

    // The page behind the link offers the download and uses none.
    let page = desk.app.get(&link, None).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("method=\"post\"") && html.contains("Downloaden"),
        "{html}"
    );
    // It names the organisation and its privacy contact, and spells the expiry in Dutch time.
    assert!(
        html.contains("Telco Noord B.V.") && html.contains("fg@telconoord.example"),
        "{html}"
    );
    assert!(!html.contains("UTC"), "{html}");

    let zip = desk.zip(&link).await;
    let expected: &[(&str, &str, usize)] = &[
        ("crm", "customers", 1),
        ("crm", "subscriptions", 1),
        ("crm", "interactions", 2),
        ("billing", "billing_accounts", 1),
        ("billing", "payment_mandates", 1),
        ("billing", "invoices", 2),
        ("billing", "payments", 0),
        ("billing", "rated_cdrs", 2),
    ];
    for (system, table, count) in expected {
        let rows = zip.rows(system, table);
        assert_eq!(rows.len(), *count, "{system}.{table}: {rows:?}");
        let csv = zip.text(&format!("csv/{system}/{table}.csv"));
        assert_eq!(
            csv.lines().count(),
            count + 1,
            "{system}/{table}.csv:\n{csv}"
        );
    }
    let customer = &zip.rows("crm", "customers")[0];
    assert_eq!(customer["name"], "Jan de Vries");
    assert_eq!(
        customer["churn_score"], 87,
        "access gives inferred data too"
    );
    assert_eq!(
        zip.values("crm", "interactions", "summary"),
        ["vroeg naar de factuur", "verhuisd"]
    );
    assert_eq!(
        zip.values("billing", "invoices", "invoice_number"),
        ["F-10", "F-11"]
    );
    // Nothing of Piet, anywhere in the package.
    let everything = zip.everything();
    for other in [
        "Piet",
        "piet@example.nl",
        "TN-500100",
        "Markt 2",
        "F-20",
        "+31501234569",
    ] {
        assert!(!everything.contains(other), "{other} is in Jan's package");
    }

    // The Art. 15(1) facts of the activities of the systems where Jan's data was found.
    let document = zip.json();
    assert_eq!(document["format"], "loket-package/1");
    assert_eq!(
        document["package"]["request_reference"],
        request["reference"]
    );
    let facts = document["facts"].as_array().expect("facts");
    let names: Vec<&str> = facts.iter().map(|f| f["name"].as_str().unwrap()).collect();
    for activity in [
        "Klantenservice",
        "Facturatie en incasso",
        "Fiscale bewaarplicht",
    ] {
        assert!(
            names.contains(&activity),
            "{activity} missing from {names:?}"
        );
    }
    assert!(
        !names.contains(&"Webstatistieken"),
        "no data of Jan there, so no facts: {names:?}"
    );
    let customer_service = facts
        .iter()
        .find(|f| f["name"] == "Klantenservice")
        .unwrap();
    assert!(customer_service["purposes"][0]
        .as_str()
        .unwrap()
        .contains("Vragen van klanten"));
    assert!(customer_service["legal_basis"]
        .as_str()
        .unwrap()
        .contains("overeenkomst"));
    let fiscal = facts
        .iter()
        .find(|f| f["name"] == "Fiscale bewaarplicht")
        .unwrap();
    let recipients: Vec<&str> = fiscal["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(recipients.contains(&"Belastingdienst"), "{recipients:?}");
    assert!(fiscal["categories"][0]["retention"]
        .as_str()
        .unwrap()
        .contains("7 jaar"));
    assert_eq!(document["controller"]["name"], "Telco Noord B.V.");
    let summary = zip.text("overzicht.html");
    for part in [
        "Klantenservice",
        "Autoriteit Persoonsgegevens",
        "Belastingdienst",
        "artikel 16",
        // The person's data itself, per system and table, under the mapping's Dutch labels.
        "<h3>KlantBeeld CRM</h3>",
        "<h4>Klantgegevens</h4>",
        "<th scope=\"col\">Postadres</th>",
        "<td>Jan de Vries</td>",
        "<h4>Contactmomenten</h4>",
        "<td>vroeg naar de factuur</td>",
        "<h4>Facturen</h4>",
        "<td>F-10</td>",
    ] {
        assert!(
            summary.contains(part),
            "{part} missing from the summary:\n{summary}"
        );
    }
    // Never the database's own names or English labels in the Dutch summary.
    for internal in [
        ">postal_address<",
        ">customers<",
        "Customer details",
        "(UTC)",
    ] {
        assert!(!summary.contains(internal), "{internal} in the summary");
    }
    assert!(zip.0.contains_key("package.schema.json"));
    let schema: Value = serde_json::from_str(&zip.text("package.schema.json")).unwrap();
    assert_eq!(schema["$id"], "loket-package/1");

    // What the package holds is recorded in counts; the trail says who built and downloaded
    // it, and holds nothing of Jan.
    let listed = desk.packages(&request).await;
    assert_eq!(listed[0]["downloads"], 1);
    assert_eq!(listed[0]["contents"]["rows"]["billing"]["invoices"], 2);
    let events = desk.audit().await;
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"package.created") && actions.contains(&"package.downloaded"),
        "{actions:?}"
    );
    for action in ["package.created", "package.downloaded"] {
        let event = events.iter().find(|e| e["action"] == action).unwrap();
        assert_eq!(
            event["object_id"], request["reference"],
            "on the request's timeline"
        );
    }
    let trail = serde_json::to_string(&events).unwrap();
    for personal in [
        "jan.devries@example.nl",
        "Jan de Vries",
        "Dorpsstraat",
        "NL91ABNA",
    ] {
        assert!(!trail.contains(personal), "{personal} on the audit trail");
    }
    // Stored sealed: the store holds none of the data in the clear.
    let dump = dump_database(&desk.app).await;
    for personal in [
        "Dorpsstraat 1, Groningen",
        "NL91ABNA0417164300",
        "vroeg naar de factuur",
    ] {
        assert!(!dump.contains(personal), "{personal} stored in the clear");
    }
}

async fn a_portability_package_leaves_out_inferred_data(desk: Desk) {
    let request = desk.request("portability").await;
    let package = desk.package(&request, json!({"language": "en"})).await;
    assert_eq!(package["kind"], "portability");
    let zip = desk
        .zip(&desk.link(&request, "portability_answer").await)
        .await;

    let customers = zip.columns("crm", "customers");
    assert!(
        !customers.contains(&"churn_score".to_string()),
        "inferred data: {customers:?}"
    );
    for provided in [
        "id",
        "name",
        "email",
        "phone",
        "postal_address",
        "customer_number",
        "date_of_birth",
    ] {
        assert!(
            customers.contains(&provided.to_string()),
            "{provided} missing: {customers:?}"
        );
    }
    assert!(zip.rows("crm", "customers")[0].get("churn_score").is_none());
    assert!(!zip
        .text("csv/crm/customers.csv")
        .lines()
        .next()
        .unwrap()
        .contains("churn_score"));
    // Only what the catalog says the person gave: the summary of a contact, not its channel.
    assert_eq!(zip.columns("crm", "interactions"), ["id", "summary"]);
    // Observed usage under the contract is the person's too (Art. 20, EDPB).
    assert_eq!(zip.rows("billing", "rated_cdrs").len(), 2);
    let document = zip.json();
    assert_eq!(document["package"]["article"], "Art. 20");
    assert_eq!(document["facts"], json!([]));
    assert!(!zip.0.contains_key("summary.html") && !zip.0.contains_key("overzicht.html"));
    assert!(!zip.everything().contains("Piet"));
}

/// The first task of `kind` on `system`.
fn task<'a>(request: &'a Value, kind: &str, system: &str) -> &'a Value {
    request["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .find(|t| t["kind"] == kind && t["system_key"] == system)
        .unwrap_or_else(|| panic!("no {kind} task on {system}"))
}

async fn attach(
    desk: &Desk,
    request: &Value,
    system: &str,
    name: &str,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    let task = task(request, "export_data", system);
    let path = format!(
        "/api/v1/requests/{}/attachments?task={}&name={}",
        id(request),
        id(task),
        name.replace(' ', "%20")
    );
    desk.app
        .client
        .post(desk.app.url(&path))
        .bearer_auth(&desk.agent)
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .expect("upload sent")
}

async fn attachments_and_withheld_data_are_in_the_package_and_the_letter(desk: Desk) {
    let request = desk.request("access").await;
    let note = expect_json(
        attach(
            &desk,
            &request,
            "web_analytics",
            "notitie analytics.txt",
            "text/plain",
            b"Cookie-ID 7f3a: 14 bezoeken in oktober".to_vec(),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(note["system"], "web_analytics");
    assert_eq!(note["name"], "notitie analytics.txt");
    let letter = expect_json(
        attach(
            &desk,
            &request,
            "ticketing",
            "brief.pdf",
            "application/pdf",
            b"%PDF-1.4 brief van de buurman".to_vec(),
        )
        .await,
        201,
    )
    .await;

    let path = format!("/api/v1/requests/{}/redactions", id(&request));
    let withheld_field = json!({"system": "crm", "table": "interactions", "column": "summary", "row_key": "101",
        "reason": "Noemt een andere klant"});
    expect_json(
        desk.app
            .post_json(&path, Some(&desk.agent), &withheld_field)
            .await,
        201,
    )
    .await;
    let withheld_file = json!({"attachment": id(&letter), "reason": "Brief van een derde"});
    expect_json(
        desk.app
            .post_json(&path, Some(&desk.agent), &withheld_file)
            .await,
        201,
    )
    .await;
    let listed = expect_json(desk.app.get(&path, Some(&desk.agent)).await, 200).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);

    desk.package(&request, json!({})).await;
    let link = desk.link(&request, "access_answer").await;
    let zip = desk.zip(&link).await;
    assert_eq!(
        zip.values("crm", "interactions", "summary"),
        ["vroeg naar de factuur", "[achtergehouden]"],
        "only row 101's summary is withheld"
    );
    assert!(zip
        .text("csv/crm/interactions.csv")
        .contains("[achtergehouden]"));
    assert!(!zip.everything().contains("verhuisd"));
    assert_eq!(
        zip.text("attachments/web_analytics/1-notitie_analytics.txt"),
        "Cookie-ID 7f3a: 14 bezoeken in oktober"
    );
    assert!(
        !zip.everything().contains("buurman"),
        "the withheld attachment is left out"
    );
    let withheld = zip.json()["withheld"].clone();
    let reasons: Vec<&str> = withheld
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["Noemt een andere klant", "Brief van een derde"]);
    assert_eq!(withheld[1]["attachment"], "brief.pdf");
    // The attachment brings its activity's facts: a recipient outside the EEA, flagged.
    let facts = zip.json()["facts"].clone();
    let analytics = facts
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Webstatistieken")
        .expect("analytics facts");
    assert_eq!(analytics["recipients"][0]["name"], "Clickmetrics Inc.");
    assert_eq!(analytics["recipients"][0]["outside_eea"], true);
    let summary = zip.text("overzicht.html");
    assert!(
        summary.contains("Noemt een andere klant")
            && summary.contains("buiten de Europese Economische Ruimte")
    );
    // What was withheld, named by labels, and why; the marker in the table where it was.
    assert!(
        summary.contains(
            "Contactmomenten, Samenvatting (in één record). Reden: Noemt een andere klant"
        ),
        "{summary}"
    );
    assert!(
        summary.contains("het document brief.pdf")
            && summary.contains("Reden: Brief van een derde"),
        "{summary}"
    );
    assert!(summary.contains("<td>[achtergehouden]</td>"), "{summary}");
    assert!(
        !summary.contains("verhuisd"),
        "the withheld value is not shown"
    );

    // The letter says so too.
    let preview = expect_json(
        desk.app
            .post_json(
                &format!("/api/v1/requests/{}/letters/preview", id(&request)),
                Some(&desk.agent),
                &json!({"letter": "access_answer"}),
            )
            .await,
        200,
    )
    .await;
    let body = preview["body"].as_str().unwrap();
    assert!(
        body.contains("Noemt een andere klant") && body.contains("Brief van een derde"),
        "{body}"
    );
    assert!(body.contains("artikel 15, lid 4"), "{body}");

    // Taking a redaction back gives the value in the next package.
    let first = listed[0]["id"].as_str().unwrap();
    let taken = desk
        .app
        .delete(&format!("{path}/{first}"), Some(&desk.agent))
        .await;
    assert_eq!(taken.status(), 204);
    desk.package(&request, json!({})).await;
    let zip = desk.zip(&desk.link(&request, "access_answer").await).await;
    assert!(zip.everything().contains("verhuisd"));

    // Attachment names and reasons are stored sealed.
    let dump = dump_database(&desk.app).await;
    for secret in [
        "Noemt een andere klant",
        "notitie analytics",
        "14 bezoeken",
        "buurman",
    ] {
        assert!(!dump.contains(secret), "{secret} stored in the clear");
    }
}

/// The sealed package's stored pieces, as the store has them.
fn pieces(desk: &Desk, package: &Value) -> Vec<Vec<u8>> {
    let mut conn = desk.app.store.connection().unwrap();
    let owner = format!("packages/{}", id(package));
    (0..)
        .map_while(|seq| loket::db::models::packages::blob(&mut conn, &owner, seq).unwrap())
        .collect()
}

fn replace_pieces(desk: &Desk, package: &Value, pieces: &[Vec<u8>]) {
    let mut conn = desk.app.store.connection().unwrap();
    let owner = format!("packages/{}", id(package));
    loket::db::models::packages::delete_blobs(&mut conn, &owner).unwrap();
    for (seq, piece) in pieces.iter().enumerate() {
        loket::db::models::packages::insert_blob(&mut conn, &owner, seq as i32, piece).unwrap();
    }
}

async fn verify(desk: &Desk, package: &Value) -> Result<u64, String> {
    let keys = keys_of(&desk.app).await;
    loket::packages::download::verify(&desk.app.store, &keys, id(package).into())
        .await
        .map_err(|e| e.to_string())
}

async fn tampered_or_truncated_packages_fail_with_a_clear_error(desk: Desk) {
    let request = desk.request("access").await;
    // Something that does not compress, so the package spans several sealed chunks.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let noise: Vec<u8> = (0..300_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect();
    expect_json(
        attach(
            &desk,
            &request,
            "ticketing",
            "scan.bin",
            "application/octet-stream",
            noise,
        )
        .await,
        201,
    )
    .await;
    let package = desk.package(&request, json!({"max_downloads": 5})).await;
    let link = desk.link(&request, "access_answer").await;
    let whole = verify(&desk, &package)
        .await
        .expect("the stored package opens");
    assert_eq!(whole, package["plain_bytes"].as_u64().unwrap());
    let original = pieces(&desk, &package);
    assert_eq!(original.len(), 1, "one stored piece");

    // One byte changed in the second chunk.
    const HEADER: usize = 25;
    const SEALED_CHUNK: usize = 64 * 1024 + 16;
    let mut tampered = original.clone();
    tampered[0][HEADER + SEALED_CHUNK + 100] ^= 0x01;
    replace_pieces(&desk, &package, &tampered);
    let error = verify(&desk, &package)
        .await
        .expect_err("a tampered package must not open");
    assert!(error.contains("chunk 1 failed authentication"), "{error}");
    // A download of it breaks off instead of handing out altered data.
    let response = desk.download(&link, None).await;
    assert_eq!(response.status(), 200, "counted before the first byte");
    assert!(
        response.bytes().await.is_err(),
        "the download must break off"
    );

    // Cut off after two whole chunks.
    let mut truncated = original.clone();
    truncated[0].truncate(HEADER + 2 * SEALED_CHUNK);
    replace_pieces(&desk, &package, &truncated);
    let error = verify(&desk, &package)
        .await
        .expect_err("a truncated package must not open");
    assert!(error.contains("truncated"), "{error}");

    replace_pieces(&desk, &package, &original);
    assert_eq!(verify(&desk, &package).await, Ok(whole));
    let zip = desk.zip(&link).await;
    assert_eq!(zip.0["attachments/ticketing/1-scan.bin"].len(), 300_000);
}

async fn expired_used_up_and_wrong_links_are_refused(desk: Desk) {
    let request = desk.request("access").await;
    desk.package(&request, json!({"max_downloads": 1})).await;
    let once = desk.link(&request, "access_answer").await;
    assert_eq!(desk.download(&once, None).await.status(), 200);
    let again = desk.download(&once, None).await;
    assert_eq!(again.status(), 410);
    let page = again.text().await.unwrap();
    assert!(
        page.contains("zo vaak gedownload als mocht") && !page.contains("as often"),
        "in the page's language (Dutch): {page}"
    );
    assert_eq!(desk.app.get(&once, None).await.status(), 410);

    let expiring = desk.package(&request, json!({})).await;
    let link = desk.link(&request, "access_answer").await;
    assert_ne!(link, once);
    desk.raw(&format!(
        "UPDATE packages SET expires_at = '2020-01-01 00:00:00' WHERE id = '{}'",
        id(&expiring)
    ));
    let expired = desk.download(&link, None).await;
    assert_eq!(expired.status(), 410);
    assert!(expired.text().await.unwrap().contains("verlopen"));

    // A link whose signature does not match, or that was never issued.
    let forged = format!("{}x", link);
    assert_eq!(desk.download(&forged, None).await.status(), 403);
    assert_eq!(
        desk.app.get("/packages/not-a-token", None).await.status(),
        403
    );

    // With a passphrase: given once to the agent, asked for on the page, typed loosely.
    let protected = desk.package(&request, json!({"passphrase": true})).await;
    let passphrase = protected["passphrase"]
        .as_str()
        .expect("passphrase shown once")
        .to_string();
    let listed = desk.packages(&request).await;
    assert!(listed[0].get("passphrase").is_none(), "never shown again");
    assert_eq!(listed[0]["passphrase_required"], true);
    let link = desk.link(&request, "access_answer").await;
    let page = desk.app.get(&link, None).await.text().await.unwrap();
    assert!(page.contains("name=\"passphrase\""));
    assert_eq!(desk.download(&link, None).await.status(), 422);
    assert_eq!(
        desk.download(&link, Some("AAAA-BBBB-CCCC-DDDD"))
            .await
            .status(),
        403
    );
    let typed = passphrase.to_lowercase().replace('-', " ");
    assert_eq!(desk.download(&link, Some(&typed)).await.status(), 200);
    let events = desk.audit().await;
    assert!(events
        .iter()
        .any(|e| e["action"] == "package.passphrase_failed"));
    assert!(!serde_json::to_string(&events)
        .unwrap()
        .contains(&passphrase));
    // Five wrong passphrases lock it.
    for _ in 0..5 {
        desk.download(&link, Some("wrong")).await;
    }
    assert_eq!(desk.download(&link, Some(&passphrase)).await.status(), 410);
}

async fn rotated_keys_keep_old_packages_readable(desk: Desk) {
    let request = desk.request("access").await;
    let before = desk.package(&request, json!({})).await;
    let old_link = desk.link(&request, "access_answer").await;
    keys_of(&desk.app)
        .await
        .rotate(Actor::Cli)
        .await
        .expect("rotated");
    let after = desk.package(&request, json!({})).await;
    let new_link = desk.link(&request, "access_answer").await;
    assert_ne!(
        before["key_id"], after["key_id"],
        "new packages use the new key"
    );
    let old = desk.zip(&old_link).await;
    let new = desk.zip(&new_link).await;
    assert_eq!(old.rows("crm", "customers"), new.rows("crm", "customers"));
}

async fn the_sweep_deletes_spent_packages(desk: Desk) {
    let request = desk.request("access").await;
    let used = desk.package(&request, json!({"max_downloads": 1})).await;
    let used_link = desk.link(&request, "access_answer").await;
    desk.zip(&used_link).await;
    let expired = desk.package(&request, json!({})).await;
    let expired_link = desk.link(&request, "access_answer").await;
    desk.raw(&format!(
        "UPDATE packages SET expires_at = '2020-01-01 00:00:00' WHERE id = '{}'",
        id(&expired)
    ));
    let fresh = desk.package(&request, json!({})).await;
    let fresh_link = desk.link(&request, "access_answer").await;

    let sweep = |dry_run: bool| json!({"dry_run": dry_run, "rule": "packages"});
    let dry = desk.sweep(sweep(true)).await;
    assert_eq!(dry[0]["rule"], "packages");
    assert_eq!(dry[0]["matched"], 2, "{dry:?}");
    assert_eq!(pieces(&desk, &used).len(), 1, "a dry run deletes nothing");

    let done = desk.sweep(sweep(false)).await;
    assert_eq!(done[0]["changed"], 2, "{done:?}");
    assert!(pieces(&desk, &used).is_empty() && pieces(&desk, &expired).is_empty());
    assert_eq!(pieces(&desk, &fresh).len(), 1);
    let listed = desk.packages(&request).await;
    let state = |package: &Value| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == package["id"])
            .unwrap()
            .clone()
    };
    assert_eq!(state(&used)["state"], "deleted");
    assert_eq!(state(&used)["deleted_reason"], "download limit reached");
    assert_eq!(state(&expired)["deleted_reason"], "expired");
    assert_eq!(state(&fresh)["state"], "ready");
    assert_eq!(desk.download(&expired_link, None).await.status(), 410);
    assert_eq!(desk.download(&fresh_link, None).await.status(), 200);
    let deleted = desk
        .audit()
        .await
        .iter()
        .filter(|e| e["action"] == "package.deleted")
        .count();
    assert_eq!(deleted, 2);

    // A sweep of everything includes the packages, and finds nothing left to delete.
    let all = desk.sweep(json!({"dry_run": true})).await;
    let packages = all
        .iter()
        .find(|r| r["rule"] == "packages")
        .expect("packages swept");
    assert_eq!(packages["matched"], 0);
    // An agent can issue a new package after the old ones are gone.
    desk.package(&request, json!({})).await;
}

/// A build killed mid-way (`kill -9`) on this host is found by the next package sweep (which runs
/// when `serve` starts), not six hours later; a build still running is left alone.
async fn a_build_whose_process_is_gone_is_cleaned_up_at_once(desk: Desk) {
    let request = desk.request("access").await;
    let killed = desk.package(&request, json!({})).await;
    let running = desk.package(&request, json!({})).await;
    let host = loket::instance::this_host();
    desk.raw(&format!(
        "UPDATE packages SET state = 'building', builder = '{host}-4194999-build' WHERE id = '{}'",
        id(&killed)
    ));
    desk.raw(&format!(
        "UPDATE packages SET state = 'building', builder = '{host}-{}-build' WHERE id = '{}'",
        std::process::id(),
        id(&running)
    ));
    let done = desk
        .sweep(json!({"dry_run": false, "rule": "packages"}))
        .await;
    assert_eq!(done[0]["changed"], 1, "{done:?}");
    assert!(pieces(&desk, &killed).is_empty());
    let listed = desk.packages(&request).await;
    let state = |package: &Value| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == package["id"])
            .unwrap()
            .clone()
    };
    assert_eq!(state(&killed)["state"], "deleted");
    assert_eq!(
        state(&killed)["deleted_reason"],
        "building stopped and was not resumed"
    );
    assert_eq!(state(&running)["state"], "building");
}

async fn package_routes_check_role_and_input(desk: Desk) {
    let request = desk.request("access").await;
    let path = format!("/api/v1/requests/{}/packages", id(&request));
    assert_eq!(
        desk.app.post_json(&path, None, &json!({})).await.status(),
        401
    );
    desk.app.add_user("vera", Role::Service).await;
    let auditor = desk.app.login("vera").await;
    assert_eq!(
        desk.app
            .post_json(&path, Some(&auditor), &json!({}))
            .await
            .status(),
        403
    );

    for (body, field) in [
        (json!({"max_downloads": 0}), "max_downloads"),
        (json!({"expires_in_days": 31}), "expires_in_days"),
        (json!({"language": "de"}), "language"),
        (json!({"format": "pdf"}), "format"),
    ] {
        let refused = expect_json(
            desk.app.post_json(&path, Some(&desk.agent), &body).await,
            422,
        )
        .await;
        assert_eq!(refused["field"], field, "{refused}");
    }
    let erasure = desk.request("erasure").await;
    let refused = expect_json(desk.post_package(&erasure, &json!({})).await, 409).await;
    assert!(refused["message"]
        .as_str()
        .unwrap()
        .contains("access and portability"));
    let unverified = expect_json(desk.app.post_json("/api/v1/requests", Some(&desk.agent), &json!({
        "kind": "access", "channel": "phone", "requester": {"name": "Iemand", "email": "iemand@example.nl"}})).await, 201).await;
    let refused = expect_json(desk.post_package(&unverified, &json!({})).await, 409).await;
    assert!(
        refused["message"].as_str().unwrap().contains("identity"),
        "{refused}"
    );
    assert_eq!(
        desk.app
            .post_json(
                "/api/v1/requests/no-such-request/packages",
                Some(&desk.agent),
                &json!({})
            )
            .await
            .status(),
        404
    );

    // Redactions name what exists, with a reason.
    let redactions = format!("/api/v1/requests/{}/redactions", id(&request));
    for (body, field) in [
        (
            json!({"system": "crm", "table": "interactions", "column": "summary", "reason": " "}),
            "reason",
        ),
        (
            json!({"system": "crm", "table": "interactions", "column": "no_such_column", "reason": "x"}),
            "column",
        ),
        (
            json!({"system": "crm", "table": "no_such_table", "reason": "x"}),
            "table",
        ),
        (
            json!({"system": "nope", "table": "t", "reason": "x"}),
            "system",
        ),
        (json!({"table": "interactions", "reason": "x"}), "system"),
        (json!({"attachment": "nope", "reason": "x"}), "attachment"),
        (
            json!({"system": "crm", "table": "interactions", "row_key": "1", "reason": "x"}),
            "column",
        ),
    ] {
        let refused = expect_json(
            desk.app
                .post_json(&redactions, Some(&desk.agent), &body)
                .await,
            422,
        )
        .await;
        assert_eq!(refused["field"], field, "{body}: {refused}");
    }
    assert_eq!(
        desk.app
            .post_json(
                &redactions,
                Some(&auditor),
                &json!({"system": "crm", "table": "customers", "reason": "x"})
            )
            .await
            .status(),
        403
    );

    // Attachments: a task of a system, a name, a body.
    let empty = expect_json(
        attach(
            &desk,
            &request,
            "ticketing",
            "leeg.txt",
            "text/plain",
            Vec::new(),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(empty["field"], "body");
    let unnamed = expect_json(
        attach(
            &desk,
            &request,
            "ticketing",
            "",
            "text/plain",
            b"x".to_vec(),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(unnamed["field"], "name");
    let no_task = desk
        .app
        .client
        .post(desk.app.url(&format!(
            "/api/v1/requests/{}/attachments?task=nope&name=a.txt",
            id(&request)
        )))
        .bearer_auth(&desk.agent)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(expect_json(no_task, 422).await["field"], "task");
    let missing_query = desk
        .app
        .client
        .post(
            desk.app
                .url(&format!("/api/v1/requests/{}/attachments", id(&request))),
        )
        .bearer_auth(&desk.agent)
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(missing_query.status(), 400);

    // The format is published.
    let schema = desk.app.get("/api/v1/packages/schema", None).await;
    assert_eq!(schema.status(), 200);
    let schema: Value = schema.json().await.unwrap();
    assert_eq!(schema["properties"]["format"]["const"], "loket-package/1");
}
