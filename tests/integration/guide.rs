//! Issue 21: the agent's guide and request recognition in the desk, the first-line partner's
//! limits, and the readiness report checked against the figures it is built from.

use crate::common;

use common::browser::Browser;
use common::{expect_json, TestApp};
use loket::audit::Actor;
use loket::auth::Role;
use serde_json::{json, Value};

const EXAMPLE: &str = include_str!("../../examples/catalog.yaml");

async fn example_catalog(app: &TestApp) {
    let document = loket::catalog::parse_yaml(EXAMPLE).expect("example catalog is valid");
    loket::catalog::import(&app.store, Actor::Cli, document)
        .await
        .expect("catalog imported");
}

/// A partner agent of `team`, created through the API by an administrator; returns their token.
async fn partner(app: &TestApp, admin: &str, username: &str, team: &str) -> String {
    expect_json(
        app.post_json(
            "/api/v1/users",
            Some(admin),
            &json!({"username": username, "role": "partner_agent", "team": team, "password": common::PASSWORD}),
        )
        .await,
        201,
    )
    .await;
    app.login(username).await
}

fn phone_request(kind: &str, name: &str) -> Value {
    json!({
        "kind": kind, "channel": "phone",
        "requester": {"name": name, "email": format!("{}@example.nl", name.to_lowercase().replace(' ', "."))},
        "identity": {"method": "known_details", "note": "klantnummer en adres kloppen"}
    })
}

