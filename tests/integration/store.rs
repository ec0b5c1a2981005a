//! The store underneath the domain: what its statements rely on in the schema, and that its
//! writes see what other connections wrote, on both backends.

use crate::common;

use common::TestApp;
use diesel::sql_types::Text;
use diesel::{ExpressionMethods, QueryDsl, QueryableByName, RunQueryDsl};
use loket::db::models::requests;
use loket::db::{Backend, DbConnection};

#[derive(QueryableByName, Debug)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

/// The rows `sql` answers on a connection of the store.
fn rows<T>(app: &TestApp, sql: &str) -> Vec<T>
where
    T: diesel::QueryableByName<<DbConnection as diesel::Connection>::Backend> + 'static,
{
    let mut conn = app.store.connection().unwrap();
    let conn: &mut DbConnection = &mut conn;
    diesel::sql_query(sql).load(conn).unwrap()
}

/// Every nullable column of the store that has a default other than NULL.
fn nullable_columns_with_a_default(app: &TestApp) -> Vec<String> {
    let sql = match app.backend {
        Backend::Sqlite => {
            "SELECT m.name AS table_name, p.name AS column_name \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND p.\"notnull\" = 0 AND p.dflt_value IS NOT NULL \
             AND upper(p.dflt_value) <> 'NULL'"
        }
        Backend::Postgres => {
            "SELECT table_name::text AS table_name, column_name::text AS column_name \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND is_nullable = 'YES' \
             AND column_default IS NOT NULL AND column_default NOT ILIKE 'NULL%'"
        }
    };
    rows::<Column>(app, sql)
        .into_iter()
        .map(|c| format!("{}.{}", c.table_name, c.column_name))
        .collect()
}

