//! Retention sweeps end to end: the app with its own store (SQLite, or PostgreSQL when
//! `LOKET_TEST_POSTGRES_URL` is set), a seeded organisation database reached through a connector
//! (a SQLite file; also PostgreSQL and MariaDB/MySQL for the core scenarios when their URLs are
//! set), the rules in a policy directory of the test's own.

use crate::common;

use common::targets::TargetDb;
use common::{expect_json, TestApp};
use diesel::RunQueryDsl;
use loket::audit::Actor;
use loket::auth::Role;
use loket::config::Secret;
use loket::db::models::sweeps::SweepRunRow;
use loket::db::Backend;
use loket::retention::{Outcome, RuleReport, SweepOptions, SweepService};
use serde_json::{json, Value};

// --- the organisation's database -------------------------------------------------------------

const CUSTOMERS: i64 = 60;
const INTERACTIONS_PER_CUSTOMER: i64 = 5;

/// Customers with contract ends and contact history; every third interaction and every fourth
/// customer's contract lie years back.
fn schema() -> Vec<String> {
    let mut statements = vec![
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, customer_number VARCHAR(20) NOT NULL, \
         name VARCHAR(200), email VARCHAR(200), phone VARCHAR(80), \
         contract_ended_at TIMESTAMP NULL, restricted BOOLEAN NOT NULL DEFAULT FALSE)"
            .to_string(),
        "CREATE TABLE interactions (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, \
         summary VARCHAR(400), created_at TIMESTAMP NOT NULL, \
         FOREIGN KEY (customer_id) REFERENCES customers (id))"
            .to_string(),
        "CREATE INDEX interactions_created ON interactions (created_at)".to_string(),
    ];
    let customers: Vec<String> = (1..=CUSTOMERS)
        .map(|c| {
            let ended = match c % 4 {
                0 => "'2020-03-01 00:00:00'",
                1 => "'2026-01-01 00:00:00'",
                _ => "NULL",
            };
            format!(
                "({c}, 'C-{c:04}', 'Klant {c}', 'klant{c}@example.nl', '+3161000{c:04}', {ended})"
            )
        })
        .collect();
    statements.push(format!(
        "INSERT INTO customers (id, customer_number, name, email, phone, contract_ended_at) VALUES {}",
        customers.join(", ")
    ));
    let interactions: Vec<String> = (1..=CUSTOMERS * INTERACTIONS_PER_CUSTOMER)
        .map(|i| {
            let customer = (i - 1) / INTERACTIONS_PER_CUSTOMER + 1;
            let at = if i % 3 == 0 {
                "2019-06-01 10:00:00"
            } else {
                "2026-10-01 10:00:00"
            };
            format!("({i}, {customer}, 'gesprek {i}', '{at}')")
        })
        .collect();
    statements.push(format!(
        "INSERT INTO interactions (id, customer_id, summary, created_at) VALUES {}",
        interactions.join(", ")
    ));
    statements
}

fn seeded(target: TargetDb) -> TargetDb {
    let statements = schema();
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    target.seed(&statements)
}

const EXPIRED_INTERACTIONS: i64 = CUSTOMERS * INTERACTIONS_PER_CUSTOMER / 3;
const EXPIRED_CUSTOMERS: i64 = CUSTOMERS / 4;

/// Every row of both tables as text, to compare two databases.
fn dump(target: &TargetDb) -> Vec<String> {
    let mut raw = target.raw();
    let mut rows = Vec::new();
    for id in 1..=CUSTOMERS {
        let present = raw.count(&format!(
            "SELECT COUNT(*) AS n FROM customers WHERE id = {id}"
        ));
        let anonymised = raw.count(&format!(
            "SELECT COUNT(*) AS n FROM customers WHERE id = {id} AND name = 'Geanonimiseerd' \
             AND email IS NULL AND phone LIKE 'kh:%'"
        ));
        rows.push(format!("customer {id}: {present} {anonymised}"));
    }
    for id in 1..=CUSTOMERS * INTERACTIONS_PER_CUSTOMER {
        let present = raw.count(&format!(
            "SELECT COUNT(*) AS n FROM interactions WHERE id = {id}"
        ));
        rows.push(format!("interaction {id}: {present}"));
    }
    rows
}

// --- the desk ----------------------------------------------------------------------------------

fn catalog(systems: &[&str]) -> String {
    let mut text = String::from("systems:\n");
    for system in systems {
        text.push_str(&format!(
            "  - key: {system}
    name: CRM {system}
    owner: Klantenservice
    identifier_kinds: [customer_number, email, phone]
    connector: sql
    holdings:
      - category: contact
        location: customers
        origin: provided
    sql:
      tables:
        - name: customers
          key: id
          identifiers: {{customer_number: customer_number, email: email, phone: phone}}
          columns: [name, email, phone]
          restricted_column: restricted
        - name: interactions
          key: id
          parent: {{table: customers, column: customer_id}}
          columns: [summary]
"
        ));
    }
    text
}

