//! Letters as they leave loket: in one language, with the agent's own words and no internal text
//! (usernames, evidence, hashes, table or column names, codes), from the real request flow; and
//! earlier requests found however a customer number or phone number is typed.

use crate::common;
use common::{expect_json, TestApp};
use loket::audit::Actor;
use loket::auth::Role;
use loket::mail::lint;
use loket::vocabulary::Language;
use serde_json::{json, Value};

const EXAMPLE: &str = include_str!("../../examples/catalog.yaml");

async fn setup(app: &TestApp) -> String {
    let document = loket::catalog::parse_yaml(EXAMPLE).expect("example catalog is valid");
    loket::catalog::import(&app.store, Actor::Cli, document)
        .await
        .expect("catalog imported");
    app.add_user("anna", Role::Agent).await;
    app.login("anna").await
}

/// The table names and the column names with an underscore of the example catalog's SQL
/// mappings: never in a letter. (A column such as `charge` is also an English word.)
fn mapped_names() -> Vec<String> {
    let document = loket::catalog::parse_yaml(EXAMPLE).expect("valid");
    let mut names = Vec::new();
    for system in &document.systems {
        for table in system.sql.iter().flat_map(|m| &m.tables) {
            names.push(table.name.clone());
            let columns = table.named_columns().into_iter();
            names.extend(columns.filter(|c| c.contains('_')).map(str::to_string));
        }
    }
    names
}

/// The example catalog's system names of the other language than `language`: an English letter
/// names the systems in English, never by their Dutch names.
fn other_language_names(language: Language) -> Vec<String> {
    let document = loket::catalog::parse_yaml(EXAMPLE).expect("valid");
    let names = document.systems.iter().map(|s| &s.name);
    lint::other_language_names(names, language)
        .into_iter()
        .map(str::to_string)
        .collect()
}

fn call(kind: &str, language: &str, customer_number: &str, phone: &str) -> Value {
    json!({
        "kind": kind,
        "channel": "phone",
        "language": language,
        "requester": {
            "name": "Jan de Vries",
            "email": "jan.devries@example.nl",
            "customer_number": customer_number,
            "phone": phone
        },
        "details": "Beller wil weten welke gegevens wij over hem hebben.",
        "identity": {"method": "known_details", "note": "customer number matched"}
    })
}

