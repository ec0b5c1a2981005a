//! The desk for an agent on a live call (issue #17), in headless Chromium on SQLite and
//! PostgreSQL: a phone erasure through the CRM's connector with a dry-run preview before the
//! confirmed erase; a caller without e-mail answered by a printed letter, recorded as sent by post
//! and closed; the queue searched by what the caller says and a request taken with "assign to
//! me". Without a browser: every API error carries a code the desk has words for in Dutch and
//! English, and a dry run counts without deleting. Screenshots land in `target/screenshots/`.

use crate::common;

use common::browser::Browser;
use common::targets::TargetDb;
use common::telco::{BILLING, CRM};
use common::{expect_json, TestApp};
use loket::audit::Actor;
use loket::auth::{NewUser, Role, UserService};
use loket::config::{Secret, Settings};
use serde_json::{json, Value};

const EXAMPLE: &str = include_str!("../../examples/catalog.yaml");

/// Runs each test on SQLite and PostgreSQL with its own settings, in the browser when
/// `browser` is given (like `backend_tests! { browser; … }`, which takes no settings).
macro_rules! live_tests {
    ($([$($needs:tt)*] async fn $name:ident($app:ident: TestApp) configured $configure:expr; $body:block)*) => {
        mod sqlite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(any($($needs)*)), ignore = "set LOKET_TEST_CHROMEDRIVER (chromium-driver) to run the browser tests")]
                async fn $name() {
                    let $app = TestApp::spawn_with(loket::db::Backend::Sqlite, $configure).await;
                    $body
                }
            )*
        }
        mod postgres {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(all(loket_test_postgres, any($($needs)*))), ignore = "set LOKET_TEST_POSTGRES_URL (and LOKET_TEST_CHROMEDRIVER for the browser tests)")]
                async fn $name() {
                    let $app = TestApp::spawn_with(loket::db::Backend::Postgres, $configure).await;
                    $body
                }
            )*
        }
    };
}

fn crm_in(settings: &Settings) -> TargetDb {
    TargetDb::sqlite_at(&settings.data_dir.join("crm.db"))
}

/// The CRM and billing databases of the example catalog, seeded, behind their connectors.
fn with_crm_and_billing(settings: &mut Settings) {
    for (system, schema) in [("crm", CRM), ("billing", BILLING)] {
        let db = TargetDb::sqlite_at(&settings.data_dir.join(format!("{system}.db"))).seed(schema);
        settings
            .connectors
            .insert(system.into(), Secret::new(db.url.clone()));
    }
}

fn plain(_: &mut Settings) {}

/// The example catalog (Telco Noord), and Anna de Boer, an agent, who signs in as `anna`.
async fn desk(app: &TestApp) -> String {
    let document = loket::catalog::parse_yaml(EXAMPLE).expect("example catalog is valid");
    loket::catalog::import(&app.store, Actor::Cli, document)
        .await
        .expect("catalog imported");
    UserService::new(app.store.clone())
        .create(
            Actor::Cli,
            NewUser {
                username: "anna".into(),
                display_name: Some("Anna de Boer".into()),
                role: Role::Agent,
                password: common::PASSWORD.into(),
                team: None,
            },
        )
        .await
        .expect("anna");
    app.login("anna").await
}

async fn register(app: &TestApp, token: &str, body: Value) -> Value {
    expect_json(
        app.post_json("/api/v1/requests", Some(token), &body).await,
        201,
    )
    .await
}

/// Closes every open task but the answer's through the API, as if the agent did them by hand.
async fn do_all_but_the_answer(app: &TestApp, token: &str, request: &Value) -> Value {
    let id = request["id"].as_str().unwrap();
    let mut current = request.clone();
    loop {
        let open = current["tasks"].as_array().unwrap().iter().find(|t| {
            t["state"] == "open"
                && t["kind"] != "send_answer"
                && t["kind"] != "compile_access_facts"
        });
        let Some(task) = open.cloned() else {
            return current;
        };
        let path = format!(
            "/api/v1/requests/{id}/tasks/{}",
            task["id"].as_str().unwrap()
        );
        let response = app
            .send_json(reqwest::Method::PATCH, &path, Some(token), &json!({
                "version": task["version"], "state": "done", "evidence": "met de hand gedaan", "outcome": "found"
            }))
            .await;
        let response =
            if response.status() == 422 {
                app.send_json(reqwest::Method::PATCH, &path, Some(token), &json!({
                "version": task["version"], "state": "done", "evidence": "met de hand gedaan"
            }))
            .await
            } else {
                response
            };
        current = expect_json(response, 200).await;
    }
}

