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
        assert!(
            !text.contains(form),
            "the BSN ({form}) is in the {what}:\n{text}"
        );
    }
}

/// Every Art. 13 (and 14) element of the statement at `/privacy`, in both languages, checked
/// against the catalog it was written from.
async fn assert_statement_complete(app: &TestApp, catalog: &str) {
    let document = loket::catalog::parse_yaml(catalog).expect("parses");
    let organisation = document.organisation.as_ref().expect("organisation");
    for (lang, words) in [("nl", STATEMENT_NL), ("en", STATEMENT_EN)] {
        let language = if lang == "nl" {
            loket::vocabulary::Language::Nl
        } else {
            loket::vocabulary::Language::En
        };
        let response = app.get(&format!("/privacy?lang={lang}"), None).await;
        assert_eq!(response.status(), 200);
        let html = response.text().await.unwrap();
        let text = html
            .replace("&amp;", "&")
            .replace("&quot;", "\"")
            .replace("&#39;", "'");
        let must = |what: &str, expected: &str| {
            assert!(
                text.contains(expected),
                "{lang}: {what} ({expected}) missing:\n{text}"
            );
        };
        // Who we are and the DPO (Art. 13(1)(a), (b)).
        must("controller", &organisation.name);
        must("contact", &organisation.contact_email);
        must("DPO", organisation.dpo_email.as_deref().expect("dpo"));
        for activity in &document.activities {
            must("activity", activity.name.get(language));
            // Purposes and legal basis (Art. 13(1)(c)); whether providing data is required (13(2)(e)).
            for purpose in &activity.purposes {
                must("purpose", purpose.get(language));
            }
            let basis = activity.legal_basis.expect("basis");
            must("legal basis", words.bases[basis as usize]);
            must("whether required", words.required(basis));
            if basis == loket::catalog::model::LegalBasis::LegitimateInterests {
                // The legitimate interest itself (Art. 13(1)(d)).
                must("legitimate interest", words.interest);
                must(
                    "the interest",
                    activity.legal_basis_detail.as_deref().expect("interest"),
                );
            }
            // Recipients, transfers and their safeguards (13(1)(e), (f)).
            for recipient in &activity.recipients {
                must("recipient", &recipient.name);
                if recipient.outside_eea() {
                    must("transfer", words.outside_eea);
                    must(
                        "safeguard",
                        words.safeguards[recipient.safeguard.expect("safeguard") as usize],
                    );
                }
            }
            // Retention (13(2)(a)).
            for category in &activity.categories {
                must(
                    "retention",
                    category
                        .retention
                        .as_ref()
                        .expect("retention")
                        .get(language),
                );
            }
            // The source, for data not from the person (Art. 14(2)(f)); automated decisions (13(2)(f)).
            if let Some(source) = &activity.source {
                must("source", source.get(language));
            }
            match &activity.automated_decision_logic {
                Some(logic) => must("automated decision logic", logic.get(language)),
                None => must("no automated decisions", words.no_automated),
            }
        }
        // Every right and how to use it, with the public form linked (13(2)(b)).
        for article in ["15", "16", "17", "18", "20", "21", "22"] {
            must(
                "right",
                &format!("{} {article} {}", words.article, words.law),
            );
        }
        must("link to the form", "<a href=\"/verzoek\">/verzoek</a>");
        // Withdrawing consent where consent is a basis (13(2)(c)); complaint to the AP (13(2)(d)).
        if document
            .activities
            .iter()
            .any(|a| a.legal_basis == Some(loket::catalog::model::LegalBasis::Consent))
        {
            must("withdrawing consent", words.withdraw);
        }
        must("complaint", "Autoriteit Persoonsgegevens");
    }
}