backend_tests! {
    async fn no_nullable_column_has_a_default_that_an_insert_would_not_apply(app: TestApp) {
        // Rows are inserted with `None` bound as NULL (`treat_none_as_default_value = false`,
        // so each insert has one text and is prepared once): a default on a nullable column
        // would silently never apply. Make such a column NOT NULL, or set it in the row.
        assert_eq!(nullable_columns_with_a_default(&app), Vec::<String>::new());
    }

    async fn a_write_sees_what_another_connection_committed_just_before(app: TestApp) {
        // The SQLite writer keeps its own connection and page cache between writes; a change
        // committed elsewhere (the command line, another process) must still be what it reads.
        for round in 0..3 {
            let name = format!("Elders {round}");
            {
                let mut conn = app.store.connection().unwrap();
                let conn: &mut DbConnection = &mut conn;
                let placeholder = match app.backend {
                    Backend::Sqlite => "?",
                    Backend::Postgres => "$1",
                };
                diesel::sql_query(format!(
                    "INSERT INTO organisation (id, name, contact_email, updated_at) \
                     VALUES (1, {placeholder}, 'privacy@example.nl', CURRENT_TIMESTAMP) \
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name"
                ))
                .bind::<Text, _>(&name)
                    .execute(conn)
                    .unwrap();
            }
            let seen = app
                .store
                .write(|conn| {
                    #[derive(QueryableByName)]
                    struct Name {
                        #[diesel(sql_type = Text)]
                        name: String,
                    }
                    let rows: Vec<Name> =
                        diesel::sql_query("SELECT name FROM organisation").load(conn)?;
                    Ok::<_, loket::db::StoreError>(rows.into_iter().map(|r| r.name).collect::<Vec<_>>())
                })
                .await
                .unwrap();
            assert_eq!(seen, vec![name], "round {round}");
        }
    }

    async fn audit_events_of_any_number_go_in_one_statement_prepared_once(app: TestApp) {
        // On PostgreSQL the events go as arrays with the head's move: one text whatever their
        // number (a transaction's events were a statement of nine parameters per event).
        use loket::db::models::audit;
        let seen = statements_of(&app, |conn| {
            for count in [1, 3, 2] {
                let events = (0..count).map(event).collect();
                audit::append_chained(conn, events, |event| format!("hash of {}", event.object_id)).unwrap();
            }
        });
        let mut conn = app.store.connection().unwrap();
        let conn: &mut DbConnection = &mut conn;
        let stored: Vec<String> = loket::db::schema::audit_events::table
            .filter(loket::db::schema::audit_events::action.eq("test.appended"))
            .order(loket::db::schema::audit_events::seq)
            .select(loket::db::schema::audit_events::object_id)
            .load(conn)
            .unwrap();
        assert_eq!(stored, ["0", "0", "1", "2", "0", "1"]);
        if app.backend == Backend::Postgres {
            let appends: Vec<&String> =
                seen.statements.iter().filter(|sql| sql.contains("audit_events")).collect();
            assert_eq!(appends.len(), 3, "{:#?}", seen.statements);
            assert!(appends.iter().all(|sql| *sql == appends[0]), "{appends:#?}");
            let prepared = seen.prepared.iter().filter(|sql| sql.contains("audit_events")).count();
            assert!(prepared <= 1, "prepared again: {:#?}", seen.prepared);
        }
    }

    async fn letters_are_marked_sent_by_a_statement_prepared_once(app: TestApp) {
        // diesel prepares every UPDATE it builds anew; this one runs for every group of letters
        // sent, on PostgreSQL one statement for the whole group.
        use loket::db::models::outbox;
        app.stop_mail_worker().await;
        let ids: Vec<String> = (0..4).map(|n| format!("letter-{n}")).collect();
        {
            let mut conn = app.store.connection().unwrap();
            let conn: &mut DbConnection = &mut conn;
            for id in &ids {
                diesel::sql_query(format!(
                    "INSERT INTO outbox (id, template, language, recipient_enc, subject_enc, \
                     body_enc, status, attempts, next_attempt_at, last_error, created_at) VALUES \
                     ('{id}', 'receipt', 'nl', 'r', 's', 'b', 'pending', 1, \
                     '2000-01-01 00:00:00', 'refused', '2000-01-01 00:00:00')"
                ))
                .execute(conn)
                .unwrap();
            }
        }
        // Each letter keeps the time it went, though a group's are marked together.
        let at = loket::db::now();
        let sent: Vec<(String, chrono::NaiveDateTime)> = ids[..3]
            .iter()
            .enumerate()
            .map(|(n, id)| (id.clone(), at - chrono::TimeDelta::seconds(3 - n as i64)))
            .collect();
        let seen = statements_of(&app, |conn| {
            outbox::mark_sent(conn, &sent[..1]).unwrap();
            outbox::mark_sent(conn, &sent[1..]).unwrap();
        });
        let of_outbox = |sql: &&String| sql.starts_with("UPDATE") && sql.contains("outbox");
        let updates = seen.statements.iter().filter(of_outbox).count();
        let expected = match app.backend {
            Backend::Postgres => 2,
            Backend::Sqlite => 3,
        };
        assert_eq!(updates, expected, "{:#?}", seen.statements);
        // No letter was sent before on this new desk: kept by the first, used by the second.
        let prepared = seen.prepared.iter().filter(of_outbox).count();
        assert_eq!(prepared, 1, "{:#?}", seen.prepared);
        let mut conn = app.store.connection().unwrap();
        for (n, id) in ids.iter().enumerate() {
            let row = outbox::OutboxRow::find(&mut conn, id).unwrap().unwrap();
            let expected = match sent.get(n) {
                Some((_, at)) => (outbox::SENT, Some(*at), None),
                None => (outbox::PENDING, None, Some("refused")),
            };
            assert_eq!((row.status.as_str(), row.sent_at, row.last_error.as_deref()), expected, "{id}");
        }
    }

    async fn a_new_request_its_letter_and_checklist_are_stored_as_given_in_one_prepared_statement(app: TestApp) {
        // On PostgreSQL the three go in one statement, the checklist as arrays, so that its
        // text does not change with the checklist's length and the server prepares it once.
        let agent = app.token_for(loket::auth::Role::Agent).await;
        let mut copies = Vec::new();
        for kind in ["access", "erasure"] {
            let body = serde_json::json!({"kind": kind, "channel": "phone", "requester": {
                "name": "Jan de Vries", "email": format!("jan.{kind}@example.nl")}});
            let made = common::expect_json(app.post_json("/api/v1/requests", Some(&agent), &body).await, 201).await;
            copies.push(copy_of_new_request(&app, made["id"].as_str().unwrap()));
        }
        assert_ne!(copies[0].tasks.len(), copies[1].tasks.len(), "two lengths of checklist");
        assert!(copies.iter().all(|copy| copy.letter.is_some()), "each with its receipt letter");
        // Or it sends the copies' letters before they are read back.
        app.stop_mail_worker().await;
        let seen = statements_of(&app, |conn| {
            for copy in &copies {
                requests::insert_new_request(conn, &copy.row, copy.letter.as_ref(), &copy.tasks).unwrap();
            }
        });
        for copy in &copies {
            let stored = copy_of_request_as_stored(&app, copy.row.id.as_str());
            assert_eq!(format!("{:?}", stored.row), format!("{:?}", copy.row));
            assert_eq!(format!("{:?}", stored.tasks), format!("{:?}", copy.tasks));
            assert_eq!(format!("{:?}", stored.letter), format!("{:?}", copy.letter));
        }
        if app.backend == Backend::Postgres {
            assert_eq!(seen.statements.len(), 2, "{:#?}", seen.statements);
            assert_eq!(seen.statements[0], seen.statements[1]);
            assert!(seen.prepared.len() <= 1, "prepared again: {:#?}", seen.prepared);
        }
    }

    async fn a_request_and_its_tasks_are_read_as_stored_in_one_prepared_statement(app: TestApp) {
        // On PostgreSQL the request is joined to its first task only: every field of both must
        // read back as the rows do, filled in or not, and the statement is prepared once.
        use loket::vocabulary::{SearchOutcome, TaskState};
        let agent = app.token_for(loket::auth::Role::Agent).await;
        let body = serde_json::json!({"kind": "erasure", "channel": "phone", "requester": {
            "name": "Jan de Vries", "email": "jan@example.nl"}});
        let made = common::expect_json(app.post_json("/api/v1/requests", Some(&agent), &body).await, 201).await;
        let id = made["id"].as_str().unwrap();
        let stored = copy_of_request_as_stored(&app, id);
        assert!(stored.tasks.len() > 1, "a checklist");
        let mut task = stored.tasks[1].clone();
        task.version += 1;
        task.state = TaskState::Done;
        task.assignee = Some("agent-1".to_string().into());
        task.evidence_enc = Some("sealed".into());
        task.closed_by = Some("agent-1".into());
        task.closed_at = Some(loket::db::now());
        task.keep_until = chrono::NaiveDate::from_ymd_opt(2033, 12, 31);
        task.outcome = Some(SearchOutcome::Found);
        task.found_rows = Some(3);
        {
            let mut conn = app.store.connection().unwrap();
            assert!(requests::update_task(&mut conn, &task).unwrap());
        }
        let expected = copy_of_request_as_stored(&app, id);
        assert_eq!(format!("{:?}", expected.tasks[1]), format!("{task:?}"));
        let mut read = Vec::new();
        let seen = statements_of(&app, |conn| {
            for _ in 0..2 {
                read.push(requests::find_request_with_tasks(conn, id).unwrap().unwrap());
            }
            assert!(requests::find_request_with_tasks(conn, "no-such-request").unwrap().is_none());
        });
        for (row, tasks) in &read {
            assert_eq!(format!("{row:?}"), format!("{:?}", expected.row));
            assert_eq!(format!("{tasks:?}"), format!("{:?}", expected.tasks));
        }
        if app.backend == Backend::Postgres {
            // One each; the missing request is looked up again without the join.
            assert_eq!(seen.statements.len(), 4, "{:#?}", seen.statements);
            assert_eq!(seen.statements[0], seen.statements[1]);
            assert!(seen.prepared.len() <= 2, "prepared again: {:#?}", seen.prepared);
        }
    }

    async fn another_instance_hears_of_every_change_to_accounts_and_the_catalog(app: TestApp) {
        // A second instance on the same database, listening as a server does: copies of
        // accounts and the catalog are kept only while it hears of every change to them.
        use loket::db::notices::Topic;
        let instance = loket::db::Store::open(&app.settings.database_url(), 1).unwrap();
        instance.listen_for_changes().unwrap();
        let notices = instance.notices();
        if app.backend == Backend::Sqlite {
            assert_eq!(notices.token(Topic::Users), None, "SQLite keeps no copies");
            return;
        }
        assert!(
            eventually(|| notices.token(Topic::Users).is_some()).await,
            "the listener did not start"
        );
        // Changed behind loket's back, as another instance, the CLI or a DBA would.
        let change = |sql: &str| {
            let mut conn = app.store.connection().unwrap();
            let conn: &mut DbConnection = &mut conn;
            diesel::sql_query(sql).execute(conn).unwrap();
        };
        let received = || [Topic::Users, Topic::Catalog, Topic::Webhooks].map(|t| notices.received(t));
        let before = received();
        change("UPDATE users SET updated_at = updated_at");
        assert!(eventually(|| received()[0] > before[0]).await, "no notice of users");
        change("UPDATE data_categories SET name_nl = name_nl");
        assert!(
            eventually(|| received()[1] > before[1]).await,
            "no notice of a catalog table (through the catalog's stamp)"
        );
        change("UPDATE webhook_subscriptions SET url = url");
        assert!(eventually(|| received()[2] > before[2]).await, "no notice of webhooks");
        tokio::time::sleep(loket::db::notices::POLL * 20).await;
        let after = received();
        assert_eq!(after, [before[0] + 1, before[1] + 1, before[2] + 1], "one notice each, of its own topic");
        let users = notices.received(Topic::Users);
        {
            let mut conn = app.store.connection().unwrap();
            let conn: &mut DbConnection = &mut conn;
            let rolled_back = diesel::Connection::transaction(conn, |conn| {
                diesel::sql_query("UPDATE users SET updated_at = updated_at").execute(conn)?;
                Err::<(), _>(diesel::result::Error::RollbackTransaction)
            });
            assert!(rolled_back.is_err());
        }
        tokio::time::sleep(loket::db::notices::POLL * 20).await;
        assert_eq!(notices.received(Topic::Users), users, "a rolled-back change is no change");
    }
}