/// The number (from 1) of the open task of `kind` whose page block mentions `system`.
async fn task_number(browser: &Browser, kind: &str, system: &str) -> String {
    let found = browser
        .client
        .execute(
            "return [...document.querySelectorAll(`.task[data-kind='${arguments[0]}']`)]
                .find(t => t.textContent.includes(arguments[1]))?.id.replace('task-', '') ?? null;",
            vec![json!(kind), json!(system)],
        )
        .await
        .expect("script");
    found
        .as_str()
        .unwrap_or_else(|| panic!("no {kind} task for {system} on the page"))
        .to_string()
}

/// "3 van 18 gedaan" as 3.
fn done_count(progress: &str) -> usize {
    let count = progress
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok());
    count.unwrap_or_else(|| panic!("progress reads N van M: {progress}"))
}

/// Opens a folded `<details>` (a task's forms, or a done task) so its contents can be used.
async fn unfold(browser: &Browser, css: &str) {
    browser
        .client
        .execute(
            "document.querySelector(arguments[0]).open = true;",
            vec![json!(css)],
        )
        .await
        .unwrap_or_else(|e| panic!("unfold {css}: {e}"));
}

/// Waits until `css` holds text (a form's alert after the API refused).
async fn text_of(browser: &Browser, css: &str) -> String {
    for _ in 0..100 {
        let text = browser.text(css).await;
        if !text.trim().is_empty() {
            return text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{css} stays empty");
}

live_tests! {
    [loket_browser] async fn a_phone_erasure_runs_through_the_connector_after_a_preview(app: TestApp) configured with_crm_and_billing; {
        desk(&app).await;
        let crm = crm_in(&app.settings);
        let jans_rows = "SELECT COUNT(*) AS n FROM customers WHERE phone = '+31612345678'";
        assert_eq!(crm.count(jans_rows), 1);

        let browser = Browser::open(&app.address).await;
        browser.sign_in("anna").await;
        // Jan calls; he gives his mobile number, typed the way he says it.
        browser.goto("/desk/requests/new").await;
        browser.select("#kind", "erasure").await;
        browser.select("#channel", "phone").await;
        browser.fill("#requester-name", "Jan de Vries").await;
        browser.fill("#requester-phone", "06 1234 5678").await;
        browser.select("#identity-method", "known_details").await;
        browser.fill("#identity-note", "adres en geboortedatum kloppen").await;
        browser.click_and_wait("#register").await;
        let path = browser.path().await;
        assert!(path.starts_with("/desk/requests/"), "{path}");
        let done_before = done_count(&browser.text("#progress-text").await);
        assert!(browser.exists(".task.next").await, "the next step is marked");
        assert!(browser.text("#task-1 h3").await.starts_with("1."), "numbered from 1");
        browser.screenshot("request-checklist").await;

        // The CRM's erase task: first what it would erase, nothing erased yet.
        let n = task_number(&browser, "erase_data", "crm").await;
        unfold(&browser, &format!("#task-{n} details.task-forms")).await;
        assert!(!browser.find(&format!("#confirm-{n}")).await.is_displayed().await.unwrap(), "no erase before the preview");
        browser.find(&format!("#dry-run-{n}")).await.click().await.unwrap();
        let preview = browser.find(&format!("#dry-run-result-{n}:not([hidden]) table")).await.text().await.unwrap();
        assert!(preview.contains("customers") && preview.contains("wordt verwijderd"), "{preview}");
        assert!(preview.contains("KlantBeeld CRM ·"), "the system by its name: {preview}");
        assert!(browser.exists(&format!("#dry-run-result-{n} tr.delete[data-table=customers]")).await);
        let customers = browser.text(&format!("#dry-run-result-{n} tr[data-table=customers] td:nth-child(2)")).await;
        assert_eq!(customers, "1", "one customer row of Jan's");
        assert_eq!(crm.count(jans_rows), 1, "a preview deletes nothing");
        browser.screenshot("erase-preview").await;

        // Confirmed: now it runs, and the task folds away as done.
        browser.click_and_wait(&format!("#confirm-{n}")).await;
        assert_eq!(crm.count(jans_rows), 0, "Jan's customer row is erased");
        assert!(browser.exists(&format!("details#task-{n}.done")).await, "the task is done and folded");
        browser.find(&format!("details#task-{n} > summary")).await.click().await.unwrap();
        let evidence = browser.text(&format!("details#task-{n} .evidence")).await;
        assert!(evidence.contains("Anna de Boer"), "who closed it, by name: {evidence}");
        let identity = browser.text("#identity-state").await;
        assert!(identity.contains("Anna de Boer") && !identity.contains("anna ·"), "{identity}");
        let progress = browser.text("#progress-text").await;
        assert_eq!(done_count(&progress), done_before + 1, "{progress}");
        let timeline = browser.text("#timeline").await;
        assert!(timeline.contains("Uitgevoerd via de koppeling"), "{timeline}");
        assert!(timeline.contains("Anna de Boer") && !timeline.contains("user:anna"), "names, not accounts: {timeline}");
        assert!(!timeline.contains("UTC"), "Amsterdam time: {timeline}");
        browser.close().await;
    }

    [loket_browser] async fn a_caller_without_email_is_answered_by_post_and_the_request_closed(app: TestApp) configured plain; {
        let token = desk(&app).await;
        let request = register(&app, &token, json!({
            "kind": "erasure", "channel": "phone",
            "requester": {"name": "Mevrouw T. Bakker", "customer_number": "TN-771204"},
            "identity": {"method": "known_details", "note": "klantnummer en adres kloppen"}
        })).await;
        let id = request["id"].as_str().unwrap().to_string();

        let browser = Browser::open(&app.address).await;
        browser.sign_in("anna").await;
        browser.goto(&format!("/desk/requests/{id}")).await;
        assert!(browser.exists("#by-post").await, "the page says letters go by post");
        assert!(!browser.exists("#send-button").await, "no e-mail to send to");

        // Recording the post before the work is done is refused, in words, not in API text.
        browser.find("#posted button").await.click().await.unwrap();
        let alert = text_of(&browser, "#posted [role=alert]").await;
        assert!(alert.contains("nog taken open"), "{alert}");
        for raw in ["409", "task(s)", "send_answer", "conflict"] {
            assert!(!alert.contains(raw), "raw API text {raw} shown: {alert}");
        }

        do_all_but_the_answer(&app, &token, &request).await;
        browser.goto(&format!("/desk/requests/{id}")).await;
        browser.select("#letter-kind", "erasure_confirmation").await;
        browser.fill("#letter-message", "Zoals telefonisch besproken.").await;
        browser.click_and_wait("#print-button").await;
        assert_eq!(browser.path().await, format!("/desk/requests/{id}/letters/print"));
        let sender = browser.text("#sender").await;
        assert!(sender.contains("Telco Noord B.V.") && sender.contains("Postbus 4120"), "{sender}");
        assert!(browser.text("#addressee").await.contains("Mevrouw T. Bakker"));
        let body = browser.text("#letter-body").await;
        assert!(body.contains("Mevrouw T. Bakker") && body.contains("verwijder"), "the letter as it would be e-mailed: {body}");
        assert!(!browser.text("#subject").await.is_empty());
        browser.fill("#postal-address", "Dorpsstraat 12\n9711 AB Groningen").await;
        browser.screenshot("print-letter").await;

        browser.goto(&format!("/desk/requests/{id}")).await;
        browser.click_and_wait("#posted button").await;
        let left = browser.text("#whats-left").await;
        assert!(left.contains("afhandelen"), "after the answer the page says what is left: {left}");
        browser.screenshot("request-answered-by-post").await;
        browser.click_and_wait("#complete button").await;
        assert_eq!(browser.text("#state").await, "Afgehandeld");
        let timeline = browser.text("#timeline").await;
        assert!(timeline.contains("per post verstuurd op"), "{timeline}");
        browser.close().await;

        let done = expect_json(app.get(&format!("/api/v1/requests/{id}"), Some(&token)).await, 200).await;
        assert_eq!(done["state"], "completed");
        let answer = common::task_of(&done, "send_answer", None);
        assert_eq!(answer["state"], "done");
        assert!(answer["evidence"].as_str().unwrap().contains("sent by post on"), "{answer}");
    }

    [loket_browser] async fn an_agent_finds_the_caller_in_the_queue_and_takes_the_request(app: TestApp) configured plain; {
        let token = desk(&app).await;
        let jan = register(&app, &token, json!({
            "kind": "access", "channel": "phone",
            "requester": {"name": "Jan de Vries", "customer_number": "TN-448812", "phone": "+31612345678"}
        })).await;
        let piet = register(&app, &token, json!({
            "kind": "erasure", "channel": "phone",
            "requester": {"name": "Piet Bakker", "email": "piet.bakker@example.nl"}
        })).await;
        register(&app, &token, json!({
            "kind": "objection", "channel": "counter", "received_at": chrono::Utc::now().to_rfc3339(),
            "requester": {"name": "Klaas Visser", "customer_number": "TN-100200"}
        })).await;

        let browser = Browser::open(&app.address).await;
        browser.sign_in("anna").await;
        let rows = |browser: &Browser| {
            let client = browser.client.clone();
            async move {
                let found = client
                    .execute("return [...document.querySelectorAll('#queue tbody tr')].map(r => r.dataset.reference);", vec![])
                    .await
                    .unwrap();
                found.as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()).collect::<Vec<_>>()
            }
        };
        assert_eq!(rows(&browser).await.len(), 3);
        assert!(browser.text("#queue").await.contains("dagen"), "days left are shown");
        // However the caller says it: the customer number with a space, the phone in national form.
        for (typed, expected) in [
            ("tn-448812 ", &jan),
            ("06-12345678", &jan),
            ("Piet.Bakker@example.nl", &piet),
            (piet["reference"].as_str().unwrap(), &piet),
            ("de vries", &jan),
        ] {
            browser.fill("#q", typed).await;
            browser.click_and_wait("#search-button").await;
            assert_eq!(rows(&browser).await, vec![expected["reference"].as_str().unwrap().to_string()], "search {typed}");
        }
        browser.fill("#q", "Onbekende Naam").await;
        browser.click_and_wait("#search-button").await;
        assert!(browser.exists("#no-requests").await);

        // Filters: by kind, then take Jan's request.
        browser.goto("/desk?kind=access").await;
        assert_eq!(rows(&browser).await, vec![jan["reference"].as_str().unwrap().to_string()]);
        browser.click_and_wait(&format!("#assign-{} button", jan["reference"].as_str().unwrap())).await;
        browser.goto("/desk?assignee=me").await;
        assert_eq!(rows(&browser).await, vec![jan["reference"].as_str().unwrap().to_string()]);
        assert!(browser.text("#queue").await.contains("Anna de Boer"), "the assignee by name");
        browser.goto("/desk?assignee=none").await;
        assert_eq!(rows(&browser).await.len(), 2);

        // At 800 px the queue fits: nothing spills sideways.
        browser.goto("/desk").await;
        browser.client.set_window_size(800, 900).await.unwrap();
        let spills = browser.client.execute("return document.documentElement.scrollWidth > window.innerWidth;", vec![]).await.unwrap();
        assert_eq!(spills, json!(false), "the queue fits 800 px");
        browser.screenshot("queue-800").await;
        browser.client.set_window_size(1366, 900).await.unwrap();
        browser.goto("/desk").await;
        browser.screenshot("queue").await;

        // The request page has the assignment, pause and extension forms.
        browser.goto(&format!("/desk/requests/{}", piet["id"].as_str().unwrap())).await;
        assert!(browser.exists("#pause").await && browser.exists("#extend").await);
        browser.click_and_wait("#assign-me").await;
        assert_eq!(browser.text("#assignee").await, "Anna de Boer");
        browser.close().await;
        let taken = expect_json(app.get(&format!("/api/v1/requests/{}", jan["id"].as_str().unwrap()), Some(&token)).await, 200).await;
        assert_eq!(taken["assignee"], "anna");
    }

    [loket_browser] async fn each_letter_prints_and_earlier_requests_read_in_words(app: TestApp) configured plain; {
        let token = desk(&app).await;
        let jan = register(&app, &token, json!({
            "kind": "access", "channel": "phone",
            "requester": {"name": "Jan de Vries", "email": "jan.devries@example.nl", "customer_number": "TN-448812"},
            "identity": {"method": "known_details", "note": "adres klopt"}
        })).await;
        let id = jan["id"].as_str().unwrap().to_string();
        let browser = Browser::open(&app.address).await;
        browser.sign_in("anna").await;

        // The intake form names an earlier request's kind and state in words, its day spelled.
        browser.goto("/desk/requests/new").await;
        browser.fill("#requester-customer", "tn 448812").await;
        let earlier = text_of(&browser, "#earlier li").await;
        assert!(earlier.contains(jan["reference"].as_str().unwrap()), "{earlier}");
        assert!(earlier.contains("Inzage"), "{earlier}");
        assert!(earlier.contains("Ontvangen") || earlier.contains("In behandeling"), "{earlier}");
        let iso_day = &jan["received_at"].as_str().unwrap()[..10];
        for raw in ["access", "received", "in_progress", iso_day] {
            assert!(!earlier.contains(raw), "raw {raw} in: {earlier}");
        }

        // Each letter that went out prints on the A4 sheet from the list of letters.
        browser.goto(&format!("/desk/requests/{id}")).await;
        assert!(browser.exists("#letters tr[data-letter='receipt_confirmation'] a").await, "a print button per letter");
        browser.find("#letters tr[data-letter='receipt_confirmation'] a").await.click().await.unwrap();
        let sender = text_of(&browser, "#sender").await;
        assert!(browser.path().await.ends_with("/print"), "{}", browser.path().await);
        assert!(sender.contains("Telco Noord B.V.") && sender.contains("Postbus 4120"), "{sender}");
        assert!(browser.text("#addressee").await.contains("Jan de Vries"));
        assert!(browser.exists("#postal-address").await, "the person's address block");
        let body = browser.text("#letter-body").await;
        let (_, sent) = common::outbox_letter(&app, &id, "receipt_confirmation").await;
        let first_line = sent.lines().find(|l| !l.trim().is_empty()).unwrap().trim().to_string();
        assert!(body.contains(&first_line), "the letter as it went out: {body}");
        browser.screenshot("print-sent-letter").await;

        // A letter is printed only under its own request.
        let other = register(&app, &token, json!({
            "kind": "erasure", "channel": "phone",
            "requester": {"name": "Piet Bakker", "email": "piet.bakker@example.nl"}
        })).await;
        let letters = expect_json(app.get(&format!("/api/v1/requests/{id}/letters"), Some(&token)).await, 200).await;
        let letter = letters["items"][0]["id"].as_str().unwrap().to_string();
        browser.goto(&format!("/desk/requests/{}/letters/{letter}/print", other["id"].as_str().unwrap())).await;
        assert!(!browser.exists("#letter-body").await, "Jan's letter under Piet's request");
        browser.goto(&format!("/desk/requests/{id}/letters/{letter}/print")).await;
        assert!(browser.exists("#letter-body").await);
        browser.close().await;
    }

    [all()] async fn the_public_form_and_privacy_statement_name_the_organisation_and_its_dpo(app: TestApp) configured plain; {
        desk(&app).await;
        // The status and download pages are checked where their links are made (requests.rs,
        // packages.rs).
        for page in ["/verzoek", "/privacy", "/privacy?lang=en"] {
            let response = app.get(page, None).await;
            assert_eq!(response.status(), 200, "{page}");
            let html = response.text().await.unwrap();
            assert!(html.contains("Telco Noord B.V."), "{page}: no organisation");
            assert!(html.contains("fg@telconoord.example"), "{page}: no privacy contact");
        }
    }

    [all()] async fn every_api_error_has_a_code_the_desk_puts_in_words(app: TestApp) configured plain; {
        let token = desk(&app).await;
        let cookie = {
            let response = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
                .get(app.url("/desk/sign-in")).send().await.unwrap();
            response.headers().get_all("set-cookie").iter().map(|c| c.to_str().unwrap().split(';').next().unwrap().to_string()).collect::<Vec<_>>()
        };
        assert!(!cookie.is_empty());
        // What the API says in a few situations, each with its code.
        let missing = expect_json(app.post_json("/api/v1/requests", Some(&token), &json!({"kind": "access", "channel": "phone"})).await, 422).await;
        assert_eq!(missing["code"], "validation_failed");
        assert_eq!(missing["errors"][0]["field"], "requester");
        assert_eq!(missing["errors"][0]["code"], "required");
        let email = expect_json(app.post_json("/api/v1/requests", Some(&token), &json!({
            "kind": "access", "channel": "phone", "requester": {"email": "geen-adres"}
        })).await, 422).await;
        assert_eq!(email["errors"][0]["code"], "email");
        let request = register(&app, &token, json!({
            "kind": "erasure", "channel": "phone", "requester": {"customer_number": "TN-1"},
            "identity": {"method": "known_details"}
        })).await;
        let id = request["id"].as_str().unwrap();
        let open = expect_json(app.post_json(&format!("/api/v1/requests/{id}/transition"), Some(&token), &json!({
            "version": request["version"], "to": "completed"
        })).await, 409).await;
        assert_eq!(open["code"], "tasks_open");
        let stale = expect_json(app.post_json(&format!("/api/v1/requests/{id}/answer/post"), Some(&token), &json!({
            "version": 999, "sent_on": loket::requests::today()
        })).await, 409).await;
        assert_eq!(stale["code"], "stale");
        let no_route = expect_json(app.get("/api/v1/nothing-here", Some(&token)).await, 404).await;
        assert_eq!(no_route["code"], "not_found");

        // Every code, through the page's own table, in both languages.
        let page_texts = |lang: &'static str| {
            let app = &app;
            async move {
                let html = app.client.get(app.url("/verzoek")).header("Cookie", format!("loket_lang={lang}")).send().await.unwrap().text().await.unwrap();
                let start = html.find(r#"<script type="application/json" id="error-texts">"#).expect("the page carries its error texts");
                let json = &html[start..];
                let json = &json[json.find('>').unwrap() + 1..json.find("</script>").unwrap()];
                serde_json::from_str::<Value>(json).expect("valid JSON")
            }
        };
        let (nl, en) = (page_texts("nl").await, page_texts("en").await);
        for code in loket::api::error::ERROR_CODES {
            let (dutch, english) = (nl[code].as_str().unwrap_or_default(), en[code].as_str().unwrap_or_default());
            assert!(!dutch.is_empty() && !english.is_empty() && dutch != english, "{code}: {dutch} / {english}");
        }
        for code in loket::api::error::FIELD_CODES {
            let key = format!("field.{code}");
            assert!(nl[&key].is_string() && en[&key].is_string() && nl[&key] != en[&key], "{key}");
        }
        for body in [&missing, &email, &open, &stale, &no_route] {
            assert!(nl[body["code"].as_str().unwrap()].is_string(), "{body}");
        }
        // The public pages say whose they are.
        let html = app.client.get(app.url("/verzoek")).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("Telco Noord B.V.") && html.contains("fg@telconoord.example"), "organisation and privacy contact");
    }

    [all()] async fn a_dry_run_counts_what_an_erase_would_do_and_deletes_nothing(app: TestApp) configured with_crm_and_billing; {
        let token = desk(&app).await;
        let request = register(&app, &token, json!({
            "kind": "erasure", "channel": "phone",
            "requester": {"name": "Jan de Vries", "customer_number": "TN-448812"},
            "identity": {"method": "known_details"}
        })).await;
        let id = request["id"].as_str().unwrap();
        let crm = crm_in(&app.settings);
        let billing = TargetDb::sqlite_at(&app.settings.data_dir.join("billing.db"));
        let before = (crm.count("SELECT COUNT(*) AS n FROM customers"), billing.count("SELECT COUNT(*) AS n FROM invoices"));
        for system in ["crm", "billing"] {
            let task = common::task_of(&request, "erase_data", Some(system));
            let preview = expect_json(app.post_json(
                &format!("/api/v1/requests/{id}/tasks/{}/run/preview", task["id"].as_str().unwrap()),
                Some(&token), &json!({"version": task["version"]}),
            ).await, 200).await;
            let tables = preview["systems"][0]["tables"].as_array().unwrap();
            let rows = |table: &str, effect: &str| tables.iter().filter(|t| t["table"] == table && t["effect"] == effect).map(|t| t["rows"].as_u64().unwrap()).sum::<u64>();
            if system == "crm" {
                assert_eq!(rows("customers", "delete"), 1, "{preview}");
                assert_eq!(rows("interactions", "delete"), 2, "{preview}");
            } else {
                assert_eq!(rows("invoices", "keep"), 2, "the fiscal duty keeps the invoices: {preview}");
                assert_eq!(rows("rated_cdrs", "delete"), 2, "{preview}");
            }
        }
        assert_eq!(before, (crm.count("SELECT COUNT(*) AS n FROM customers"), billing.count("SELECT COUNT(*) AS n FROM invoices")), "nothing deleted");
        let after = expect_json(app.get(&format!("/api/v1/requests/{id}"), Some(&token)).await, 200).await;
        assert_eq!(after["version"], request["version"], "the request is untouched");
        assert!(common::task_of(&after, "erase_data", Some("crm"))["state"] == "open");
    }
}
