//! What a hostile run against loket found (issue 16), each finding as a test over HTTP on both
//! stores: sign-in under attack, revoked sessions, NUL bytes, authorisation before state, and
//! the letter preview.

use crate::common;

use common::{captured_log, expect_json, TestApp, PASSWORD};
use loket::auth::{Permission, Role};
use loket::config::Settings;
use serde_json::{json, Value};

/// Lockouts after three failures per account; the address limit out of the way.
fn strict_sign_in(settings: &mut Settings) {
    settings.sign_in.account_failures = 3;
    settings.sign_in.address_failures = 1000;
}

/// One password check at a time and no queue, so parallel sign-ins overflow at once.
fn tiny_hash_pool(settings: &mut Settings) {
    settings.sign_in.hash_workers = 1;
    settings.sign_in.hash_queue = 0;
    settings.sign_in.address_failures = 1000;
    settings.sign_in.account_failures = 1000;
}

fn defaults(_: &mut Settings) {}

/// A data directory left readable by everyone, with a file in it, from before this version.
fn open_data_dir(settings: &mut Settings) {
    use std::os::unix::fs::PermissionsExt;
    let dir = &settings.data_dir;
    std::fs::write(dir.join("old-letter.eml"), "x").unwrap();
    std::fs::set_permissions(
        dir.join("old-letter.eml"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn two_public_requests_a_minute(settings: &mut Settings) {
    settings.public_requests_per_minute = 2;
}

async fn sign_in(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.post_json(
        "/api/v1/auth/token",
        None,
        &json!({"username": username, "password": password}),
    )
    .await
}

/// Signs in to the desk form (fetching its CSRF cookie first) and returns the response.
async fn desk_sign_in(app: &TestApp, form: &str) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client.get(app.url("/desk/sign-in")).send().await.unwrap();
    let cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("loket_sign_in="))
        .expect("a sign-in cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let token = cookie.trim_start_matches("loket_sign_in=").to_string();
    client
        .post(app.url("/desk/sign-in"))
        .header("Cookie", cookie)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("_csrf={token}&{form}"))
        .send()
        .await
        .unwrap()
}

async fn audit_actions(app: &TestApp, token: &str) -> Vec<String> {
    let events = expect_json(
        app.get("/api/v1/audit/events?per_page=200", Some(token))
            .await,
        200,
    )
    .await;
    events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect()
}

async fn patch_user(app: &TestApp, admin: &str, username: &str, body: Value) -> Value {
    let response = app
        .send_json(
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{username}"),
            Some(admin),
            &body,
        )
        .await;
    expect_json(response, 200).await
}

/// Every staff route of the API (ids that do not exist), with the permission it needs.
fn staff_routes() -> Vec<(&'static str, String, Permission)> {
    use Permission::*;
    let mut routes: Vec<(&str, String, Permission)> = vec![
        ("GET", "/users".into(), ManageUsers),
        ("POST", "/users".into(), ManageUsers),
        ("PATCH", "/users/nobody".into(), ManageUsers),
        ("GET", "/catalog/organisation".into(), ReadCatalog),
        ("PUT", "/catalog/organisation".into(), EditCatalog),
        ("GET", "/catalog/export".into(), ReadCatalog),
        ("GET", "/ropa".into(), ReadRegister),
        ("GET", "/audit/events".into(), ReadAudit),
        ("GET", "/audit/verify".into(), ReadAudit),
        ("GET", "/requests".into(), ReadRequestStatus),
        ("POST", "/requests".into(), RegisterRequests),
        ("GET", "/requests/x".into(), ReadRequests),
        ("PATCH", "/requests/x".into(), WorkRequests),
        ("GET", "/requests/x/letters".into(), ReadRequests),
        ("POST", "/requests/x/letters".into(), WorkRequests),
        ("POST", "/requests/x/letters/preview".into(), ReadRequests),
        ("PATCH", "/requests/x/tasks/t".into(), WorkRequests),
        ("POST", "/requests/x/tasks/t/run".into(), WorkRequests),
        ("POST", "/requests/x/tasks/t/comments".into(), WorkRequests),
        ("GET", "/stats".into(), ReadRequests),
        ("GET", "/requests/x/packages".into(), ReadRequests),
        ("POST", "/requests/x/packages".into(), WorkRequests),
        ("DELETE", "/requests/x/packages/p".into(), WorkRequests),
        ("GET", "/requests/x/attachments".into(), ReadRequests),
        ("POST", "/requests/x/attachments".into(), WorkRequests),
        ("GET", "/requests/x/redactions".into(), ReadRequests),
        ("POST", "/requests/x/redactions".into(), WorkRequests),
        ("DELETE", "/requests/x/redactions/r".into(), WorkRequests),
        ("GET", "/retention/runs".into(), ManageRetention),
        ("POST", "/retention/sweeps".into(), ManageRetention),
        ("GET", "/retention/holds".into(), ManageRetention),
        ("POST", "/retention/holds".into(), ManageRetention),
        ("DELETE", "/retention/holds/x".into(), ManageRetention),
        ("GET", "/guide".into(), ReadGuide),
        ("GET", "/guide/erasure".into(), ReadGuide),
        ("GET", "/readiness".into(), ReadRegister),
        ("GET", "/readiness/snapshots".into(), ReadRegister),
        (
            "POST",
            "/readiness/snapshots".into(),
            KeepReadinessSnapshots,
        ),
        ("GET", "/webhooks".into(), ManageWebhooks),
        ("POST", "/webhooks".into(), ManageWebhooks),
        ("GET", "/webhooks/x".into(), ManageWebhooks),
        ("PUT", "/webhooks/x".into(), ManageWebhooks),
        ("DELETE", "/webhooks/x".into(), ManageWebhooks),
        ("GET", "/webhooks/x/deliveries".into(), ManageWebhooks),
    ];
    // A first-line partner records identity checks, and does nothing else to a request.
    routes.push(("POST", "/requests/x/identity".into(), RegisterRequests));
    for action in ["transition", "pauses", "pauses/end", "extension"] {
        routes.push(("POST", format!("/requests/x/{action}"), WorkRequests));
    }
    for plural in ["categories", "systems", "activities"] {
        routes.push(("GET", format!("/catalog/{plural}"), ReadCatalog));
        routes.push(("POST", format!("/catalog/{plural}"), EditCatalog));
        routes.push(("GET", format!("/catalog/{plural}/x"), ReadCatalog));
        routes.push(("PUT", format!("/catalog/{plural}/x"), EditCatalog));
        routes.push(("DELETE", format!("/catalog/{plural}/x"), EditCatalog));
    }
    routes
}

backend_tests_with! {
    async fn an_unconfirmed_web_form_request_stays_apart_and_goes_when_its_code_expires(app: TestApp) configured defaults; {
        let agent = app.token_for(Role::Agent).await;
        let submitted = expect_json(
            app.post_json("/api/v1/public/requests", None, &json!({"kind": "access", "email": "iemand@example.nl"})).await,
            202,
        )
        .await;
        let reference = submitted["reference"].as_str().unwrap().to_string();
        let queue = expect_json(app.get("/api/v1/requests", Some(&agent)).await, 200).await;
        assert_eq!(queue["total"], 0, "not in the queue before the address is confirmed: {queue}");

        // Its code expires; the next submission (or the periodic sweep) removes it.
        let expire = reference.clone();
        app.store
            .write(move |conn| {
                use diesel::prelude::*;
                use loket::db::schema::requests;
                diesel::update(requests::table.filter(requests::reference.eq(expire)))
                    .set(requests::confirmation_expires_at.eq(chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap().and_hms_opt(0, 0, 0)))
                    .execute(conn)
                    .map_err(loket::db::StoreError::from)
            })
            .await
            .unwrap();
        expect_json(
            app.post_json("/api/v1/public/requests", None, &json!({"kind": "access", "email": "ander@example.nl"})).await,
            202,
        )
        .await;
        let gone = reference.clone();
        let found = app
            .store
            .read(move |conn| loket::db::models::requests::find_request_by_reference(conn, &gone))
            .await
            .unwrap();
        assert!(found.is_none(), "the unconfirmed request was purged");
        let confirm = app
            .post_json(&format!("/api/v1/public/requests/{reference}/confirm"), None, &json!({"code": "123456"}))
            .await;
        assert_eq!(confirm.status(), 404);
    }

    async fn an_existing_data_directory_and_its_files_are_made_private(app: TestApp) configured open_data_dir; {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let dir = &app.settings.data_dir;
        assert_eq!(mode(dir), 0o700);
        assert_eq!(mode(&dir.join("old-letter.eml")), 0o600);
        if app.backend == loket::db::Backend::Sqlite {
            assert_eq!(mode(&dir.join("loket.db")), 0o600);
        }
    }

    async fn every_public_page_is_rate_limited(app: TestApp) configured two_public_requests_a_minute; {
        for page in ["/status/not-a-token", "/verzoek", "/verzoek/REF-1"] {
            let mut last = 0;
            for _ in 0..3 {
                last = app.get(page, None).await.status().as_u16();
            }
            assert_eq!(last, 429, "{page}");
        }
    }

    async fn values_of_any_json_type_never_reach_the_log_and_cannot_forge_lines(app: TestApp) configured defaults; {
        let log = captured_log();
        let agent = app.token_for(Role::Agent).await;
        let sends = [
            ("/api/v1/public/requests", None, json!({"kind": "access", "email": "mark-a@example.nl", "phone": 31698765432_u64})),
            ("/api/v1/public/requests", None, json!({"kind": "access", "email": "mark-b@example.nl", "customer_number": 774411229_u64})),
            ("/api/v1/public/requests", None, json!({"kind": "access\nFORGED-LINE", "email": "mark-c@example.nl", "name": "MARK-NAME\nFORGED-LINE"})),
            ("/api/v1/public/requests", None, json!({"kind": "access", "email": ["mark-d@example.nl"], "name": {"first": "MARK-OBJECT"}})),
            ("/api/v1/requests", Some(agent.as_str()), json!({"kind": "access", "channel": "phone", "requester": {"name": 4242424242_u64, "phone": 31611112222_u64, "email": "mark-e@example.nl"}})),
            ("/api/v1/requests", Some(agent.as_str()), json!({"kind": "access", "channel": "phone", "requester": {"name": "MARK-VALID-NAME", "phone": "+31 6 3333 4444", "email": "mark-f@example.nl"}})),
        ];
        for (path, token, body) in sends {
            let status = app.post_json(path, token, &body).await.status().as_u16();
            assert!(status < 500, "{path}: {status}");
        }
        let logged = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        for marked in ["31698765432", "774411229", "MARK-NAME", "MARK-OBJECT", "mark-", "4242424242", "31611112222", "MARK-VALID", "3333 4444"] {
            assert!(!logged.contains(marked), "{marked} reached the log:\n{logged}");
        }
        assert!(!logged.lines().any(|line| line.starts_with("FORGED-LINE")), "{logged}");
    }

    async fn every_route_answers_403_to_every_role_without_it_before_reading_body_or_state(app: TestApp) configured defaults; {
        let mut tokens = Vec::new();
        for role in Role::ALL {
            tokens.push((role, app.token_for(role).await));
        }
        let mut wrong = Vec::new();
        for (method, path, permission) in staff_routes() {
            for (role, token) in &tokens {
                let response = app
                    .send_raw(method.parse().unwrap(), &format!("/api/v1{path}"), Some(token), "application/json", r#"{"no_such_field": true}"#.into())
                    .await;
                let status = response.status().as_u16();
                let forbidden = !role.allows(permission);
                if forbidden != (status == 403) {
                    wrong.push(format!("{method} {path} as {role}: {status}"));
                }
            }
        }
        assert!(wrong.is_empty(), "routes answering out of turn:\n{}", wrong.join("\n"));
    }

    async fn wrong_passwords_lock_the_account_out_with_retry_after_and_an_audit_event(app: TestApp) configured strict_sign_in; {
        app.add_user("anna", Role::Agent).await;
        let officer = app.token_for(Role::PrivacyOfficer).await;
        for _ in 0..3 {
            expect_json(sign_in(&app, "anna", "wrong password here").await, 401).await;
        }
        // The right password no longer works while the lockout lasts, on the API and the desk.
        let locked = sign_in(&app, "anna", PASSWORD).await;
        assert_eq!(locked.status(), 429);
        let wait: u64 = locked.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(wait >= 1);
        assert_eq!(expect_json(locked, 429).await["error"], "too_many_attempts");
        let desk = desk_sign_in(&app, &format!("username=anna&password={}", PASSWORD.replace(' ', "+"))).await;
        assert_eq!(desk.status(), 429);
        assert!(desk.headers().contains_key("retry-after"));
        // Another account from the same address is not locked.
        expect_json(sign_in(&app, "privacy-officer-1", PASSWORD).await, 200).await;
        assert!(audit_actions(&app, &officer).await.contains(&"auth.locked_out".to_string()));
    }

    async fn parallel_sign_ins_beyond_the_hashing_queue_are_refused_with_503(app: TestApp) configured tiny_hash_pool; {
        app.add_user("anna", Role::Agent).await;
        let attempts = (0..24).map(|n| {
            let client = app.client.clone();
            let url = app.url("/api/v1/auth/token");
            async move {
                client
                    .post(url)
                    .json(&json!({"username": format!("nobody{n}"), "password": "wrong password"}))
                    .send()
                    .await
                    .unwrap()
            }
        });
        let responses = futures_util::future::join_all(attempts).await;
        let busy: Vec<_> = responses.iter().filter(|r| r.status() == 503).collect();
        assert!(!busy.is_empty(), "a full pool refuses instead of queueing without end");
        assert!(busy.iter().all(|r| r.headers().contains_key("retry-after")));
        assert!(responses.iter().all(|r| r.status() == 503 || r.status() == 401));
        // Once the burst is over, signing in works again.
        expect_json(sign_in(&app, "anna", PASSWORD).await, 200).await;
    }

    async fn signing_out_revokes_the_token_and_the_desk_session(app: TestApp) configured defaults; {
        app.add_user("anna", Role::Agent).await;
        let token = app.login("anna").await;
        let other = app.login("anna").await;
        expect_json(app.get("/api/v1/requests", Some(&token)).await, 200).await;
        let out = app.post_json("/api/v1/auth/sign-out", Some(&token), &json!({})).await;
        assert_eq!(out.status(), 204);
        for revoked in [&token, &other] {
            let body = expect_json(app.get("/api/v1/requests", Some(revoked)).await, 401).await;
            assert!(body["message"].as_str().unwrap().contains("revoked"));
        }
        let fresh = app.login("anna").await;
        expect_json(app.get("/api/v1/requests", Some(&fresh)).await, 200).await;
    }

    async fn a_role_change_or_disabling_revokes_tokens_for_good(app: TestApp) configured defaults; {
        let admin = app.token_for(Role::Admin).await;
        app.add_user("anna", Role::PrivacyOfficer).await;
        let before = app.login("anna").await;
        expect_json(app.get("/api/v1/audit/events", Some(&before)).await, 200).await;
        let changed = patch_user(&app, &admin, "anna", json!({"role": "agent"})).await;
        assert_eq!(changed["role"], "agent");
        expect_json(app.get("/api/v1/requests", Some(&before)).await, 401).await;
        let after = app.login("anna").await;
        expect_json(app.get("/api/v1/audit/events", Some(&after)).await, 403).await;
        patch_user(&app, &admin, "anna", json!({"active": false})).await;
        patch_user(&app, &admin, "anna", json!({"active": true})).await;
        expect_json(app.get("/api/v1/requests", Some(&after)).await, 401).await;
        let actions = audit_actions(&app, &admin).await;
        assert!(actions.contains(&"user.role_changed".to_string()));
    }

    async fn nul_bytes_are_refused_naming_the_field_before_the_store(app: TestApp) configured defaults; {
        app.add_user("anna", Role::Agent).await;
        let agent = app.login("anna").await;
        let body = expect_json(sign_in(&app, "an\u{0}na", PASSWORD).await, 422).await;
        assert_eq!(body["field"], "username");
        let body = expect_json(sign_in(&app, "anna", "pass\u{0}word long").await, 422).await;
        assert_eq!(body["field"], "password");
        let desk = desk_sign_in(&app, "username=an%00na&password=x").await;
        assert_eq!(desk.status(), 422);
        let confirm = app
            .post_json("/api/v1/public/requests/REF%00X/confirm", None, &json!({"code": "123456"}))
            .await;
        assert_eq!(expect_json(confirm, 422).await["field"], "path");
        let confirm = app
            .post_json("/api/v1/public/requests/REF-1/confirm", None, &json!({"code": "12\u{0}456"}))
            .await;
        assert_eq!(expect_json(confirm, 422).await["field"], "code");
        let submit = app
            .post_json("/api/v1/public/requests", None, &json!({"kind": "access", "email": "a@example.nl", "name": "Jan\u{0}"}))
            .await;
        assert_eq!(expect_json(submit, 422).await["field"], "name");
        let query = expect_json(app.get("/api/v1/requests?email=a%00b", Some(&agent)).await, 422).await;
        assert_eq!(query["field"], "email");
        let path = expect_json(app.get("/api/v1/requests/abc%00def", Some(&agent)).await, 422).await;
        assert_eq!(path["field"], "path");
    }

    async fn an_agent_approving_a_refusal_gets_403_whatever_the_state(app: TestApp) configured defaults; {
        let agent = app.token_for(Role::Agent).await;
        let created = expect_json(
            app.post_json("/api/v1/requests", Some(&agent), &json!({
                "kind": "access", "channel": "phone",
                "requester": {"name": "Jan de Vries", "email": "jan.devries@example.nl"}
            })).await,
            201,
        )
        .await;
        let id = created["id"].as_str().unwrap();
        let refused = app
            .post_json(&format!("/api/v1/requests/{id}/transition"), Some(&agent), &json!({"to": "refused", "version": created["version"]}))
            .await;
        assert_eq!(expect_json(refused, 403).await["error"], "forbidden");
    }

    async fn the_letter_preview_answers_every_letter_kind_without_a_server_error(app: TestApp) configured defaults; {
        let agent = app.token_for(Role::Agent).await;
        let created = expect_json(
            app.post_json("/api/v1/requests", Some(&agent), &json!({
                "kind": "access", "channel": "phone",
                "requester": {"name": "Jan de Vries", "email": "jan.devries@example.nl"}
            })).await,
            201,
        )
        .await;
        let id = created["id"].as_str().unwrap();
        let preview = |letter: &'static str| {
            let app = &app;
            let agent = &agent;
            async move {
                app.post_json(&format!("/api/v1/requests/{id}/letters/preview"), Some(agent), &json!({"letter": letter, "message": "Zoals besproken."}))
                    .await
            }
        };
        let code = expect_json(preview("verification_code").await, 200).await;
        assert!(code["body"].as_str().unwrap().contains("minuten"));
        // Before a refusal is proposed its letter cannot say why: a field error, not a 500.
        let refusal = expect_json(preview("refusal").await, 422).await;
        assert_eq!(refusal["field"], "letter");
        for letter in ["receipt_confirmation", "access_answer", "clarification_question", "extension_notice"] {
            let status = preview(letter).await.status().as_u16();
            assert!(status < 500, "{letter} preview answered {status}");
        }
    }
}

/// The pool hands out a PostgreSQL connection that just did its work without asking the server
/// again; one the server dropped fails a single piece of work and is then replaced, and one
/// left idle is checked (and replaced) before use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(loket_test_postgres),
    ignore = "set LOKET_TEST_POSTGRES_URL to run on PostgreSQL"
)]
async fn a_connection_the_server_dropped_fails_once_and_is_replaced() {
    use diesel::{Connection, RunQueryDsl};
    let database = common::targets::TargetDb::postgres();
    let store = loket::db::Store::open(&database.url, 1).expect("store");
    let backend_pid = || {
        store.read(|conn| {
            diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>(
                "pg_backend_pid()",
            ))
            .get_result::<i32>(conn)
            .map_err(loket::db::StoreError::from)
        })
    };
    let drop_connection = |pid: i32| {
        let admin = std::env::var("LOKET_TEST_POSTGRES_URL").unwrap();
        let mut admin = diesel::PgConnection::establish(&admin).expect("admin connection");
        diesel::sql_query(format!("SELECT pg_terminate_backend({pid})"))
            .execute(&mut admin)
            .expect("terminate");
        // The server ends the backend a moment after it is asked to: wait until it is gone.
        let still_there = format!("SELECT 1 FROM pg_stat_activity WHERE pid = {pid}");
        for _ in 0..100 {
            if diesel::sql_query(&still_there)
                .execute(&mut admin)
                .expect("activity")
                == 0
            {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("backend {pid} did not end");
    };

    // Used a moment ago: handed out as it is, so the work meets the dropped connection. (On a
    // machine so slow that dropping it took most of the second, the check would already ask:
    // tried again then.)
    let mut first = backend_pid().await.expect("first read");
    let mut dropping = std::time::Instant::now();
    drop_connection(first);
    for _ in 0..3 {
        if dropping.elapsed() < std::time::Duration::from_millis(700) {
            break;
        }
        first = backend_pid().await.expect("read on a new connection");
        dropping = std::time::Instant::now();
        drop_connection(first);
    }
    assert!(
        backend_pid().await.is_err(),
        "the dropped connection was used"
    );
    // That failure left it unproven: the next check-out asks, and gets a new connection.
    let second = backend_pid().await.expect("read after the failure");
    assert_ne!(first, second);

    // Idle for longer than a second: asked before use, so no work fails.
    drop_connection(second);
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    let third = backend_pid().await.expect("read after idling");
    assert_ne!(second, third);
}