/// Closes every open task but the answer with evidence full of internal text, as agents write it.
async fn work(app: &TestApp, token: &str, request: &Value) -> Value {
    let id = request["id"].as_str().unwrap();
    let mut current = request.clone();
    let tasks: Vec<Value> = request["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["state"] == "open" && t["kind"] != "send_answer")
        .cloned()
        .collect();
    for task in tasks {
        let path = format!(
            "/api/v1/requests/{id}/tasks/{}",
            task["id"].as_str().unwrap()
        );
        let mut body = json!({"version": task["version"], "state": "done",
            "evidence": "Run through the connector by anna: crm customers 1, sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"});
        if task["kind"] == "export_data" {
            body["outcome"] = json!("not_found");
        }
        current = expect_json(
            app.send_json(reqwest::Method::PATCH, &path, Some(token), &body)
                .await,
            200,
        )
        .await;
    }
    current
}

backend_tests! {
    async fn answer_letters_carry_the_agents_text_and_no_internal_text(app: TestApp) {
        let token = setup(&app).await;
        let mut internal: Vec<String> = vec!["anna".into()];
        internal.extend(mapped_names());
        let internal: Vec<&str> = internal.iter().map(String::as_str).collect();
        for (kind, letter) in [("erasure", "erasure_confirmation"), ("rectification", "rectification_outcome"), ("objection", "objection_outcome")] {
            for (language, code, message) in [
                (Language::Nl, "nl", "Wij hebben alles nagelopen wat u ons vroeg."),
                (Language::En, "en", "We checked everything you asked us to."),
            ] {
                let created = expect_json(app.post_json("/api/v1/requests", Some(&token), &call(kind, code, "TN-448812", "+31 6 1234 5678")).await, 201).await;
                let id = created["id"].as_str().unwrap();
                let worked = work(&app, &token, &created).await;
                expect_json(app.post_json(&format!("/api/v1/requests/{id}/letters"), Some(&token),
                    &json!({"letter": letter, "version": worked["version"], "message": message})).await, 200).await;
                for sent in ["receipt_confirmation", letter] {
                    let (subject, body) = common::outbox_letter(&app, id, sent).await;
                    let text = format!("{subject}\n{body}");
                    let other = other_language_names(language);
                    let other: Vec<&str> = other.iter().map(String::as_str).collect();
                    let problems = lint::problems_with_names(&text, language, &internal, &other);
                    assert!(problems.is_empty(), "{sent} {code}: {problems:?}\n{text}");
                }
                let (_, body) = common::outbox_letter(&app, id, letter).await;
                assert!(body.contains(message), "{letter} {code}: the agent's text\n{body}");
                if kind == "erasure" {
                    // The systems erased from are named in the letter's own language: the names
                    // the other language's letter must not use.
                    let other = if language == Language::Nl { Language::En } else { Language::Nl };
                    let own = other_language_names(other);
                    assert!(own.iter().any(|name| body.contains(name.as_str())), "{code}: systems by their {code} names\n{body}");
                }
            }
        }
    }

    async fn earlier_requests_match_customer_and_phone_numbers_however_typed(app: TestApp) {
        let token = setup(&app).await;
        let first = expect_json(app.post_json("/api/v1/requests", Some(&token), &call("access", "nl", "TN-448812", "+31 6 1234 5678")).await, 201).await;
        let mut by_number = call("erasure", "nl", "tn 448812", "");
        by_number["requester"] = json!({"name": "J. de Vries", "customer_number": "tn 448812"});
        let by_number = expect_json(app.post_json("/api/v1/requests", Some(&token), &by_number).await, 201).await;
        let mut by_phone = call("objection", "nl", "", "");
        by_phone["requester"] = json!({"name": "J. de Vries", "phone": "+31 (0)6-12 34 56 78"});
        let by_phone = expect_json(app.post_json("/api/v1/requests", Some(&token), &by_phone).await, 201).await;
        for later in [&by_number, &by_phone] {
            let id = later["id"].as_str().unwrap();
            let seen = expect_json(app.get(&format!("/api/v1/requests/{id}"), Some(&token)).await, 200).await;
            let earlier: Vec<&Value> = seen["earlier_requests"].as_array().unwrap().iter().map(|r| &r["id"]).collect();
            assert!(earlier.contains(&&first["id"]), "{id}: {earlier:?}");
        }
        let found = expect_json(app.get("/api/v1/requests?customer_number=TN448812", Some(&token)).await, 200).await;
        assert_eq!(found["total"], 2, "{found}");
    }

    async fn requests_indexed_under_the_old_forms_are_found_after_the_reindex(app: TestApp) {
        let token = setup(&app).await;
        let old = expect_json(app.post_json("/api/v1/requests", Some(&token), &call("access", "nl", "TN-448812", "+31 (0)6 1234 5678")).await, 201).await;
        // As the request was indexed before the forms changed: the customer number with its
        // dash, the phone with the trunk zero after the country code.
        let cipher = common::cipher_of(&app.settings);
        let email = cipher.index("requests.email", "jan.devries@example.nl");
        let number = cipher.index("requests.customer_number", "TN-448812");
        let phone = cipher.index("requests.phone", "00612345678");
        let id = old["id"].as_str().unwrap().to_string();
        let stored = id.clone();
        app.store
            .write(move |conn| loket::db::models::requests::set_indexes(conn, &stored, [Some(email.as_str()), Some(number.as_str()), Some(phone.as_str()), None]))
            .await
            .unwrap();
        let search = |query: &'static str| {
            let (app, token) = (&app, token.clone());
            async move { expect_json(app.get(&format!("/api/v1/requests?{query}"), Some(&token)).await, 200).await["total"].clone() }
        };
        assert_eq!(search("customer_number=tn%20448812").await, 0, "the old hash is not found");
        assert_eq!(search("phone=0612345678").await, 0, "the old hash is not found");

        let changed = loket::requests::reindex::reindex(&app.store, &cipher).await.unwrap();
        assert_eq!(changed, 1);
        assert_eq!(search("customer_number=tn%20448812").await, 1);
        assert_eq!(search("phone=06-12345678").await, 1);
        // Idempotent: a second run changes nothing and leaves no second event.
        assert_eq!(loket::requests::reindex::reindex(&app.store, &cipher).await.unwrap(), 0);
        app.add_user("fleur", Role::PrivacyOfficer).await;
        let officer = app.login("fleur").await;
        let events = expect_json(app.get("/api/v1/audit/events?object_type=requests&object_id=lookup-index&per_page=200", Some(&officer)).await, 200).await;
        let trail = events.to_string();
        assert_eq!(trail.matches("requests.reindexed").count(), 1, "{trail}");
        assert!(!trail.contains("448812") && !trail.contains("612345678"), "no identifier in the trail");
        let unchanged = expect_json(app.get(&format!("/api/v1/requests/{id}"), Some(&token)).await, 200).await;
        assert_eq!(unchanged["version"], old["version"], "the request itself did not change");
    }
}
