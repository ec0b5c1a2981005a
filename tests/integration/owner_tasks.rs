//! Tasks sent to a system's owner (issue #22): the link in the owner's mail, the form behind it,
//! the task closed with the owner's statement as evidence, links refused once expired, replaced
//! or used, and the daily job that reminds the owner and escalates a late task.

use crate::common::browser::Browser;
use crate::common::{expect_json, iso_date, outbox_letter, task_of, TestApp};
use loket::audit::Actor;
use loket::auth::Role;
use serde_json::{json, Value};

const EXAMPLE: &str = include_str!("../../examples/catalog.yaml");
const OWNER: &str = "servicedesk-beheer@telconoord.example";
const DPO: &str = "fg@telconoord.example";
const JAN: &str = "jan.devries@example.nl";

struct Owned {
    app: TestApp,
    agent: String,
    request: Value,
}

/// The example catalog (its ticketing system is manual and names its owner's address), and Jan's
/// erasure request, identity checked during the call.
async fn owned(app: TestApp) -> Owned {
    assert!(
        EXAMPLE.contains(&format!("owner_email: {OWNER}")),
        "the example catalog changed"
    );
    let catalog = loket::catalog::parse_yaml(EXAMPLE).expect("catalog is valid");
    loket::catalog::import(&app.store, Actor::Cli, catalog)
        .await
        .expect("catalog imported");
    app.add_user("anna", Role::Agent).await;
    let agent = app.login("anna").await;
    let body = json!({
        "kind": "erasure",
        "channel": "phone",
        "requester": {"name": "Jan de Vries", "email": JAN, "customer_number": "TN-448812"},
        "identity": {"method": "known_details", "note": "date of birth matched"}
    });
    let request = expect_json(
        app.post_json("/api/v1/requests", Some(&agent), &body).await,
        201,
    )
    .await;
    Owned {
        app,
        agent,
        request,
    }
}

impl Owned {
    fn id(&self) -> &str {
        self.request["id"].as_str().expect("id")
    }

    async fn reload(&self) -> Value {
        let path = format!("/api/v1/requests/{}", self.id());
        expect_json(self.app.get(&path, Some(&self.agent)).await, 200).await
    }

    async fn send(&self, system: &str, body: Value) -> reqwest::Response {
        let request = self.reload().await;
        let task = task_of(&request, "erase_data", Some(system));
        let mut body = body;
        body["version"] = task["version"].clone();
        let path = format!(
            "/api/v1/requests/{}/tasks/{}/owner",
            self.id(),
            task["id"].as_str().expect("task id")
        );
        self.app.post_json(&path, Some(&self.agent), &body).await
    }

    /// The token in the newest mail of `template` to the request, and that mail: (to, body).
    async fn mail(&self, template: &str) -> (String, String, String) {
        let (to, body) = outbox_letter(&self.app, self.id(), template).await;
        let at = body.find("/taak/").expect("a link in the mail") + "/taak/".len();
        let token = body[at..at + 64].to_string();
        (token, to, body)
    }

    async fn page(&self, token: &str) -> (u16, String) {
        let response = self.app.get(&format!("/taak/{token}"), None).await;
        (
            response.status().as_u16(),
            response.text().await.unwrap_or_default(),
        )
    }

    async fn answer(&self, token: &str, file: Option<(&str, &[u8])>) -> (u16, String) {
        let mut fields = vec![
            ("searched", "Zendesk, op e-mailadres en klantnummer"),
            ("outcome", "found"),
            ("rows", "2"),
            ("found", "Twee tickets uit 2025"),
            ("did", "Beide tickets en het gebruikersprofiel verwijderd"),
        ];
        if file.is_none() {
            fields.push(("files", ""));
        }
        let (content_type, body) = multipart(&fields, file);
        let response = self
            .app
            .client
            .post(self.app.url(&format!("/taak/{token}")))
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("form sent");
        (
            response.status().as_u16(),
            response.text().await.unwrap_or_default(),
        )
    }

