//! Issue 18 end to end, on SQLite and PostgreSQL: a BSN as an identifier where a law allows it
//! and nowhere else, kept out of every letter, log line, package summary and audit event; the
//! register's transfer warnings and the processor register (Art. 30(2)); the privacy statement of
//! the telecom and the municipal examples, also in the browser.

use crate::common;

use common::browser::Browser;
use common::{captured_log, cipher_of, dump_database, expect_json, TestApp};
use loket::audit::Actor;
use loket::auth::Role;
use serde_json::{json, Value};

const TELECOM: &str = include_str!("../../examples/catalog.yaml");
const MUNICIPAL: &str = include_str!("../../examples/gemeente.yaml");

/// Passes the eleven-test; written three ways, as people give it.
const BSN: &str = "999993653";
const BSN_FORMS: [&str; 4] = [BSN, "999 993 653", "9999.93.653", "999-993-653"];

/// Imports `catalog` and returns the tokens of an agent (anna) and a privacy officer (fleur).
async fn desk(app: &TestApp, catalog: &str) -> (String, String) {
    let document = loket::catalog::parse_yaml(catalog).expect("example catalog is valid");
    loket::catalog::import(&app.store, Actor::Cli, document)
        .await
        .expect("catalog imported");
    app.add_user("anna", Role::Agent).await;
    app.add_user("fleur", Role::PrivacyOfficer).await;
    (app.login("anna").await, app.login("fleur").await)
}

fn call(requester: Value) -> Value {
    json!({
        "kind": "access",
        "channel": "phone",
        "requester": requester,
        "identity": {"method": "known_details", "note": "geboortedatum en adres kloppen"}
    })
}

async fn intake(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    app.post_json("/api/v1/requests", Some(token), body).await
}

/// Every letter in the outbox, opened: recipient, subject and body.
async fn every_letter(app: &TestApp) -> String {
    use diesel::prelude::*;
    use loket::db::schema::outbox;
    let sealed: Vec<(String, String, String)> = app
        .store
        .read(|conn| {
            outbox::table
                .select((outbox::recipient_enc, outbox::subject_enc, outbox::body_enc))
                .load(conn)
                .map_err(loket::db::StoreError::from)
        })
        .await
        .expect("outbox");
    let cipher = cipher_of(&app.settings);
    sealed
        .iter()
        .map(|(recipient, subject, body)| {
            [
                ("outbox.recipient", recipient),
                ("outbox.subject", subject),
                ("outbox.body", body),
            ]
            .iter()
            .map(|(place, value)| cipher.decrypt(place, value).expect("letter opens"))
            .collect::<Vec<_>>()
            .join("\n")
        })
        .collect::<Vec<_>>()
        .join("\n-----\n")
}

fn assert_no_bsn(what: &str, text: &str) {
    for form in BSN_FORMS {
        assert!(!text.contains(form), "the BSN ({form}) is in the {what}:\n{text}");
    }
}

