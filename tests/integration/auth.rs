//! Signing in and role checks, over HTTP.

use crate::common;

use common::{expect_json, TestApp, JWT_SECRET, PASSWORD};
use loket::auth::{Claims, Role, TokenService};
use serde_json::json;

fn sign(claims: &Claims) -> String {
    TokenService::new(JWT_SECRET.as_bytes(), 600)
        .sign(claims)
        .unwrap()
}

fn claims_for(user_id: &str, username: &str, role: Role) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        sub: user_id.into(),
        username: username.into(),
        role,
        iss: "loket".into(),
        aud: "loket-api".into(),
        iat: now,
        exp: now + 600,
        ep: 0,
    }
}

async fn user_id(app: &TestApp, admin: &str, username: &str) -> String {
    let list = expect_json(app.get("/api/v1/users", Some(admin)).await, 200).await;
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == username)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

backend_tests! {
    async fn health_and_readiness(app: TestApp) {
        expect_json(app.get("/healthz", None).await, 200).await;
        let ready = expect_json(app.get("/readyz", None).await, 200).await;
        assert_eq!(ready["status"], "ready");
    }

    async fn correct_password_gets_a_token_that_works(app: TestApp) {
        app.add_user("anna", Role::PrivacyOfficer).await;
        let response = app
            .post_json("/api/v1/auth/token", None, &json!({"username": "anna", "password": PASSWORD}))
            .await;
        let body = expect_json(response, 200).await;
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["role"], "privacy_officer");
        assert!(body["expires_in"].as_i64().unwrap() > 0);
        let token = body["access_token"].as_str().unwrap();
        expect_json(app.get("/api/v1/audit/events", Some(token)).await, 200).await;
    }

    async fn wrong_password_and_unknown_user_get_the_same_401(app: TestApp) {
        app.add_user("anna", Role::Agent).await;
        let wrong = app
            .post_json("/api/v1/auth/token", None, &json!({"username": "anna", "password": "not the password"}))
            .await;
        let wrong = expect_json(wrong, 401).await;
        let unknown = app
            .post_json("/api/v1/auth/token", None, &json!({"username": "nobody", "password": PASSWORD}))
            .await;
        let unknown = expect_json(unknown, 401).await;
        assert_eq!(wrong, unknown);
        assert_eq!(wrong["error"], "invalid_credentials");
    }

    async fn login_input_is_validated(app: TestApp) {
        let missing = app.post_json("/api/v1/auth/token", None, &json!({"username": "anna"})).await;
        let body = expect_json(missing, 422).await;
        assert_eq!(body["field"], "password");
        let malformed = app
            .send_raw(reqwest::Method::POST, "/api/v1/auth/token", None, "application/json", "{\"username\":".into())
            .await;
        let body = expect_json(malformed, 400).await;
        assert_eq!(body["error"], "bad_request");
        let form = app
            .send_raw(reqwest::Method::POST, "/api/v1/auth/token", None, "application/x-www-form-urlencoded", "username=a".into())
            .await;
        expect_json(form, 415).await;
    }

    async fn missing_expired_and_tampered_tokens_get_401(app: TestApp) {
        let token = app.token_for(Role::Admin).await;
        let id = user_id(&app, &token, "admin-1").await;

        let none = expect_json(app.get("/api/v1/users", None).await, 401).await;
        assert_eq!(none["error"], "unauthenticated");

        let mut expired = claims_for(&id, "admin-1", Role::Admin);
        expired.iat -= 7200;
        expired.exp = chrono::Utc::now().timestamp() - 3600;
        let body = expect_json(app.get("/api/v1/users", Some(&sign(&expired))).await, 401).await;
        assert!(body["message"].as_str().unwrap().contains("expired"));

        // Change one character of the signature.
        let mut tampered = token.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        expect_json(app.get("/api/v1/users", Some(&tampered)).await, 401).await;

        // A valid signature by another key.
        let forged = TokenService::new(b"some-other-key-some-other-key-123", 600)
            .sign(&claims_for(&id, "admin-1", Role::Admin))
            .unwrap();
        expect_json(app.get("/api/v1/users", Some(&forged)).await, 401).await;

        let mut wrong_audience = claims_for(&id, "admin-1", Role::Admin);
        wrong_audience.aud = "another-service".into();
        expect_json(app.get("/api/v1/users", Some(&sign(&wrong_audience))).await, 401).await;

        expect_json(app.get("/api/v1/users", Some("not-a-jwt")).await, 401).await;
    }

    async fn the_role_in_the_database_counts_not_the_one_in_the_token(app: TestApp) {
        let admin = app.token_for(Role::Admin).await;
        app.add_user("bert", Role::Agent).await;
        let id = user_id(&app, &admin, "bert").await;
        // A token claiming admin for an agent, signed with the real key, still only gets agent rights.
        let escalated = sign(&claims_for(&id, "bert", Role::Admin));
        expect_json(app.get("/api/v1/users", Some(&escalated)).await, 403).await;
    }

    async fn wrong_role_gets_403(app: TestApp) {
        let agent = app.token_for(Role::Agent).await;
        let officer = app.token_for(Role::PrivacyOfficer).await;
        let body = expect_json(app.get("/api/v1/users", Some(&agent)).await, 403).await;
        assert_eq!(body["error"], "forbidden");
        expect_json(app.get("/api/v1/users", Some(&officer)).await, 403).await;
        expect_json(app.get("/api/v1/audit/events", Some(&agent)).await, 403).await;
        expect_json(app.get("/api/v1/audit/verify", Some(&agent)).await, 403).await;
        let create = app
            .post_json("/api/v1/users", Some(&officer), &json!({"username": "x1", "role": "admin", "password": PASSWORD}))
            .await;
        expect_json(create, 403).await;
    }

    async fn admin_manages_accounts_and_disabled_accounts_lose_access(app: TestApp) {
        let admin = app.token_for(Role::Admin).await;
        let created = app
            .post_json("/api/v1/users", Some(&admin), &json!({"username": "carla", "display_name": "Carla de Vries", "role": "agent", "password": PASSWORD}))
            .await;
        let created = expect_json(created, 201).await;
        assert_eq!(created["role"], "agent");
        assert!(created.get("password_hash").is_none());

        let duplicate = app
            .post_json("/api/v1/users", Some(&admin), &json!({"username": "carla", "role": "agent", "password": PASSWORD}))
            .await;
        expect_json(duplicate, 409).await;

        let weak = app
            .post_json("/api/v1/users", Some(&admin), &json!({"username": "dirk", "role": "agent", "password": "short"}))
            .await;
        assert_eq!(expect_json(weak, 422).await["field"], "password");
        let bad_role = app
            .post_json("/api/v1/users", Some(&admin), &json!({"username": "dirk", "role": "superuser", "password": PASSWORD}))
            .await;
        assert_eq!(expect_json(bad_role, 422).await["field"], "role");

        let carla = app.login("carla").await;
        expect_json(app.get("/api/v1/catalog/systems", Some(&carla)).await, 200).await;
        let disabled = app
            .send_json(reqwest::Method::PATCH, "/api/v1/users/carla", Some(&admin), &json!({"active": false}))
            .await;
        assert_eq!(expect_json(disabled, 200).await["active"], false);
        let body = expect_json(app.get("/api/v1/catalog/systems", Some(&carla)).await, 401).await;
        assert!(body["message"].as_str().unwrap().contains("disabled"));
        let login = app
            .post_json("/api/v1/auth/token", None, &json!({"username": "carla", "password": PASSWORD}))
            .await;
        expect_json(login, 401).await;
    }

    async fn an_account_disabled_by_another_instance_loses_access_within_moments(app: TestApp) {
        // The server keeps a copy of the account between calls (PostgreSQL, while it hears of
        // every change): disabled behind its back, by another instance sharing the database,
        // the CLI or a DBA, the account must still lose access, not when its token expires.
        let agent = app.token_for(Role::Agent).await;
        for _ in 0..3 {
            expect_json(app.get("/api/v1/catalog/systems", Some(&agent)).await, 200).await;
        }
        {
            use diesel::RunQueryDsl;
            let mut conn = app.store.connection().unwrap();
            let conn: &mut loket::db::DbConnection = &mut conn;
            diesel::sql_query("UPDATE users SET active = false WHERE username = 'agent-1'")
                .execute(conn)
                .unwrap();
        }
        let mut status = 0;
        for _ in 0..100 {
            status = app.get("/api/v1/catalog/systems", Some(&agent)).await.status().as_u16();
            if status == 401 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(status, 401, "still let in a second after the account was disabled");
    }

    async fn the_last_admin_cannot_be_disabled(app: TestApp) {
        let admin = app.token_for(Role::Admin).await;
        let response = app
            .send_json(reqwest::Method::PATCH, "/api/v1/users/admin-1", Some(&admin), &json!({"active": false}))
            .await;
        expect_json(response, 409).await;
    }

    async fn unknown_routes_answer_json_404(app: TestApp) {
        let body = expect_json(app.get("/api/v1/nothing-here", None).await, 404).await;
        assert_eq!(body["error"], "not_found");
    }
}