fn rules(systems: &[&str]) -> String {
    let mut text = String::from("rules:\n");
    for system in systems {
        text.push_str(&format!(
            "  - name: {system}_interactions
    description: Contact history, 2 years after the contact.
    system: {system}
    keep: 2 years
    table: interactions
    counted_from: created_at
    on_expiry: delete
  - name: {system}_customers
    description: Customers, 2 years after the contract ends.
    system: {system}
    keep: 2 years
    table: customers
    counted_from: contract_ended_at
    on_expiry: anonymise
    anonymise:
      name: {{fixed: Geanonimiseerd}}
      email: null
      phone: keyed_hash
"
        ));
    }
    text
}

/// The app, the organisation databases it sweeps (one per system) and a privacy officer.
struct Scene {
    app: TestApp,
    targets: Vec<TargetDb>,
    officer: String,
    agent: String,
    _policies: tempfile::TempDir,
}

impl Scene {
    async fn new(backend: Backend, targets: Vec<(&str, TargetDb)>) -> Scene {
        let names: Vec<&str> = targets.iter().map(|(name, _)| *name).collect();
        let policies = tempfile::tempdir().expect("policy dir");
        std::fs::write(
            policies.path().join("requests.yaml"),
            include_str!("../../policies/requests.yaml"),
        )
        .unwrap();
        std::fs::write(
            policies.path().join("sweeps.yaml"),
            "sweeps:\n  schedule: \"0 30 2 * * *\"\n  batch_size: 7\n  dry_run_by_default: false\n",
        )
        .unwrap();
        std::fs::write(policies.path().join("retention.yaml"), rules(&names)).unwrap();
        let urls: Vec<(String, String)> = targets
            .iter()
            .map(|(name, target)| (name.to_string(), target.url.clone()))
            .collect();
        let dir = policies.path().to_path_buf();
        let app = TestApp::spawn_with(backend, move |settings| {
            settings.policies_dir = dir;
            for (name, url) in urls {
                settings.connectors.insert(name, Secret::new(url));
            }
        })
        .await;
        let document = loket::catalog::parse_yaml(&catalog(&names)).expect("test catalog");
        loket::catalog::import(&app.store, Actor::Cli, document)
            .await
            .expect("catalog imported");
        app.add_user("fleur", Role::PrivacyOfficer).await;
        app.add_user("anna", Role::Agent).await;
        Scene {
            officer: app.login("fleur").await,
            agent: app.login("anna").await,
            targets: targets.into_iter().map(|(_, target)| target).collect(),
            app,
            _policies: policies,
        }
    }

    async fn one(backend: Backend, target: TargetDb) -> Scene {
        Scene::new(backend, vec![("crm", seeded(target))]).await
    }

    fn target(&self) -> &TargetDb {
        &self.targets[0]
    }

    /// The sweeps as another instance of loket on the same store would run them.
    fn instance(&self, name: &str) -> SweepService {
        loket::startup::sweep_service(&self.app.settings, &self.app.store)
            .expect("sweep service")
            .with_holder(name, chrono::Duration::minutes(5))
    }

    async fn sweep_over_http(&self, body: Value) -> Vec<Value> {
        let reports = expect_json(
            self.app
                .post_json("/api/v1/retention/sweeps", Some(&self.officer), &body)
                .await,
            200,
        )
        .await;
        reports["rules"].as_array().cloned().unwrap_or_default()
    }

    fn count(&self, sql: &str) -> i64 {
        self.target().count(sql)
    }

    /// Places a legal hold as the privacy officer; the hold as the API shows it.
    async fn place_hold(&self, hold: Value) -> Value {
        expect_json(
            self.app
                .post_json("/api/v1/retention/holds", Some(&self.officer), &hold)
                .await,
            201,
        )
        .await
    }

    /// The audit events with this action, newest first.
    async fn audit_events(&self, action: &str) -> Vec<Value> {
        let events = expect_json(
            self.app
                .get("/api/v1/audit/events?per_page=200", Some(&self.officer))
                .await,
            200,
        )
        .await;
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|event| event["action"] == action)
            .cloned()
            .collect()
    }
}

async fn sweep(service: &SweepService, options: SweepOptions) -> Vec<RuleReport> {
    service.sweep(options, |_| {}).await.expect("sweep runs")
}

