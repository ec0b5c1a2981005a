//! Answers, deadlines and identity that are right by law (issue 15), end to end over HTTP on
//! SQLite and PostgreSQL: letters are generated through the API and read from the outbox, and
//! their facts are checked against what the connectors found in the organisation's databases.

use crate::common;

use common::targets::TargetDb;
use common::telco::{BILLING, CRM};
use common::{expect_json, TestApp};
use loket::audit::Actor;
use loket::auth::Role;
use loket::config::{Secret, Settings};
use loket::requests::deadline;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const EXAMPLE: &str = include_str!("../../examples/catalog.yaml");

/// The activities of the example catalog whose systems include crm or billing.
const CRM_AND_BILLING_ACTIVITIES: [&str; 5] = [
    "Klantenservice",
    "Facturatie en incasso",
    "Fiscale bewaarplicht",
    "Verkeersgegevens voor facturering",
    "Klachtenafhandeling",
];

/// Seeds the CRM and billing databases (Jan and Piet are customers) and configures both.
fn with_crm_and_billing(settings: &mut Settings) {
    for (system, schema) in [("crm", CRM), ("billing", BILLING)] {
        let db = TargetDb::sqlite_at(&settings.data_dir.join(format!("{system}.db"))).seed(schema);
        settings
            .connectors
            .insert(system.into(), Secret::new(db.url.clone()));
    }
}

/// The default settings.
fn plain(_: &mut Settings) {}

/// The shipped policies with extensions decided by a privacy officer.
fn extensions_by_an_officer(settings: &mut Settings) {
    let dir = settings.data_dir.join("policies");
    std::fs::create_dir_all(&dir).expect("policies dir");
    for entry in std::fs::read_dir("policies").expect("shipped policies") {
        let path = entry.expect("policy file").path();
        let mut text = std::fs::read_to_string(&path).expect("policy file");
        if path.file_name().is_some_and(|name| name == "requests.yaml") {
            text = text.replace(
                "extension_needs_privacy_officer: false",
                "extension_needs_privacy_officer: true",
            );
        }
        std::fs::write(dir.join(path.file_name().expect("file name")), text).expect("copy");
    }
    settings.policies_dir = dir;
}

struct Desk {
    agent: String,
    officer: String,
}

async fn desk(app: &TestApp) -> Desk {
    let document = loket::catalog::parse_yaml(EXAMPLE).expect("example catalog is valid");
    loket::catalog::import(&app.store, Actor::Cli, document)
        .await
        .expect("catalog imported");
    app.add_user("anna", Role::Agent).await;
    app.add_user("fleur", Role::PrivacyOfficer).await;
    Desk {
        agent: app.login("anna").await,
        officer: app.login("fleur").await,
    }
}

/// An access request by phone, identity checked during the call.
fn access_by(name: &str, email: &str, customer_number: &str) -> Value {
    json!({
        "kind": "access",
        "channel": "phone",
        "requester": {"name": name, "email": email, "customer_number": customer_number},
        "identity": {"method": "known_details", "note": "date of birth matched"}
    })
}

async fn register(app: &TestApp, token: &str, body: &Value) -> Value {
    expect_json(
        app.post_json("/api/v1/requests", Some(token), body).await,
        201,
    )
    .await
}

fn id(request: &Value) -> &str {
    request["id"].as_str().expect("id")
}

