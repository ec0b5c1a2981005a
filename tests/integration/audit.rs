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

/// Records a test event for object `n`.
fn change(conn: &mut DbConnection, n: i64) -> loket::error::Result<()> {
    loket::audit::record(
        conn,
        &loket::audit::Actor::Cli,
        loket::audit::Change {
            action: "test.changed",
            object_type: "test",
            object_id: &n.to_string(),
            summary: format!("change {n}"),
        },
    )
}

/// Runs `work(n)` for `n` in 0..24 as write transactions of `store_of(n)`, all at once, and
/// waits until every one has committed.
async fn concurrently(
    store_of: impl Fn(i64) -> loket::db::Store,
    work: fn(&mut DbConnection, i64) -> loket::error::Result<()>,
) {
    let writes: Vec<_> = (0..24)
        .map(|n| {
            let store = store_of(n);
            tokio::spawn(async move { store.write(move |conn| work(conn, n)).await })
        })
        .collect();
    for write in writes {
        write.await.unwrap().unwrap();
    }
}

/// The whole trail, oldest first.
async fn events(app: &TestApp) -> Vec<loket::db::models::audit::AuditEventRow> {
    app.store
        .read(|conn| loket::db::models::audit::list_after(conn, 0, 10_000))
        .await
        .unwrap()
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

    async fn a_transaction_of_thousands_of_events_appends_them_all_chained(app: TestApp) {
        let admin = with_events(&app).await;
        let before = events(&app).await.len() as i64;
        // More events than one statement takes on PostgreSQL (1,000 per statement there).
        app.store
            .write(|conn| {
                for n in 1..=2_345 {
                    change(conn, n)?;
                }
                Ok::<_, loket::error::Error>(())
            })
            .await
            .unwrap();
        let head = app.store.read(loket::db::models::audit::read_head).await.unwrap();
        assert_eq!(head.seq, before + 2_345);
        assert_eq!(verify(&app, &admin).await, json!({"events": before + 2_345, "broken": null}));
    }

    async fn transactions_append_after_the_head_whichever_instance_moved_it(app: TestApp) {
        let admin = with_events(&app).await;
        let before = events(&app).await.len() as i64;
        // A second instance on the same database: its own store, its own idea of the head.
        let other = loket::db::Store::open(&app.settings.database_url(), 2).unwrap();
        let write = |store: &loket::db::Store, n: i64| {
            let store = store.clone();
            async move {
                store
                    .write(move |conn| change(conn, n))
                    .await
                    .unwrap()
            }
        };
        // After its own commit (on PostgreSQL appended on the head it knows, in one statement),
        // after the other instance's (the head it knows is gone: locked and read again), and
        // after a write that failed (its events go with it).
        write(&app.store, 1).await;
        write(&app.store, 2).await;
        write(&other, 3).await;
        write(&app.store, 4).await;
        let failed = app
            .store
            .write(|conn| {
                change(conn, 5)?;
                Err::<(), _>(loket::error::Error::not_found("on purpose"))
            })
            .await;
        assert!(failed.is_err());
        write(&app.store, 6).await;
        write(&other, 7).await;
        write(&other, 8).await;
        write(&app.store, 9).await;
        let trail = events(&app).await;
        let objects: Vec<&str> = trail[before as usize..]
            .iter()
            .map(|event| event.object_id.as_str())
            .collect();
        assert_eq!(objects, ["1", "2", "3", "4", "6", "7", "8", "9"]);
        let head = app.store.read(loket::db::models::audit::read_head).await.unwrap();
        assert_eq!(head.seq, before + 8);
        assert_eq!(verify(&app, &admin).await, json!({"events": before + 8, "broken": null}));
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

    async fn a_transaction_appends_its_events_together_just_before_commit(app: TestApp) {
        let admin = with_events(&app).await;
        let before = events(&app).await;
        let written = app
            .store
            .write(|conn| {
                for n in 1..=3 {
                    change(conn, n)?;
                }
                // Nothing is appended before the commit: the head is not locked yet.
                let head = loket::db::models::audit::read_head(conn)?;
                Ok::<_, loket::error::Error>(head.seq)
            })
            .await
            .unwrap();
        assert_eq!(written, before.len() as i64, "no event appended before the commit");
        let after = events(&app).await;
        let new: Vec<_> = after[before.len()..].iter().collect();
        let seqs: Vec<i64> = new.iter().map(|e| e.seq).collect();
        let first = before.len() as i64 + 1;
        assert_eq!(seqs, [first, first + 1, first + 2], "consecutive, in the order recorded");
        let ids: Vec<&str> = new.iter().map(|e| e.object_id.as_str()).collect();
        assert_eq!(ids, ["1", "2", "3"]);
        assert!(new.iter().all(|e| e.occurred_at == new[0].occurred_at), "stamped together");
        assert_eq!(new[0].prev_hash, before.last().unwrap().hash);
        assert_eq!(verify(&app, &admin).await, json!({"events": first + 2, "broken": null}));
        // Outside a write transaction an event is appended at once.
        app.store.read(|conn| change(conn, 4)).await.unwrap();
        assert_eq!(verify(&app, &admin).await["events"], first + 3);
    }

    async fn a_failed_transaction_leaves_no_events_behind(app: TestApp) {
        let admin = with_events(&app).await;
        let before = verify(&app, &admin).await["events"].as_i64().unwrap();
        let failed = app
            .store
            .write(|conn| {
                change(conn, 1)?;
                change(conn, 2)?;
                Err::<(), _>(loket::error::Error::conflict(
                    loket::error::ConflictCode::Other,
                    "changed my mind",
                ))
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(verify(&app, &admin).await, json!({"events": before, "broken": null}));
        // The next transaction, on whichever thread, carries only its own event.
        app.store.write(|conn| change(conn, 3)).await.unwrap();
        let after = events(&app).await;
        assert_eq!(after.len() as i64, before + 1);
        assert_eq!(after.last().unwrap().object_id, "3");
        assert_eq!(verify(&app, &admin).await["broken"], json!(null));
    }

    async fn concurrent_transactions_keep_one_unbroken_chain(app: TestApp) {
        let admin = with_events(&app).await;
        let before = events(&app).await.len();
        concurrently(|_| app.store.clone(), |conn, n| {
            change(conn, 100 + n)?;
            change(conn, 200 + n)
        })
        .await;
        let after = events(&app).await;
        assert_eq!(after.len(), before + 48);
        for pair in after[before..].chunks(2) {
            let n: i64 = pair[0].object_id.parse::<i64>().unwrap() - 100;
            assert_eq!(pair[1].object_id, (200 + n).to_string(), "a transaction's events adjacent");
        }
        assert_eq!(verify(&app, &admin).await, json!({"events": after.len(), "broken": null}));
    }

    async fn nested_and_other_instances_transactions_among_concurrent_ones_keep_one_chain(app: TestApp) {
        // On PostgreSQL a store's transactions take turns from their append to their end. A
        // nested transaction appends inside its outer one, which then holds the head's row lock
        // while it waits for its turn; another instance appends without this store's turns.
        // None of it may stall for good or break the chain.
        let admin = with_events(&app).await;
        let before = events(&app).await.len();
        let other = loket::db::Store::open(&app.settings.database_url(), 2).unwrap();
        concurrently(|n| if n % 4 == 3 { other.clone() } else { app.store.clone() }, |conn, n| {
            change(conn, 100 + n)?;
            if n % 3 == 0 {
                loket::db::write_transaction(conn, |conn| change(conn, 300 + n))?;
            }
            change(conn, 200 + n)
        })
        .await;
        let after = events(&app).await;
        assert_eq!(after.len(), before + 24 * 2 + 8);
        assert_eq!(verify(&app, &admin).await, json!({"events": after.len(), "broken": null}));
    }

    // SQLite's writes are committed in groups (`db::writer`): a write that fails or panics
    // takes nothing of the others with it, and leaves none of its own events behind.
    async fn a_failed_or_panicking_write_among_concurrent_ones_leaves_the_others_whole(app: TestApp) {
        let admin = with_events(&app).await;
        let before = events(&app).await.len();
        let writes: Vec<_> = (0..30i64).map(|n| {
            let store = app.store.clone();
            tokio::spawn(async move {
                store
                    .write(move |conn| {
                        change(conn, 300 + n)?;
                        match n % 10 {
                            3 => Err(loket::error::Error::invalid("n", "refused on purpose")),
                            7 => panic!("a bug in write {n}"),
                            _ => change(conn, 400 + n),
                        }
                    })
                    .await
            })
        }).collect();
        let mut committed = Vec::new();
        for (n, write) in writes.into_iter().enumerate() {
            match (n % 10, write.await) {
                (3, Ok(outcome)) => assert!(outcome.is_err(), "write {n} was refused"),
                (7, outcome) => assert!(outcome.is_err() || outcome.unwrap().is_err(), "write {n} panicked"),
                (_, outcome) => {
                    outcome.unwrap().unwrap();
                    committed.push(n as i64);
                }
            }
        }
        let after = events(&app).await;
        let ids: Vec<i64> = after[before..].iter().map(|e| e.object_id.parse().unwrap()).collect();
        assert_eq!(ids.len(), committed.len() * 2, "two events per committed write, none of the others: {ids:?}");
        for pair in ids.chunks(2) {
            let n = pair[0] - 300;
            assert!(committed.contains(&n), "write {n} committed");
            assert_eq!(pair[1], 400 + n, "a write's events adjacent");
        }
        assert_eq!(verify(&app, &admin).await, json!({"events": after.len(), "broken": null}));
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