fn only(rule: &str) -> SweepOptions {
    SweepOptions {
        rule: Some(rule.into()),
        ..SweepOptions::default()
    }
}

/// `rule` swept by one instance and stopped after two batches.
async fn paused_after_two_batches(scene: &Scene, rule: &str) -> RuleReport {
    let options = SweepOptions {
        max_batches: Some(2),
        ..only(rule)
    };
    let paused = sweep(&scene.instance("instance-1"), options)
        .await
        .remove(0);
    assert_eq!(paused.outcome, Outcome::Paused, "{paused:?}");
    paused
}

/// The paused run of `rule` resumed by another instance to the end, every expired row
/// deleted and counted once.
async fn resumed_to_the_end(scene: &Scene, rule: &str) -> RuleReport {
    let finished = sweep(&scene.instance("instance-2"), only(rule))
        .await
        .remove(0);
    assert_eq!(finished.outcome, Outcome::Finished, "{finished:?}");
    assert!(finished.resumed);
    assert_eq!(finished.counts.matched, EXPIRED_INTERACTIONS);
    assert_eq!(finished.counts.changed, EXPIRED_INTERACTIONS);
    assert_eq!(scene.count(EXPIRED), 0);
    finished
}

const EXPIRED: &str = "SELECT COUNT(*) AS n FROM interactions WHERE created_at < '2024-01-01'";
const ALL: &str = "SELECT COUNT(*) AS n FROM interactions";

// --- scenarios ---------------------------------------------------------------------------------