backend_tests! { browser;
    async fn an_agent_registers_access_and_erasure_from_one_sentence_and_reads_the_guide(app: TestApp) {
        example_catalog(&app).await;
        app.add_user("anna", Role::Agent).await;
        let browser = Browser::open(&app.address).await;
        browser.sign_in("anna").await;
        assert!(browser.exists("#guide-search").await, "the guide is searchable from the queue");

        browser.goto("/desk/requests/new").await;
        assert!(browser.exists("#guide-search").await, "and from the intake form");
        browser.fill("#caller-said", "ik wil weten wat jullie van mij hebben en dat jullie mijn nummer verwijderen").await;
        browser.find("#suggest-access").await;
        browser.find("#suggest-erasure").await;
        let suggested = browser.text("#suggested").await;
        assert!(suggested.contains("Inzage") && suggested.contains("Verwijdering"), "{suggested}");
        assert!(!browser.exists("#suggest-objection").await, "{suggested}");
        browser.select("#channel", "phone").await;
        browser.fill("#requester-name", "Jan de Vries").await;
        browser.fill("#requester-email", "jan.devries@example.nl").await;
        browser.select("#identity-method", "known_details").await;
        browser.screenshot("guide-intake").await;
        browser.click_and_wait("#register").await;
        assert!(browser.path().await.starts_with("/desk/requests/"), "on the first request's page");

        let token = app.login("anna").await;
        let queue = expect_json(app.get("/api/v1/requests", Some(&token)).await, 200).await;
        let kinds: Vec<&str> = queue["items"].as_array().unwrap().iter().map(|r| r["kind"].as_str().unwrap()).collect();
        assert_eq!(queue["total"], 2, "{kinds:?}");
        assert!(kinds.contains(&"access") && kinds.contains(&"erasure"), "{kinds:?}");

        // The guide's page for erasure: the example catalog's systems and periods in Dutch.
        browser.goto("/desk/guide?q=verwijderen").await;
        browser.click_and_wait("#guide-erasure").await;
        let systems = browser.text("#systems").await;
        assert!(systems.contains("Facturatiesysteem") && systems.contains("KlantBeeld CRM"), "{systems}");
        assert!(systems.contains("7 jaar") && systems.contains("AWR art. 52"), "{systems}");
        assert!(systems.contains("Blijft bewaard (wettelijke plicht)"), "{systems}");
        assert!(systems.contains("Noordhost B.V."), "shared with whom: {systems}");
        assert!(browser.text("#hand-over").await.contains("Autoriteit Persoonsgegevens"));
        assert_eq!(browser.text("label[for=guide-q]").await, "Zoek in de gids voor medewerkers");
        browser.screenshot("guide-erasure").await;
        // In English: the systems by their English names, no Dutch in the headings.
        browser.goto("/desk/language/en?next=/desk/guide").await;
        let heading = browser.text("h1").await;
        assert!(heading.contains("(version") && !heading.contains("versie"), "{heading}");
        browser.goto("/desk/guide?q=erase").await;
        browser.click_and_wait("#guide-erasure").await;
        let systems = browser.text("#systems").await;
        assert!(systems.contains("Billing system (rating & billing)") && !systems.contains("Facturatiesysteem"), "{systems}");
        browser.close().await;
    }

    async fn a_partner_agent_registers_but_never_sees_packages_runs_or_other_teams(app: TestApp) {
        example_catalog(&app).await;
        app.add_user("anna", Role::Agent).await;
        let admin = app.token_for(Role::Admin).await;
        let noord = partner(&app, &admin, "piet", "Callcenter Noord").await;
        let zuid = partner(&app, &admin, "sara", "Callcenter Zuid").await;
        let bad = app.post_json("/api/v1/users", Some(&admin), &json!({"username": "kees", "role": "partner_agent", "password": common::PASSWORD})).await;
        assert_eq!(bad.status(), 422, "a partner needs a team");

        let mine = expect_json(app.post_json("/api/v1/requests", Some(&noord), &phone_request("access", "Jan de Vries")).await, 201).await;
        let id = mine["id"].as_str().unwrap();
        assert!(mine.get("tasks").is_none() && mine.get("requester").is_none(), "status only: {mine}");
        assert_eq!(mine["identity_verified"], true);
        let theirs = expect_json(app.post_json("/api/v1/requests", Some(&zuid), &phone_request("erasure", "Els Bakker")).await, 201).await;
        let other = theirs["id"].as_str().unwrap();

        // The own team's status: yes. The file, packages, connector runs, letters: no.
        let status = expect_json(app.get(&format!("/api/v1/requests/{id}"), Some(&noord)).await, 200).await;
        assert_eq!(status["reference"], mine["reference"]);
        assert!(status.get("tasks").is_none(), "{status}");
        let agent = app.login("anna").await;
        let full = expect_json(app.get(&format!("/api/v1/requests/{id}"), Some(&agent)).await, 200).await;
        let task = full["tasks"][0]["id"].as_str().unwrap();
        for (method, path) in [
            ("GET", format!("/api/v1/requests/{id}/packages")),
            ("POST", format!("/api/v1/requests/{id}/packages")),
            ("POST", format!("/api/v1/requests/{id}/tasks/{task}/run")),
            ("GET", format!("/api/v1/requests/{id}/letters")),
            ("GET", format!("/api/v1/requests/{other}")),
            ("GET", "/api/v1/stats".to_string()),
            ("GET", "/api/v1/readiness".to_string()),
        ] {
            let response = if method == "GET" { app.get(&path, Some(&noord)).await } else { app.post_json(&path, Some(&noord), &json!({})).await };
            assert_eq!(response.status(), 403, "{method} {path}");
        }
        let identity = app.post_json(&format!("/api/v1/requests/{other}/identity"), Some(&noord), &json!({"version": 1, "method": "known_details"})).await;
        assert_eq!(identity.status(), 403, "not another team's identity check");
        let queue = expect_json(app.get("/api/v1/requests", Some(&noord)).await, 200).await;
        assert_eq!(queue["total"], 1, "only the own team's requests: {queue}");
        assert_eq!(queue["items"][0]["id"], id);
        let everyone = expect_json(app.get("/api/v1/requests", Some(&agent)).await, 200).await;
        assert_eq!(everyone["total"], 2, "own staff see both");

        // In the desk: the status page without links to packages or runs; the other team's: 403.
        let browser = Browser::open(&app.address).await;
        browser.sign_in("piet").await;
        assert!(browser.text("#queue").await.contains("Jan de Vries"));
        assert!(!browser.text("#queue").await.contains("Els Bakker"));
        browser.goto(&format!("/desk/requests/{id}")).await;
        assert!(browser.exists("#status").await);
        for link in ["a[href*='/packages']", "a[href*='/run']", "form[data-api*='/run']", "form[data-api*='/packages']", "a[href='/desk/readiness']", "a[href='/desk/dashboard']"] {
            assert!(!browser.exists(link).await, "no {link} for a partner");
        }
        browser.screenshot("partner-request").await;
        let cookie = browser.session_cookie().await;
        let page = app.client.get(app.url(&format!("/desk/requests/{other}"))).header("Cookie", cookie).send().await.unwrap();
        assert_eq!(page.status(), 403, "another team's request page");
        browser.close().await;
    }

    async fn the_readiness_report_shows_the_daily_trend_and_prints(app: TestApp) {
        example_catalog(&app).await;
        app.add_user("petra", Role::PrivacyOfficer).await;
        let sweeps = loket::startup::sweep_service(&app.settings, &app.store).expect("sweeps");
        let browser = Browser::open(&app.address).await;
        browser.sign_in("petra").await;
        browser.goto("/desk/readiness").await;
        assert!(browser.text("#trend").await.contains("Nog geen momentopnamen"));
        loket::readiness::scheduled_snapshot(sweeps).await;
        browser.goto("/desk/readiness").await;
        let trend = browser.text("#trend").await;
        assert!(trend.contains("dagelijks"), "{trend}");
        let score = browser.text("#total-score").await;
        assert!(trend.contains(score.trim()), "{score} in {trend}");
        let systems = browser.text("#systems").await;
        assert!(systems.contains("KlantBeeld CRM") && systems.contains("gekoppeld") && systems.contains("handmatig"), "{systems}");
        assert!(systems.contains("Gespreksopnames") && !systems.contains("Call recordings"), "{systems}");
        // No raw text: the time it was made spelled, systems, categories and activities named.
        let generated = browser.text("#generated-at").await;
        assert!(common::iso_date(&generated).is_none() && generated.contains(':'), "{generated}");
        let page = browser.text("main").await;
        for code in ["call_recordings", "web_analytics", "communication_content", "customer_service", "legal_basis"] {
            assert!(!page.contains(code), "{code} on the readiness page:\n{page}");
        }
        assert!(browser.exists("#print-report").await);
        assert!(browser.exists("#take-snapshot").await, "an officer keeps snapshots");
        browser.screenshot("readiness").await;
        // The English page names the systems in English.
        browser.goto("/desk/language/en?next=/desk/readiness").await;
        let systems = browser.text("#systems").await;
        assert!(systems.contains("Call recordings") && !systems.contains("Gespreksopnames"), "{systems}");
        let gaps = browser.text("#gaps").await;
        assert!(!gaps.contains("leg de"), "English gaps: {gaps}");
        browser.close().await;
    }
}

