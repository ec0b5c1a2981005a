//! The web desk in a real browser (headless chromium through chromedriver), on SQLite and
//! PostgreSQL: an agent works an erasure request for a caller from intake to the outbox, a
//! privacy officer approves a refusal, an agent is kept out of the officer's pages, and forms
//! without their CSRF token are refused. Screenshots land in `target/screenshots/`.

use crate::common;

use common::browser::Browser;
use common::{expect_json, TestApp};
use loket::audit::Actor;
use loket::auth::Role;
use serde_json::{json, Value};

const EXAMPLE: &str = include_str!("../../examples/catalog.yaml");

/// The example catalog, an agent (anna) and a privacy officer (fleur).
async fn desk(app: &TestApp) {
    let document = loket::catalog::parse_yaml(EXAMPLE).expect("example catalog is valid");
    loket::catalog::import(&app.store, Actor::Cli, document)
        .await
        .expect("catalog imported");
    app.add_user("anna", Role::Agent).await;
    app.add_user("fleur", Role::PrivacyOfficer).await;
}

/// The request a page shows, read through the API as a client would.
async fn request_of(app: &TestApp, token: &str, id: &str) -> Value {
    expect_json(
        app.get(&format!("/api/v1/requests/{id}"), Some(token))
            .await,
        200,
    )
    .await
}