/// The statement's wording the test looks for, per language.
struct StatementWords {
    bases: [&'static str; 6],
    interest: &'static str,
    outside_eea: &'static str,
    safeguards: [&'static str; 4],
    no_automated: &'static str,
    article: &'static str,
    law: &'static str,
    withdraw: &'static str,
    requirement: [&'static str; 3],
}

impl StatementWords {
    fn required(&self, basis: loket::catalog::model::LegalBasis) -> &'static str {
        use loket::catalog::model::LegalBasis::*;
        match basis {
            Contract => self.requirement[0],
            LegalObligation | PublicTask => self.requirement[1],
            _ => self.requirement[2],
        }
    }
}

const STATEMENT_NL: StatementWords = StatementWords {
    bases: [
        "toestemming",
        "uitvoering van een overeenkomst",
        "wettelijke verplichting",
        "vitaal belang",
        "taak van algemeen belang of openbaar gezag",
        "gerechtvaardigd belang",
    ],
    interest: "Ons gerechtvaardigd belang",
    outside_eea: "buiten de EER",
    safeguards: [
        "adequaatheidsbesluit",
        "modelcontractbepalingen",
        "bindende bedrijfsvoorschriften",
        "uitzondering voor een specifieke situatie",
    ],
    no_automated: "Geen geautomatiseerde besluitvorming",
    article: "artikel",
    law: "AVG",
    withdraw: "Uw toestemming intrekken",
    requirement: [
        "Zonder deze gegevens kunnen wij de overeenkomst niet",
        "De wet verplicht",
        "U bent niet verplicht",
    ],
};

const STATEMENT_EN: StatementWords = StatementWords {
    bases: [
        "consent",
        "performance of a contract",
        "legal obligation",
        "vital interests",
        "public task or official authority",
        "legitimate interests",
    ],
    interest: "Our legitimate interest",
    outside_eea: "outside the EEA",
    safeguards: [
        "adequacy decision",
        "standard contractual clauses",
        "binding corporate rules",
        "derogation",
    ],
    no_automated: "No automated decision-making",
    article: "Article",
    law: "GDPR",
    withdraw: "Withdrawing your consent",
    requirement: [
        "Without this data we cannot",
        "The law requires",
        "You are not required",
    ],
};

/// A catalog whose web shop is hosted in the US, with no transfer recorded, and a processor's
/// record with a transfer lacking its safeguard.
fn gappy_transfers() -> Value {
    json!({
        "organisation": {"name": "Webwinkel B.V.", "contact_email": "privacy@webwinkel.example"},
        "systems": [{
            "key": "shop", "name": "Webshop", "owner": "E-commerce", "hosting": "Cloud Inc. (US)",
            "hosting_country": "US", "processor": "Cloud Inc.", "identifier_kinds": ["email"],
            "holdings": [{"category": "contact", "location": "customers", "origin": "provided"}]
        }],
        "activities": [{
            "key": "orders", "name": "Bestellingen", "purposes": ["Orders leveren"], "legal_basis": "contract",
            "data_subjects": ["klanten"], "categories": [{"category": "contact", "retention": "2 jaar"}],
            "recipients": [{"name": "Pakketdienst B.V.", "kind": "controller", "country": "NL"}],
            "security_measures": ["Versleuteling"], "systems": ["shop"]
        }],
        "processing_for_others": [{
            "key": "fulfilment", "name": "Fulfilment voor merken",
            "controllers": [{"name": "Merk B.V.", "contact": "privacy@merk.example"}],
            "categories_of_processing": ["Orders verzenden namens het merk"],
            "transfers": [{"recipient": "Support Ltd.", "country": "IN"}],
            "security_measures": ["Toegang per opdrachtgever"]
        }]
    })
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

    async fn the_intake_answers_with_the_request_as_a_read_gives_it(app: TestApp) {
        // The intake builds its answer from what it wrote, without reading the request back:
        // it must be what the desk reads next, earlier requests and closed tasks included.
        let (agent, _) = desk(&app, TELECOM).await;
        let requester = json!({"name": "Jan de Vries", "email": "jan@example.nl", "customer_number": "TN-448812"});
        let mut erasure = call(requester.clone());
        erasure["kind"] = json!("erasure");
        let mut ids = Vec::new();
        for body in [call(requester), erasure] {
            let answered = expect_json(intake(&app, &agent, &body).await, 201).await;
            let id = answered["id"].as_str().unwrap().to_string();
            let read = expect_json(app.get(&format!("/api/v1/requests/{id}"), Some(&agent)).await, 200).await;
            assert_eq!(answered, read);
            ids.push(id);
        }
        // The second found the first.
        let second = expect_json(app.get(&format!("/api/v1/requests/{}", ids[1]), Some(&agent)).await, 200).await;
        assert_eq!(second["earlier_requests"][0]["id"], ids[0].as_str(), "{second:#}");
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

    async fn hosting_and_transfers_outside_the_eea_need_a_safeguard_and_every_warning_names_its_article(app: TestApp) {
        let document: loket::catalog::model::CatalogDocument = serde_json::from_value(gappy_transfers()).expect("document");
        loket::catalog::import(&app.store, Actor::Cli, document).await.expect("imported");
        let officer = app.token_for(Role::PrivacyOfficer).await;
        let register = expect_json(app.get("/api/v1/ropa", Some(&officer)).await, 200).await;
        let warnings = register["warnings"].as_array().unwrap();
        let hosting = warnings.iter().find(|w| w["code"] == "hosting_without_transfer").expect("hosting warning");
        assert_eq!(hosting["system"], "shop");
        assert_eq!(hosting["field"], "hosting_country");
        assert!(hosting["message"].as_str().unwrap().contains("Art. 30(1)(e), 44-46"));
        let transfer = warnings.iter().find(|w| w["code"] == "transfer_without_safeguard").expect("transfer warning");
        assert_eq!(transfer["for_others"], "fulfilment");
        assert!(transfer["message"].as_str().unwrap().contains("Art. 30(2)(c)"));
        for warning in warnings {
            let message = warning["message"].as_str().unwrap();
            assert!(message.contains("Art. "), "names its article: {message}");
        }
        assert_eq!(register["activities"][0]["systems"][0]["hosting_country"], "US");

        // Recording the transfer with its safeguard closes both gaps.
        let mut fixed = gappy_transfers();
        fixed["activities"][0]["recipients"].as_array_mut().unwrap().push(json!({"name": "Cloud Inc.", "kind": "processor", "country": "US", "safeguard": "standard_contractual_clauses"}));
        fixed["processing_for_others"][0]["transfers"][0]["safeguard"] = json!("standard_contractual_clauses");
        let document: loket::catalog::model::CatalogDocument = serde_json::from_value(fixed).expect("document");
        loket::catalog::import(&app.store, Actor::Cli, document).await.expect("imported");
        let register = expect_json(app.get("/api/v1/ropa", Some(&officer)).await, 200).await;
        assert_eq!(register["warnings"], json!([]));

        // A hosting country must be a country code.
        let mut bad = gappy_transfers()["systems"][0].clone();
        bad["key"] = json!("other");
        bad["hosting_country"] = json!("Verenigde Staten");
        let error = expect_json(app.post_json("/api/v1/catalog/systems", Some(&officer), &bad).await, 422).await;
        assert_eq!(error["field"], "hosting_country");
    }

    async fn the_processor_record_of_article_30_2_is_kept_exported_and_in_the_register(app: TestApp) {
        let (_, officer) = desk(&app, MUNICIPAL).await;
        let register = expect_json(app.get("/api/v1/ropa", Some(&officer)).await, 200).await;
        assert_eq!(register["warnings"], json!([]), "the municipal example is complete");
        let entries = register["processing_for_others"].as_array().unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0]["key"], "belastingen_buurdorp");
        assert_eq!(entries[0]["controllers"][0]["name"], "het college van burgemeester en wethouders van Buurdorp");

        let csv = app.client.get(app.url("/api/v1/ropa?format=csv")).bearer_auth(&officer).send().await.unwrap().text().await.unwrap();
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(header.last().map(String::as_str), Some("record"));
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        let processor_rows: Vec<&csv::StringRecord> = rows.iter().filter(|r| &r[20] == "Art. 30(2)").collect();
        assert_eq!(processor_rows.len(), 1);
        assert!(processor_rows[0][18].contains("on behalf of: het college van burgemeester en wethouders van Buurdorp"));
        assert!(processor_rows[0][18].contains("processor: Gemeente Voorbeeldstad"));
        assert!(processor_rows[0][13].contains("ENSIA"));

        // Over the API like the other catalog items, with validation naming the field.
        let path = "/api/v1/catalog/processing-for-others";
        let mut entry = entries[0].clone();
        entry["key"] = json!("parkeren_buurdorp");
        entry["security_measures"] = json!([]);
        expect_json(app.post_json(path, Some(&officer), &entry).await, 201).await;
        let register = expect_json(app.get("/api/v1/ropa", Some(&officer)).await, 200).await;
        let gap = &register["warnings"][0];
        assert_eq!((gap["for_others"].as_str(), gap["code"].as_str()), (Some("parkeren_buurdorp"), Some("no_security_measures")));
        assert!(gap["message"].as_str().unwrap().contains("Art. 30(2)(d)"));
        let mut bad = entry.clone();
        bad["key"] = json!("nl_transfer");
        bad["transfers"] = json!([{"recipient": "Back-up B.V.", "country": "NL"}]);
        assert_eq!(expect_json(app.post_json(path, Some(&officer), &bad).await, 422).await["field"], "transfers[0].country");
        let agent = app.login("anna").await;
        expect_json(app.post_json(path, Some(&agent), &bad).await, 403).await;
        let exported = expect_json(app.get("/api/v1/catalog/export", Some(&officer)).await, 200).await;
        assert_eq!(exported["processing_for_others"].as_array().unwrap().len(), 2);
        assert_eq!(app.delete(&format!("{path}/parkeren_buurdorp"), Some(&officer)).await.status(), 204);
        let events = expect_json(app.get("/api/v1/audit/events?object_type=processing_for_others&object_id=parkeren_buurdorp", Some(&officer)).await, 200).await;
        assert_eq!(events["total"], 2, "created and deleted, on the audit trail");
    }

    async fn the_telecom_privacy_statement_has_every_article_13_element(app: TestApp) {
        desk(&app, TELECOM).await;
        assert_statement_complete(&app, TELECOM).await;
    }

    async fn the_municipal_privacy_statement_has_every_article_13_element(app: TestApp) {
        desk(&app, MUNICIPAL).await;
        assert_statement_complete(&app, MUNICIPAL).await;
        let nl = app.get("/privacy?lang=nl", None).await.text().await.unwrap();
        assert!(nl.contains("het college van burgemeester en wethouders van Voorbeeldstad"));
    }
}

/// The browser tests, in their own module (one `backend_tests!` per module).
mod in_browser {
    use super::*;

