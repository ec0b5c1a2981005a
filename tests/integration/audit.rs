//! The audit trail: every change is recorded, the chain detects tampering, nothing can edit it.

use crate::common;

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

/// Rewrites every event from `from` on, as someone who can write the database but has no audit
/// key would: new summaries, every link recomputed with plain SHA-256, the head moved along.
fn rewrite_with_plain_hashes(app: &TestApp, from: i64) {
    use diesel::prelude::*;
    use loket::db::schema::{audit_events, audit_head};
    let mut conn = app.store.connection().unwrap();
    let conn: &mut DbConnection = &mut conn;
    let rows = loket::db::models::audit::list_after(conn, 0, 1000).unwrap();
    let mut prev = match from {
        1 => loket::audit::GENESIS_HASH.to_string(),
        _ => rows[from as usize - 2].hash.clone(),
    };
    for mut row in rows.into_iter().skip(from as usize - 1) {
        row.summary = format!("rewritten {}", row.seq);
        row.prev_hash = prev;
        row.hash = loket::audit::plain_hash(&row);
        diesel::update(audit_events::table.find(row.seq))
            .set((
                audit_events::summary.eq(&row.summary),
                audit_events::prev_hash.eq(&row.prev_hash),
                audit_events::hash.eq(&row.hash),
            ))
            .execute(conn)
            .unwrap();
        diesel::update(audit_head::table.find(1))
            .set(audit_head::hash.eq(&row.hash))
            .execute(conn)
            .unwrap();
        prev = row.hash;
    }
}

async fn verify(app: &TestApp, token: &str) -> serde_json::Value {
    expect_json(app.get("/api/v1/audit/verify", Some(token)).await, 200).await
}

/// Three users make three events plus the admin's own, after the guide's `guide.loaded` at start.
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
        assert_eq!(page["total"], 5);
        assert_eq!(page["items"].as_array().unwrap().len(), 2);
        let newest = &page["items"][0];
        assert_eq!(newest["seq"], 5);
        assert_eq!(newest["action"], "user.created");
        assert_eq!(newest["actor"], "user:admin-1");
        assert!(newest["summary"].as_str().unwrap().contains("gijs"));
        let report = verify(&app, &admin).await;
        assert_eq!(report, json!({"events": 5, "broken": null}));
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

    async fn a_tail_rewritten_with_recomputed_plain_hashes_is_found(app: TestApp) {
        // The links are keyed with a key outside the database: a recomputed plain link shows.
        let admin = with_events(&app).await;
        drop_protection(&app);
        rewrite_with_plain_hashes(&app, 3);
        let report = verify(&app, &admin).await;
        assert_eq!(report["broken"]["seq"], 3);
        assert!(report["broken"]["reason"].as_str().unwrap().contains("rewritten"));
    }

    async fn signed_checkpoints_catch_a_trail_rewritten_from_its_first_event(app: TestApp) {
        let admin = with_events(&app).await;
        let point = loket::audit::checkpoint(&app.store).await.unwrap();
        assert_eq!(point.seq, 5);
        let file = app.settings.data_dir.join("checkpoints.jsonl");
        loket::audit::checkpoints::append(&file, &point).unwrap();
        let stored = loket::audit::checkpoints::read(&file).unwrap();
        assert!(loket::audit::check_checkpoints(&app.store, stored.clone()).await.unwrap().is_empty());

        drop_protection(&app);
        rewrite_with_plain_hashes(&app, 1);
        // Rewritten as an old, unkeyed trail from the start, the chain alone holds up ...
        assert!(verify(&app, &admin).await["broken"].is_null());
        // ... but not against the checkpoint taken before.
        let problems = loket::audit::check_checkpoints(&app.store, stored).await.unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("checkpoint mismatch at event 5"), "{problems:?}");
        let mut forged = point;
        forged.hash = loket::audit::GENESIS_HASH.into();
        let problems = loket::audit::check_checkpoints(&app.store, vec![forged]).await.unwrap();
        assert!(problems[0].contains("wrong signature"), "{problems:?}");
    }

    async fn there_is_no_route_to_change_events(app: TestApp) {
        let admin = with_events(&app).await;
        for method in [reqwest::Method::PUT, reqwest::Method::PATCH, reqwest::Method::DELETE] {
            let response = app.send_json(method, "/api/v1/audit/events", Some(&admin), &json!({})).await;
            assert!(response.status() == 404 || response.status() == 405);
        }
        assert_eq!(verify(&app, &admin).await["events"], 5);
    }
}