    async fn audit(&self) -> Vec<Value> {
        self.app.add_user("fleur", Role::PrivacyOfficer).await;
        let officer = self.app.login("fleur").await;
        let reference = self.request["reference"].as_str().expect("reference");
        let path =
            format!("/api/v1/audit/events?object_type=request&object_id={reference}&per_page=200");
        let events = expect_json(self.app.get(&path, Some(&officer)).await, 200).await;
        events["items"].as_array().expect("items").clone()
    }
}

/// A `multipart/form-data` body as a browser sends the form.
fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    const BOUNDARY: &str = "----loketTestBoundary7MA4YWxk";
    let mut body = Vec::new();
    for (name, value) in fields {
        if *name == "files" {
            body.extend_from_slice(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"\"\r\nContent-Type: application/octet-stream\r\n\r\n\r\n").as_bytes());
            continue;
        }
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    if let Some((name, bytes)) = file {
        body.extend_from_slice(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes());
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), body)
}

fn actions(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default().to_string())
        .collect()
}

backend_tests! {
    async fn an_owner_completes_a_task_through_the_link(app: TestApp) {
        let owned = owned(app).await;
        let sent = expect_json(owned.send("ticketing", json!({"note": "Kijk ook in de archiefmap."})).await, 201).await;
        assert_eq!(sent["recipient"], OWNER);
        assert_eq!(sent["state"], "open");
        assert_eq!(sent["system"], "ticketing");

        // The mail goes to the owner through the outbox: what to do, the link, no identifiers.
        let (token, to, mail) = owned.mail("owner_task").await;
        assert_eq!(to, OWNER);
        assert!(mail.contains("Servicedesk tickets"), "{mail}");
        assert!(mail.contains("Kijk ook in de archiefmap."), "{mail}");
        assert!(!mail.contains(JAN) && !mail.contains("TN-448812"), "no identifiers in the mail: {mail}");

        // The form: the system, the kind of request, the identifiers that system searches by.
        let (status, page) = owned.page(&token).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("Servicedesk tickets") && page.contains("wissing"), "{page}");
        assert!(page.contains(JAN) && page.contains("TN-448812"), "{page}");
        assert!(page.contains("Graag uiterlijk"), "{page}");

        let (status, thanks) = owned.answer(&token, Some(("tickets.csv", b"id,subject\n1,Verhuizing\n"))).await;
        assert_eq!(status, 200, "{thanks}");
        assert!(thanks.contains("Dank u wel"), "{thanks}");

        // The task is closed with the owner's statement, time and address as its evidence.
        let request = owned.reload().await;
        let task = task_of(&request, "erase_data", Some("ticketing"));
        assert_eq!(task["state"], "done");
        assert_eq!(task["closed_by"], OWNER);
        assert_eq!(task["outcome"], "found");
        let evidence = task["evidence"].as_str().expect("evidence");
        assert!(evidence.contains(OWNER), "{evidence}");
        assert!(evidence.contains("Gezocht: Zendesk, op e-mailadres en klantnummer"), "{evidence}");
        assert!(evidence.contains("Gedaan: Beide tickets en het gebruikersprofiel verwijderd"), "{evidence}");
        assert_eq!(request["owner_links"][0]["state"], "used");

        // The file is sealed as an attachment of the task, like an agent's.
        let path = format!("/api/v1/requests/{}/attachments", owned.id());
        let attachments = expect_json(owned.app.get(&path, Some(&owned.agent)).await, 200).await;
        assert_eq!(attachments.as_array().map(Vec::len), Some(1), "{attachments}");
        assert_eq!(attachments[0]["name"], "tickets.csv");
        assert_eq!(attachments[0]["task_id"], task["id"]);
        assert_eq!(attachments[0]["created_by"], OWNER);

        let events = owned.audit().await;
        let completed = events
            .iter()
            .find(|e| e["action"] == "request.owner_task.completed")
            .expect("the owner's answer is on the audit trail");
        assert_eq!(completed["actor"], "system:system-owner");
        assert!(completed["summary"].as_str().unwrap_or_default().contains(OWNER), "{completed}");
        assert!(actions(&events).contains(&"request.owner_task.sent".to_string()));

        // Used once: the same link again is refused, and says so.
        let (status, page) = owned.answer(&token, None).await;
        assert_eq!(status, 409, "{page}");
        assert!(page.contains("al gebruikt"), "{page}");
        let (status, _) = owned.page(&token).await;
        assert_eq!(status, 409);
    }

    async fn an_owner_fills_in_the_dutch_form_in_a_browser(app: TestApp) {
        // The owner's side in a real browser, in Dutch: the link from the mail opens the form
        // naming the system and the task in words, the statement is filled in and sent, the
        // thanks page follows and the agent's task is closed with it.
        let owned = owned(app).await;
        expect_json(owned.send("ticketing", json!({"note": "Kijk ook in de archiefmap."})).await, 201).await;
        let (token, _, _) = owned.mail("owner_task").await;
        let browser = Browser::open(&owned.app.address).await;
        browser.goto(&format!("/taak/{token}")).await;
        let heading = browser.text("h1").await;
        assert_eq!(heading, "Een taak in Servicedesk tickets");
        let task = browser.text("#task").await;
        assert!(task.starts_with("Zoek in Servicedesk tickets op"), "the system by its name: {task}");
        let due = browser.text("#due").await;
        assert!(iso_date(&due).is_none(), "a day in words: {due}");
        assert!(browser.text("main").await.contains("Kijk ook in de archiefmap."));
        browser.fill("#searched", "Zendesk, op e-mailadres en klantnummer").await;
        browser.find("#outcome-found").await.click().await.expect("click");
        browser.fill("#rows", "2").await;
        browser.fill("#found", "Twee tickets uit 2025").await;
        browser.fill("#did", "Beide tickets en het gebruikersprofiel verwijderd").await;
        browser.screenshot("owner-task").await;
        browser.click_and_wait("form button[type=submit]").await;
        let done = browser.text("#done").await;
        assert!(done.contains("de taak is afgerond"), "{done}");
        browser.close().await;

        let request = owned.reload().await;
        let task = task_of(&request, "erase_data", Some("ticketing"));
        assert_eq!(task["state"], "done", "{task}");
        assert_eq!(task["outcome"], "found");
        assert_eq!(task["closed_by"], OWNER);
        let evidence = task["evidence"].as_str().expect("evidence");
        assert!(evidence.contains("Gedaan: Beide tickets en het gebruikersprofiel verwijderd"), "{evidence}");
    }

    async fn wrong_expired_and_replaced_links_are_refused(app: TestApp) {
        let owned = owned(app).await;
        let (status, page) = owned.page(&"0".repeat(64)).await;
        assert_eq!(status, 404, "{page}");
        assert!(page.contains("Deze link kennen wij niet"), "{page}");
        assert_eq!(owned.page("not-a-token").await.0, 404);

        // A system without an owner's address, and a due date after the request's, are refused.
        let refused = expect_json(owned.send("marketing", json!({})).await, 409).await;
        assert!(refused["message"].as_str().unwrap_or_default().contains("owner_email"), "{refused}");
        let late = expect_json(owned.send("ticketing", json!({"due_on": "2099-01-01"})).await, 422).await;
        assert_eq!(late["field"], "due_on");

        expect_json(owned.send("ticketing", json!({})).await, 201).await;
        let (first, _, _) = owned.mail("owner_task").await;
        assert_eq!(owned.page(&first).await.0, 200);
        // A new link for the same task replaces the first.
        expect_json(owned.send("ticketing", json!({"language": "en"})).await, 201).await;
        let (second, _, mail) = owned.mail("owner_task").await;
        assert!(mail.contains("Dear owner of Service desk tickets"), "{mail}");
        assert_ne!(first, second);
        let (status, page) = owned.page(&first).await;
        assert_eq!(status, 410, "{page}");
        assert!(page.contains("vervangen"), "{page}");
        let (status, page) = owned.page(&second).await;
        assert_eq!(status, 200);
        assert!(page.contains("Find the person by"), "{page}");

        // Past its expiry the link is gone, and the form cannot be sent with it.
        let hash = loket::requests::owners::token_hash(&second);
        owned
            .app
            .store
            .write(move |conn| {
                use diesel::prelude::*;
                use loket::db::schema::owner_links;
                diesel::update(owner_links::table.filter(owner_links::token_hash.eq(hash)))
                    .set(owner_links::expires_at.eq(loket::db::now() - chrono::TimeDelta::minutes(1)))
                    .execute(conn)
                    .map_err(loket::db::StoreError::from)
            })
            .await
            .expect("link expired");
        let (status, page) = owned.page(&second).await;
        assert_eq!(status, 410, "{page}");
        let (status, page) = owned.answer(&second, None).await;
        assert_eq!(status, 410, "{page}");
        let request = owned.reload().await;
        assert_eq!(task_of(&request, "erase_data", Some("ticketing"))["state"], "open");
        let states: Vec<&str> = request["owner_links"].as_array().expect("links").iter().map(|l| l["state"].as_str().unwrap_or_default()).collect();
        assert_eq!(states, ["revoked", "expired"]);
    }

    async fn owners_are_reminded_before_the_due_date_and_late_tasks_escalated(app: TestApp) {
        let owned = owned(app).await;
        let sent = expect_json(owned.send("ticketing", json!({})).await, 201).await;
        let due_on: chrono::NaiveDate = sent["due_on"].as_str().expect("due_on").parse().expect("a date");
        let (token, _, _) = owned.mail("owner_task").await;
        let (secrets, _) = owned.app.settings.secrets().expect("secrets");
        let requests = loket::startup::request_service(
            &owned.app.settings,
            &owned.app.store,
            &secrets,
            std::sync::Arc::new(loket::policies::Policies::shipped().expect("policies")),
        );
        let day = |days: i64| due_on + chrono::TimeDelta::days(days);
        let run = |today| {
            let requests = requests.clone();
            async move { requests.remind_and_escalate_owners(today).await.expect("the job runs") }
        };

        // Three days before: not yet (owner_reminder_days is 2).
        assert_eq!(run(day(-3)).await, loket::requests::owners::OwnerRun::default());
        // Two days before: one reminder, with the same working link; once only.
        let reminded = run(day(-2)).await;
        assert_eq!((reminded.reminded, reminded.escalated), (1, 0));
        let (again, to, mail) = owned.mail("owner_task_reminder").await;
        assert_eq!(to, OWNER);
        assert_eq!(again, token, "the reminder carries the same link");
        assert!(mail.contains("Herinnering") || mail.contains("nog niet ontvangen"), "{mail}");
        assert_eq!(owned.page(&token).await.0, 200);
        assert_eq!(run(day(-1)).await, loket::requests::owners::OwnerRun::default());
        // On the due date itself nothing is late yet; the day after, the privacy officer is told.
        assert_eq!(run(day(0)).await, loket::requests::owners::OwnerRun::default());
        let escalated = run(day(1)).await;
        assert_eq!((escalated.reminded, escalated.escalated), (0, 1));
        let (to, mail) = outbox_letter(&owned.app, owned.id(), "owner_task_escalation").await;
        assert_eq!(to, DPO);
        assert!(mail.contains(OWNER) && mail.contains("/desk/requests/"), "{mail}");
        assert_eq!(run(day(2)).await, loket::requests::owners::OwnerRun::default());

        let request = owned.reload().await;
        let link = &request["owner_links"][0];
        assert!(link["reminded_at"].is_string() && link["escalated_at"].is_string(), "{link}");
        let events = actions(&owned.audit().await);
        assert!(events.contains(&"request.owner_task.reminded".to_string()), "{events:?}");
        assert!(events.contains(&"request.owner_task.escalated".to_string()), "{events:?}");

        // A task the owner answered is neither reminded nor escalated.
        let (status, page) = owned.answer(&token, None).await;
        assert_eq!(status, 200, "{page}");
    }
}
