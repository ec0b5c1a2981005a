//! Requests end to end over HTTP: intake, checklist, lifecycle, letters, the public web form and
//! the status page, on SQLite and PostgreSQL, with the example telecom catalog loaded.

use crate::common;

use common::{expect_json, TestApp};
use loket::audit::Actor;
use loket::auth::Role;
use serde_json::{json, Value};

const EXAMPLE: &str = include_str!("../../examples/catalog.yaml");

/// The people at the desk.
struct Desk {
    agent: String,
    agent2: String,
    officer: String,
}

async fn desk(app: &TestApp) -> Desk {
    let document = loket::catalog::parse_yaml(EXAMPLE).expect("example catalog is valid");
    loket::catalog::import(&app.store, Actor::Cli, document)
        .await
        .expect("catalog imported");
    app.add_user("anna", Role::Agent).await;
    app.add_user("bram", Role::Agent).await;
    app.add_user("fleur", Role::PrivacyOfficer).await;
    Desk {
        agent: app.login("anna").await,
        agent2: app.login("bram").await,
        officer: app.login("fleur").await,
    }
}

fn phone_call(kind: &str) -> Value {
    json!({
        "kind": kind,
        "channel": "phone",
        "requester": {
            "name": "Jan de Vries",
            "email": "jan.devries@example.nl",
            "customer_number": "TN-448812",
            "phone": "+31 6 1234 5678"
        },
        "details": "Beller wil weten welke gegevens wij over hem hebben.",
        "identity": {"method": "known_details", "note": "customer number and date of birth matched"}
    })
}

async fn register(app: &TestApp, token: &str, body: &Value) -> Value {
    expect_json(
        app.post_json("/api/v1/requests", Some(token), body).await,
        201,
    )
    .await
}

async fn get_request(app: &TestApp, token: &str, id: &str) -> Value {
    expect_json(
        app.get(&format!("/api/v1/requests/{id}"), Some(token))
            .await,
        200,
    )
    .await
}

async fn patch(app: &TestApp, path: &str, token: &str, body: &Value) -> reqwest::Response {
    app.send_json(reqwest::Method::PATCH, path, Some(token), body)
        .await
}