/// Whether `holds` comes true within two seconds.
async fn eventually(holds: impl Fn() -> bool) -> bool {
    for _ in 0..200 {
        if holds() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    holds()
}

/// An audit event to append, before it is chained.
fn event(n: usize) -> loket::db::models::audit::AuditEventRow {
    loket::db::models::audit::AuditEventRow {
        seq: 0,
        occurred_at: loket::db::now(),
        actor: "test".into(),
        action: "test.appended".into(),
        object_type: "test".into(),
        object_id: n.to_string(),
        summary: format!("event {n}"),
        prev_hash: String::new(),
        hash: String::new(),
    }
}

/// A request with its checklist and letters, as rows of the store.
struct StoredRequest {
    row: requests::RequestRow,
    tasks: Vec<requests::TaskRow>,
    letter: Option<loket::db::models::outbox::OutboxRow>,
}

fn copy_of_request_as_stored(app: &TestApp, id: &str) -> StoredRequest {
    let mut conn = app.store.connection().unwrap();
    let conn: &mut DbConnection = &mut conn;
    let letters = loket::db::models::outbox::OutboxRow::for_request(conn, id).unwrap();
    assert!(letters.len() <= 1, "{letters:?}");
    StoredRequest {
        row: requests::find_request(conn, id).unwrap().unwrap(),
        tasks: requests::list_tasks(conn, id).unwrap(),
        letter: letters.into_iter().next(),
    }
}

/// The request `id` as stored, under new ids, to be stored again.
fn copy_of_new_request(app: &TestApp, id: &str) -> StoredRequest {
    let mut copy = copy_of_request_as_stored(app, id);
    copy.row.id = loket::ids::RequestId::generate();
    copy.row.reference.push_str("-2");
    for task in &mut copy.tasks {
        task.id = loket::ids::TaskId::generate();
        task.request_id = copy.row.id.clone();
    }
    if let Some(letter) = &mut copy.letter {
        letter.id = loket::ids::new_id();
        letter.request_id = Some(copy.row.id.clone());
    }
    copy
}

/// What a connection of the store was sent: every statement as diesel sends it, and those it
/// prepared to keep.
#[derive(Default)]
struct Seen {
    statements: Vec<String>,
    prepared: Vec<String>,
}

/// What `work` sends on a connection of the store.
fn statements_of(app: &TestApp, work: impl FnOnce(&mut DbConnection)) -> Seen {
    use diesel::connection::{Connection, InstrumentationEvent};
    use std::sync::{Arc, Mutex};
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut conn = app.store.connection().unwrap();
    let conn: &mut DbConnection = &mut conn;
    let log = seen.clone();
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| match event {
        InstrumentationEvent::StartQuery { query, .. } => {
            let text = query.to_string();
            let sql = text.split(" -- binds:").next().unwrap_or_default();
            log.lock().unwrap().statements.push(sql.to_string());
        }
        InstrumentationEvent::CacheQuery { sql, .. } => {
            log.lock().unwrap().prepared.push(sql.to_string());
        }
        _ => {}
    });
    work(conn);
    conn.set_instrumentation(diesel::connection::get_default_instrumentation());
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    seen
}