/// The kept readiness snapshots, newest first.
async fn trend(app: &TestApp, officer: &str) -> Vec<Value> {
    let kept = expect_json(
        app.get("/api/v1/readiness/snapshots", Some(officer)).await,
        200,
    )
    .await;
    kept["items"].as_array().unwrap().clone()
}

/// The object ids (`version@digest`) of the guides recorded as loaded.
async fn loaded(app: &TestApp, admin: &str) -> Vec<String> {
    let events = expect_json(
        app.get("/api/v1/audit/events?per_page=200", Some(admin))
            .await,
        200,
    )
    .await;
    let items = events["items"].as_array().unwrap();
    items
        .iter()
        .filter(|e| e["action"] == "guide.loaded")
        .map(|e| e["object_id"].as_str().unwrap().to_string())
        .collect()
}

/// The API side, without a browser.
mod api {
    use super::*;

    backend_tests! {
        async fn one_call_registers_several_kinds_linked_or_none(app: TestApp) {
            example_catalog(&app).await;
            let agent = app.token_for(Role::Agent).await;
            let mut call = phone_request("access", "Jan de Vries");
            call.as_object_mut().unwrap().remove("kind");
            call["kinds"] = json!(["access", "erasure"]);
            let created = expect_json(app.post_json("/api/v1/requests/calls", Some(&agent), &call).await, 201).await;
            let items = created["items"].as_array().unwrap();
            assert_eq!(items.len(), 2);
            assert_eq!(created["id"], items[0]["id"]);
            // A bad field refuses the whole call: nothing is registered.
            call["kinds"] = json!(["access", "access"]);
            let refused = expect_json(app.post_json("/api/v1/requests/calls", Some(&agent), &call).await, 422).await;
            assert_eq!(refused["errors"][0]["field"], "kinds", "{refused}");
            call["kinds"] = json!(["objection", "restriction"]);
            call["requester"]["email"] = json!("not an address");
            app.post_json("/api/v1/requests/calls", Some(&agent), &call).await;
            let queue = expect_json(app.get("/api/v1/requests", Some(&agent)).await, 200).await;
            assert_eq!(queue["total"], 2, "{queue}");
            let said = expect_json(app.get("/api/v1/guide/recognise?text=Verwijdert%20u%20mijn%20complete%20bestand", Some(&agent)).await, 200).await;
            assert_eq!(said["suggestions"][0]["kind"], "erasure", "{said}");
        }

        async fn the_readiness_report_matches_the_figures_it_is_built_from(app: TestApp) {
            let options = loket::demo::DemoOptions { config_file: app.settings.data_dir.join("loket.toml"), ask: false };
            loket::demo::run(&app.settings, &options).await.expect("the demo sets up");
            let officer = app.token_for(Role::PrivacyOfficer).await;
            let report = expect_json(app.get("/api/v1/readiness", Some(&officer)).await, 200).await;
            let stats = expect_json(app.get("/api/v1/stats", Some(&officer)).await, 200).await;
            let ropa = expect_json(app.get("/api/v1/ropa", Some(&officer)).await, 200).await;

            // Request handling is the statistics' own figures.
            for field in ["open", "overdue", "closed", "answered_within_one_month", "answered_within_three_months"] {
                assert_eq!(report["requests"][field], stats[field], "{field}");
            }
            let per_kind_open: i64 = report["per_kind"].as_object().unwrap().values().map(|h| h["open"].as_i64().unwrap()).sum();
            assert_eq!(per_kind_open, stats["open"].as_i64().unwrap());
            // The register's gaps, each with its article.
            assert_eq!(report["gaps"].as_array().unwrap().len(), ropa["warnings"].as_array().unwrap().len());
            assert!(report["gaps"].as_array().unwrap().iter().all(|g| g["article"].as_str().is_some_and(|a| !a.is_empty())));
            // The survey tool marketing added has no retention rule and no period.
            let without: Vec<&Value> = report["holdings_without_rule"].as_array().unwrap().iter().filter(|h| h["system"] == "survey").collect();
            assert_eq!(without.len(), 2, "{:#}", report["holdings_without_rule"]);
            assert!(without.iter().all(|h| h["catalog_retention"].is_null()));
            let survey = expect_json(app.get("/api/v1/catalog/activities/customer_satisfaction", Some(&officer)).await, 200).await;
            assert_eq!(report["activities"].as_array().unwrap().iter().find(|a| a["key"] == "customer_satisfaction").unwrap()["retention"], false);
            let area = |report: &Value, key: &str| report["areas"].as_array().unwrap().iter().find(|a| a["key"] == key).unwrap()["score"].as_u64().unwrap();
            let steps = report["last_steps"].as_array().unwrap();
            assert!(steps.windows(2).all(|w| w[0]["risk"].as_u64() >= w[1]["risk"].as_u64()), "riskiest first");
            // The steps name the survey tool by its name in each language, never by its key.
            assert!(steps.iter().any(|s| s["nl"].as_str().unwrap().contains("Klanttevredenheidsonderzoek")), "{steps:#?}");
            assert!(steps.iter().any(|s| s["en"].as_str().unwrap().contains("Customer satisfaction survey")), "{steps:#?}");
            assert!(!steps.iter().any(|s| s["nl"].as_str().unwrap().contains("survey")), "{steps:#?}");
            expect_json(app.post_json("/api/v1/readiness/snapshots", Some(&officer), &json!({})).await, 201).await;

            // Fixing it: the period recorded in the register raises the retention and register scores.
            let mut fixed = survey.clone();
            for category in fixed["categories"].as_array_mut().unwrap() {
                category["retention"] = json!("1 year after the survey");
            }
            expect_json(app.put_json("/api/v1/catalog/activities/customer_satisfaction", Some(&officer), &fixed).await, 200).await;
            let after = expect_json(app.get("/api/v1/readiness", Some(&officer)).await, 200).await;
            assert!(area(&after, "retention") > area(&report, "retention"), "{:#} -> {:#}", report["areas"], after["areas"]);
            assert!(area(&after, "register") > area(&report, "register"));
            assert!(after["score"].as_u64() > report["score"].as_u64());
            assert!(after["activities"].as_array().unwrap().iter().find(|a| a["key"] == "customer_satisfaction").unwrap()["retention"] == true);
            expect_json(app.post_json("/api/v1/readiness/snapshots", Some(&officer), &json!({})).await, 201).await;
            let trend = expect_json(app.get("/api/v1/readiness/snapshots", Some(&officer)).await, 200).await;
            let scores: Vec<_> = trend["items"].as_array().unwrap().iter().map(|s| s["score"].as_u64().unwrap()).collect();
            assert_eq!(scores, vec![after["score"].as_u64().unwrap(), report["score"].as_u64().unwrap()], "newest first");
            let agent = app.token_for(Role::Agent).await;
            assert_eq!(app.get("/api/v1/readiness", Some(&agent)).await.status(), 403);
            let kept = app.post_json("/api/v1/readiness/snapshots", Some(&agent), &json!({})).await;
            assert_eq!(kept.status(), 403, "only privacy officers and admins keep snapshots");
            let admin = app.token_for(Role::Admin).await;
            expect_json(app.post_json("/api/v1/readiness/snapshots", Some(&admin), &json!({})).await, 201).await;
        }

        async fn the_scheduler_keeps_one_readiness_snapshot_a_day(app: TestApp) {
            example_catalog(&app).await;
            let officer = app.token_for(Role::PrivacyOfficer).await;
            let sweeps = loket::startup::sweep_service(&app.settings, &app.store).expect("sweeps");
            assert!(trend(&app, &officer).await.is_empty(), "none before the scheduler's first round");

            // The scheduler's daily job, driven one round at a time.
            loket::readiness::scheduled_snapshot(sweeps.clone()).await;
            let kept = trend(&app, &officer).await;
            assert_eq!(kept.len(), 1, "{kept:#?}");
            assert_eq!(kept[0]["origin"], "scheduler");
            let report = expect_json(app.get("/api/v1/readiness", Some(&officer)).await, 200).await;
            assert_eq!(kept[0]["score"], report["score"]);
            for area in report["areas"].as_array().unwrap() {
                assert_eq!(kept[0]["areas"][area["key"].as_str().unwrap()], area["score"], "{area}");
            }
            // Later the same day: nothing more; a snapshot on demand does not count as the day's.
            expect_json(app.post_json("/api/v1/readiness/snapshots", Some(&officer), &json!({})).await, 201).await;
            loket::readiness::scheduled_snapshot(sweeps.clone()).await;
            let kept = trend(&app, &officer).await;
            let origins: Vec<&str> = kept.iter().map(|s| s["origin"].as_str().unwrap()).collect();
            assert_eq!(origins, ["on_demand", "scheduler"], "newest first");

            let admin = app.token_for(Role::Admin).await;
            let events = expect_json(app.get("/api/v1/audit/events?per_page=200", Some(&admin)).await, 200).await;
            let actors: Vec<&str> = events["items"].as_array().unwrap().iter().filter(|e| e["action"] == "readiness.snapshot").map(|e| e["actor"].as_str().unwrap()).collect();
            assert_eq!(actors.iter().filter(|a| **a == "system:readiness").count(), 1, "{actors:?}");
        }

        async fn a_changed_guide_is_on_the_audit_trail_with_its_version(app: TestApp) {
            let admin = app.token_for(Role::Admin).await;
            let shipped = loket::policies::Policies::shipped().expect("shipped policies").guide;
            let at_start = loaded(&app, &admin).await;
            assert_eq!(at_start, [format!("{}@{}", shipped.version, shipped.digest())], "the guide in use at start");
            // The same guide again (another instance, a restart): nothing new.
            assert!(!loket::guide::record_version(&app.store, &shipped).await.unwrap());
            // A privacy officer's new version, and a text changed without raising it: both recorded.
            let mut next = shipped.clone();
            next.version += 1;
            next.hand_over[0].when.nl.push_str(" (bijgewerkt)");
            assert!(loket::guide::record_version(&app.store, &next).await.unwrap());
            let mut unversioned = next.clone();
            unversioned.hand_over[0].when.nl.push_str(" (nogmaals)");
            assert!(loket::guide::record_version(&app.store, &unversioned).await.unwrap());
            let ids = loaded(&app, &admin).await;
            assert_eq!(ids.len(), 3, "{ids:?}");
            assert!(ids.iter().filter(|id| id.starts_with(&format!("{}@", next.version))).count() == 2, "{ids:?}");
        }
    }
}
