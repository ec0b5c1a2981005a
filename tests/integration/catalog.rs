//! The catalog over HTTP and as code: CRUD with validation, import/export, the Art. 30 register.

use crate::common;

use common::{expect_json, TestApp};
use loket::audit::Actor;
use loket::auth::Role;
use serde_json::{json, Value};

const EXAMPLE: &str = include_str!("../../examples/catalog.yaml");

fn system(key: &str) -> Value {
    json!({
        "key": key,
        "name": "Klantsysteem",
        "description": "CRM for the contact centre",
        "owner": "Klantenservice",
        "hosting": "Own data centre, Groningen",
        "processor": null,
        "identifier_kinds": ["email", "customer_number"],
        "connector": "manual",
        "holdings": [
            {"category": "contact", "location": "customers.email", "origin": "provided"},
            {"category": "usage", "location": "events.*", "origin": "observed"}
        ]
    })
}

fn activity(key: &str, systems: &[&str]) -> Value {
    json!({
        "key": key,
        "name": "Klantenservice",
        "description": null,
        "purposes": ["Answering customer questions"],
        "legal_basis": "contract",
        "legal_basis_detail": null,
        "special_category_ground": null,
        "criminal_data_basis": null,
        "data_subjects": ["customers"],
        "categories": [
            {"category": "contact", "retention": "2 years after the last contact"},
            {"category": "usage", "retention": "13 months"}
        ],
        "recipients": [{"name": "Hosting B.V.", "kind": "processor", "country": "NL", "safeguard": null}],
        "security_measures": ["Role-based access", "Encryption at rest"],
        "source": "The customer",
        "automated_decision_logic": null,
        "systems": systems
    })
}

async fn officer(app: &TestApp) -> String {
    app.token_for(Role::PrivacyOfficer).await
}

