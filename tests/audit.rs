//! The audit trail: every change is recorded, the chain detects tampering, nothing can edit it.

mod common;

use common::{expect_json, TestApp, PASSWORD};
use diesel::RunQueryDsl;
use loket::auth::Role;
use loket::db::{Backend, DbConnection};
use serde_json::json;

/// Runs raw SQL as someone with direct database access would, bypassing loket.
fn tamper(app: &TestApp, sql: &str) -> Result<usize, diesel::result::Error> {
    let mut conn = app.store.connection().unwrap();
    let conn: &mut DbConnection = &mut conn;
    diesel::sql_query(sql).execute(conn)
}

/// The append-only triggers stop casual edits; an attacker with DDL rights removes them first.
fn drop_protection(app: &TestApp) {
    match app.backend {
        Backend::Sqlite => {
            tamper(app, "DROP TRIGGER audit_events_no_update").unwrap();
            tamper(app, "DROP TRIGGER audit_events_no_delete").unwrap();
        }
        Backend::Postgres => {
            tamper(app, "DROP TRIGGER audit_events_no_change ON audit_events").unwrap();
        }
    }
}

async fn verify(app: &TestApp, token: &str) -> serde_json::Value {
    expect_json(app.get("/api/v1/audit/verify", Some(token)).await, 200).await
}

/// Three users make three events plus the admin's own.
async fn with_events(app: &TestApp) -> String {
    let admin = app.token_for(Role::Admin).await;
    for name in ["eva", "femke", "gijs"] {
        let response = app
            .post_json(
                "/api/v1/users",
                Some(&admin),
                &json!({"username": name, "role": "agent", "password": PASSWORD}),
            )
            .await;
        expect_json(response, 201).await;
    }
    admin
}

backend_tests! {
    async fn changes_are_recorded_with_actor_and_summary(app: TestApp) {
        let admin = with_events(&app).await;
        let page = expect_json(app.get("/api/v1/audit/events?per_page=2", Some(&admin)).await, 200).await;
        assert_eq!(page["total"], 4);
        assert_eq!(page["items"].as_array().unwrap().len(), 2);
        let newest = &page["items"][0];
        assert_eq!(newest["seq"], 4);
        assert_eq!(newest["action"], "user.created");
        assert_eq!(newest["actor"], "user:admin-1");
        assert!(newest["summary"].as_str().unwrap().contains("gijs"));
        let report = verify(&app, &admin).await;
        assert_eq!(report, json!({"events": 4, "broken": null}));
    }

    async fn events_cannot_be_changed_through_the_database_triggers(app: TestApp) {
        with_events(&app).await;
        assert!(tamper(&app, "UPDATE audit_events SET summary = 'nothing' WHERE seq = 2").is_err());
        assert!(tamper(&app, "DELETE FROM audit_events WHERE seq = 2").is_err());
    }

    async fn an_altered_event_is_found(app: TestApp) {
        let admin = with_events(&app).await;
        drop_protection(&app);
        tamper(&app, "UPDATE audit_events SET actor = 'user:someone-else' WHERE seq = 3").unwrap();
        let report = verify(&app, &admin).await;
        assert_eq!(report["events"], 2);
        assert_eq!(report["broken"]["seq"], 3);
        assert!(report["broken"]["reason"].as_str().unwrap().contains("altered"));
    }

    async fn a_removed_event_is_found(app: TestApp) {
        let admin = with_events(&app).await;
        drop_protection(&app);
        tamper(&app, "DELETE FROM audit_events WHERE seq = 2").unwrap();
        let report = verify(&app, &admin).await;
        assert_eq!(report["broken"]["seq"], 2);
        assert!(report["broken"]["reason"].as_str().unwrap().contains("missing"));
    }

    async fn removing_the_newest_events_is_found(app: TestApp) {
        let admin = with_events(&app).await;
        drop_protection(&app);
        tamper(&app, "DELETE FROM audit_events WHERE seq >= 3").unwrap();
        let report = verify(&app, &admin).await;
        assert_eq!(report["broken"]["seq"], 3);
    }

    async fn a_rewritten_chain_is_found_by_its_head(app: TestApp) {
        // Recomputing one hash is not enough: every later link and the head would have to change.
        let admin = with_events(&app).await;
        drop_protection(&app);
        tamper(&app, "UPDATE audit_events SET prev_hash = 'x' WHERE seq = 4").unwrap();
        let report = verify(&app, &admin).await;
        assert_eq!(report["broken"]["seq"], 4);
    }

    async fn there_is_no_route_to_change_events(app: TestApp) {
        let admin = with_events(&app).await;
        for method in [reqwest::Method::PUT, reqwest::Method::PATCH, reqwest::Method::DELETE] {
            let response = app.send_json(method, "/api/v1/audit/events", Some(&admin), &json!({})).await;
            assert!(response.status() == 404 || response.status() == 405);
        }
        assert_eq!(verify(&app, &admin).await["events"], 4);
    }
}