fn export_tasks(request: &Value) -> Vec<Value> {
    request["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .filter(|t| t["kind"] == "export_data")
        .cloned()
        .collect()
}

fn task_on(request: &Value, kind: &str, system: &str) -> Value {
    common::task_of(request, kind, Some(system)).clone()
}

fn task_of_kind(request: &Value, kind: &str) -> Value {
    common::task_of(request, kind, None).clone()
}

async fn patch_task(
    app: &TestApp,
    token: &str,
    request: &Value,
    task: &Value,
    body: Value,
) -> reqwest::Response {
    let mut body = body;
    body["version"] = task["version"].clone();
    let path = format!(
        "/api/v1/requests/{}/tasks/{}",
        id(request),
        task["id"].as_str().unwrap()
    );
    app.send_json(reqwest::Method::PATCH, &path, Some(token), &body)
        .await
}

/// Runs a task through its system's connector.
async fn run(app: &TestApp, token: &str, request: &Value, task: &Value) -> Value {
    let path = format!(
        "/api/v1/requests/{}/tasks/{}/run",
        id(request),
        task["id"].as_str().unwrap()
    );
    expect_json(
        app.post_json(&path, Some(token), &json!({"version": task["version"]}))
            .await,
        200,
    )
    .await
}

/// Records every open export task as searched with nothing found, as an agent does by hand.
async fn nothing_in_the_rest(app: &TestApp, token: &str, request: &Value) -> Value {
    let mut current = request.clone();
    for task in export_tasks(request)
        .into_iter()
        .filter(|t| t["state"] == "open")
    {
        current = expect_json(
            patch_task(app, token, request, &task, json!({"state": "done", "evidence": "gezocht op klantnummer, niets", "outcome": "not_found"})).await,
            200,
        )
        .await;
    }
    current
}

async fn send(app: &TestApp, token: &str, request: &Value, letter: &str) -> reqwest::Response {
    app.post_json(
        &format!("/api/v1/requests/{}/letters", id(request)),
        Some(token),
        &json!({"letter": letter, "version": request["version"]}),
    )
    .await
}

async fn get(app: &TestApp, token: &str, request: &Value) -> Value {
    expect_json(
        app.get(&format!("/api/v1/requests/{}", id(request)), Some(token))
            .await,
        200,
    )
    .await
}

/// The newest letter of `kind` to a request, decrypted from the outbox.
async fn outbox_body(app: &TestApp, request: &Value, kind: &str) -> String {
    common::outbox_letter(app, id(request), kind).await.1
}

/// The numbered activities of an access answer ("1. Klantenservice").
fn activities_in(letter: &str) -> BTreeSet<String> {
    letter
        .lines()
        .filter_map(|line| {
            let (number, name) = line.split_once(". ")?;
            number.parse::<u32>().ok().map(|_| name.trim().to_string())
        })
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// Audit summaries of a request, as a privacy officer reads them.
async fn audit_summaries(app: &TestApp, officer: &str, request: &Value) -> Vec<String> {
    let path = format!(
        "/api/v1/audit/events?object_type=request&object_id={}&per_page=200",
        request["reference"].as_str().unwrap()
    );
    let page = expect_json(app.get(&path, Some(officer)).await, 200).await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["summary"].as_str().unwrap().to_string())
        .collect()
}

/// Noon UTC `days` ago: the same Dutch calendar day all year.
fn days_ago(days: i64) -> (String, chrono::NaiveDate) {
    let day = loket::requests::today() - chrono::TimeDelta::days(days);
    (format!("{day}T12:00:00Z"), day)
}

backend_tests_with! {
    async fn data_in_two_systems_gives_exactly_their_activities_matching_the_package(app: TestApp) configured with_crm_and_billing; {
        let desk = desk(&app).await;
        let request = register(&app, &desk.agent, &access_by("Jan de Vries", "jan.devries@example.nl", "TN-448812")).await;
        let request = run(&app, &desk.agent, &request, &task_on(&request, "export_data", "crm")).await;
        let request = run(&app, &desk.agent, &request, &task_on(&request, "export_data", "billing")).await;
        let crm = task_on(&request, "export_data", "crm");
        assert_eq!(crm["outcome"], "found", "the connector run records what it found");
        assert!(crm["found_rows"].as_i64().unwrap() >= 3, "{crm}");
        let request = nothing_in_the_rest(&app, &desk.agent, &request).await;

        // Found data and no copy yet: the answer is refused, naming what is missing.
        let error = expect_json(send(&app, &desk.agent, &request, "access_answer").await, 409).await;
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("copy") && message.contains("billing") && message.contains("crm"), "{message}");

        let package = expect_json(app.post_json(&format!("/api/v1/requests/{}/packages", id(&request)), Some(&desk.agent), &json!({})).await, 201).await;
        let in_package: BTreeSet<String> = package["contents"]["rows"].as_object().unwrap().iter()
            .filter(|(_, tables)| tables.as_object().unwrap().values().any(|rows| rows.as_u64().unwrap() > 0))
            .map(|(system, _)| system.clone())
            .collect();
        assert_eq!(in_package, set(&["billing", "crm"]));

        let request = get(&app, &desk.agent, &request).await;
        expect_json(send(&app, &desk.agent, &request, "access_answer").await, 200).await;
        let letter = outbox_body(&app, &request, "access_answer").await;
        assert_eq!(activities_in(&letter), set(&CRM_AND_BILLING_ACTIVITIES), "{letter}");
        assert!(!letter.contains("Direct marketing"), "{letter}");
        assert!(letter.contains("Wij verwerken persoonsgegevens van u"));
        assert!(letter.contains("- KlantBeeld CRM: gegevens van u gevonden ("), "{letter}");
        assert!(letter.contains(": geen gegevens van u gevonden"), "{letter}");
        // The source follows the origin of the data: call detail records are observed, with the
        // network named as their source in the catalog.
        assert!(letter.contains("vastgelegd bij uw gebruik van onze diensten; verkregen van: Netwerkonderdelen"), "{letter}");
        assert!(letter.contains("Bron: van u zelf ontvangen\n"), "{letter}");
        for internal in ["SHA-256", "Run through the connector", "anna", "gezocht op klantnummer"] {
            assert!(!letter.contains(internal), "internal text '{internal}' in the letter:\n{letter}");
        }
    }

    async fn an_english_answer_names_the_activities_in_english(app: TestApp) configured with_crm_and_billing; {
        let desk = desk(&app).await;
        let mut body = access_by("Jan de Vries", "jan.devries@example.nl", "TN-448812");
        body["language"] = json!("en");
        let request = register(&app, &desk.agent, &body).await;
        let request = run(&app, &desk.agent, &request, &task_on(&request, "export_data", "crm")).await;
        let request = run(&app, &desk.agent, &request, &task_on(&request, "export_data", "billing")).await;
        let request = nothing_in_the_rest(&app, &desk.agent, &request).await;
        expect_json(app.post_json(&format!("/api/v1/requests/{}/packages", id(&request)), Some(&desk.agent), &json!({})).await, 201).await;
        let request = get(&app, &desk.agent, &request).await;
        expect_json(send(&app, &desk.agent, &request, "access_answer").await, 200).await;
        let letter = outbox_body(&app, &request, "access_answer").await;
        assert_eq!(
            activities_in(&letter),
            set(&["Customer service", "Invoicing and collection", "Fiscal retention duty", "Traffic data for billing", "Complaint handling"]),
            "{letter}"
        );
        for dutch in CRM_AND_BILLING_ACTIVITIES {
            assert!(!letter.contains(dutch), "the Dutch name {dutch} in an English letter:\n{letter}");
        }
    }

    async fn nothing_found_is_a_complete_answer_not_a_refusal(app: TestApp) configured with_crm_and_billing; {
        let desk = desk(&app).await;
        let request = register(&app, &desk.agent, &access_by("Kees Nieuw", "kees@example.nl", "TN-999999")).await;
        let request = run(&app, &desk.agent, &request, &task_on(&request, "export_data", "crm")).await;
        let request = run(&app, &desk.agent, &request, &task_on(&request, "export_data", "billing")).await;
        assert_eq!(task_on(&request, "export_data", "crm")["outcome"], "not_found");
        let request = nothing_in_the_rest(&app, &desk.agent, &request).await;

        let refusal = app.post_json(&format!("/api/v1/requests/{}/transition", id(&request)), Some(&desk.agent), &json!({
            "version": request["version"], "to": "awaiting_approval", "outcome": "refused",
            "refusal_ground": "no_data_processed", "reason": "Niets gevonden."
        })).await;
        let error = expect_json(refusal, 422).await;
        assert_eq!(error["field"], "refusal_ground");

        let sent = expect_json(send(&app, &desk.agent, &request, "access_answer").await, 200).await;
        let letter = outbox_body(&app, &request, "access_answer").await;
        assert!(letter.contains("Wij verwerken geen persoonsgegevens van u."), "{letter}");
        assert!(activities_in(&letter).is_empty(), "no activities for a person of whom nothing was found:\n{letter}");
        assert!(!letter.contains("wijzen uw verzoek af") && !letter.contains("rechtbank"), "{letter}");
        assert!(letter.contains("Autoriteit Persoonsgegevens"));
        let done = expect_json(app.post_json(&format!("/api/v1/requests/{}/transition", id(&sent)), Some(&desk.agent),
            &json!({"version": sent["version"], "to": "completed"})).await, 200).await;
        assert_eq!(done["state"], "completed", "a complete answer, no approval needed");
    }

    async fn no_access_answer_without_the_copy(app: TestApp) configured plain; {
        let desk = desk(&app).await;
        let request = register(&app, &desk.agent, &access_by("Jan de Vries", "jan.devries@example.nl", "TN-448812")).await;
        let crm = task_on(&request, "export_data", "crm");

        let error = expect_json(patch_task(&app, &desk.agent, &request, &crm, json!({"state": "done", "evidence": "gezocht"})).await, 422).await;
        assert_eq!(error["field"], "outcome");
        let error = expect_json(patch_task(&app, &desk.agent, &request, &crm, json!({"state": "done", "evidence": "gezocht", "outcome": "found"})).await, 422).await;
        assert_eq!(error["field"], "rows");
        let error = expect_json(patch_task(&app, &desk.agent, &request, &crm, json!({"state": "done", "evidence": "gezocht", "outcome": "maybe"})).await, 422).await;
        assert_eq!(error["field"], "outcome");
        let verify = task_of_kind(&request, "confirm_receipt");
        let error = expect_json(patch_task(&app, &desk.agent, &request, &verify, json!({"state": "done", "evidence": "x", "outcome": "found", "rows": 2})).await, 422).await;
        assert_eq!(error["field"], "outcome");

        let request = expect_json(patch_task(&app, &desk.agent, &request, &crm, json!({"state": "done", "evidence": "drie records in het klantbestand", "outcome": "found", "rows": 3})).await, 200).await;
        let request = nothing_in_the_rest(&app, &desk.agent, &request).await;

        // Every task ticked, no package, no attachment: neither the letter nor ticking the
        // answer by hand gets through.
        let error = expect_json(send(&app, &desk.agent, &request, "access_answer").await, 409).await;
        assert!(error["message"].as_str().unwrap().contains("Art. 15(3)"), "{error}");
        let answer = task_of_kind(&request, "send_answer");
        let error = expect_json(patch_task(&app, &desk.agent, &request, &answer, json!({"state": "done", "evidence": "per post"})).await, 409).await;
        assert!(error["message"].as_str().unwrap().contains("copy"), "{error}");
        let error = expect_json(app.post_json(&format!("/api/v1/requests/{}/transition", id(&request)), Some(&desk.agent),
            &json!({"version": request["version"], "to": "completed"})).await, 409).await;
        assert!(error["message"].as_str().unwrap().contains("still open"), "{error}");

        let tomorrow = loket::requests::today() + chrono::TimeDelta::days(1);
        let error = expect_json(app.post_json(&format!("/api/v1/requests/{}/copy", id(&request)), Some(&desk.agent),
            &json!({"version": request["version"], "sent_by_post_on": tomorrow})).await, 422).await;
        assert_eq!(error["field"], "sent_by_post_on");
        let today = loket::requests::today();
        let request = expect_json(app.post_json(&format!("/api/v1/requests/{}/copy", id(&request)), Some(&desk.agent),
            &json!({"version": request["version"], "sent_by_post_on": today})).await, 200).await;
        assert_eq!(request["copy_sent_by_post_on"], json!(today));

        expect_json(send(&app, &desk.agent, &request, "access_answer").await, 200).await;
        let letter = outbox_body(&app, &request, "access_answer").await;
        assert!(letter.contains("per post gestuurd"), "{letter}");
        assert_eq!(activities_in(&letter), set(&["Klantenservice", "Klachtenafhandeling"]), "{letter}");
        assert!(letter.contains("- KlantBeeld CRM: gegevens van u gevonden (3 gegevens)"), "{letter}");
    }

    async fn pauses_need_a_question_before_the_due_date_and_move_it_by_the_days_paused(app: TestApp) configured plain; {
        let desk = desk(&app).await;
        let (received_at, received_on) = days_ago(20);
        let mut body = access_by("Jan de Vries", "jan.devries@example.nl", "TN-448812");
        body["channel"] = json!("letter");
        body["received_at"] = json!(received_at);
        let request = register(&app, &desk.agent, &body).await;
        let first_due = request["due_on"].as_str().unwrap().to_string();
        assert_eq!(first_due, deadline::first_due_date(received_on).to_string());
        let pauses = format!("/api/v1/requests/{}/pauses", id(&request));
        let pause = |extra: Value| {
            let mut body = json!({"version": request["version"]});
            body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            body
        };

        let error = expect_json(app.post_json(&pauses, Some(&desk.agent), &pause(json!({"reason": "clarification"}))).await, 422).await;
        assert_eq!(error["field"], "question", "no pause without a question");
        let error = expect_json(app.post_json(&pauses, Some(&desk.agent), &pause(json!({"reason": "identity", "question": "Wie bent u?"}))).await, 409).await;
        assert!(error["message"].as_str().unwrap().contains("identity was verified"), "{error}");
        let error = expect_json(app.post_json(&pauses, Some(&desk.agent), &pause(json!({"reason": "clarification", "question": "Welke periode?", "asked_via": "phone"}))).await, 422).await;
        assert_eq!(error["field"], "asked_on");
        let before_receipt = received_on - chrono::TimeDelta::days(1);
        let error = expect_json(app.post_json(&pauses, Some(&desk.agent), &pause(json!({"reason": "clarification", "question": "Welke periode?", "asked_via": "phone", "asked_on": before_receipt}))).await, 422).await;
        assert_eq!(error["field"], "asked_on");

        let asked_on = received_on + chrono::TimeDelta::days(5);
        let paused = expect_json(app.post_json(&pauses, Some(&desk.agent), &pause(json!({
            "reason": "clarification", "question": "Over welke periode wilt u inzage?", "asked_via": "phone", "asked_on": asked_on
        }))).await, 200).await;
        assert_eq!(paused["paused"], true);
        assert_eq!(paused["pauses"][0]["started_on"], json!(asked_on));
        assert_eq!(paused["pauses"][0]["question"], "Over welke periode wilt u inzage?");

        let end = format!("/api/v1/requests/{}/pauses/end", id(&request));
        let tomorrow = loket::requests::today() + chrono::TimeDelta::days(1);
        let error = expect_json(app.post_json(&end, Some(&desk.agent), &json!({"version": paused["version"], "answered_on": tomorrow})).await, 422).await;
        assert_eq!(error["field"], "answered_on");
        let error = expect_json(app.post_json(&end, Some(&desk.agent), &json!({"version": paused["version"], "answered_on": asked_on - chrono::TimeDelta::days(1)})).await, 422).await;
        assert_eq!(error["field"], "answered_on");
        let error = expect_json(app.post_json(&end, Some(&desk.agent), &json!({"version": paused["version"]})).await, 422).await;
        assert_eq!(error["field"], "answered_on");

        // Answered on day X: the due date moves by exactly the seven days paused.
        let answered_on = asked_on + chrono::TimeDelta::days(7);
        let resumed = expect_json(app.post_json(&end, Some(&desk.agent), &json!({"version": paused["version"], "answered_on": answered_on})).await, 200).await;
        assert_eq!(resumed["paused"], false);
        let calendar_due = deadline::add_months_clamped(received_on, 1) + chrono::TimeDelta::days(7);
        assert_eq!(resumed["due_on"], json!(deadline::next_working_day_on_or_after(calendar_due)));
        assert_eq!(resumed["pauses"][0]["ended_on"], json!(answered_on));
        assert_eq!(resumed["pauses"][0]["ended_recorded_on"], json!(loket::requests::today()));
        let summaries = audit_summaries(&app, &desk.officer, &request).await;
        assert!(summaries.iter().any(|s| s.contains(&format!("paused from {asked_on}"))), "{summaries:#?}");
        assert!(summaries.iter().any(|s| s.contains(&format!("answer arrived {answered_on}")) && s.contains(&format!("recorded {}", loket::requests::today()))), "{summaries:#?}");

        // A request whose due date has passed cannot be paused any more.
        let (late_at, _) = days_ago(45);
        let mut late = access_by("Jan de Vries", "jan.devries@example.nl", "TN-448812");
        late["channel"] = json!("letter");
        late["received_at"] = json!(late_at);
        let late = register(&app, &desk.agent, &late).await;
        let error = expect_json(app.post_json(&format!("/api/v1/requests/{}/pauses", id(&late)), Some(&desk.agent),
            &json!({"version": late["version"], "reason": "clarification", "question": "Welke periode?"})).await, 409).await;
        assert!(error["message"].as_str().unwrap().contains("has passed"), "{error}");

        // An identity pause while identity is not verified is allowed, and e-mails the question.
        let mut unverified = access_by("Jan de Vries", "jan.devries@example.nl", "TN-448812");
        unverified.as_object_mut().unwrap().remove("identity");
        let unverified = register(&app, &desk.agent, &unverified).await;
        let paused = expect_json(app.post_json(&format!("/api/v1/requests/{}/pauses", id(&unverified)), Some(&desk.agent),
            &json!({"version": unverified["version"], "reason": "identity", "question": "Wilt u de code uit onze sms teruggeven?"})).await, 200).await;
        assert_eq!(paused["state"], "verifying_identity");
        let letter = outbox_body(&app, &unverified, "clarification_question").await;
        assert!(letter.contains("code uit onze sms"), "{letter}");
    }

    async fn extensions_need_a_ground_of_the_law_and_an_explanation(app: TestApp) configured plain; {
        let desk = desk(&app).await;
        let request = register(&app, &desk.agent, &access_by("Jan de Vries", "jan.devries@example.nl", "TN-448812")).await;
        let path = format!("/api/v1/requests/{}/extension", id(&request));
        let error = expect_json(app.post_json(&path, Some(&desk.agent), &json!({"version": request["version"], "reason": "Onze medewerker is op vakantie."})).await, 422).await;
        assert!(error["field"] == "reason" || error["field"] == "ground", "{error}");
        let error = expect_json(app.post_json(&path, Some(&desk.agent), &json!({"version": request["version"], "ground": "holiday", "explanation": "Vakantie."})).await, 422).await;
        assert_eq!(error["field"], "ground");
        let error = expect_json(app.post_json(&path, Some(&desk.agent), &json!({"version": request["version"], "ground": "complexity", "explanation": " "})).await, 422).await;
        assert_eq!(error["field"], "explanation");
        let extended = expect_json(app.post_json(&path, Some(&desk.agent), &json!({"version": request["version"], "ground": "complexity",
            "explanation": "Uw gegevens staan in zeven systemen, waarvan drie alleen met de hand te doorzoeken zijn."})).await, 200).await;
        assert_eq!(extended["extension_ground"], "complexity");
        let letter = outbox_body(&app, &request, "extension_notice").await;
        assert!(letter.contains("De reden: de complexiteit van uw verzoek."), "{letter}");
        assert!(letter.contains("zeven systemen"), "{letter}");
        assert!(letter.contains(&extended["due_on"].as_str().unwrap()[..4]), "{letter}");
    }

    async fn the_receipt_date_is_required_where_a_request_waits_and_told_honestly(app: TestApp) configured plain; {
        let desk = desk(&app).await;
        let mut body = access_by("Jan de Vries", "jan.devries@example.nl", "TN-448812");
        for channel in ["letter", "email", "counter"] {
            body["channel"] = json!(channel);
            let error = expect_json(app.post_json("/api/v1/requests", Some(&desk.agent), &body).await, 422).await;
            assert_eq!(error["field"], "received_at", "{channel}");
        }
        body["channel"] = json!("letter");
        body["received_at"] = json!((chrono::Utc::now() - chrono::TimeDelta::days(400)).to_rfc3339());
        let error = expect_json(app.post_json("/api/v1/requests", Some(&desk.agent), &body).await, 422).await;
        assert_eq!(error["field"], "received_at");

        // A letter registered 40 days late keeps its own date; the confirmation says so.
        let (received_at, received_on) = days_ago(40);
        body["received_at"] = json!(received_at);
        let late = register(&app, &desk.agent, &body).await;
        assert_eq!(late["due_on"], json!(deadline::first_due_date(received_on)));
        assert_eq!(late["overdue"], true);
        let letter = outbox_body(&app, &late, "receipt_confirmation").await;
        assert!(letter.contains("Die datum is voorbij"), "{letter}");
        assert!(!letter.contains("Wij beantwoorden uw verzoek uiterlijk op"), "{letter}");

        // A phone call starts the clock now.
        let mut call = access_by("Jan de Vries", "jan.devries@example.nl", "TN-448812");
        call["channel"] = json!("phone");
        let now = register(&app, &desk.agent, &call).await;
        assert_eq!(now["due_on"], json!(deadline::first_due_date(loket::requests::today())));
        let letter = outbox_body(&app, &now, "receipt_confirmation").await;
        assert!(letter.contains("Wij beantwoorden uw verzoek uiterlijk op"), "{letter}");
    }

    async fn an_id_copy_needs_a_note_why_it_was_necessary(app: TestApp) configured plain; {
        let desk = desk(&app).await;
        let mut body = access_by("Jan de Vries", "jan.devries@example.nl", "TN-448812");
        body["identity"] = json!({"method": "id_document_checked"});
        let error = expect_json(app.post_json("/api/v1/requests", Some(&desk.agent), &body).await, 422).await;
        assert_eq!(error["field"], "identity.note");
        body.as_object_mut().unwrap().remove("identity");
        let request = register(&app, &desk.agent, &body).await;
        let path = format!("/api/v1/requests/{}/identity", id(&request));
        let error = expect_json(app.post_json(&path, Some(&desk.agent), &json!({"version": request["version"], "method": "id_document_checked"})).await, 422).await;
        assert_eq!(error["field"], "note");
        let verified = expect_json(app.post_json(&path, Some(&desk.agent), &json!({"version": request["version"], "method": "id_document_checked",
            "note": "geen e-mailadres of telefoonnummer in het dossier; kopie direct na controle vernietigd"})).await, 200).await;
        assert_eq!(verified["identity_verified"], true);
    }

    async fn partial_refusals_need_approval_and_carry_the_remedies(app: TestApp) configured plain; {
        let desk = desk(&app).await;
        // Access with data withheld (Art. 15(4)).
        let request = register(&app, &desk.agent, &access_by("Jan de Vries", "jan.devries@example.nl", "TN-448812")).await;
        let crm = task_on(&request, "export_data", "crm");
        let request = expect_json(patch_task(&app, &desk.agent, &request, &crm, json!({"state": "done", "evidence": "twee records", "outcome": "found", "rows": 2})).await, 200).await;
        let request = nothing_in_the_rest(&app, &desk.agent, &request).await;
        let request = expect_json(app.post_json(&format!("/api/v1/requests/{}/copy", id(&request)), Some(&desk.agent),
            &json!({"version": request["version"], "sent_by_post_on": loket::requests::today()})).await, 200).await;
        expect_json(app.post_json(&format!("/api/v1/requests/{}/redactions", id(&request)), Some(&desk.agent),
            &json!({"system": "crm", "table": "interactions", "column": "summary", "reason": "Noemt een andere klant."})).await, 201).await;
        let error = expect_json(send(&app, &desk.agent, &request, "access_answer").await, 409).await;
        assert!(error["message"].as_str().unwrap().contains("partial refusal"), "{error}");

        let transition = format!("/api/v1/requests/{}/transition", id(&request));
        let proposed = expect_json(app.post_json(&transition, Some(&desk.agent), &json!({
            "version": request["version"], "to": "awaiting_approval", "outcome": "completed",
            "partial_refusal": "Een notitie over een gesprek noemt een andere klant; die hebben wij weggelaten."
        })).await, 200).await;
        assert_eq!(proposed["state"], "awaiting_approval");
        let error = expect_json(app.post_json(&transition, Some(&desk.agent), &json!({"version": proposed["version"], "to": "completed"})).await, 403).await;
        assert!(error["message"].as_str().unwrap().contains("privacy officer"), "{error}");
        let done = expect_json(app.post_json(&transition, Some(&desk.officer), &json!({"version": proposed["version"], "to": "completed"})).await, 200).await;
        assert_eq!(done["state"], "completed");
        assert_eq!(done["approved_by"], "fleur");
        let letter = outbox_body(&app, &request, "access_answer").await;
        for part in ["Wij wijzen uw verzoek gedeeltelijk af", "noemt een andere klant", "Autoriteit Persoonsgegevens", "binnen zes weken", "rechtbank", "artikel 35 Uitvoeringswet AVG"] {
            assert!(letter.contains(part), "{part}\n{letter}");
        }

        // An objection partly rejected.
        let mut objection = access_by("Jan de Vries", "jan.devries@example.nl", "TN-448812");
        objection["kind"] = json!("objection");
        let mut request = register(&app, &desk.agent, &objection).await;
        for task in request["tasks"].as_array().unwrap().clone().into_iter().filter(|t| t["state"] == "open" && t["kind"] != "send_answer") {
            request = expect_json(patch_task(&app, &desk.agent, &request, &task, json!({"state": "done", "evidence": "gedaan"})).await, 200).await;
        }
        let transition = format!("/api/v1/requests/{}/transition", id(&request));
        let proposed = expect_json(app.post_json(&transition, Some(&desk.agent), &json!({
            "version": request["version"], "to": "awaiting_approval", "outcome": "completed",
            "reason": "Wij sturen u geen reclame meer.",
            "partial_refusal": "Gesprekken blijven wij opnemen: wij hebben dwingende gerechtvaardigde gronden (artikel 21, lid 1 AVG), namelijk het bewijs van afspraken."
        })).await, 200).await;
        expect_json(app.post_json(&transition, Some(&desk.officer), &json!({"version": proposed["version"], "to": "completed"})).await, 200).await;
        let letter = outbox_body(&app, &request, "objection_outcome").await;
        for part in ["Wij sturen u geen reclame meer.", "gedeeltelijk af", "dwingende gerechtvaardigde gronden", "rechtbank", "Autoriteit Persoonsgegevens"] {
            assert!(letter.contains(part), "{part}\n{letter}");
        }
    }

    async fn a_representatives_request_sends_its_letters_to_the_representative(app: TestApp) configured plain; {
        let desk = desk(&app).await;
        let mut body = access_by("Sanne de Vries", "sanne@example.nl", "TN-448813");
        body["identity"] = json!({"method": "representative_authorisation", "note": "uittreksel gezagsregister gezien"});
        let error = expect_json(app.post_json("/api/v1/requests", Some(&desk.agent), &body).await, 422).await;
        assert_eq!(error["field"], "identity.method", "no representative, no authorisation to rely on");
        body["representative"] = json!({"name": "Els de Vries", "relation": "moeder", "kind": "legal_representative", "email": "els@example.nl"});
        let error = expect_json(app.post_json("/api/v1/requests", Some(&desk.agent), &body).await, 422).await;
        assert_eq!(error["field"], "representative.authorisation", "proof is required");
        body["representative"] = json!({"name": "Els de Vries", "relation": "moeder", "email": "els@example.nl", "authorisation": "uittreksel gezagsregister"});
        let error = expect_json(app.post_json("/api/v1/requests", Some(&desk.agent), &body).await, 422).await;
        assert_eq!(error["field"], "representative.kind");

        body["representative"]["kind"] = json!("legal_representative");
        let request = register(&app, &desk.agent, &body).await;
        assert_eq!(request["representative"]["kind"], "legal_representative");
        assert_eq!(request["identity_verified"], true);
        let (recipient, letter) = common::outbox_letter(&app, id(&request), "receipt_confirmation").await;
        assert_eq!(recipient, "els@example.nl", "letters for a child under 16 go to the legal representative");
        assert!(letter.starts_with("Beste Els de Vries,"), "{letter}");
        assert!(letter.contains("wettelijk vertegenwoordiger van uw kind Sanne de Vries"), "{letter}");
        let preview = expect_json(app.post_json(&format!("/api/v1/requests/{}/letters/preview", id(&request)), Some(&desk.agent),
            &json!({"letter": "access_answer"})).await, 200).await;
        assert_eq!(preview["recipient"], "els@example.nl");

        // The public form takes a representative too; the code goes to whoever filled it in.
        let form = json!({"kind": "access", "name": "Sanne de Vries", "email": "els@example.nl",
            "representative": {"name": "Els de Vries", "relation": "moeder", "kind": "legal_representative", "authorisation": "ik heb het ouderlijk gezag"}});
        let submitted = expect_json(app.post_json("/api/v1/public/requests", None, &form).await, 202).await;
        let error = expect_json(app.post_json("/api/v1/public/requests", None, &json!({"kind": "access", "email": "els@example.nl",
            "representative": {"name": "Els de Vries", "relation": "moeder", "kind": "authorised"}})).await, 422).await;
        assert_eq!(error["field"], "representative.authorisation");
        // Until the code comes back the web request is kept apart from the queue: found by reference.
        let reference = submitted["reference"].as_str().unwrap().to_string();
        let web = app
            .store
            .read(move |conn| loket::db::models::requests::find_request_by_reference(conn, &reference))
            .await
            .unwrap()
            .expect("the web request");
        let (recipient, letter) = common::outbox_letter(&app, &web.id, "verification_code").await;
        assert_eq!(recipient, "els@example.nl");
        assert!(letter.contains("uw kind Sanne de Vries"), "{letter}");
    }

    async fn policy_can_leave_extensions_to_a_privacy_officer(app: TestApp) configured extensions_by_an_officer; {
        let desk = desk(&app).await;
        let request = register(&app, &desk.agent, &access_by("Jan de Vries", "jan.devries@example.nl", "TN-448812")).await;
        let path = format!("/api/v1/requests/{}/extension", id(&request));
        let body = json!({"version": request["version"], "ground": "number_of_requests", "explanation": "Wij ontvingen deze maand tien keer zoveel verzoeken als gewoonlijk."});
        let error = expect_json(app.post_json(&path, Some(&desk.agent), &body).await, 403).await;
        assert!(error["message"].as_str().unwrap().contains("privacy officer"), "{error}");
        let extended = expect_json(app.post_json(&path, Some(&desk.officer), &body).await, 200).await;
        assert_eq!(extended["extended"], true);
        let letter = outbox_body(&app, &request, "extension_notice").await;
        assert!(letter.contains("het aantal verzoeken dat wij hebben ontvangen"), "{letter}");
    }
}