    backend_tests! { browser;
        async fn the_privacy_statement_and_a_masked_bsn_in_the_browser(app: TestApp) {
            let (agent, _) = desk(&app, MUNICIPAL).await;
            let created = expect_json(intake(&app, &agent, &call(json!({
                "name": "Fatima el Amrani", "email": "f.elamrani@example.nl", "bsn": BSN
            }))).await, 201).await;
            let browser = Browser::open(&app.address).await;
            // Dutch on request; without `lang` the browser's language decides.
            browser.goto("/privacy?lang=nl").await;
            assert_eq!(browser.text("h1").await, "Privacyverklaring Gemeente Voorbeeldstad");
            let page = browser.text("body").await;
            for expected in ["Functionaris voor gegevensbescherming", "Basisregistratie Personen", "Uw rechten", "Autoriteit Persoonsgegevens"] {
                assert!(page.contains(expected), "{expected} missing:\n{page}");
            }
            browser.screenshot("privacy-statement").await;
            // The rights paragraph links the public request form.
            browser.find("a[href='/verzoek']").await.click().await.unwrap();
            browser.find("#public-request").await;
            assert_eq!(browser.path().await, "/verzoek");
            browser.goto("/privacy?lang=en").await;
            assert_eq!(browser.text("h1").await, "Privacy statement Gemeente Voorbeeldstad");

            // At the desk the BSN shows masked, never in full.
            browser.sign_in("anna").await;
            browser.goto(&format!("/desk/requests/{}", created["id"].as_str().unwrap())).await;
            assert_eq!(browser.text("#requester-bsn").await, "BSN *****3653");
            let source = browser.client.source().await.unwrap();
            assert_no_bsn("desk page", &source);
            browser.screenshot("request-masked-bsn").await;
            browser.close().await;
        }
    }
}