/// SQLite's plan for `sql` (its parameters bound to NULL), one line per step.
fn sqlite_plan(app: &TestApp, sql: &str) -> String {
    #[derive(QueryableByName)]
    struct Step {
        #[diesel(sql_type = Text)]
        detail: String,
    }
    rows::<Step>(app, &format!("EXPLAIN QUERY PLAN {sql}"))
        .into_iter()
        .map(|s| s.detail)
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_claims_and_gives_back_letters_by_key_not_by_walking_the_pending_ones() {
    // Without statistics SQLite took the index of pending letters for `id IN (…) AND status =
    // …`, and a claim read every pending letter of the backlog.
    let app = TestApp::spawn(Backend::Sqlite).await;
    // Or the app's own mail worker may claim the letters first.
    app.stop_mail_worker().await;
    let now = loket::db::now();
    {
        let mut conn = app.store.connection().unwrap();
        let conn: &mut DbConnection = &mut conn;
        for n in 0..3 {
            diesel::sql_query(format!(
                "INSERT INTO outbox (id, template, language, recipient_enc, subject_enc, body_enc, \
                 status, next_attempt_at, created_at) VALUES ('letter-{n}', 'receipt', 'nl', 'r', \
                 's', 'b', 'pending', '2000-01-01 00:00:00', '2000-01-01 00:00:00')"
            ))
            .execute(conn)
            .unwrap();
        }
    }
    use loket::db::models::outbox;
    let lease = now + chrono::TimeDelta::minutes(1);
    let mut claimed = Vec::new();
    let statements = statements_of(&app, |conn| {
        claimed = outbox::claim_group(conn, now, lease, 16).unwrap();
        let ids: Vec<String> = claimed.iter().map(|row| row.id.clone()).collect();
        outbox::release(conn, &ids, now).unwrap();
    })
    .statements;
    assert_eq!(claimed.len(), 3);
    let updates: Vec<&String> = statements
        .iter()
        .filter(|sql| sql.starts_with("UPDATE"))
        .collect();
    assert_eq!(updates.len(), 2, "{statements:#?}");
    for sql in updates {
        let plan = sqlite_plan(&app, sql);
        assert!(
            plan.contains("sqlite_autoindex_outbox_1 (id=?)"),
            "{sql}\n{plan}"
        );
    }
    // Given back, the letters are due again.
    let mut conn = app.store.connection().unwrap();
    let again = outbox::claim_group(&mut conn, now, lease, 16).unwrap();
    assert_eq!(again.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_checks_compare_instead_of_building_a_list_at_every_write() {
    // SQLite checks `x IN ('a', 'b', 'c')` by building a temporary B-tree of the values at each
    // insert and update of the row; written as comparisons the same check builds nothing.
    let app = TestApp::spawn(Backend::Sqlite).await;
    let statement =
        "INSERT INTO request_tasks (id, request_id, position, kind, title_nl, title_en, \
         state, created_at, updated_at, outcome) VALUES (?, ?, 0, 'k', 't', 't', 'open', ?, ?, ?)";
    #[derive(QueryableByName)]
    struct Op {
        #[diesel(sql_type = Text)]
        opcode: String,
    }
    let plan: Vec<String> = rows::<Op>(&app, &format!("EXPLAIN {statement}"))
        .into_iter()
        .map(|op| op.opcode)
        .collect();
    assert!(!plan.iter().any(|op| op == "OpenEphemeral"), "{plan:?}");

    #[derive(QueryableByName)]
    struct Table {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = Text)]
        sql: String,
    }
    let tables = rows::<Table>(
        &app,
        "SELECT name, sql FROM sqlite_schema WHERE type = 'table'",
    );
    for table in tables {
        for (at, _) in table.sql.match_indices(" IN (") {
            let list = &table.sql[at..];
            let list = &list[..list.find(')').unwrap_or(list.len())];
            assert!(
                list.matches(',').count() < 2,
                "{}: write `{list})` as comparisons (`x = 'a' OR x = 'b' …`)",
                table.name
            );
        }
    }
}