backend_tests! {
    async fn builtin_taxonomy_is_seeded(app: TestApp) {
        let token = app.token_for(Role::Agent).await;
        let page = expect_json(app.get("/api/v1/catalog/categories?per_page=200", Some(&token)).await, 200).await;
        let codes: Vec<&str> = page["items"].as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap()).collect();
        for code in ["contact", "identity", "financial", "communication_content", "usage", "location", "special_health", "special_biometric", "criminal", "bsn"] {
            assert!(codes.contains(&code), "missing built-in category {code}");
        }
        let bsn = expect_json(app.get("/api/v1/catalog/categories/bsn", Some(&token)).await, 200).await;
        assert_eq!(bsn["sensitivity"], "national_id");
        assert_eq!(bsn["name_nl"], "Burgerservicenummer (BSN)");
        let health = expect_json(app.get("/api/v1/catalog/categories/special_health", Some(&token)).await, 200).await;
        assert_eq!(health["sensitivity"], "special");

        // The migration's seed and the model's copy (used without a database) must not drift.
        let stored = loket::catalog::list::<loket::catalog::model::Category>(&app.store).await.unwrap();
        let mut expected = loket::catalog::model::builtin_categories();
        expected.sort_by(|a, b| a.code.cmp(&b.code));
        assert_eq!(stored, expected);
    }

    async fn system_crud_round_trip(app: TestApp) {
        let token = officer(&app).await;
        let created = expect_json(app.post_json("/api/v1/catalog/systems", Some(&token), &system("crm")).await, 201).await;
        assert_eq!(created, system("crm"));
        let fetched = expect_json(app.get("/api/v1/catalog/systems/crm", Some(&token)).await, 200).await;
        assert_eq!(fetched, system("crm"));

        let mut changed = system("crm");
        changed["holdings"] = json!([{"category": "financial", "location": "invoices.iban", "origin": "provided"}]);
        expect_json(app.put_json("/api/v1/catalog/systems/crm", Some(&token), &changed).await, 200).await;
        let fetched = expect_json(app.get("/api/v1/catalog/systems/crm", Some(&token)).await, 200).await;
        assert_eq!(fetched["holdings"], changed["holdings"]);

        let duplicate = app.post_json("/api/v1/catalog/systems", Some(&token), &system("crm")).await;
        expect_json(duplicate, 409).await;
        let response = app.delete("/api/v1/catalog/systems/crm", Some(&token)).await;
        assert_eq!(response.status(), 204);
        expect_json(app.get("/api/v1/catalog/systems/crm", Some(&token)).await, 404).await;
    }

    async fn lists_are_paginated(app: TestApp) {
        let token = officer(&app).await;
        for key in ["a1", "b2", "c3"] {
            expect_json(app.post_json("/api/v1/catalog/systems", Some(&token), &system(key)).await, 201).await;
        }
        let page = expect_json(app.get("/api/v1/catalog/systems?page=2&per_page=2", Some(&token)).await, 200).await;
        assert_eq!(page["total"], 3);
        assert_eq!(page["page"], 2);
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
        assert_eq!(page["items"][0]["key"], "c3");
        let bad = expect_json(app.get("/api/v1/catalog/systems?per_page=1000", Some(&token)).await, 422).await;
        assert_eq!(bad["field"], "per_page");
    }

    async fn bad_input_names_the_field(app: TestApp) {
        let token = officer(&app).await;
        let post = |body: Value| {
            let token = token.clone();
            let app = &app;
            async move { app.post_json("/api/v1/catalog/systems", Some(&token), &body).await }
        };

        let mut missing = system("crm");
        missing.as_object_mut().unwrap().remove("owner");
        assert_eq!(expect_json(post(missing).await, 422).await["field"], "owner");

        let mut unknown_category = system("crm");
        unknown_category["holdings"][1]["category"] = json!("hobbies");
        let body = expect_json(post(unknown_category).await, 422).await;
        assert_eq!(body["field"], "holdings[1].category");
        assert!(body["message"].as_str().unwrap().contains("hobbies"));

        let mut oversized = system("crm");
        oversized["name"] = json!("x".repeat(5000));
        assert_eq!(expect_json(post(oversized).await, 422).await["field"], "name");

        let mut wrong_type = system("crm");
        wrong_type["identifier_kinds"] = json!("email");
        assert_eq!(expect_json(post(wrong_type).await, 422).await["field"], "identifier_kinds");

        let mut bad_enum = system("crm");
        bad_enum["holdings"][0]["origin"] = json!("guessed");
        assert_eq!(expect_json(post(bad_enum).await, 422).await["field"], "holdings[0].origin");

        let mut hostile_key = system("crm");
        hostile_key["key"] = json!("crm; DROP TABLE systems");
        assert_eq!(expect_json(post(hostile_key).await, 422).await["field"], "key");

        let mut extra = system("crm");
        extra["colour"] = json!("blue");
        assert_eq!(expect_json(post(extra).await, 422).await["field"], "colour");

        let malformed = app
            .send_raw(reqwest::Method::POST, "/api/v1/catalog/systems", Some(&token), "application/json", "{\"key\": \"crm\",".into())
            .await;
        assert_eq!(expect_json(malformed, 400).await["error"], "bad_request");

        let mismatch = app.put_json("/api/v1/catalog/systems/other", Some(&token), &system("crm")).await;
        assert_eq!(expect_json(mismatch, 422).await["field"], "key");

        // Nothing of the above was stored.
        let page = expect_json(app.get("/api/v1/catalog/systems", Some(&token)).await, 200).await;
        assert_eq!(page["total"], 0);
    }

    async fn activities_must_reference_existing_systems(app: TestApp) {
        let token = officer(&app).await;
        let body = expect_json(app.post_json("/api/v1/catalog/activities", Some(&token), &activity("service", &["crm"])).await, 422).await;
        assert_eq!(body["field"], "systems[0]");
        expect_json(app.post_json("/api/v1/catalog/systems", Some(&token), &system("crm")).await, 201).await;
        expect_json(app.post_json("/api/v1/catalog/activities", Some(&token), &activity("service", &["crm"])).await, 201).await;
        // A system in use cannot be deleted; a built-in category never.
        expect_json(app.delete("/api/v1/catalog/systems/crm", Some(&token)).await, 409).await;
        expect_json(app.delete("/api/v1/catalog/categories/contact", Some(&token)).await, 409).await;
    }

    async fn custom_categories(app: TestApp) {
        let token = officer(&app).await;
        let category = json!({"code": "contract_details", "name_nl": "Contractgegevens", "name_en": "Contract details", "description": null, "sensitivity": "normal"});
        expect_json(app.post_json("/api/v1/catalog/categories", Some(&token), &category).await, 201).await;
        let mut renamed = category.clone();
        renamed["name_en"] = json!("Contract data");
        expect_json(app.put_json("/api/v1/catalog/categories/contract_details", Some(&token), &renamed).await, 200).await;
        let builtin = json!({"code": "contact", "name_nl": "x", "name_en": "y", "description": null, "sensitivity": "normal"});
        expect_json(app.put_json("/api/v1/catalog/categories/contact", Some(&token), &builtin).await, 409).await;
        let response = app.delete("/api/v1/catalog/categories/contract_details", Some(&token)).await;
        assert_eq!(response.status(), 204);
    }

    async fn agents_read_but_do_not_edit(app: TestApp) {
        let agent = app.token_for(Role::Agent).await;
        expect_json(app.get("/api/v1/catalog/systems", Some(&agent)).await, 200).await;
        expect_json(app.post_json("/api/v1/catalog/systems", Some(&agent), &system("crm")).await, 403).await;
        expect_json(app.get("/api/v1/ropa", Some(&agent)).await, 403).await;
        expect_json(app.get("/api/v1/catalog/systems", None).await, 401).await;
    }

    async fn changes_are_on_the_audit_trail(app: TestApp) {
        let token = officer(&app).await;
        expect_json(app.post_json("/api/v1/catalog/systems", Some(&token), &system("crm")).await, 201).await;
        // Saving the same thing again is not a change.
        expect_json(app.put_json("/api/v1/catalog/systems/crm", Some(&token), &system("crm")).await, 200).await;
        let events = expect_json(app.get("/api/v1/audit/events?object_type=system&object_id=crm", Some(&token)).await, 200).await;
        assert_eq!(events["total"], 1);
        assert_eq!(events["items"][0]["action"], "catalog.system.created");
        assert_eq!(events["items"][0]["actor"], "user:privacy-officer-1");
    }

    async fn example_catalog_imports_idempotently_and_exports_round_trip(app: TestApp) {
        let document = loket::catalog::parse_yaml(EXAMPLE).expect("example catalog is valid");
        let first = loket::catalog::import(&app.store, Actor::Cli, document.clone()).await.unwrap();
        assert!(first.systems.created >= 6, "{first:?}");
        assert!(first.activities.created >= 5, "{first:?}");
        let second = loket::catalog::import(&app.store, Actor::Cli, document.clone()).await.unwrap();
        assert_eq!(second.systems.created + second.systems.updated, 0);
        assert_eq!(second.activities.created + second.activities.updated, 0);
        assert_eq!(second.categories.created + second.categories.updated, 0);

        let exported = loket::catalog::export(&app.store).await.unwrap();
        let mut expected = document.clone();
        expected.systems.sort_by(|a, b| a.key.cmp(&b.key));
        expected.activities.sort_by(|a, b| a.key.cmp(&b.key));
        expected.categories.sort_by(|a, b| a.code.cmp(&b.code));
        assert_eq!(exported, expected);

        // Export as YAML, import into a fresh database: the same catalog.
        let yaml = serde_yaml::to_string(&exported).unwrap();
        let reparsed = loket::catalog::parse_yaml(&yaml).unwrap();
        assert_eq!(reparsed, exported);

        let token = officer(&app).await;
        let over_http = expect_json(app.get("/api/v1/catalog/export", Some(&token)).await, 200).await;
        assert_eq!(over_http, serde_json::to_value(&exported).unwrap());
    }

    async fn import_is_all_or_nothing(app: TestApp) {
        let mut document = loket::catalog::parse_yaml(EXAMPLE).unwrap();
        document.activities[0].systems.push("no_such_system".into());
        assert!(loket::catalog::import(&app.store, Actor::Cli, document).await.is_err());
        let exported = loket::catalog::export(&app.store).await.unwrap();
        assert!(exported.systems.is_empty());
        assert!(exported.organisation.is_none());
    }

    async fn example_register_has_no_gaps(app: TestApp) {
        let document = loket::catalog::parse_yaml(EXAMPLE).unwrap();
        loket::catalog::import(&app.store, Actor::Cli, document.clone()).await.unwrap();
        let token = officer(&app).await;
        let register = expect_json(app.get("/api/v1/ropa", Some(&token)).await, 200).await;
        assert_eq!(register["warnings"], json!([]));
        assert_eq!(register["activities"].as_array().unwrap().len(), document.activities.len());
        assert!(register["organisation"]["name"].is_string());

        let csv = app.client.get(app.url("/api/v1/ropa?format=csv")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(csv.status(), 200);
        assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
        let text = csv.text().await.unwrap();
        let mut reader = csv_reader(&text);
        assert_eq!(reader.records().count(), document.activities.len());
        expect_json(app.get("/api/v1/ropa?format=pdf", Some(&token)).await, 422).await;
    }

    async fn the_municipal_example_imports_cleanly(app: TestApp) {
        let document = loket::catalog::parse_yaml(include_str!("../../examples/gemeente.yaml")).expect("municipal catalog is valid");
        loket::catalog::import(&app.store, Actor::Cli, document.clone()).await.expect("imported");
        let token = officer(&app).await;
        let register = expect_json(app.get("/api/v1/ropa", Some(&token)).await, 200).await;
        assert_eq!(register["warnings"], json!([]));
        assert_eq!(register["organisation"]["kind"], "public_body");
        assert_eq!(register["organisation"]["decision_body"], "het college van burgemeester en wethouders van Voorbeeldstad");
        let brp = register["activities"].as_array().unwrap().iter().find(|a| a["key"] == "brp").expect("brp");
        assert!(brp["bsn_law"].as_str().unwrap().contains("Wabb art. 10"));
        // Importing it again changes nothing.
        let again = loket::catalog::import(&app.store, Actor::Cli, document).await.expect("imported again");
        assert_eq!(again.organisation.as_deref(), Some("unchanged"), "{again}");
    }

    async fn the_privacy_statement_is_public_in_both_languages(app: TestApp) {
        let document = loket::catalog::parse_yaml(EXAMPLE).unwrap();
        loket::catalog::import(&app.store, Actor::Cli, document).await.unwrap();
        let nl = app.get("/privacy", None).await;
        assert_eq!(nl.status(), 200);
        assert!(nl.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        let nl = nl.text().await.unwrap();
        assert!(nl.contains("<h1>Privacyverklaring Telco Noord B.V.</h1>"), "{nl}");
        assert!(nl.contains("/verzoek") && nl.contains("Autoriteit Persoonsgegevens"));
        let en = app.get("/privacy?lang=en", None).await.text().await.unwrap();
        assert!(en.contains("<h2>Your rights</h2>") && en.contains("Article 15 GDPR"), "{en}");
        let bad = app.get("/privacy?lang=fr", None).await;
        assert_eq!(bad.status(), 400);
    }

    async fn register_warns_about_gaps(app: TestApp) {
        let token = officer(&app).await;
        expect_json(app.post_json("/api/v1/catalog/systems", Some(&token), &system("crm")).await, 201).await;
        let mut gappy = activity("profiling", &["crm"]);
        gappy["legal_basis"] = Value::Null;
        gappy["categories"] = json!([
            {"category": "contact", "retention": null},
            {"category": "special_health", "retention": "1 year"},
            {"category": "bsn", "retention": "1 year"}
        ]);
        gappy["recipients"] = json!([{"name": "Analytics Inc.", "kind": "processor", "country": "US", "safeguard": null}]);
        expect_json(app.post_json("/api/v1/catalog/activities", Some(&token), &gappy).await, 201).await;

        let register = expect_json(app.get("/api/v1/ropa", Some(&token)).await, 200).await;
        let codes: Vec<String> = register["warnings"].as_array().unwrap().iter().map(|w| w["code"].as_str().unwrap().to_string()).collect();
        for expected in ["no_legal_basis", "no_retention", "no_special_category_ground", "national_id_without_named_law", "transfer_without_safeguard"] {
            assert!(codes.iter().any(|c| c == expected), "expected warning {expected}, got {codes:?}");
        }
        let recipient = &register["activities"][0]["recipients"][0];
        assert_eq!(recipient["outside_eea"], true);

        // An empty record run by a processor: no data subjects, categories, recipients or
        // security measures, each a warning of its own.
        let mut hosted = system("hosted");
        hosted["processor"] = json!("Hosting B.V.");
        hosted["holdings"] = json!([]);
        expect_json(app.post_json("/api/v1/catalog/systems", Some(&token), &hosted).await, 201).await;
        let mut empty = activity("empty_record", &["hosted"]);
        for list in ["data_subjects", "categories", "recipients", "security_measures"] {
            empty[list] = json!([]);
        }
        expect_json(app.post_json("/api/v1/catalog/activities", Some(&token), &empty).await, 201).await;
        let register = expect_json(app.get("/api/v1/ropa", Some(&token)).await, 200).await;
        let of_empty: Vec<&Value> = register["warnings"].as_array().unwrap().iter().filter(|w| w["activity"] == "empty_record").collect();
        let codes: Vec<&str> = of_empty.iter().map(|w| w["code"].as_str().unwrap()).collect();
        assert_eq!(codes, ["no_data_subjects", "no_categories", "no_recipients", "no_security_measures"]);
        for warning in register["warnings"].as_array().unwrap() {
            let message = warning["message"].as_str().unwrap();
            assert!(message.contains("Art. ") || message.contains("art. ") || warning["code"] == "no_systems" || warning["code"] == "uncovered_holding" , "names its article: {message}");
        }
    }
}

fn csv_reader(text: &str) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes())
}