backend_tests! {
    async fn a_municipality_registers_a_bsn_finds_the_earlier_request_and_never_shows_it(app: TestApp) {
        let log = captured_log();
        let (agent, officer) = desk(&app, MUNICIPAL).await;
        let first = expect_json(intake(&app, &agent, &call(json!({
            "name": "Fatima el Amrani", "email": "f.elamrani@example.nl", "bsn": "999 993 653"
        }))).await, 201).await;
        assert_eq!(first["requester"]["bsn"], "*****3653", "masked in the API view");
        assert_eq!(first["identity_verified"], true);

        // A second call, another address: found by the BSN alone.
        let second = expect_json(intake(&app, &agent, &call(json!({
            "name": "F. el Amrani", "email": "fatima@example.org", "bsn": "9999.93.653"
        }))).await, 201).await;
        let earlier: Vec<&Value> = second["earlier_requests"].as_array().unwrap().iter().collect();
        assert_eq!(earlier.len(), 1, "{second:#}");
        assert_eq!(earlier[0]["id"], first["id"]);
        let found = expect_json(app.get(&format!("/api/v1/requests?bsn={BSN}"), Some(&agent)).await, 200).await;
        assert_eq!(found["total"], 2);
        let others = expect_json(app.get("/api/v1/requests?bsn=111222333", Some(&agent)).await, 200).await;
        assert_eq!(others["total"], 0);

        // Letters: two receipts, a refusal (a besluit), a preview of an answer; a package.
        let id = second["id"].as_str().unwrap();
        let proposed = expect_json(app.post_json(&format!("/api/v1/requests/{id}/transition"), Some(&agent), &json!({
            "version": second["version"], "to": "awaiting_approval", "outcome": "refused",
            "refusal_ground": "manifestly_unfounded_or_excessive",
            "reason": "U heeft deze week al een gelijk verzoek gedaan, dat nog loopt.",
            "justification": "Same request twice in one week; the first is being answered in full."
        })).await, 200).await;
        expect_json(app.post_json(&format!("/api/v1/requests/{id}/transition"), Some(&officer), &json!({
            "version": proposed["version"], "to": "refused"
        })).await, 200).await;
        let first_id = first["id"].as_str().unwrap();
        let preview = expect_json(app.post_json(&format!("/api/v1/requests/{first_id}/letters/preview"), Some(&agent),
            &json!({"letter": "access_answer"})).await, 200).await;
        assert_no_bsn("letter preview", &preview.to_string());
        expect_json(app.post_json(&format!("/api/v1/requests/{first_id}/packages"), Some(&agent), &json!({})).await, 201).await;
        let packages = expect_json(app.get(&format!("/api/v1/requests/{first_id}/packages"), Some(&agent)).await, 200).await;

        let letters = every_letter(&app).await;
        assert!(letters.contains("bezwaar"), "the refusal went out as a besluit:\n{letters}");
        assert_no_bsn("letters", &letters);
        assert_no_bsn("package summary", &packages.to_string());
        let audit = expect_json(app.get("/api/v1/audit/events?per_page=200", Some(&officer)).await, 200).await;
        assert!(audit["total"].as_i64().unwrap() > 5);
        assert_no_bsn("audit trail", &audit.to_string());
        let view = expect_json(app.get(&format!("/api/v1/requests/{first_id}"), Some(&agent)).await, 200).await;
        assert_no_bsn("request view", &view.to_string());
        let queue = expect_json(app.get("/api/v1/requests", Some(&agent)).await, 200).await;
        assert_no_bsn("queue", &queue.to_string());
        assert_no_bsn("log", &log.text());
        // Sealed at rest: the database holds ciphertext and a keyed hash only.
        assert_no_bsn("database", &dump_database(&app).await);
    }

    async fn a_bsn_must_pass_the_eleven_test_and_never_sits_in_free_text(app: TestApp) {
        let (agent, _) = desk(&app, MUNICIPAL).await;
        let wrong = expect_json(intake(&app, &agent, &call(json!({"email": "a@example.nl", "bsn": "999993654"}))).await, 422).await;
        assert_eq!(wrong["field"], "requester.bsn");
        let letters = expect_json(intake(&app, &agent, &call(json!({"email": "a@example.nl", "bsn": "99999365A"}))).await, 422).await;
        assert_eq!(letters["field"], "requester.bsn");
        // Even where the law allows the BSN, free text never holds it: it goes in its own field.
        let mut noted = call(json!({"email": "a@example.nl"}));
        noted["details"] = json!(format!("Mijn BSN is {BSN}"));
        let refused = expect_json(intake(&app, &agent, &noted).await, 422).await;
        assert_eq!(refused["field"], "details");
        assert!(refused["message"].as_str().unwrap().contains("requester.bsn"));
        let listed = expect_json(app.get("/api/v1/requests", Some(&agent)).await, 200).await;
        assert_eq!(listed["total"], 0, "nothing half-stored");
    }

    async fn a_telecom_refuses_a_bsn_but_accepts_numbers_that_pass_the_eleven_test(app: TestApp) {
        let (agent, _) = desk(&app, TELECOM).await;
        let given = expect_json(intake(&app, &agent, &call(json!({"email": "a@example.nl", "bsn": BSN}))).await, 422).await;
        assert_eq!(given["field"], "requester.bsn");
        assert!(given["message"].as_str().unwrap().contains("UAVG art. 46"));
        let mut in_text = call(json!({"email": "a@example.nl"}));
        in_text["details"] = json!(format!("BSN {BSN}"));
        assert_eq!(expect_json(intake(&app, &agent, &in_text).await, 422).await["field"], "details");
        let in_name = call(json!({"name": format!("Jan {BSN}"), "email": "a@example.nl"}));
        assert_eq!(expect_json(intake(&app, &agent, &in_name).await, 422).await["field"], "requester.name");

        // 612345609, 111222333 and 123456782 pass the eleven-test: as a phone, customer and
        // invoice number they are just that.
        let mut numbers = call(json!({"name": "Jan de Vries", "email": "jan@example.nl", "phone": "+31 612345609", "customer_number": "111222333"}));
        numbers["details"] = json!("Het gaat om factuurnummer 123456782 en klantnummer 111222333; bel +31 612345609.");
        let created = expect_json(intake(&app, &agent, &numbers).await, 201).await;
        assert_eq!(created["requester"]["customer_number"], "111222333");
        let listed = expect_json(app.get("/api/v1/requests", Some(&agent)).await, 200).await;
        assert_eq!(listed["total"], 1, "only the lawful request is stored");
    }
}