backend_tests! { browser;
    async fn an_agent_works_an_erasure_request_from_the_call_to_the_outbox(app: TestApp) {
        desk(&app).await;
        let browser = Browser::open(&app.address).await;
        browser.sign_in("anna").await;
        assert!(!browser.exists("a[href='/desk/dashboard']").await, "no officer pages in an agent's menu");

        // The caller is on the line.
        browser.goto("/desk/requests/new").await;
        browser.select("#kind", "erasure").await;
        browser.select("#channel", "phone").await;
        browser.fill("#requester-name", "Jan de Vries").await;
        browser.fill("#requester-email", "jan.devries@example.nl").await;
        browser.fill("#requester-customer", "TN-448812").await;
        browser.fill("#requester-phone", "+31 6 1234 5678").await;
        browser.fill("#details", "Beller wil dat al zijn gegevens worden verwijderd.").await;
        browser.select("#identity-method", "known_details").await;
        browser.fill("#identity-note", "klantnummer en geboortedatum kloppen").await;
        browser.screenshot("new-request").await;
        browser.click_and_wait("#register").await;
        let path = browser.path().await;
        let id = path.strip_prefix("/desk/requests/").expect("on the request's page").to_string();
        let heading = browser.text("h1").await;
        assert!(heading.contains("Verwijdering (art. 17)"), "Dutch by default, the Dutch way of citing: {heading}");
        assert!(browser.text("#identity-state").await.contains("anna"));
        browser.goto("/desk").await;
        assert!(browser.text("#queue").await.contains("Jan de Vries"), "the new request is in the queue");
        browser.screenshot("queue").await;
        browser.goto(&path).await;
        browser.screenshot("request-checklist").await;
        // Tasks name their systems as the agent knows them, never by key.
        let page = browser.text("main").await;
        assert!(page.contains("Zoek in KlantBeeld CRM op") && page.contains("Systeem: Gespreksopnames"), "{page}");
        assert!(!page.contains("Systeem: crm") && !page.contains("Systeem: call_recordings"), "{page}");

        // The checklist: one recipient had nothing, everything else is done with evidence.
        let mut not_applicable = 0;
        while let Some(form) = first_open_task(&browser).await {
            let position = form.trim_start_matches("done-");
            let kind = browser.find(&format!("#task-{position}")).await.attr("data-kind").await.unwrap().unwrap();
            if kind == "notify_recipient" && not_applicable == 0 {
                browser.find(&format!("#task-{position} details.task-forms details > summary")).await.click().await.unwrap();
                browser.fill(&format!("#reason-{position}"), "Deze ontvanger kreeg nooit gegevens van deze klant.").await;
                browser.click_and_wait(&format!("#na-{position} button")).await;
                not_applicable += 1;
            } else {
                browser.fill(&format!("#evidence-{position}"), &format!("gedaan: {kind}")).await;
                browser.click_and_wait(&format!("#{form} button")).await;
            }
        }
        assert_eq!(not_applicable, 1, "the example catalog has recipients to notify");

        // The answer: previewed, then sent.
        browser.select("#letter-kind", "erasure_confirmation").await;
        browser.find("#preview-button").await.click().await.unwrap();
        let preview = browser.find("#preview:not([hidden])").await.text().await.unwrap();
        assert!(preview.contains("jan.devries@example.nl"), "{preview}");
        browser.screenshot("request").await;
        browser.click_and_wait("#send-button").await;
        assert!(browser.text("#letters").await.contains("Bevestiging verwijdering"));
        browser.click_and_wait("#complete button").await;
        assert_eq!(browser.text("#state").await, "Afgehandeld");
        let timeline = browser.text("#timeline").await;
        assert!(timeline.contains("Brief verstuurd: Bevestiging verwijdering"), "the timeline shows the steps: {timeline}");
        browser.screenshot("request-completed").await;
        browser.close().await;

        let token = app.login("anna").await;
        let request = request_of(&app, &token, &id).await;
        assert_eq!(request["state"], "completed");
        let tasks = request["tasks"].as_array().unwrap();
        assert!(tasks.iter().all(|t| t["state"] != "open"), "{tasks:#?}");
        assert!(tasks.iter().any(|t| t["state"] == "not_applicable" && t["kind"] == "notify_recipient"));
        let letters = expect_json(app.get(&format!("/api/v1/requests/{id}/letters"), Some(&token)).await, 200).await;
        let kinds: Vec<_> = letters["items"].as_array().unwrap().iter().map(|l| l["letter"].clone()).collect();
        assert!(kinds.contains(&json!("erasure_confirmation")), "the answer is in the outbox: {kinds:?}");
    }

    async fn a_privacy_officer_approves_a_refusal(app: TestApp) {
        desk(&app).await;
        let agent = app.login("anna").await;
        let created = expect_json(app.post_json("/api/v1/requests", Some(&agent), &json!({
            "kind": "access", "channel": "email", "received_at": chrono::Utc::now().to_rfc3339(),
            "requester": {"name": "Piet Jansen", "email": "piet@example.nl"},
            "identity": {"method": "not_needed"}
        })).await, 201).await;
        let id = created["id"].as_str().unwrap();
        let reference = created["reference"].as_str().unwrap();
        expect_json(app.post_json(&format!("/api/v1/requests/{id}/transition"), Some(&agent), &json!({
            "version": created["version"], "to": "awaiting_approval", "outcome": "refused",
            "refusal_ground": "manifestly_unfounded_or_excessive",
            "reason": "U heeft deze maand twaalf keer hetzelfde verzoek gedaan.",
            "justification": "12 identical requests in 30 days, each answered in full."
        })).await, 200).await;

        let browser = Browser::open(&app.address).await;
        browser.sign_in("fleur").await;
        browser.goto("/desk/approvals").await;
        let card = browser.text(&format!("#approval-{reference}")).await;
        assert!(card.contains("twaalf keer") && card.contains("anna"), "{card}");
        browser.screenshot("approvals").await;
        browser.click_and_wait(&format!("#decide-{reference} button[value=refused]")).await;
        assert!(!browser.exists(&format!("#approval-{reference}")).await, "approved, so no longer waiting");

        browser.goto("/desk/dashboard").await;
        assert!(browser.exists("svg.chart").await, "the weekly chart is drawn on the server");
        assert!(browser.text("#figures").await.contains("100%"), "one refusal, answered at once");
        let page = browser.text("main").await;
        assert_eq!(common::iso_date(&page), None, "weeks are spelled as days: {page}");
        browser.screenshot("dashboard").await;
        // The demo's unfinished survey makes gaps: the page names their objects and says in
        // Dutch what to do, never by key or in the register's English.
        let gaps = loket::catalog::parse_yaml(loket::demo::DEMO_GAPS).expect("the demo's gaps parse");
        loket::catalog::import(&app.store, Actor::Cli, gaps).await.expect("imported");
        browser.goto("/desk/catalog").await;
        assert!(browser.exists("#activities").await && browser.exists("#systems").await);
        let gaps = browser.text("#gaps").await;
        assert!(gaps.contains("Klanttevredenheidsonderzoek") && gaps.contains("Leg de"), "{gaps}");
        assert!(!gaps.contains("customer_satisfaction") && !gaps.contains("outside the EEA"), "{gaps}");
        let activities = browser.text("#activities").await;
        assert!(activities.contains("art. 6(1)(b)") && !activities.contains("Art. 6"), "{activities}");
        let systems = browser.text("#systems").await;
        assert!(systems.contains("Contactgegevens") && !systems.contains("communication_content"), "categories by name: {systems}");
        let csv = app.client.get(app.url("/api/v1/ropa?format=csv")).header("Cookie", browser.session_cookie().await).send().await.unwrap();
        assert_eq!(csv.status(), 200, "the register's export link works with the desk session");
        browser.screenshot("catalog").await;
        browser.goto("/desk/retention").await;
        let rules = browser.text("#rules").await;
        let period = browser.text("#rules tbody tr:first-child td:nth-child(3)").await;
        assert_eq!(period, "7 jaar", "periods in Dutch: {rules}");
        assert!(rules.contains("Facturatiesysteem (rating & billing) · invoices"), "systems by name: {rules}");
        assert!(
            rules.contains("Facturen, betalingen, incassomachtigingen") && !rules.contains("Invoices, payments")
                && rules.contains("Nodig om te weten wat met de klant is afgesproken"),
            "the rules' descriptions and grounds in Dutch: {rules}"
        );
        browser.click_and_wait("#dry-run button").await;
        assert!(browser.text("#runs").await.contains("proef"), "the dry run is listed");
        browser.screenshot("retention").await;
        browser.close().await;

        let officer = app.login("fleur").await;
        let request = request_of(&app, &officer, id).await;
        assert_eq!(request["state"], "refused");
        assert_eq!(request["approved_by"], "fleur");
    }

    async fn a_letter_registered_at_the_desk_keeps_its_receipt_date(app: TestApp) {
        desk(&app).await;
        let browser = Browser::open(&app.address).await;
        browser.sign_in("anna").await;
        browser.goto("/desk/requests/new").await;
        let arrived = loket::requests::today() - chrono::TimeDelta::days(10);
        browser.select("#kind", "access").await;
        browser.select("#channel", "letter").await;
        // A datetime-local field is typed differently per locale; set it as the date picker does.
        browser.client.execute(&format!("document.querySelector('#received-at').value = '{arrived}T10:00';"), vec![]).await.unwrap();
        browser.fill("#requester-name", "Jan de Vries").await;
        browser.fill("#requester-email", "jan.devries@example.nl").await;
        browser.fill("#details", "Brief van 10 dagen geleden, vandaag pas geregistreerd.").await;
        browser.screenshot("new-request-letter").await;
        browser.click_and_wait("#register").await;
        let path = browser.path().await;
        let id = path.strip_prefix("/desk/requests/").expect("on the request's page").to_string();
        let due = loket::requests::deadline::first_due_date(arrived);
        assert!(browser.text("main").await.contains(&loket::api::desk::spell_day(due, false)), "the page shows the due date counted from the letter's arrival");
        browser.close().await;

        let token = app.login("anna").await;
        let request = request_of(&app, &token, &id).await;
        assert_eq!(request["channel"], "letter");
        assert_eq!(request["due_on"], json!(due));
        assert!(request["received_at"].as_str().unwrap().starts_with(&arrived.to_string()), "{request}");
    }

    async fn an_agent_cannot_open_the_officers_pages(app: TestApp) {
        desk(&app).await;
        let browser = Browser::open(&app.address).await;
        browser.sign_in("anna").await;
        let cookie = browser.session_cookie().await;
        for page in ["/desk/approvals", "/desk/dashboard", "/desk/catalog", "/desk/retention"] {
            browser.goto(page).await;
            assert!(browser.text("h1").await.contains("Geen toegang"), "{page}");
            let status = app.client.get(app.url(page)).header("Cookie", &cookie).send().await.unwrap().status();
            assert_eq!(status, 403, "{page}");
        }
        browser.screenshot("forbidden").await;
        browser.goto("/desk/language/en?next=/desk").await;
        assert!(browser.text("h1").await.contains("Open requests"), "English on request");
        browser.screenshot("queue-en").await;
        browser.goto("/verzoek").await;
        assert!(browser.exists("#public-request label[for=email]").await);
        browser.screenshot("public-form").await;
        let odd = app.client.get(app.url("/verzoek/..%2F..%2Fauth%2Ftoken")).send().await.unwrap();
        assert_eq!(odd.status(), 404, "only a reference opens the confirmation page");
        browser.close().await;
        // Without a session, a page sends the visitor to sign in.
        let response = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
            .get(app.url("/desk/dashboard")).send().await.unwrap();
        assert_eq!(response.status(), 303);
        assert_eq!(response.headers()["location"], "/desk/sign-in?next=%2Fdesk%2Fdashboard");
    }

    async fn forms_without_their_csrf_token_are_refused(app: TestApp) {
        desk(&app).await;
        let browser = Browser::open(&app.address).await;
        // The sign-in form with its token taken out.
        browser.goto("/desk/sign-in").await;
        browser.client.execute("document.querySelector('input[name=_csrf]').remove();", vec![]).await.unwrap();
        browser.fill("#username", "anna").await;
        browser.fill("#password", common::PASSWORD).await;
        browser.click_and_wait("#sign-in button[type=submit]").await;
        assert!(browser.text("[role=alert]").await.contains("CSRF"));
        assert!(browser.client.get_named_cookie("loket_session").await.is_err(), "not signed in");

        browser.sign_in("anna").await;
        let cookie = browser.session_cookie().await;
        let token = browser.find("meta[name=csrf-token]").await.attr("content").await.unwrap().unwrap();
        browser.close().await;
        let intake = json!({"kind": "access", "channel": "phone", "requester": {"email": "a@example.nl"}});
        let send = |csrf: Option<&str>| {
            let mut request = app.client.post(app.url("/api/v1/requests")).header("Cookie", &cookie).json(&intake);
            if let Some(csrf) = csrf {
                request = request.header("X-CSRF-Token", csrf);
            }
            request.send()
        };
        let refused = expect_json(send(None).await.unwrap(), 403).await;
        assert_eq!(refused["error"], "csrf_rejected");
        assert_eq!(refused["field"], "X-CSRF-Token");
        expect_json(send(Some("0000")).await.unwrap(), 403).await;
        expect_json(send(Some(&token)).await.unwrap(), 201).await;
        // Reading needs no token; signing out does.
        let queue = app.client.get(app.url("/api/v1/requests")).header("Cookie", &cookie).send().await.unwrap();
        assert_eq!(queue.status(), 200);
        let sign_out = app.client.post(app.url("/desk/sign-out")).header("Cookie", &cookie)
            .header("Content-Type", "application/x-www-form-urlencoded").body("_csrf=wrong").send().await.unwrap();
        assert_eq!(sign_out.status(), 403);
    }
}

/// The id of the first open task's "done" form, if any is left (the answer letter closes the
/// last task, so it has none).
async fn first_open_task(browser: &Browser) -> Option<String> {
    let forms = browser
        .client
        .find_all(fantoccini::Locator::Css("form[id^='done-']"))
        .await
        .unwrap();
    match forms.first() {
        Some(form) => form.attr("id").await.unwrap(),
        None => None,
    }
}
