//! Outgoing webhooks and the daily reminder digest (issue 22): a receiver that fails twice gets
//! the event exactly once, signed so it can check it; subscriptions are for administrators and
//! validated; the digest lists the right requests for each member of staff.

use crate::common::{cipher_of, expect_json, TestApp};
use hmac::{Hmac, Mac};
use loket::auth::Role;
use loket::db::models::webhooks::SubscriptionRow;
use serde_json::{json, Value};
use sha2::Sha256;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

const SECRET: &str = "whsec-test-0123456789abcdef";

/// One request as the receiver got it.
#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }
}

/// A receiver on loopback that answers `500` to the first `failures` requests and `200` after.
fn receiver(failures: usize) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/loket", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                let trimmed = line.trim_end();
                if trimmed.is_empty() {
                    break;
                }
                let (name, value) = trimmed.split_once(':').unwrap();
                headers.push((name.trim().to_string(), value.trim().to_string()));
            }
            let length: usize = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .map(|(_, v)| v.parse().unwrap())
                .unwrap_or(0);
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let count = {
                let mut got = seen.lock().unwrap();
                got.push(Received {
                    headers,
                    body: String::from_utf8(body).unwrap(),
                });
                got.len()
            };
            let status = if count <= failures {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (url, got)
}

/// One delivery round at `now`, as the outbox worker takes it.
async fn step(app: &TestApp, now: chrono::NaiveDateTime) -> loket::webhooks::delivery::StepReport {
    let stepper = loket::mail::worker::Stepper::new(
        app.store.clone(),
        cipher_of(&app.settings),
        &app.settings,
    )
    .expect("a mail worker");
    stepper.deliver_webhooks_at(now).await
}