fn open_tasks(request: &Value) -> Vec<Value> {
    request["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["state"] == "open")
        .cloned()
        .collect()
}

fn task_kinds(request: &Value) -> Vec<String> {
    request["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap().to_string())
        .collect()
}

/// Completes every open task but the answer, as an agent would after doing the work.
async fn work_checklist(app: &TestApp, token: &str, request: &Value) -> Value {
    let id = request["id"].as_str().unwrap();
    let mut current = request.clone();
    for task in open_tasks(request) {
        if task["kind"] == "send_answer" {
            continue;
        }
        let path = format!(
            "/api/v1/requests/{id}/tasks/{}",
            task["id"].as_str().unwrap()
        );
        let mut body = json!({"version": task["version"], "state": "done", "evidence": format!("done: {}", task["title_en"])});
        if task["kind"] == "export_data" {
            body["outcome"] = json!("not_found");
        }
        current = expect_json(patch(app, &path, token, &body).await, 200).await;
    }
    current
}

async fn transition(app: &TestApp, token: &str, request: &Value, body: Value) -> reqwest::Response {
    let mut body = body;
    body["version"] = request["version"].clone();
    app.post_json(
        &format!(
            "/api/v1/requests/{}/transition",
            request["id"].as_str().unwrap()
        ),
        Some(token),
        &body,
    )
    .await
}

async fn letters(app: &TestApp, token: &str, id: &str) -> Vec<String> {
    let page = expect_json(
        app.get(&format!("/api/v1/requests/{id}/letters"), Some(token))
            .await,
        200,
    )
    .await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["letter"].as_str().unwrap().to_string())
        .collect()
}

/// Registers a request in `language`, has it refused by the privacy officer and returns the
/// refusal letter as it went out.
async fn refused_letter(app: &TestApp, desk: &Desk, language: &str) -> String {
    let mut request = phone_call("access");
    request["language"] = json!(language);
    let created = register(app, &desk.agent, &request).await;
    let proposed = expect_json(transition(app, &desk.agent, &created, json!({
        "to": "awaiting_approval", "outcome": "refused", "refusal_ground": "identity_not_established",
        "reason": "De gegevens kwamen niet overeen."
    })).await, 200).await;
    expect_json(
        transition(app, &desk.officer, &proposed, json!({"to": "refused"})).await,
        200,
    )
    .await;
    outbox_body(app, created["id"].as_str().unwrap(), "refusal").await
}

/// The body of the newest letter of `kind` to a request, read and decrypted from the outbox table
/// as the delivery worker would.
async fn outbox_body(app: &TestApp, request_id: &str, kind: &str) -> String {
    common::outbox_letter(app, request_id, kind).await.1
}

backend_tests! {
    async fn every_kind_of_request_runs_from_intake_to_completion(app: TestApp) {
        let desk = desk(&app).await;
        let expected_answer = [
            ("access", "access_answer"),
            ("rectification", "rectification_outcome"),
            ("erasure", "erasure_confirmation"),
            ("restriction", "restriction_outcome"),
            ("portability", "portability_answer"),
            ("objection", "objection_outcome"),
            ("human_review", "human_review_outcome"),
        ];
        for (kind, answer) in expected_answer {
            let created = register(&app, &desk.agent, &phone_call(kind)).await;
            assert_eq!(created["state"], "in_progress", "{kind}: identity checked at intake");
            assert_eq!(created["identity_verified"], true);
            let kinds = task_kinds(&created);
            assert_eq!(kinds.first().map(String::as_str), Some("confirm_receipt"), "{kind}");
            assert_eq!(kinds.last().map(String::as_str), Some("send_answer"), "{kind}");
            assert!(kinds.len() > 3, "{kind}: per-system tasks from the catalog: {kinds:?}");
            let id = created["id"].as_str().unwrap().to_string();
            assert!(letters(&app, &desk.agent, &id).await.contains(&"receipt_confirmation".to_string()));

            let worked = work_checklist(&app, &desk.agent, &created).await;
            let still_open: Vec<_> = open_tasks(&worked).iter().map(|t| t["kind"].clone()).collect();
            assert_eq!(still_open, vec![json!("send_answer")], "{kind}");

            let preview = expect_json(app.post_json(&format!("/api/v1/requests/{id}/letters/preview"), Some(&desk.agent), &json!({"letter": answer, "message": "Afgehandeld zoals besproken."})).await, 200).await;
            assert_eq!(preview["recipient"], "jan.devries@example.nl");
            assert!(preview["body"].as_str().unwrap().contains(created["reference"].as_str().unwrap()));

            let sent = expect_json(app.post_json(&format!("/api/v1/requests/{id}/letters"), Some(&desk.agent),
                &json!({"letter": answer, "version": worked["version"], "message": "Afgehandeld zoals besproken."})).await, 200).await;
            assert!(open_tasks(&sent).is_empty(), "{kind}: the answer closes the last task");
            assert!(letters(&app, &desk.agent, &id).await.contains(&answer.to_string()));

            let done = expect_json(transition(&app, &desk.agent, &sent, json!({"to": "completed"})).await, 200).await;
            assert_eq!(done["state"], "completed", "{kind}");
            assert!(done["closed_at"].is_string());
            assert_eq!(done["allowed_transitions"], json!([]));
        }
        let events = expect_json(app.get("/api/v1/audit/events?per_page=200", Some(&desk.officer)).await, 200).await;
        let on_requests = events["items"].as_array().unwrap().iter().filter(|e| e["object_type"] == "request").count();
        assert!(on_requests > 20, "every step is on the audit trail ({on_requests})");
        let verify = expect_json(app.get("/api/v1/audit/verify", Some(&desk.officer)).await, 200).await;
        assert_eq!(verify["broken"], Value::Null);
    }

    async fn erasure_keeps_fiscal_records_under_the_exception(app: TestApp) {
        let desk = desk(&app).await;
        let created = register(&app, &desk.agent, &phone_call("erasure")).await;
        let tasks = created["tasks"].as_array().unwrap();
        let kept: Vec<_> = tasks.iter().filter(|t| t["kind"] == "keep_under_exception").collect();
        assert!(!kept.is_empty(), "billing data is kept: {tasks:#?}");
        let billing = kept.iter().find(|t| t["system_key"] == "billing").expect("billing kept");
        assert!(billing["legal_exception"].as_str().unwrap().contains("17(3)(b)"));
        // Each invoice ends on its own date (its fiscal year end + 7 years), so the task gives
        // the criterion, not a date counted from the request.
        assert!(billing["keep_until"].is_null(), "{billing}");
        assert!(billing["title_en"].as_str().unwrap().contains("7 years after"), "{billing}");
        assert!(tasks.iter().any(|t| t["kind"] == "erase_data" && t["system_key"] == "crm"));
        assert!(tasks.iter().any(|t| t["kind"] == "notify_recipient"), "Art. 19 notifications");

        let worked = work_checklist(&app, &desk.agent, &created).await;
        let id = created["id"].as_str().unwrap();
        expect_json(app.post_json(&format!("/api/v1/requests/{id}/letters"), Some(&desk.agent),
            &json!({"letter": "erasure_confirmation", "version": worked["version"]})).await, 200).await;
        let body = outbox_body(&app, id, "erasure_confirmation").await;
        assert!(body.contains("7 jaar na het begin van de bewaartermijn van elk gegeven") && body.contains("AWR"), "the letter says until when and why data is kept:\n{body}");
    }

    async fn illegal_transitions_say_what_is_allowed(app: TestApp) {
        let desk = desk(&app).await;
        let mut body = phone_call("access");
        body.as_object_mut().unwrap().remove("identity");
        let created = register(&app, &desk.agent, &body).await;
        assert_eq!(created["state"], "received");

        let error = expect_json(transition(&app, &desk.agent, &created, json!({"to": "completed"})).await, 409).await;
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("cannot move from received to completed"), "{message}");
        assert!(message.contains("verifying_identity, in_progress, awaiting_approval, withdrawn"), "{message}");

        // The work cannot start before identity is checked.
        let error = expect_json(transition(&app, &desk.agent, &created, json!({"to": "in_progress"})).await, 409).await;
        assert!(error["message"].as_str().unwrap().contains("identity"));

        let verified = expect_json(app.post_json(&format!("/api/v1/requests/{}/identity", created["id"].as_str().unwrap()), Some(&desk.agent),
            &json!({"version": created["version"], "method": "code_to_known_contact"})).await, 200).await;
        assert_eq!(verified["state"], "in_progress");

        // Completing with open tasks names them.
        let error = expect_json(transition(&app, &desk.agent, &verified, json!({"to": "completed"})).await, 409).await;
        assert!(error["message"].as_str().unwrap().contains("still open"));

        // Only the person withdraws: without their word, or with a word from before the
        // request arrived or from the future, the request stays open.
        let error = expect_json(transition(&app, &desk.agent, &verified, json!({"to": "withdrawn", "reason": "caller withdrew by phone"})).await, 422).await;
        assert_eq!(error["field"], "withdrawal");
        let today = loket::requests::today();
        for (on, field) in [(today + chrono::Duration::days(2), "withdrawal.received_on"), (today - chrono::Duration::days(400), "withdrawal.received_on")] {
            let word = json!({"to": "withdrawn", "withdrawal": {"channel": "phone", "received_on": on, "note": "Belde om het verzoek in te trekken."}});
            let error = expect_json(transition(&app, &desk.agent, &verified, word).await, 422).await;
            assert_eq!(error["field"], field);
        }
        let error = expect_json(transition(&app, &desk.agent, &verified, json!({"to": "withdrawn", "withdrawal": {"channel": "phone", "received_on": today, "note": " "}})).await, 422).await;
        assert_eq!(error["field"], "withdrawal.note");
        let still = expect_json(app.get(&format!("/api/v1/requests/{}", verified["id"].as_str().unwrap()), Some(&desk.agent)).await, 200).await;
        assert_eq!(still["state"], "in_progress", "nothing stored was lost");

        let word = json!({"to": "withdrawn", "withdrawal": {"channel": "phone", "received_on": today, "note": "Belde om het verzoek in te trekken; zijn vraag is al beantwoord."}});
        let withdrawn = expect_json(transition(&app, &desk.agent, &verified, word).await, 200).await;
        assert_eq!(withdrawn["state"], "withdrawn");
        assert!(open_tasks(&withdrawn).is_empty());
        let id = withdrawn["id"].as_str().unwrap();
        let letter = outbox_body(&app, id, "withdrawal_confirmation").await;
        assert!(letter.contains("intrekt"), "the person is told, so a withdrawal they did not make shows: {letter}");
        assert!(!letter.contains("Belde om"), "the agent's note stays out of the letter: {letter}");
        let stats = expect_json(app.get("/api/v1/stats", Some(&desk.agent)).await, 200).await;
        assert_eq!(stats["withdrawn"], 1, "withdrawn requests are their own line: {stats}");
        assert_eq!(stats["closed"], 0, "and not answered ones");
        let error = expect_json(transition(&app, &desk.agent, &withdrawn, json!({"to": "in_progress"})).await, 409).await;
        assert!(error["message"].as_str().unwrap().contains("closed"));

        // A stale version is refused.
        let error = expect_json(transition(&app, &desk.agent, &created, json!({"to": "withdrawn", "reason": "x"})).await, 409).await;
        assert!(error["message"].as_str().unwrap().contains("changed by someone else"));
    }

    async fn a_refusal_needs_reasons_and_a_privacy_officers_approval(app: TestApp) {
        let desk = desk(&app).await;
        let created = register(&app, &desk.agent, &phone_call("access")).await;
        let id = created["id"].as_str().unwrap();

        let error = expect_json(transition(&app, &desk.agent, &created, json!({"to": "awaiting_approval", "outcome": "refused", "refusal_ground": "manifestly_unfounded_or_excessive"})).await, 422).await;
        assert_eq!(error["field"], "reason");
        let error = expect_json(transition(&app, &desk.agent, &created, json!({"to": "awaiting_approval", "outcome": "refused", "refusal_ground": "manifestly_unfounded_or_excessive", "reason": "Twelfth identical request this month."})).await, 422).await;
        assert_eq!(error["field"], "justification");

        let proposed = expect_json(transition(&app, &desk.agent, &created, json!({
            "to": "awaiting_approval", "outcome": "refused", "refusal_ground": "manifestly_unfounded_or_excessive",
            "reason": "U heeft deze maand twaalf keer hetzelfde verzoek gedaan.",
            "justification": "12 identical requests in 30 days, each answered in full; see earlier requests."
        })).await, 200).await;
        assert_eq!(proposed["state"], "awaiting_approval");
        assert_eq!(proposed["proposed_by"], "anna");

        // An agent cannot approve, the officer's preview shows the refusal letter.
        let error = expect_json(transition(&app, &desk.agent2, &proposed, json!({"to": "refused"})).await, 403).await;
        assert!(error["message"].as_str().unwrap().contains("privacy officer"));
        let preview = expect_json(app.post_json(&format!("/api/v1/requests/{id}/letters/preview"), Some(&desk.officer), &json!({"letter": "refusal"})).await, 200).await;
        assert!(preview["body"].as_str().unwrap().contains("Autoriteit Persoonsgegevens"));

        let refused = expect_json(transition(&app, &desk.officer, &proposed, json!({"to": "refused"})).await, 200).await;
        assert_eq!(refused["state"], "refused");
        assert_eq!(refused["approved_by"], "fleur");
        assert!(open_tasks(&refused).is_empty());
        assert!(letters(&app, &desk.agent, id).await.contains(&"refusal".to_string()));
        let body = outbox_body(&app, id, "refusal").await;
        assert!(body.contains("Autoriteit Persoonsgegevens"), "{body}");
        assert!(body.contains("twaalf keer"), "the written reason reaches the person");
    }

    async fn a_refusal_names_the_remedy_of_the_kind_of_controller(app: TestApp) {
        let desk = desk(&app).await;
        // The telecom is a private controller: the petition to the district court.
        let private_nl = refused_letter(&app, &desk, "nl").await;
        assert!(private_nl.contains("artikel 35 Uitvoeringswet AVG") && private_nl.contains("rechtbank"), "{private_nl}");
        assert!(!private_nl.contains("bezwaar"), "{private_nl}");

        // The same desk as a municipality: the refusal is a besluit open to bezwaar.
        let admin = app.token_for(Role::Admin).await;
        let mut organisation = expect_json(app.get("/api/v1/catalog/organisation", Some(&admin)).await, 200).await;
        organisation["kind"] = json!("public_body");
        let missing = expect_json(app.put_json("/api/v1/catalog/organisation", Some(&admin), &organisation).await, 422).await;
        assert!(missing["field"].as_str().unwrap().ends_with("decision_body"), "{missing}");
        organisation["decision_body"] = json!("het college van burgemeester en wethouders van Groningen");
        expect_json(app.put_json("/api/v1/catalog/organisation", Some(&admin), &organisation).await, 200).await;
        for (language, article, bezwaar, court) in [
            ("nl", "artikel 34 Uitvoeringswet AVG", "bezwaar maken bij het college van burgemeester en wethouders van Groningen", "rechtbank"),
            ("en", "Article 34", "objection (bezwaar) with het college van burgemeester en wethouders van Groningen", "district court"),
        ] {
            let letter = refused_letter(&app, &desk, language).await;
            assert!(letter.contains(article) && letter.contains(bezwaar), "{letter}");
            assert!(letter.contains("six weeks") || letter.contains("zes weken"), "{letter}");
            assert!(letter.contains("Postbus 4120, 9701 EC Groningen"), "where to send the bezwaar: {letter}");
            assert!(letter.contains("Autoriteit Persoonsgegevens"), "{letter}");
            assert!(!letter.contains(court), "no petition to the court: {letter}");
        }
    }

    async fn two_agents_on_one_task_cannot_lose_an_update(app: TestApp) {
        let desk = desk(&app).await;
        let created = register(&app, &desk.agent, &phone_call("access")).await;
        let id = created["id"].as_str().unwrap();
        let task = open_tasks(&created).into_iter().find(|t| t["kind"] == "export_data").unwrap();
        let path = format!("/api/v1/requests/{id}/tasks/{}", task["id"].as_str().unwrap());
        let first = json!({"version": task["version"], "state": "done", "evidence": "exported 14 rows", "outcome": "found", "rows": 14});
        let second = json!({"version": task["version"], "state": "not_applicable", "reason": "not a customer of this system"});
        let (a, b) = tokio::join!(patch(&app, &path, &desk.agent, &first), patch(&app, &path, &desk.agent2, &second));
        let mut statuses = vec![a.status().as_u16(), b.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, vec![200, 409], "exactly one of two concurrent updates wins");

        let now = get_request(&app, &desk.agent, id).await;
        let stored = now["tasks"].as_array().unwrap().iter().find(|t| t["id"] == task["id"]).unwrap();
        assert_eq!(stored["version"], task["version"].as_i64().unwrap() + 1);
        // Work on another task of the same request is not blocked by that.
        let other = open_tasks(&now).into_iter().find(|t| t["kind"] == "export_data" && t["id"] != task["id"]).unwrap();
        let path = format!("/api/v1/requests/{id}/tasks/{}", other["id"].as_str().unwrap());
        expect_json(patch(&app, &path, &desk.agent2, &json!({"version": other["version"], "assignee": "bram"})).await, 200).await;

        let error = expect_json(patch(&app, &path, &desk.agent, &json!({"version": other["version"], "state": "done"})).await, 422).await;
        assert_eq!(error["field"], "evidence");
        let error = expect_json(patch(&app, &path, &desk.agent, &json!({"version": 1, "assignee": "nobody-here"})).await, 409).await;
        assert!(error["message"].as_str().unwrap().contains("changed by someone else"));
    }

    async fn pauses_and_the_extension_move_the_due_date(app: TestApp) {
        let desk = desk(&app).await;
        let created = register(&app, &desk.agent, &phone_call("access")).await;
        let id = created["id"].as_str().unwrap();
        let first_due = created["due_on"].as_str().unwrap().to_string();

        let paused = expect_json(app.post_json(&format!("/api/v1/requests/{id}/pauses"), Some(&desk.agent),
            &json!({"version": created["version"], "reason": "clarification", "question": "Over welke periode wilt u inzage?"})).await, 200).await;
        let today = loket::requests::today();
        assert_eq!(paused["paused"], true);
        // The person's status link says so too (read in one statement with the request).
        let link = loket::auth::TokenService::new(common::JWT_SECRET.as_bytes(), 0)
            .issue_link(loket::requests::STATUS_LINK_AUDIENCE, id, 3600)
            .unwrap();
        let status_url = format!("/api/v1/public/status/{link}");
        let status = expect_json(app.get(&status_url, None).await, 200).await;
        assert_eq!((status["paused"].clone(), status["due_on"].clone()), (json!(true), paused["due_on"].clone()));
        assert!(letters(&app, &desk.agent, id).await.contains(&"clarification_question".to_string()));
        let error = expect_json(app.post_json(&format!("/api/v1/requests/{id}/pauses"), Some(&desk.agent),
            &json!({"version": paused["version"], "reason": "clarification", "question": "Nog een vraag?"})).await, 409).await;
        assert!(error["message"].as_str().unwrap().contains("already paused"));
        let resumed = expect_json(app.post_json(&format!("/api/v1/requests/{id}/pauses/end"), Some(&desk.agent),
            &json!({"version": paused["version"], "answered_on": today})).await, 200).await;
        assert_eq!(resumed["paused"], false);
        assert_eq!(resumed["pauses"].as_array().unwrap().len(), 1);
        let status = expect_json(app.get(&status_url, None).await, 200).await;
        assert_eq!((status["paused"].clone(), status["due_on"].clone()), (json!(false), resumed["due_on"].clone()));
        // Read again, the request has its pause (the row's mark, kept by the database, says to look).
        let read = get_request(&app, &desk.agent, id).await;
        assert_eq!((read["pauses"].as_array().unwrap().len(), read["due_on"].clone()), (1, resumed["due_on"].clone()));

        let error = expect_json(app.post_json(&format!("/api/v1/requests/{id}/extension"), Some(&desk.agent),
            &json!({"version": resumed["version"], "ground": "complexity", "explanation": ""})).await, 422).await;
        assert_eq!(error["field"], "explanation");
        let extended = expect_json(app.post_json(&format!("/api/v1/requests/{id}/extension"), Some(&desk.agent),
            &json!({"version": resumed["version"], "ground": "complexity", "explanation": "Uw gegevens staan in zes systemen; dat kost meer tijd."})).await, 200).await;
        assert_eq!(extended["extended"], true);
        assert!(extended["due_on"].as_str().unwrap() > first_due.as_str());
        assert!(letters(&app, &desk.agent, id).await.contains(&"extension_notice".to_string()));
        let error = expect_json(app.post_json(&format!("/api/v1/requests/{id}/extension"), Some(&desk.agent),
            &json!({"version": extended["version"], "ground": "complexity", "explanation": "again"})).await, 409).await;
        assert!(error["message"].as_str().unwrap().contains("already extended"));
    }

    async fn a_late_extension_is_refused(app: TestApp) {
        let desk = desk(&app).await;
        let mut body = phone_call("access");
        body["channel"] = json!("letter");
        body["received_at"] = json!((chrono::Utc::now() - chrono::TimeDelta::days(45)).to_rfc3339());
        let created = register(&app, &desk.agent, &body).await;
        assert_eq!(created["overdue"], true);
        let error = expect_json(app.post_json(&format!("/api/v1/requests/{}/extension", created["id"].as_str().unwrap()), Some(&desk.agent),
            &json!({"version": created["version"], "ground": "complexity", "explanation": "complex"})).await, 409).await;
        assert!(error["message"].as_str().unwrap().contains("before the first due date"));
    }

    async fn bad_intake_is_refused_field_by_field(app: TestApp) {
        let desk = desk(&app).await;
        let cases = [
            (json!({"channel": "phone", "requester": {"email": "a@b.nl"}}), "kind"),
            (json!({"kind": "wishes", "channel": "phone", "requester": {"email": "a@b.nl"}}), "kind"),
            (json!({"kind": "access", "channel": "phone", "requester": {"name": "Jan"}}), "requester"),
            (json!({"kind": "access", "channel": "phone", "requester": {"email": "not an address"}}), "requester.email"),
            (json!({"kind": "access", "channel": "phone", "requester": {"email": "a@b.nl", "bsn": "111222333"}}), "requester.bsn"),
            (json!({"kind": "access", "channel": "phone", "requester": {"email": "a@b.nl"}, "details": "mijn bsn is 111222333"}), "details"),
            (json!({"kind": "access", "channel": "phone", "requester": {"email": "a@b.nl"}, "details": "x".repeat(10_001)}), "details"),
            (json!({"kind": "access", "channel": "phone", "requester": {"email": "a@b.nl"}, "received_at": "2999-01-01T00:00:00Z"}), "received_at"),
        ];
        for (body, field) in cases {
            let error = expect_json(app.post_json("/api/v1/requests", Some(&desk.agent), &body).await, 422).await;
            assert_eq!(error["field"], field, "{body}");
        }
        let response = app.send_raw(reqwest::Method::POST, "/api/v1/requests", Some(&desk.agent), "application/json", "{\"kind\": ".into()).await;
        assert_eq!(response.status(), 400);
        let listed = expect_json(app.get("/api/v1/requests", Some(&desk.agent)).await, 200).await;
        assert_eq!(listed["total"], 0, "nothing half-stored");
    }

    async fn numbers_that_pass_the_eleven_test_are_not_refused_as_a_bsn(app: TestApp) {
        let desk = desk(&app).await;
        // 612345609 and 111222333 pass the eleven-test; as a phone and a customer number they are
        // just that, and the person must be able to file a request.
        let mut call = phone_call("access");
        call["requester"]["phone"] = json!("+31 612345609");
        call["requester"]["customer_number"] = json!("111222333");
        call["details"] = json!("Terugbellen op +31 612345609 graag, factuur 2026.00.123.");
        let created = register(&app, &desk.agent, &call).await;
        assert_eq!(created["state"], "in_progress", "{created}");
        // At a telecom a BSN in free text is still refused.
        call["details"] = json!("Mijn BSN is 1112.22.333.");
        let error = expect_json(app.post_json("/api/v1/requests", Some(&desk.agent), &call).await, 422).await;
        assert_eq!(error["field"], "details");
        assert!(error["message"].as_str().unwrap().contains("UAVG art. 46"));
    }

    async fn roles_guard_every_request_route(app: TestApp) {
        let desk = desk(&app).await;
        let service = app.token_for(Role::Service).await;
        assert_eq!(app.get("/api/v1/requests", None).await.status(), 401);
        assert_eq!(app.get("/api/v1/requests", Some(&service)).await.status(), 403);
        assert_eq!(app.post_json("/api/v1/requests", Some(&service), &phone_call("access")).await.status(), 403);
        assert_eq!(app.get("/api/v1/stats", Some(&service)).await.status(), 403);
        let created = register(&app, &desk.agent, &phone_call("access")).await;
        let id = created["id"].as_str().unwrap();
        assert_eq!(app.get(&format!("/api/v1/requests/{id}"), Some(&service)).await.status(), 403);
        assert_eq!(app.get(&format!("/api/v1/requests/{id}/letters"), Some(&service)).await.status(), 403);
        assert_eq!(app.get("/api/v1/requests/no-such-id", Some(&desk.agent)).await.status(), 404);
    }

    async fn the_queue_filters_sorts_and_finds_earlier_requests(app: TestApp) {
        let desk = desk(&app).await;
        let first = register(&app, &desk.agent, &phone_call("access")).await;
        let mut other = phone_call("erasure");
        other["requester"] = json!({"name": "Els Bakker", "email": "els@example.nl"});
        register(&app, &desk.agent, &other).await;
        let mut late = phone_call("objection");
        late["channel"] = json!("letter");
        late["received_at"] = json!((chrono::Utc::now() - chrono::TimeDelta::days(40)).to_rfc3339());
        // Same person, other spelling of the e-mail address and phone number.
        late["requester"] = json!({"email": " Jan.DeVries@Example.nl", "phone": "06-12345678"});
        let late = register(&app, &desk.agent, &late).await;

        let queue = expect_json(app.get("/api/v1/requests", Some(&desk.agent)).await, 200).await;
        assert_eq!(queue["total"], 3);
        assert_eq!(queue["items"][0]["id"], late["id"], "soonest due first");
        assert_eq!(queue["items"][0]["overdue"], true);

        let by_kind = expect_json(app.get("/api/v1/requests?kind=erasure", Some(&desk.agent)).await, 200).await;
        assert_eq!(by_kind["total"], 1);
        let by_email = expect_json(app.get("/api/v1/requests?email=jan.devries%40example.nl", Some(&desk.agent)).await, 200).await;
        assert_eq!(by_email["total"], 2);
        let by_phone = expect_json(app.get("/api/v1/requests?phone=%2B31612345678", Some(&desk.agent)).await, 200).await;
        assert_eq!(by_phone["total"], 2);
        let error = expect_json(app.get("/api/v1/requests?state=lost", Some(&desk.agent)).await, 422).await;
        assert_eq!(error["field"], "state");
        let error = expect_json(app.get("/api/v1/requests?due_before=tomorrow", Some(&desk.agent)).await, 422).await;
        assert_eq!(error["field"], "due_before");

        let again = get_request(&app, &desk.agent, first["id"].as_str().unwrap()).await;
        let earlier: Vec<_> = again["earlier_requests"].as_array().unwrap().iter().map(|r| r["id"].clone()).collect();
        assert_eq!(earlier, vec![late["id"].clone()]);

        let stats = expect_json(app.get("/api/v1/stats", Some(&desk.officer)).await, 200).await;
        assert_eq!(stats["open"], 3);
        assert_eq!(stats["overdue"], 1);
        assert_eq!(stats["open_by_kind"]["erasure"], 1);
        assert_eq!(stats["answered_within_one_month"], Value::Null);
    }

    async fn the_web_form_counts_once_the_code_comes_back(app: TestApp) {
        let desk = desk(&app).await;
        let form = json!({"kind": "access", "name": "Piet Smit", "email": "piet@example.nl", "details": "Graag inzage."});
        let submitted = expect_json(app.post_json("/api/v1/public/requests", None, &form).await, 202).await;
        let reference = submitted["reference"].as_str().unwrap().to_string();
        // Kept apart until the address is confirmed: not in the queue.
        let queue = expect_json(app.get("/api/v1/requests", Some(&desk.agent)).await, 200).await;
        assert_eq!(queue["total"], 0);
        let lookup = reference.clone();
        let row = app
            .store
            .read(move |conn| loket::db::models::requests::find_request_by_reference(conn, &lookup))
            .await
            .unwrap()
            .expect("stored apart");
        assert!(!row.email_confirmed);
        assert_eq!(row.channel, loket::vocabulary::Channel::WebForm);
        let id = row.id;
        assert_eq!(letters(&app, &desk.agent, &id).await, vec!["verification_code".to_string()]);

        let body = outbox_body(&app, &id, "verification_code").await;
        let code: String = body.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == 6).expect("a six-digit code in the letter").to_string();
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let confirm = format!("/api/v1/public/requests/{reference}/confirm");
        let error = expect_json(app.post_json(&confirm, None, &json!({"code": wrong})).await, 422).await;
        assert_eq!(error["field"], "code");
        let status = expect_json(app.post_json(&confirm, None, &json!({"code": code})).await, 200).await;
        assert_eq!(status["reference"], reference.as_str());
        assert_eq!(status["state"], "received");
        expect_json(app.post_json(&confirm, None, &json!({"code": code})).await, 409).await;

        let request = get_request(&app, &desk.agent, &id).await;
        assert_eq!(request["email_confirmed"], true);
        assert!(letters(&app, &desk.agent, &id).await.contains(&"receipt_confirmation".to_string()));

        // The receipt confirmation carries the status link; it shows state and due date only.
        let receipt = outbox_body(&app, &id, "receipt_confirmation").await;
        let link = receipt.split_whitespace().find(|w| w.contains("/status/")).expect("status link in the letter");
        let token = link.rsplit('/').next().unwrap().trim_end_matches(['.', ',', ')', '>']);
        let status = expect_json(app.get(&format!("/api/v1/public/status/{token}"), None).await, 200).await;
        assert_eq!(status["due_on"], request["due_on"]);
        assert!(status.get("requester").is_none());
        let page = app.get(&format!("/status/{token}"), None).await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains(&reference) && !html.contains("Piet"));
        // It names the organisation and its privacy contact, and spells its dates.
        assert!(html.contains("Telco Noord B.V.") && html.contains("fg@telconoord.example"), "{html}");
        assert!(!html.contains(request["due_on"].as_str().unwrap()), "an ISO date on the page: {html}");
        assert_eq!(app.get("/api/v1/public/status/not-a-token", None).await.status(), 403);
        assert_eq!(app.get("/status/not-a-token", None).await.status(), 404);
    }

    async fn encrypted_columns_hold_no_plaintext(app: TestApp) {
        let desk = desk(&app).await;
        let mut body = phone_call("erasure");
        body["requester"] = json!({"name": "Zwaantje Oosterhuis-Plaintextcheck", "email": "zwaantje.plaintextcheck@example.nl", "customer_number": "PLAINCHECK-9", "phone": "+31 6 9876 5432"});
        body["details"] = json!("Verwijder alles behalve wat moet blijven, geheimwoord Kwispelstaart.");
        let created = register(&app, &desk.agent, &body).await;
        let id = created["id"].as_str().unwrap();
        let task = open_tasks(&created).into_iter().find(|t| t["kind"] == "erase_data").unwrap();
        let path = format!("/api/v1/requests/{id}/tasks/{}", task["id"].as_str().unwrap());
        expect_json(app.post_json(&format!("{path}/comments"), Some(&desk.agent), &json!({"body": "Opmerking Kwispelstaart-2"})).await, 201).await;
        // The API gives it back decrypted to staff…
        let stored = get_request(&app, &desk.agent, id).await;
        assert_eq!(stored["requester"]["name"], "Zwaantje Oosterhuis-Plaintextcheck");
        let commented = stored["tasks"].as_array().unwrap().iter().find(|t| t["id"] == task["id"]).unwrap();
        assert_eq!(commented["comments"][0]["body"], "Opmerking Kwispelstaart-2", "{commented:#}");
        // …and the database holds none of it in plain text.
        let secrets = ["Oosterhuis-Plaintextcheck", "zwaantje.plaintextcheck", "PLAINCHECK-9", "98765432", "Kwispelstaart"];
        let dump = common::dump_database(&app).await;
        for secret in secrets {
            assert!(!dump.contains(secret), "'{secret}' found in plain text in the database");
        }
        assert!(dump.contains(&created["reference"].as_str().unwrap().to_string()), "the dump did read the requests");
    }

    async fn the_public_form_is_validated_and_rate_limited(app: TestApp) {
        let error = expect_json(app.post_json("/api/v1/public/requests", None, &json!({"kind": "access", "email": "nope"})).await, 422).await;
        assert_eq!(error["field"], "requester.email");
        let error = expect_json(app.post_json("/api/v1/public/requests", None, &json!({"kind": "access"})).await, 422).await;
        assert_eq!(error["field"], "email");
        // The limit is 10 a minute by default; the tests above used two.
        let mut last = 0;
        for _ in 0..12 {
            last = app.post_json("/api/v1/public/requests", None, &json!({"kind": "access", "email": "x@example.nl"})).await.status().as_u16();
        }
        assert_eq!(last, 429);
        let response = app.post_json("/api/v1/public/requests", None, &json!({"kind": "access", "email": "x@example.nl"})).await;
        assert!(response.headers().contains_key("retry-after"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "rate_limited");
    }
}