/// A sweep deletes exactly the expired rows, records the run and audits it.
async fn sweep_deletes_exactly_the_expired_rows(scene: Scene) {
    let all = CUSTOMERS * INTERACTIONS_PER_CUSTOMER;
    assert_eq!(scene.count(EXPIRED), EXPIRED_INTERACTIONS);
    let reports = scene
        .sweep_over_http(json!({"dry_run": false, "rule": "crm_interactions"}))
        .await;
    assert_eq!(reports.len(), 1);
    let report = &reports[0];
    assert_eq!(report["outcome"], "finished", "{report}");
    assert_eq!(report["matched"], EXPIRED_INTERACTIONS);
    assert_eq!(report["changed"], EXPIRED_INTERACTIONS);
    // batch_size 7 in the test's sweeps.yaml.
    assert_eq!(report["batches"], (EXPIRED_INTERACTIONS + 6) / 7);
    assert_eq!(scene.count(EXPIRED), 0);
    assert_eq!(scene.count(ALL), all - EXPIRED_INTERACTIONS);
    assert_eq!(
        scene.count("SELECT COUNT(*) AS n FROM customers"),
        CUSTOMERS,
        "the parents stay"
    );

    let runs = expect_json(
        scene
            .app
            .get(
                "/api/v1/retention/runs?rule=crm_interactions",
                Some(&scene.officer),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(runs["total"], 1);
    let run = &runs["items"][0];
    assert_eq!(run["status"], "finished");
    assert_eq!(run["changed"], EXPIRED_INTERACTIONS);
    assert!(run["finished_at"].is_string());

    let finished = scene.audit_events("retention.sweep.finished").await;
    assert_eq!(finished.len(), 1, "{finished:?}");
    assert_eq!(finished[0]["object_id"], run["id"]);

    // Nothing is left to do: a second sweep matches nothing.
    let again = scene
        .sweep_over_http(json!({"dry_run": false, "rule": "crm_interactions"}))
        .await;
    assert_eq!(again[0]["matched"], 0);
}

/// A deletion that honours no exception takes each batch in one `DELETE` (on
/// MySQL, which cannot, the page is read first) and counts every row once, also when paused
/// and resumed by another instance.
async fn a_deletion_without_exceptions_counts_every_row_once(scene: Scene) {
    let policies = scene.app.settings.policies_dir.join("retention.yaml");
    let rules = std::fs::read_to_string(&policies).unwrap().replace(
        "    on_expiry: delete\n",
        "    on_expiry: delete\n    exceptions: []\n",
    );
    std::fs::write(&policies, rules).unwrap();
    let rule = "crm_interactions";
    let paused = paused_after_two_batches(&scene, rule).await;
    // batch_size 7 in the test's sweeps.yaml.
    assert_eq!((paused.counts.batches, paused.counts.changed), (2, 14));
    let finished = resumed_to_the_end(&scene, rule).await;
    assert_eq!(finished.counts.batches, (EXPIRED_INTERACTIONS + 6) / 7);
    assert_eq!(
        scene.count(ALL),
        CUSTOMERS * INTERACTIONS_PER_CUSTOMER - EXPIRED_INTERACTIONS
    );
}

/// A dry run reports what would change and changes nothing.
async fn a_dry_run_changes_nothing(scene: Scene) {
    let before = dump(scene.target());
    let reports = scene.sweep_over_http(json!({})).await;
    let by_rule = |rule: &str| {
        reports
            .iter()
            .find(|r| r["rule"] == rule)
            .cloned()
            .unwrap_or_else(|| panic!("{rule} in {reports:?}"))
    };
    let interactions = by_rule("crm_interactions");
    assert_eq!(interactions["dry_run"], true);
    assert_eq!(interactions["matched"], EXPIRED_INTERACTIONS);
    assert_eq!(interactions["changed"], EXPIRED_INTERACTIONS);
    assert_eq!(by_rule("crm_customers")["changed"], EXPIRED_CUSTOMERS);
    assert_eq!(dump(scene.target()), before, "a dry run changed data");

    let dry = scene.audit_events("retention.sweep.dry_run").await.len();
    assert_eq!(dry, 2);
}

/// A sweep stopped after two batches, then killed between changing a batch and accounting for
/// it, ends exactly like an uninterrupted sweep of an identical database, for deletion and for
/// anonymisation with a keyed hash (which must never hash a hash).
async fn a_killed_sweep_resumes_and_ends_as_an_uninterrupted_one(scene: Scene) {
    // Small batches, so the stops fall in the middle; `stop` sets where.
    let in_threes = |service: SweepService, rule: &str, stop: fn(&mut SweepOptions)| {
        let mut options = SweepOptions {
            batch_size: Some(3),
            ..only(rule)
        };
        stop(&mut options);
        async move { sweep(&service, options).await.remove(0) }
    };
    let mut outcomes = Vec::new();
    for (uninterrupted, rule) in [
        ("a_interactions", "b_interactions"),
        ("a_customers", "b_customers"),
    ] {
        let whole = in_threes(scene.instance("instance-1"), uninterrupted, |_| {}).await;
        let stopped = in_threes(scene.instance("instance-1"), rule, |o| {
            o.max_batches = Some(2)
        })
        .await;
        outcomes.push(stopped.outcome);
        // Another instance picks it up and dies after changing its first batch.
        let died = in_threes(scene.instance("instance-2"), rule, |o| {
            o.die_before_checkpoint = Some(1)
        })
        .await;
        outcomes.push(died.outcome);
        let resumed = in_threes(scene.instance("instance-3"), rule, |_| {}).await;
        assert_eq!(resumed.outcome, Outcome::Finished, "{resumed:?}");
        assert!(resumed.resumed);
        assert_eq!(resumed.run_id, stopped.run_id, "the same run went on");
        assert_eq!(
            (
                resumed.counts.matched,
                resumed.counts.changed,
                resumed.counts.related
            ),
            (
                whole.counts.matched,
                whole.counts.changed,
                whole.counts.related
            ),
            "{rule}: counted as often as an uninterrupted run"
        );
    }
    assert_eq!(outcomes, [Outcome::Paused; 4]);
    assert_eq!(dump(&scene.targets[1]), dump(&scene.targets[0]));
    assert_eq!(
        scene.targets[1].count(
            "SELECT COUNT(*) AS n FROM customers WHERE phone LIKE 'kh:%' AND LENGTH(phone) = 67"
        ),
        EXPIRED_CUSTOMERS,
        "every anonymised phone number hashed exactly once"
    );
}

/// Rows of a person under a legal hold, with an open request or under a restriction are left
/// alone; once the hold is lifted, the next sweep takes them.
async fn exceptions_leave_held_requested_and_restricted_rows_alone(scene: Scene) {
    let old_of = |customer: i64| {
        ((customer - 1) * INTERACTIONS_PER_CUSTOMER + 1..=customer * INTERACTIONS_PER_CUSTOMER)
            .filter(|i| i % 3 == 0)
            .count() as i64
    };
    // Customer 1: a legal hold on the customer number. Customer 2: an erasure request in
    // progress, found by e-mail address written differently. Customer 3: restricted.
    let hold = scene
        .place_hold(json!({"system": "crm", "identifier_kind": "customer_number", "identifier": "c-0001", "reason": "Geschil over factuur 2019-114, advocaat mr. Jansen"}))
        .await;
    assert!(
        !hold.to_string().contains("0001"),
        "the identifier is not shown: {hold}"
    );
    expect_json(
        scene
            .app
            .post_json(
                "/api/v1/requests",
                Some(&scene.agent),
                &json!({"kind": "erasure", "channel": "phone", "requester": {"name": "Klant 2", "email": "Klant2@Example.nl"}}),
            )
            .await,
        201,
    )
    .await;
    scene
        .target()
        .execute("UPDATE customers SET restricted = TRUE WHERE id = 3");

    let reports = scene
        .sweep_over_http(json!({"dry_run": false, "rule": "crm_interactions"}))
        .await;
    let report = &reports[0];
    assert_eq!(report["skipped_legal_hold"], old_of(1), "{report}");
    assert_eq!(report["skipped_open_request"], old_of(2));
    assert_eq!(report["skipped_restriction"], old_of(3));
    let skipped = old_of(1) + old_of(2) + old_of(3);
    assert_eq!(report["matched"], EXPIRED_INTERACTIONS);
    assert_eq!(report["changed"], EXPIRED_INTERACTIONS - skipped);
    assert_eq!(scene.count(EXPIRED), skipped);

    let lifted = expect_json(
        scene
            .app
            .delete(
                &format!("/api/v1/retention/holds/{}", hold["id"].as_str().unwrap()),
                Some(&scene.officer),
            )
            .await,
        200,
    )
    .await;
    assert_eq!(lifted["lifted_by"], "user:fleur");
    let again = scene
        .sweep_over_http(json!({"dry_run": false, "rule": "crm_interactions"}))
        .await;
    assert_eq!(again[0]["changed"], old_of(1));
    assert_eq!(scene.count(EXPIRED), old_of(2) + old_of(3));
}

/// A hold placed before holds kept their identifier sealed can only be recognised by its hash:
/// its sweep reads and sorts every row, and still leaves the person's rows alone.
async fn a_hold_without_its_sealed_identifier_is_still_honoured(scene: Scene) {
    scene
        .place_hold(json!({"identifier_kind": "email", "identifier": "KLANT4@example.nl", "reason": "Onderzoek van de toezichthouder"}))
        .await;
    let mut conn = scene.app.store.connection().unwrap();
    let conn: &mut loket::db::DbConnection = &mut conn;
    let sealed = diesel::sql_query("UPDATE legal_holds SET identifier_enc = NULL")
        .execute(conn)
        .unwrap();
    assert_eq!(sealed, 1);
    let held = scene.count(&format!("{EXPIRED} AND customer_id = 4"));
    assert!(held > 0);
    let report = sweep(&scene.instance("instance-1"), only("crm_interactions"))
        .await
        .remove(0);
    assert_eq!(report.counts.skipped_legal_hold, held, "{report:?}");
    assert_eq!(report.counts.changed, EXPIRED_INTERACTIONS - held);
    assert_eq!(scene.count(EXPIRED), held);
}

/// A hold placed while a sweep runs is honoured from the sweep's next group of batches: the
/// exceptions are read once per run and again only when their stamp moved.
async fn a_hold_placed_while_the_sweep_runs_is_honoured_from_its_next_group(scene: Scene) {
    let (reached, on_reached) = std::sync::mpsc::channel::<()>();
    let (go, on_go) = std::sync::mpsc::channel::<()>();
    let first_batch = std::sync::Mutex::new(Some((reached, on_go)));
    let service = scene.instance("instance-1");
    let sweeping = tokio::spawn(async move {
        service
            .sweep(only("crm_interactions"), move |_| {
                // The sweep waits after its first batch until the hold is placed.
                if let Some((reached, on_go)) = first_batch.lock().unwrap().take() {
                    reached.send(()).unwrap();
                    on_go.recv().unwrap();
                }
            })
            .await
            .expect("sweep runs")
    });
    tokio::task::spawn_blocking(move || on_reached.recv())
        .await
        .unwrap()
        .expect("the sweep reports its first batch");
    // The last customer's rows come last in every order the batches may take.
    let held = scene.count(&format!("{EXPIRED} AND customer_id = {CUSTOMERS}"));
    assert!(held > 0);
    scene
        .place_hold(json!({"system": "crm", "identifier_kind": "customer_number", "identifier": format!("C-{CUSTOMERS:04}"), "reason": "Geschil over de laatste factuur"}))
        .await;
    go.send(()).unwrap();
    let report = sweeping.await.unwrap().remove(0);
    assert_eq!(report.outcome, Outcome::Finished, "{report:?}");
    assert_eq!(report.counts.skipped_legal_hold, held, "{report:?}");
    assert_eq!(report.counts.changed, EXPIRED_INTERACTIONS - held);
    assert_eq!(scene.count(EXPIRED), held);
}

/// A group of deletions whose claim was written but whose commit never came (the instance died
/// in between) is taken off the count when the run resumes: its witness key is still there.
async fn a_deletion_claimed_but_never_committed_is_counted_once(scene: Scene) {
    let rule = "crm_interactions";
    let paused = paused_after_two_batches(&scene, rule).await;
    // The run as the store would hold it had the instance died after claiming a group of
    // three rows, one of them an expired row still there, and before committing.
    let mut conn = scene.app.store.connection().unwrap();
    let id = paused.run_id.clone().unwrap();
    let mut run = SweepRunRow::find(&mut conn, &id).unwrap().unwrap();
    let witness =
        scene.count("SELECT MAX(id) AS n FROM interactions WHERE created_at < '2024-01-01'");
    run.matched += 3;
    run.changed += 3;
    run.claim_rows = 3;
    run.claim_witness = Some(witness.to_string());
    run.save(&mut conn).unwrap();
    drop(conn);
    resumed_to_the_end(&scene, rule).await;
}

/// A run is written, and its lease renewed, only while its instance holds the lease or may
/// take it over (expired): an instance whose rule another took over writes nothing more.
async fn a_run_is_written_only_under_its_lease(scene: Scene) {
    use loket::db::models::sweeps;
    let rule = "crm_interactions";
    let paused = paused_after_two_batches(&scene, rule).await;
    let mut conn = scene.app.store.connection().unwrap();
    let stored = SweepRunRow::find(&mut conn, paused.run_id.as_ref().unwrap())
        .unwrap()
        .unwrap();
    let now = loket::db::now();
    let until = |minutes| now + chrono::Duration::minutes(minutes);
    assert!(sweeps::take_lease(&mut conn, rule, "instance-2", now, until(5)).unwrap());
    let mut run = SweepRunRow {
        batches: stored.batches + 1,
        ..stored.clone()
    };
    assert!(!run
        .save_under_lease(&mut conn, "instance-1", now, until(5))
        .unwrap());
    assert_eq!(
        SweepRunRow::find(&mut conn, &stored.id).unwrap(),
        Some(stored.clone())
    );
    assert_eq!(
        sweeps::lease_holder(&mut conn, rule).unwrap().as_deref(),
        Some("instance-2")
    );

    assert!(run
        .save_under_lease(&mut conn, "instance-2", now, until(5))
        .unwrap());
    assert_eq!(
        SweepRunRow::find(&mut conn, &stored.id).unwrap(),
        Some(run.clone())
    );

    // instance-2's lease ran out: instance-1 may take the rule over with its next write.
    assert!(sweeps::renew_lease(&mut conn, rule, "instance-2", now, until(-1)).unwrap());
    run.batches += 1;
    assert!(run
        .save_under_lease(&mut conn, "instance-1", now, until(5))
        .unwrap());
    assert_eq!(SweepRunRow::find(&mut conn, &stored.id).unwrap(), Some(run));
    assert_eq!(
        sweeps::lease_holder(&mut conn, rule).unwrap().as_deref(),
        Some("instance-1")
    );
}

/// Anonymisation applies each strategy to the expired rows only, once.
async fn anonymisation_applies_each_strategy_once(scene: Scene) {
    let reports = scene
        .sweep_over_http(json!({"dry_run": false, "rule": "crm_customers"}))
        .await;
    assert_eq!(reports[0]["changed"], EXPIRED_CUSTOMERS, "{reports:?}");
    assert_eq!(
        scene.count(
            "SELECT COUNT(*) AS n FROM customers WHERE name = 'Geanonimiseerd' AND email IS NULL \
             AND phone LIKE 'kh:%' AND contract_ended_at < '2024-01-01'"
        ),
        EXPIRED_CUSTOMERS
    );
    assert_eq!(
        scene.count("SELECT COUNT(*) AS n FROM customers WHERE email IS NOT NULL"),
        CUSTOMERS - EXPIRED_CUSTOMERS,
        "customers within their period are untouched"
    );
    // The keyed hash is the configured key's: the same number always gives the same pseudonym.
    let (secrets, _) = scene.app.settings.secrets().unwrap();
    let expected = loket::connectors::keyed_hash(&secrets.anonymise_key, "+31610000004");
    assert_eq!(
        scene.count(&format!(
            "SELECT COUNT(*) AS n FROM customers WHERE id = 4 AND phone = '{expected}'"
        )),
        1
    );
    let again = scene
        .sweep_over_http(json!({"dry_run": false, "rule": "crm_customers"}))
        .await;
    assert_eq!(
        again[0]["matched"], 0,
        "anonymised rows are not matched again"
    );
}

/// A rule another instance holds the lease on is left to it; a schedule slot is swept once.
async fn one_instance_sweeps_a_rule_at_a_time(scene: Scene) {
    let mut conn = scene.app.store.connection().unwrap();
    let now = loket::db::now();
    let other = "instance-elsewhere";
    assert!(loket::db::models::sweeps::take_lease(
        &mut conn,
        "crm_interactions",
        other,
        now,
        now + chrono::Duration::minutes(5)
    )
    .unwrap());
    let mine = scene.instance("instance-here");
    let busy = sweep(&mine, only("crm_interactions")).await;
    assert_eq!(busy[0].outcome, Outcome::Busy);
    assert_eq!(scene.count(EXPIRED), EXPIRED_INTERACTIONS, "nothing swept");

    loket::db::models::sweeps::release_lease(&mut conn, "crm_interactions", other).unwrap();
    let slot = chrono::NaiveDate::from_ymd_opt(2026, 11, 24)
        .unwrap()
        .and_hms_opt(2, 30, 0)
        .unwrap();
    let scheduled = SweepOptions {
        scheduled_for: Some(slot),
        ..only("crm_interactions")
    };
    let first = sweep(&mine, scheduled.clone()).await;
    assert_eq!(first[0].outcome, Outcome::Finished);
    let second = sweep(&scene.instance("instance-late"), scheduled).await;
    assert_eq!(second[0].outcome, Outcome::AlreadyDone);
}

/// A lease left by a process on this host that is gone (`kill -9`) is taken over at once, not
/// after the lease runs out; a busy rule makes `loket sweep` exit non-zero.
async fn a_lease_of_a_dead_process_is_taken_over_at_once(scene: Scene) {
    let mut conn = scene.app.store.connection().unwrap();
    let now = loket::db::now();
    // No process has this id (above the kernel's pid limit).
    let gone = format!("{}-4194999-deadbeef", loket::instance::this_host());
    assert!(loket::db::models::sweeps::take_lease(
        &mut conn,
        "crm_interactions",
        &gone,
        now,
        now + chrono::Duration::minutes(5)
    )
    .unwrap());
    let mine = scene.instance("instance-here");
    let swept = sweep(&mine, only("crm_interactions")).await;
    assert_eq!(swept[0].outcome, Outcome::Finished);
    assert_eq!(loket::retention::sweep::exit_status(&swept), 0);
    assert_eq!(scene.count(EXPIRED), 0, "the expired rows are gone");

    let alive = format!(
        "{}-{}-0000beef",
        loket::instance::this_host(),
        std::process::id()
    );
    assert!(loket::db::models::sweeps::take_lease(
        &mut conn,
        "crm_interactions",
        &alive,
        now,
        now + chrono::Duration::minutes(5)
    )
    .unwrap());
    let busy = sweep(&mine, only("crm_interactions")).await;
    assert_eq!(busy[0].outcome, Outcome::Busy);
    assert_ne!(loket::retention::sweep::exit_status(&busy), 0);
}

/// Only privacy officers reach retention, and bad input is named by field.
async fn retention_routes_check_role_and_input(scene: Scene) {
    let app = &scene.app;
    let hold = json!({"identifier_kind": "email", "identifier": "a@b.nl", "reason": "onderzoek"});
    for (method, path, body) in [
        (reqwest::Method::GET, "/api/v1/retention/runs", json!({})),
        (reqwest::Method::POST, "/api/v1/retention/sweeps", json!({})),
        (reqwest::Method::GET, "/api/v1/retention/holds", json!({})),
        (reqwest::Method::POST, "/api/v1/retention/holds", hold),
    ] {
        let response = app
            .send_json(method.clone(), path, Some(&scene.agent), &body)
            .await;
        assert_eq!(response.status(), 403, "{method} {path}");
        let response = app.send_json(method.clone(), path, None, &body).await;
        assert_eq!(response.status(), 401, "{method} {path}");
    }
    let cases = [
        (
            json!({"identifier_kind": "customer_number", "identifier": "C-1", "reason": " "}),
            "reason",
        ),
        (
            json!({"identifier_kind": "customer_number", "identifier": "", "reason": "x"}),
            "identifier",
        ),
        (
            json!({"identifier_kind": "shoe_size", "identifier": "44", "reason": "x"}),
            "identifier_kind",
        ),
        (
            json!({"system": "nope", "identifier_kind": "email", "identifier": "a@b.nl", "reason": "x"}),
            "system",
        ),
    ];
    for (body, field) in cases {
        let response = app
            .post_json("/api/v1/retention/holds", Some(&scene.officer), &body)
            .await;
        let error = expect_json(response, 422).await;
        assert_eq!(error["field"], field, "{body}: {error}");
    }
    let error = expect_json(
        app.post_json(
            "/api/v1/retention/sweeps",
            Some(&scene.officer),
            &json!({"rule": "nope"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(error["field"], "rule");
    let error = expect_json(
        app.post_json(
            "/api/v1/retention/sweeps",
            Some(&scene.officer),
            &json!({"dry": true}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(error["field"], "dry", "{error}");
    let hold = scene
        .place_hold(
            json!({"identifier_kind": "email", "identifier": "a@b.nl", "reason": "onderzoek AP"}),
        )
        .await;
    let path = format!("/api/v1/retention/holds/{}", hold["id"].as_str().unwrap());
    expect_json(app.delete(&path, Some(&scene.officer)).await, 200).await;
    expect_json(app.delete(&path, Some(&scene.officer)).await, 409).await;
    expect_json(
        app.delete("/api/v1/retention/holds/nope", Some(&scene.officer))
            .await,
        404,
    )
    .await;
}

// --- the matrix ----------------------------------------------------------------------------------

/// Each scenario on both stores with a SQLite organisation database.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let scene = super::Scene::one(loket::db::Backend::Sqlite, super::TargetDb::sqlite()).await;
                    super::$name(scene).await;
                }
            )*
        }
        mod postgres_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(not(loket_test_postgres), ignore = "set LOKET_TEST_POSTGRES_URL to run on PostgreSQL")]
                async fn $name() {
                    let scene = super::Scene::one(loket::db::Backend::Postgres, super::TargetDb::sqlite()).await;
                    super::$name(scene).await;
                }
            )*
        }
    };
}

on_both_stores!(
    sweep_deletes_exactly_the_expired_rows,
    a_deletion_without_exceptions_counts_every_row_once,
    a_dry_run_changes_nothing,
    exceptions_leave_held_requested_and_restricted_rows_alone,
    a_hold_without_its_sealed_identifier_is_still_honoured,
    a_hold_placed_while_the_sweep_runs_is_honoured_from_its_next_group,
    a_deletion_claimed_but_never_committed_is_counted_once,
    a_run_is_written_only_under_its_lease,
    anonymisation_applies_each_strategy_once,
    one_instance_sweeps_a_rule_at_a_time,
    a_lease_of_a_dead_process_is_taken_over_at_once,
    retention_routes_check_role_and_input,
);

/// Two identical organisation databases of one kind, as systems `a` and `b`.
async fn twins(make: impl Fn() -> TargetDb) -> Scene {
    Scene::new(
        Backend::Sqlite,
        vec![("a", seeded(make())), ("b", seeded(make()))],
    )
    .await
}

mod sqlite_target {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_killed_sweep_resumes_and_ends_as_an_uninterrupted_one() {
        super::a_killed_sweep_resumes_and_ends_as_an_uninterrupted_one(
            twins(TargetDb::sqlite).await,
        )
        .await;
    }
}

/// The core scenarios against an organisation database of another kind, with loket's store on
/// SQLite; `$make` gives the database, or `None` (and the test says it was skipped).
macro_rules! on_target {
    ($module:ident, $make:expr $(, #[$attr:meta])?) => {
        mod $module {
            use super::*;

            fn make() -> Option<TargetDb> {
                $make()
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$attr])?
            async fn sweep_deletes_exactly_the_expired_rows() {
                let Some(target) = make() else { return };
                super::sweep_deletes_exactly_the_expired_rows(Scene::one(Backend::Sqlite, target).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$attr])?
            async fn a_deletion_without_exceptions_counts_every_row_once() {
                let Some(target) = make() else { return };
                super::a_deletion_without_exceptions_counts_every_row_once(Scene::one(Backend::Sqlite, target).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$attr])?
            async fn exceptions_leave_held_requested_and_restricted_rows_alone() {
                let Some(target) = make() else { return };
                super::exceptions_leave_held_requested_and_restricted_rows_alone(Scene::one(Backend::Sqlite, target).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$attr])?
            async fn a_hold_placed_while_the_sweep_runs_is_honoured_from_its_next_group() {
                let Some(target) = make() else { return };
                super::a_hold_placed_while_the_sweep_runs_is_honoured_from_its_next_group(Scene::one(Backend::Sqlite, target).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$attr])?
            async fn a_killed_sweep_resumes_and_ends_as_an_uninterrupted_one() {
                if make().is_none() {
                    return;
                }
                let twin = || make().expect("the database was there a moment ago");
                super::a_killed_sweep_resumes_and_ends_as_an_uninterrupted_one(twins(twin).await).await;
            }
        }
    };
}

on_target!(
    postgres_target,
    || Some(TargetDb::postgres()),
    #[cfg_attr(not(loket_test_postgres), ignore = "set LOKET_TEST_POSTGRES_URL to run on PostgreSQL")]
);

on_target!(mysql_target, || {
    let target = TargetDb::mysql();
    if target.is_none() {
        eprintln!("skipped: set LOKET_TEST_MYSQL_URL to run on MySQL/MariaDB");
    }
    target
});