fn verify(secret: &str, received: &Received) -> bool {
    let timestamp = received.header("Loket-Timestamp");
    let signature = received.header("Loket-Signature");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{}", received.body).as_bytes());
    signature == format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// A subscription row as another instance (or an administrator's call) stores it.
fn subscription(id: &str) -> SubscriptionRow {
    let now = loket::db::now();
    SubscriptionRow {
        id: id.to_string(),
        url: format!("https://hooks.example.nl/{id}"),
        description: None,
        secret_enc: "sealed".into(),
        events: "request.received".into(),
        active: true,
        created_by: "admin".into(),
        created_at: now,
        updated_at: now,
    }
}

/// The ids `list_once` gives in a write transaction of `store`, after `before` ran in it.
async fn listed_once(
    store: &loket::db::Store,
    before: impl FnOnce(&mut loket::db::DbConnection) + Send + 'static,
) -> Vec<String> {
    store
        .write(move |conn| {
            before(conn);
            let rows = SubscriptionRow::list_once(conn)?;
            Ok::<_, loket::db::StoreError>(rows.iter().map(|row| row.id.clone()).collect())
        })
        .await
        .expect("write transaction")
}

backend_tests! {
    async fn subscriptions_are_read_once_per_transaction_and_never_kept_beyond_it(app: TestApp) {
        assert!(listed_once(&app.store, |_| ()).await.is_empty());
        // Stored behind loket's back (another instance): the next transaction sees it.
        app.store
            .read(|conn| {
                use diesel::RunQueryDsl;
                diesel::sql_query(
                    "INSERT INTO webhook_subscriptions (id, url, secret_enc, events, active, \
                     created_by, created_at, updated_at) VALUES ('elsewhere', 'https://x.nl', \
                     's', 'request.received', true, 'admin', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
                )
                .execute(conn)
                .map_err(loket::db::StoreError::from)
            })
            .await
            .expect("stored");
        assert_eq!(listed_once(&app.store, |_| ()).await, ["elsewhere"]);
        // Read, then changed in the same transaction: the change is seen.
        let ids = listed_once(&app.store, |conn| {
            SubscriptionRow::list_once(conn).expect("read");
            subscription("here").insert(conn).expect("inserted");
        })
        .await;
        assert_eq!(ids.len(), 2, "{ids:?}");
        assert!(ids.contains(&"here".to_string()), "{ids:?}");
        let ids = listed_once(&app.store, |conn| {
            SubscriptionRow::list_once(conn).expect("read");
            assert!(SubscriptionRow::delete(conn, "elsewhere").expect("deleted"));
        })
        .await;
        assert_eq!(ids, ["here"]);
    }

    async fn subscriptions_kept_between_transactions_go_with_every_change(app: TestApp) {
        // A server's store keeps the subscriptions while it hears of every change (PostgreSQL;
        // SQLite keeps nothing and reads them in every transaction).
        use loket::db::notices::Topic;
        let server = loket::db::Store::open(&app.settings.database_url(), 2).unwrap();
        server.listen_for_changes().unwrap();
        if app.backend == loket::db::Backend::Postgres {
            let mut waited = 0;
            while server.notices().token(Topic::Webhooks).is_none() && waited < 200 {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                waited += 1;
            }
            assert!(server.notices().token(Topic::Webhooks).is_some(), "not listening");
        }
        assert!(listed_once(&server, |_| ()).await.is_empty());
        // Stored behind the server's back (another instance, a DBA): seen within moments.
        app.store
            .write(|conn| subscription("elsewhere").insert(conn))
            .await
            .expect("stored");
        let mut seen = Vec::new();
        for _ in 0..200 {
            seen = listed_once(&server, |_| ()).await;
            if !seen.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(seen, ["elsewhere"]);
        // Stored and read in a transaction that rolls back: never kept.
        let rolled_back = server
            .write(|conn| {
                subscription("phantom").insert(conn)?;
                let ids: Vec<String> = SubscriptionRow::list_once(conn)?.iter().map(|row| row.id.clone()).collect();
                assert_eq!(ids.len(), 2, "its own change is seen in it: {ids:?}");
                Err::<(), _>(loket::db::StoreError::Corrupt("rolled back on purpose".into()))
            })
            .await;
        assert!(rolled_back.is_err());
        assert_eq!(listed_once(&server, |_| ()).await, ["elsewhere"]);
        if app.backend == loket::db::Backend::Postgres {
            // The copy is what the server uses: a row stored with the notice switched off (as
            // no write path can) is not seen until the next change is heard of.
            let sql = |sql: &'static str| {
                app.store.write(move |conn| {
                    use diesel::RunQueryDsl;
                    diesel::sql_query(sql).execute(conn).map_err(loket::db::StoreError::from)
                })
            };
            sql("ALTER TABLE webhook_subscriptions DISABLE TRIGGER webhook_subscriptions_notify").await.unwrap();
            app.store.write(|conn| subscription("unheard").insert(conn)).await.expect("stored");
            sql("ALTER TABLE webhook_subscriptions ENABLE TRIGGER webhook_subscriptions_notify").await.unwrap();
            tokio::time::sleep(loket::db::notices::POLL * 20).await;
            assert_eq!(listed_once(&server, |_| ()).await, ["elsewhere"], "read again: nothing kept");
        }
    }

    async fn a_webhook_is_delivered_once_after_two_failures_and_its_signature_verifies(app: TestApp) {
        app.stop_mail_worker().await;
        let (url, got) = receiver(2);
        let admin = app.token_for(Role::Admin).await;
        let agent = app.token_for(Role::Agent).await;
        let subscription = expect_json(
            app.post_json(
                "/api/v1/webhooks",
                Some(&admin),
                &json!({"url": url, "secret": SECRET, "events": ["request.received", "request.completed"], "description": "ticketing"}),
            )
            .await,
            201,
        )
        .await;
        assert!(subscription.get("secret").is_none(), "the secret is write-only: {subscription}");
        let id = subscription["id"].as_str().unwrap().to_string();

        let request = expect_json(
            app.post_json(
                "/api/v1/requests",
                Some(&agent),
                &json!({"kind": "erasure", "channel": "phone", "requester": {
                    "name": "Jan de Vries", "email": "jan.devries@example.nl",
                    "customer_number": "TN-448812", "phone": "06-12345678"}}),
            )
            .await,
            201,
        )
        .await;
        let reference = request["reference"].as_str().unwrap().to_string();

        let start = chrono::Utc::now().naive_utc();
        let hours = |h: i64| start + chrono::TimeDelta::hours(h);
        let first = step(&app, start).await;
        assert_eq!((first.attempted, first.delivered), (1, 0));
        let deliveries = expect_json(app.get(&format!("/api/v1/webhooks/{id}/deliveries"), Some(&admin)).await, 200).await;
        assert_eq!(deliveries["total"], 1, "{deliveries}");
        let delivery = &deliveries["items"][0];
        assert_eq!(delivery["status"], "pending");
        assert_eq!(delivery["attempts"], 1);
        assert_eq!(delivery["last_status_code"], 500);
        assert!(delivery["last_error"].as_str().unwrap().contains("500"), "{delivery}");
        // Not due again until its backoff has passed.
        assert_eq!(step(&app, start).await.attempted, 0);

        assert_eq!(step(&app, hours(1)).await.delivered, 0);
        let third = step(&app, hours(2)).await;
        assert_eq!((third.attempted, third.delivered), (1, 1));
        assert_eq!(step(&app, hours(3)).await.attempted, 0, "delivered once, never again");

        let deliveries = expect_json(app.get(&format!("/api/v1/webhooks/{id}/deliveries"), Some(&admin)).await, 200).await;
        let delivery = &deliveries["items"][0];
        assert_eq!(delivery["status"], "delivered", "{delivery}");
        assert_eq!(delivery["attempts"], 3);
        assert_eq!(delivery["event"], "request.received");
        assert!(delivery["delivered_at"].is_string());

        let got = got.lock().unwrap().clone();
        assert_eq!(got.len(), 3, "three attempts reached the receiver");
        let event_ids: Vec<&str> = got.iter().map(|r| r.header("Loket-Event-Id")).collect();
        assert!(event_ids.iter().all(|e| *e == event_ids[0]), "one event id on every attempt: {event_ids:?}");
        for received in &got {
            assert!(verify(SECRET, received), "the signature verifies with the secret");
            assert!(!verify("another secret of some length", received));
            assert_eq!(received.header("Loket-Event"), "request.received");
            assert_eq!(received.body, got[0].body, "the same body on every attempt");
        }
        let body: Value = serde_json::from_str(&got[2].body).unwrap();
        assert_eq!(body["id"], event_ids[0]);
        assert_eq!(body["event"], "request.received");
        assert_eq!(body["data"]["reference"], reference.as_str());
        assert_eq!(body["data"]["kind"], "erasure");
        assert_eq!(body["data"]["state"], "received");
        assert_eq!(body["data"]["due_on"], request["due_on"]);
        let text = got[2].body.to_lowercase();
        for personal in ["jan", "vries", "example.nl", "448812", "12345678"] {
            assert!(!text.contains(personal), "no personal data ({personal}) in {text}");
        }
        // The secret is sealed at rest.
        let dump = crate::common::dump_database(&app).await;
        assert!(!dump.contains(SECRET), "the secret is stored sealed");
    }

    async fn deliveries_are_claimed_in_groups_once_each_and_given_back_unsent(app: TestApp) {
        use loket::webhooks::delivery;
        app.stop_mail_worker().await;
        let (url, got) = receiver(0);
        let admin = app.token_for(Role::Admin).await;
        let agent = app.token_for(Role::Agent).await;
        let body = json!({"url": url, "secret": SECRET, "events": ["request.received"]});
        expect_json(app.post_json("/api/v1/webhooks", Some(&admin), &body).await, 201).await;
        for n in 0..3 {
            let request = json!({"kind": "access", "channel": "phone", "requester": {
                "name": "Jan de Vries", "email": format!("jan{n}@example.nl")}});
            expect_json(app.post_json("/api/v1/requests", Some(&agent), &request).await, 201).await;
        }
        // Two workers (two loket instances) claiming in turn.
        let start = chrono::Utc::now().naive_utc();
        let claim_at = |at: chrono::NaiveDateTime, limit: i64| {
            app.store.read(move |conn| {
                Ok::<_, loket::db::StoreError>(
                    delivery::claim_group(conn, at, limit)?
                        .into_iter()
                        .map(|row| (row.delivery.id, row.delivery.attempts, row.event.created_at))
                        .collect::<Vec<_>>(),
                )
            })
        };
        let claim = |limit: i64| claim_at(start, limit);
        let first = claim(2).await.unwrap();
        assert_eq!(first.len(), 2);
        assert!(first.iter().all(|(_, attempts, _)| *attempts == 1), "the attempt is counted");
        assert!(first[0].2 <= first[1].2, "oldest first: {first:?}");
        let second = claim(16).await.unwrap();
        assert_eq!(second.len(), 1, "only what the first worker did not take");
        assert!(!first.iter().any(|(id, _, _)| *id == second[0].0));
        assert!(claim(16).await.unwrap().is_empty(), "nothing is taken twice while its lease runs");

        // A worker that stops gives back what it did not send: due at once, the attempt uncounted.
        let unsent: Vec<String> = first.iter().map(|(id, _, _)| id.clone()).collect();
        app.store
            .read(move |conn| delivery::release(conn, &unsent))
            .await
            .unwrap();
        let again = claim_at(chrono::Utc::now().naive_utc(), 16).await.unwrap();
        assert_eq!(again.len(), 2);
        assert!(again.iter().all(|(_, attempts, _)| *attempts == 1), "{again:?}");

        // Once the leases have run out, one round sends each delivery once.
        let later = start + chrono::TimeDelta::hours(1);
        let round = step(&app, later).await;
        assert_eq!((round.attempted, round.delivered), (3, 3));
        assert_eq!(step(&app, later).await.attempted, 0);
        let got = got.lock().unwrap().clone();
        let mut sent: Vec<&str> = got.iter().map(|r| r.header("Loket-Delivery")).collect();
        sent.sort();
        sent.dedup();
        assert_eq!(sent.len(), 3, "three deliveries, each sent once: {sent:?}");
    }

    async fn webhooks_are_for_administrators_and_validated_by_field(app: TestApp) {
        let admin = app.token_for(Role::Admin).await;
        for role in [Role::Agent, Role::PrivacyOfficer, Role::Service] {
            let token = app.token_for(role).await;
            let listed = app.get("/api/v1/webhooks", Some(&token)).await;
            assert_eq!(listed.status(), 403, "{role} may not list webhooks");
            let created = app
                .post_json("/api/v1/webhooks", Some(&token), &json!({"url": "https://x.example.nl", "secret": SECRET, "events": ["request.received"]}))
                .await;
            assert_eq!(created.status(), 403, "{role} may not add webhooks");
        }
        let good = json!({"url": "https://hooks.example.nl/loket", "secret": SECRET, "events": ["request.overdue"]});
        for (change, field) in [
            (json!({"url": "ftp://hooks.example.nl"}), "url"),
            (json!({"url": "hooks.example.nl/loket"}), "url"),
            (json!({"secret": "too-short"}), "secret"),
            (json!({"events": []}), "events"),
            (json!({"events": ["request.overdue", "request.deleted"]}), "events[1]"),
        ] {
            let mut body = good.clone();
            for (key, value) in change.as_object().unwrap() {
                body[key] = value.clone();
            }
            let refused = expect_json(app.post_json("/api/v1/webhooks", Some(&admin), &body).await, 422).await;
            assert_eq!(refused["field"], field, "{body}: {refused}");
        }
        let mut no_secret = good.clone();
        no_secret.as_object_mut().unwrap().remove("secret");
        let refused = expect_json(app.post_json("/api/v1/webhooks", Some(&admin), &no_secret).await, 422).await;
        assert_eq!(refused["field"], "secret");

        let created = expect_json(app.post_json("/api/v1/webhooks", Some(&admin), &good).await, 201).await;
        let id = created["id"].as_str().unwrap();
        // Changed without a secret: the old one stays; never shown.
        let changed = expect_json(
            app.put_json(&format!("/api/v1/webhooks/{id}"), Some(&admin), &json!({"url": "https://hooks.example.nl/v2", "events": ["request.overdue", "sweep.finished"], "active": false})).await,
            200,
        )
        .await;
        assert_eq!(changed["events"], json!(["request.overdue", "sweep.finished"]));
        assert_eq!(changed["active"], false);
        let listed = expect_json(app.get("/api/v1/webhooks", Some(&admin)).await, 200).await;
        assert_eq!(listed["total"], 1);
        assert!(!listed.to_string().contains(SECRET));
        let gone = app.delete(&format!("/api/v1/webhooks/{id}"), Some(&admin)).await;
        assert_eq!(gone.status(), 204);
        let missing = app.get(&format!("/api/v1/webhooks/{id}"), Some(&admin)).await;
        assert_eq!(missing.status(), 404);
    }

    async fn the_daily_digest_lists_each_recipients_due_requests_and_tells_webhooks_once(app: TestApp) {
        app.stop_mail_worker().await;
        let admin = app.token_for(Role::Admin).await;
        for (username, role) in [("anna", Role::Agent), ("bram", Role::Agent), ("cees", Role::Agent), ("femke", Role::PrivacyOfficer)] {
            app.add_user(username, role).await;
        }
        for (username, body) in [
            ("anna", json!({"email": "anna@telco.example.nl"})),
            ("bram", json!({"email": "bram@telco.example.nl", "language": "en"})),
            ("cees", json!({"email": "cees@telco.example.nl"})),
            ("femke", json!({"email": "femke@telco.example.nl"})),
        ] {
            let response = app.send_json(reqwest::Method::PATCH, &format!("/api/v1/users/{username}"), Some(&admin), &body).await;
            expect_json(response, 200).await;
        }
        let bad = app.send_json(reqwest::Method::PATCH, "/api/v1/users/anna", Some(&admin), &json!({"language": "de"})).await;
        assert_eq!(expect_json(bad, 422).await["field"], "language");
        expect_json(
            app.post_json("/api/v1/webhooks", Some(&admin), &json!({"url": "http://127.0.0.1:9/never", "secret": SECRET, "events": ["request.due_soon", "request.overdue"]})).await,
            201,
        )
        .await;

        let agent = app.token_for(Role::Agent).await;
        let today = chrono::NaiveDate::from_ymd_opt(2030, 3, 12).unwrap();
        let mut ids = Vec::new();
        // overdue (anna), due soon (bram), due soon unassigned, due later (anna), closed-never-mind
        for (assignee, due_in_days) in [(Some("anna"), -2), (Some("bram"), 3), (None, 0), (Some("anna"), 20)] {
            let created = expect_json(
                app.post_json("/api/v1/requests", Some(&agent), &json!({"kind": "access", "channel": "phone", "requester": {"name": "Piet Bakker", "email": "piet@example.nl"}})).await,
                201,
            )
            .await;
            let id = created["id"].as_str().unwrap().to_string();
            let (target, assignee) = (id.clone(), assignee.map(str::to_string));
            let due = today + chrono::TimeDelta::days(due_in_days);
            app.store
                .write(move |conn| {
                    use diesel::prelude::*;
                    use loket::db::schema::requests;
                    diesel::update(requests::table.filter(requests::id.eq(target)))
                        .set((requests::due_on.eq(due), requests::assignee.eq(assignee)))
                        .execute(conn)
                        .map_err(loket::db::StoreError::from)
                })
                .await
                .unwrap();
            ids.push((id, created["reference"].as_str().unwrap().to_string()));
        }

        let (secrets, _) = app.settings.secrets().unwrap();
        let policies = std::sync::Arc::new(loket::policies::Policies::shipped().unwrap());
        let service = loket::startup::request_service(&app.settings, &app.store, &secrets, policies);
        let report = service.daily_reminders(today).await.unwrap();
        assert!(report.ran);
        let digest = |username: &str| -> Vec<String> {
            report
                .digests
                .iter()
                .find(|d| d.username == username)
                .map(|d| d.items.iter().map(|i| i.reference.clone()).collect())
                .unwrap_or_default()
        };
        let reference = |i: usize| ids[i].1.clone();
        assert_eq!(digest("anna"), [reference(0)], "anna: her overdue request, not the one due later");
        assert_eq!(digest("bram"), [reference(1)]);
        assert!(digest("cees").is_empty(), "nothing of cees's is due");
        assert_eq!(digest("femke"), [reference(0), reference(2), reference(1)], "the officer: all, soonest first");
        assert_eq!((report.overdue_events, report.due_soon_events), (1, 2));

        // The mails: Dutch for anna, English for bram; the reference and a desk link, no person.
        let cipher = cipher_of(&app.settings);
        let mail = |username: &str| -> (String, String, String) {
            let outbox_id = report.digests.iter().find(|d| d.username == username).unwrap().outbox_id.clone().unwrap();
            let cipher = cipher.clone();
            let store = app.store.clone();
            std::thread::spawn(move || {
                let mut conn = store.connection().unwrap();
                let row = loket::db::models::outbox::OutboxRow::find(&mut conn, &outbox_id).unwrap().unwrap();
                (
                    cipher.decrypt("outbox.recipient", &row.recipient_enc).unwrap(),
                    cipher.decrypt("outbox.subject", &row.subject_enc).unwrap(),
                    cipher.decrypt("outbox.body", &row.body_enc).unwrap(),
                )
            })
            .join()
            .unwrap()
        };
        let (to, subject, body) = mail("anna");
        assert_eq!(to, "anna@telco.example.nl");
        assert_eq!(subject, "Verzoeken af te ronden: 1 verlopen, 0 bijna verlopen");
        assert!(body.contains(&reference(0)) && body.contains("verlopen sinds 10 maart 2030 (2 dagen)"), "{body}");
        assert!(body.contains(&format!("/desk/requests/{}", ids[0].0)), "{body}");
        let (_, subject, body) = mail("bram");
        assert_eq!(subject, "Requests to finish: 0 overdue, 1 due soon");
        assert!(body.contains("due 15 March 2030 (3 days left)"), "{body}");
        let (_, _, body) = mail("femke");
        for personal in ["Piet", "Bakker", "piet@example.nl"] {
            assert!(!body.contains(personal), "no personal data ({personal}) in {body}");
        }

        // Once a day; and each request is due soon or overdue once for the webhooks.
        assert!(!service.daily_reminders(today).await.unwrap().ran);
        let tomorrow = service.daily_reminders(today + chrono::TimeDelta::days(1)).await.unwrap();
        assert!(tomorrow.ran);
        assert_eq!((tomorrow.overdue_events, tomorrow.due_soon_events), (1, 0), "only the unassigned request newly overdue");
        let hooks = expect_json(app.get("/api/v1/webhooks", Some(&admin)).await, 200).await;
        let hook = hooks["items"][0]["id"].as_str().unwrap();
        let deliveries = expect_json(app.get(&format!("/api/v1/webhooks/{hook}/deliveries"), Some(&admin)).await, 200).await;
        assert_eq!(deliveries["total"], 4, "{deliveries}");
    }
}
