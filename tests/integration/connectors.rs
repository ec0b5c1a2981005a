//! The SQL connector against real databases: a seeded SQLite file always, a fresh PostgreSQL
//! database when `LOKET_TEST_POSTGRES_URL` is set, and a fresh MariaDB/MySQL database when
//! `LOKET_TEST_MYSQL_URL` is set (`.ci/run` sets both).

use crate::common;

use chrono::NaiveDate;
use common::targets::TargetDb;
use common::targets::TargetKind;
use loket::catalog::model::{IdentifierKind, SqlMapping};
use loket::connectors::{keyed_hash, ConnectorError, SqlConnector, Strategies, Strategy};
use loket::retention::owners::resemblance;

const HASH_KEY: &[u8] = b"test hash key for anonymisation";

/// Writes each scenario three times: on SQLite, PostgreSQL and MySQL/MariaDB.
macro_rules! connector_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(&super::seeded(super::TargetDb::sqlite()));
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                #[cfg_attr(not(loket_test_postgres), ignore = "set LOKET_TEST_POSTGRES_URL to run on PostgreSQL")]
                fn $name() {
                    super::$name(&super::seeded(super::TargetDb::postgres()));
                }
            )*
        }
        mod mysql {
            $(
                #[test]
                fn $name() {
                    match super::TargetDb::mysql() {
                        Some(db) => super::$name(&super::seeded(db)),
                        None => eprintln!("skipped: set LOKET_TEST_MYSQL_URL to run on MySQL/MariaDB"),
                    }
                }
            )*
        }
    };
}

connector_tests!(
    locate_finds_a_person_by_each_identifier_kind,
    locate_finds_a_person_written_differently,
    export_gives_the_persons_rows_as_json_per_identifier_kind,
    erase_keeps_invoices_under_the_fiscal_duty_and_deletes_the_rest,
    erase_works_by_each_identifier_kind,
    correct_changes_one_column_of_the_persons_rows,
    restrict_marks_the_persons_rows,
    anonymise_applies_each_strategy,
    expired_keys_and_delete_keys_remove_exactly_the_expired_rows,
    a_deletion_in_one_statement_leaves_spared_rows,
    delete_keys_removes_children_first,
    check_names_what_is_missing,
    hostile_names_are_refused_by_the_connector,
);

// --- the seeded database ------------------------------------------------------------------------

const SCHEMA: &[&str] = &[
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, customer_number VARCHAR(20) NOT NULL, \
     name VARCHAR(200), email VARCHAR(200), phone VARCHAR(40), postal_address VARCHAR(400), \
     date_of_birth DATE, restricted BOOLEAN NOT NULL DEFAULT FALSE)",
    // Invoices outlive their customer under the fiscal duty, so their key may become NULL.
    "CREATE TABLE invoices (id INTEGER PRIMARY KEY, customer_id INTEGER, \
     invoice_address VARCHAR(400), amount DECIMAL(10,2), \
     FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE SET NULL)",
    // Events may not outlive their customer: deleting a customer first would fail.
    "CREATE TABLE events (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, \
     kind VARCHAR(40), detail VARCHAR(400), occurred_at TIMESTAMP NOT NULL, \
     FOREIGN KEY (customer_id) REFERENCES customers (id))",
    "INSERT INTO customers (id, customer_number, name, email, phone, postal_address, date_of_birth) VALUES \
     (1, 'C-1001', 'Anna de Vries', 'anna@example.nl', '+31611111111', 'Dorpsstraat 1, Groningen', '1980-05-01'), \
     (2, 'C-1002', 'Bram Jansen', 'bram@example.nl', '+31622222222', 'Markt 2, Assen', '1975-11-23'), \
     (3, 'C-1003', 'Cor Bakker', 'cor@example.nl', '+31633333333', 'Kade 3, Zwolle', '1990-02-14')",
    "INSERT INTO invoices (id, customer_id, invoice_address, amount) VALUES \
     (10, 1, 'Dorpsstraat 1, Groningen', 12.50), (11, 1, 'Dorpsstraat 1, Groningen', 30.00), \
     (20, 2, 'Markt 2, Assen', 7.25), (30, 3, 'Kade 3, Zwolle', 99.99)",
    "INSERT INTO events (id, customer_id, kind, detail, occurred_at) VALUES \
     (100, 1, 'call', 'asked about an invoice', '2020-01-01 10:00:00'), \
     (101, 1, 'chat', 'moved house', '2025-06-01 09:30:00'), \
     (200, 2, 'call', 'complaint', '2019-03-01 12:00:00'), \
     (201, 2, 'mail', 'newsletter', '2026-01-01 08:00:00'), \
     (300, 3, 'call', 'new contract', '2018-01-01 16:45:00')",
];

const MAPPING: &str = "\
tables:
  - name: customers
    key: id
    identifiers: {customer_number: customer_number, email: email, phone: phone}
    columns: [name, email, phone, postal_address, date_of_birth]
    restricted_column: restricted
  - name: invoices
    key: id
    parent: {table: customers, column: customer_id}
    columns: [invoice_address, amount]
  - name: events
    key: id
    parent: {table: customers, column: customer_id}
    columns: [kind, detail]
";

fn mapping() -> SqlMapping {
    serde_yaml::from_str(MAPPING).expect("test mapping parses")
}

/// The seeded database of one test.
type TestDb = TargetDb;

fn seeded(db: TargetDb) -> TargetDb {
    db.seed(SCHEMA)
}

trait Connect {
    fn connector(&self) -> SqlConnector;
    fn connector_with(&self, mapping: SqlMapping) -> SqlConnector;
}

impl Connect for TargetDb {
    fn connector(&self) -> SqlConnector {
        self.connector_with(mapping())
    }

    fn connector_with(&self, mapping: SqlMapping) -> SqlConnector {
        SqlConnector::open("crm", &self.url, mapping)
            .expect("connector opens")
            .with_hash_key(HASH_KEY)
    }
}

fn email(value: &str) -> Vec<(IdentifierKind, String)> {
    vec![(IdentifierKind::Email, value.into())]
}

fn customer_number(value: &str) -> Vec<(IdentifierKind, String)> {
    vec![(IdentifierKind::CustomerNumber, value.into())]
}

fn phone(value: &str) -> Vec<(IdentifierKind, String)> {
    vec![(IdentifierKind::Phone, value.into())]
}

fn counts(pairs: &[(&str, u64)]) -> loket::connectors::TableCounts {
    pairs
        .iter()
        .map(|(table, rows)| (table.to_string(), *rows))
        .collect()
}

// --- scenarios ----------------------------------------------------------------------------------

fn locate_finds_a_person_by_each_identifier_kind(db: &TestDb) {
    let mut connector = db.connector();
    assert_eq!(
        connector.locate(&email("anna@example.nl")).unwrap(),
        counts(&[("customers", 1), ("invoices", 2), ("events", 2)])
    );
    assert_eq!(
        connector.locate(&customer_number("C-1002")).unwrap(),
        counts(&[("customers", 1), ("invoices", 1), ("events", 2)])
    );
    assert_eq!(
        connector.locate(&phone("+31633333333")).unwrap(),
        counts(&[("customers", 1), ("invoices", 1), ("events", 1)])
    );
    assert_eq!(
        connector.locate(&email("nobody@example.nl")).unwrap(),
        counts(&[("customers", 0), ("invoices", 0), ("events", 0)])
    );
    // Any identifier matches: here two of them point at the same person, one at nobody.
    let several = vec![
        (IdentifierKind::Email, "anna@example.nl".to_string()),
        (IdentifierKind::CustomerNumber, "C-1001".to_string()),
        (IdentifierKind::Phone, "+31600000000".to_string()),
    ];
    assert_eq!(connector.locate(&several).unwrap()["invoices"], 2);
    // A blank identifier would match rows with an empty column; it is not a search.
    assert!(matches!(
        connector.locate(&email("  ")),
        Err(ConnectorError::NoIdentifier { .. })
    ));
}

/// A person gives their details as they write them, not as the database stores them.
fn locate_finds_a_person_written_differently(db: &TestDb) {
    let mut connector = db.connector();
    let anna = counts(&[("customers", 1), ("invoices", 2), ("events", 2)]);
    for given in [
        email(" Anna@Example.NL "),
        customer_number("c-1001"),
        phone("06 1111 1111"),
        phone("0031 6-1111-1111"),
        phone("+31 (6) 11 11 11 11"),
    ] {
        assert_eq!(connector.locate(&given).unwrap(), anna, "{given:?}");
    }
    // Close is not enough.
    assert_eq!(
        connector.locate(&phone("06 1111 1112")).unwrap()["customers"],
        0
    );
    assert_eq!(
        connector.locate(&email("anna@example.n")).unwrap()["customers"],
        0
    );
}

fn export_gives_the_persons_rows_as_json_per_identifier_kind(db: &TestDb) {
    let mut connector = db.connector();

    let anna = connector.export_json(&customer_number("C-1001")).unwrap();
    let customers = anna["customers"].as_array().unwrap();
    assert_eq!(customers.len(), 1);
    assert_eq!(customers[0]["email"], "anna@example.nl");
    assert_eq!(customers[0]["name"], "Anna de Vries");
    assert_eq!(customers[0]["customer_number"], "C-1001");
    assert!(customers[0]["date_of_birth"]
        .as_str()
        .unwrap()
        .starts_with("1980-05-01"));
    let invoices = anna["invoices"].as_array().unwrap();
    assert_eq!(invoices.len(), 2);
    assert!(invoices
        .iter()
        .all(|i| i["invoice_address"] == "Dorpsstraat 1, Groningen"));
    assert_eq!(anna["events"].as_array().unwrap().len(), 2);

    let bram = connector.export_json(&email("bram@example.nl")).unwrap();
    assert_eq!(bram["customers"][0]["name"], "Bram Jansen");
    assert_eq!(bram["events"].as_array().unwrap().len(), 2);

    let cor = connector.export_json(&phone("+31633333333")).unwrap();
    assert_eq!(cor["customers"][0]["postal_address"], "Kade 3, Zwolle");
    assert_eq!(cor["invoices"].as_array().unwrap().len(), 1);
    // Nobody else's rows.
    let all = cor.to_string();
    assert!(!all.contains("Anna") && !all.contains("Bram"), "{all}");

    // Streaming into a writer gives the same document and the row counts.
    let mut out = Vec::new();
    let written = connector
        .export(&customer_number("C-1001"), &mut out)
        .unwrap();
    assert_eq!(
        written,
        counts(&[("customers", 1), ("invoices", 2), ("events", 2)])
    );
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out).unwrap(),
        anna
    );
}

fn erase_keeps_invoices_under_the_fiscal_duty_and_deletes_the_rest(db: &TestDb) {
    let mut connector = db.connector();
    let erasure = connector
        .erase(&email("anna@example.nl"), &["invoices"])
        .unwrap();
    assert_eq!(erasure.deleted, counts(&[("customers", 1), ("events", 2)]));
    assert_eq!(erasure.kept, counts(&[("invoices", 2)]));

    assert_eq!(
        db.count("SELECT COUNT(*) AS n FROM customers WHERE id = 1"),
        0
    );
    assert_eq!(
        db.count("SELECT COUNT(*) AS n FROM events WHERE customer_id = 1"),
        0
    );
    assert_eq!(
        db.count("SELECT COUNT(*) AS n FROM invoices WHERE id IN (10, 11)"),
        2
    );
    // Everyone else is untouched.
    assert_eq!(db.count("SELECT COUNT(*) AS n FROM customers"), 2);
    assert_eq!(db.count("SELECT COUNT(*) AS n FROM events"), 3);
    assert_eq!(db.count("SELECT COUNT(*) AS n FROM invoices"), 4);
    assert_eq!(
        connector.locate(&email("anna@example.nl")).unwrap()["customers"],
        0
    );

    // A misspelt table to keep must not erase what the law says to keep.
    let error = connector
        .erase(&email("bram@example.nl"), &["invoice"])
        .unwrap_err();
    assert!(
        matches!(error, ConnectorError::UnknownTable { .. }),
        "{error}"
    );
    assert_eq!(db.count("SELECT COUNT(*) AS n FROM customers"), 2);
}

fn erase_works_by_each_identifier_kind(db: &TestDb) {
    let mut connector = db.connector();
    let all = counts(&[("customers", 1), ("invoices", 1), ("events", 2)]);
    assert_eq!(
        connector
            .erase(&customer_number("C-1002"), &[])
            .unwrap()
            .deleted,
        all
    );
    let cor = counts(&[("customers", 1), ("invoices", 1), ("events", 1)]);
    assert_eq!(
        connector
            .erase(&phone("+31633333333"), &[])
            .unwrap()
            .deleted,
        cor
    );
    let anna = counts(&[("customers", 1), ("invoices", 2), ("events", 2)]);
    assert_eq!(
        connector
            .erase(&email("anna@example.nl"), &[])
            .unwrap()
            .deleted,
        anna
    );
    for table in ["customers", "invoices", "events"] {
        assert_eq!(db.count(&format!("SELECT COUNT(*) AS n FROM {table}")), 0);
    }
}

fn correct_changes_one_column_of_the_persons_rows(db: &TestDb) {
    let mut connector = db.connector();
    let changed = connector
        .correct(
            &email("anna@example.nl"),
            "customers",
            "postal_address",
            "Nieuwe Weg 5, Haren",
        )
        .unwrap();
    assert_eq!(changed, 1);
    assert_eq!(
        db.count(
            "SELECT COUNT(*) AS n FROM customers WHERE postal_address = 'Nieuwe Weg 5, Haren'"
        ),
        1
    );
    // A date column takes the new value too (PostgreSQL needs it cast to the column's type).
    connector
        .correct(
            &customer_number("C-1001"),
            "customers",
            "date_of_birth",
            "1981-05-01",
        )
        .unwrap();
    let anna = connector.export_json(&customer_number("C-1001")).unwrap();
    assert!(anna["customers"][0]["date_of_birth"]
        .as_str()
        .unwrap()
        .starts_with("1981-05-01"));
    // Child rows: the invoices of the person only.
    assert_eq!(
        connector
            .correct(
                &phone("+31622222222"),
                "invoices",
                "invoice_address",
                "Postbus 1, Assen"
            )
            .unwrap(),
        1
    );
    assert_eq!(
        db.count("SELECT COUNT(*) AS n FROM invoices WHERE invoice_address = 'Postbus 1, Assen'"),
        1
    );
    // Only personal-data columns of the mapping can be corrected.
    let error = connector
        .correct(&email("anna@example.nl"), "customers", "restricted", "1")
        .unwrap_err();
    assert!(
        matches!(error, ConnectorError::UnknownColumn { .. }),
        "{error}"
    );
}

fn restrict_marks_the_persons_rows(db: &TestDb) {
    let mut connector = db.connector();
    assert_eq!(
        connector
            .restrict(&customer_number("C-1002"), "customers")
            .unwrap(),
        1
    );
    assert_eq!(
        db.count("SELECT COUNT(*) AS n FROM customers WHERE restricted = TRUE"),
        1
    );
    assert_eq!(
        db.count("SELECT COUNT(*) AS n FROM customers WHERE restricted = TRUE AND id = 2"),
        1
    );
    let error = connector
        .restrict(&customer_number("C-1002"), "invoices")
        .unwrap_err();
    assert!(
        matches!(error, ConnectorError::NoRestrictedColumn { .. }),
        "{error}"
    );
}

fn anonymise_applies_each_strategy(db: &TestDb) {
    let mut connector = db.connector();
    let strategies: Strategies = [
        ("name".to_string(), Strategy::Fixed("Geanonimiseerd".into())),
        ("phone".to_string(), Strategy::Null),
        ("email".to_string(), Strategy::KeyedHash),
    ]
    .into_iter()
    .collect();
    let changed = connector
        .anonymise(&email("anna@example.nl"), "customers", &strategies)
        .unwrap();
    assert_eq!(changed, 1);
    assert_eq!(
        db.count("SELECT COUNT(*) AS n FROM customers WHERE id = 1 AND name = 'Geanonimiseerd' AND phone IS NULL"),
        1
    );
    let hash = keyed_hash(HASH_KEY, "anna@example.nl");
    assert_eq!(
        db.count(&format!(
            "SELECT COUNT(*) AS n FROM customers WHERE id = 1 AND email = '{hash}'"
        )),
        1
    );
    // Nobody else changed, and the e-mail address no longer finds anyone.
    assert_eq!(
        db.count("SELECT COUNT(*) AS n FROM customers WHERE phone IS NOT NULL"),
        2
    );
    assert_eq!(
        connector.locate(&email("anna@example.nl")).unwrap()["customers"],
        0
    );

    // By key, as a retention sweep does it.
    let detail: Strategies = [("detail".to_string(), Strategy::Null)]
        .into_iter()
        .collect();
    let keys = vec!["100".to_string(), "200".to_string()];
    assert_eq!(
        connector.anonymise_keys("events", &keys, &detail).unwrap(),
        2
    );
    assert_eq!(
        db.count("SELECT COUNT(*) AS n FROM events WHERE detail IS NULL"),
        2
    );

    // Only mapped personal-data columns, and a keyed hash needs a key.
    let key_column: Strategies = [("id".to_string(), Strategy::Null)].into_iter().collect();
    assert!(matches!(
        connector.anonymise_keys("events", &keys, &key_column),
        Err(ConnectorError::UnknownColumn { .. })
    ));
    let mut keyless = SqlConnector::open("crm", &db.url, mapping()).unwrap();
    let hashed: Strategies = [("detail".to_string(), Strategy::KeyedHash)]
        .into_iter()
        .collect();
    assert!(matches!(
        keyless.anonymise_keys("events", &keys, &hashed),
        Err(ConnectorError::NoHashKey)
    ));
}

fn expired_keys_and_delete_keys_remove_exactly_the_expired_rows(db: &TestDb) {
    let mut connector = db.connector();
    let cutoff = NaiveDate::from_ymd_opt(2024, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();

    // Keyset pages: two keys, then the rest, then nothing.
    let first = connector
        .expired_keys("events", "occurred_at", cutoff, None, 2)
        .unwrap();
    assert_eq!(first, ["100", "200"]);
    let second = connector
        .expired_keys(
            "events",
            "occurred_at",
            cutoff,
            first.last().map(String::as_str),
            2,
        )
        .unwrap();
    assert_eq!(second, ["300"]);
    let third = connector
        .expired_keys("events", "occurred_at", cutoff, Some("300"), 2)
        .unwrap();
    assert!(third.is_empty());

    for page in [&first, &second] {
        let deleted = connector.delete_keys("events", page).unwrap();
        assert_eq!(deleted["events"], page.len() as u64);
    }
    assert_eq!(db.count("SELECT COUNT(*) AS n FROM events"), 2);
    assert_eq!(
        db.count("SELECT COUNT(*) AS n FROM events WHERE id IN (101, 201)"),
        2
    );
    assert_eq!(db.count("SELECT COUNT(*) AS n FROM customers"), 3);
    assert!(connector
        .expired_keys("events", "occurred_at", cutoff, None, 100)
        .unwrap()
        .is_empty());
    assert!(matches!(
        connector.expired_keys("events", "occurred_at", cutoff, None, 0),
        Err(ConnectorError::ZeroLimit { .. })
    ));
}

/// A deletion in one statement leaves out the rows of customers who may be a spared person (by
/// the resemblance of an identifier written otherwise) and of restricted customers, says how
/// many it deleted and names one of them; MySQL, which cannot, says so.
fn a_deletion_in_one_statement_leaves_spared_rows(db: &TestDb) {
    let mut connector = db.connector();
    let cutoff = NaiveDate::from_ymd_opt(2024, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    db.execute("UPDATE customers SET restricted = TRUE WHERE id = 2");
    let anna = resemblance(IdentifierKind::Email, " ANNA@Example.NL").unwrap();
    let spared = connector
        .spared("events", &[(IdentifierKind::Email, anna)], true)
        .unwrap()
        .expect("two customers to spare");
    let deleted = connector
        .delete_expired("events", "occurred_at", cutoff, 10, Some(&spared))
        .unwrap();
    if db.kind == TargetKind::Mysql {
        assert_eq!(deleted, None);
        return;
    }
    let deleted = deleted.expect("one statement");
    assert_eq!(deleted.rows, 1, "{deleted:?}");
    assert_eq!(deleted.witness.as_deref(), Some("300"));
    assert!(!connector.holds_key("events", "300").unwrap());
    assert!(connector.holds_key("events", "100").unwrap());
    assert_eq!(
        db.count("SELECT COUNT(*) AS n FROM events WHERE id IN (100, 101, 200, 201)"),
        4
    );
    assert_eq!(db.count("SELECT COUNT(*) AS n FROM events"), 4);
    // Nothing left to delete that may be deleted.
    let again = connector
        .delete_expired("events", "occurred_at", cutoff, 10, Some(&spared))
        .unwrap()
        .unwrap();
    assert_eq!((again.rows, again.witness), (0, None));
    // Without sparing, the rest goes.
    let rest = connector
        .delete_expired("events", "occurred_at", cutoff, 10, None)
        .unwrap()
        .unwrap();
    assert_eq!(rest.rows, 2);
}

fn delete_keys_removes_children_first(db: &TestDb) {
    let mut connector = db.connector();
    // Events refer to customers without ON DELETE: deleting the customer first would fail.
    let deleted = connector
        .delete_keys("customers", &["3".to_string()])
        .unwrap();
    assert_eq!(
        deleted,
        counts(&[("customers", 1), ("invoices", 1), ("events", 1)])
    );
    assert_eq!(db.count("SELECT COUNT(*) AS n FROM customers"), 2);
    assert_eq!(db.count("SELECT COUNT(*) AS n FROM events"), 4);
    assert_eq!(db.count("SELECT COUNT(*) AS n FROM invoices"), 3);
    // No keys, no work.
    assert_eq!(
        connector.delete_keys("customers", &[]).unwrap()["customers"],
        0
    );
}

fn check_names_what_is_missing(db: &TestDb) {
    db.connector().check().expect("the seeded schema matches");

    let mut typo = mapping();
    typo.tables[0].columns[3] = "postal_adress".into();
    typo.tables[2].name = "activity_log".into();
    let error = db.connector_with(typo).check().unwrap_err();
    let ConnectorError::Missing(missing) = &error else {
        panic!("expected missing columns, got {error}");
    };
    assert_eq!(
        missing,
        &[
            "crm: table customers has no column postal_adress".to_string(),
            "crm: table activity_log does not exist".to_string(),
        ]
    );
    assert!(error
        .to_string()
        .contains("crm: table customers has no column postal_adress"));
}

fn hostile_names_are_refused_by_the_connector(db: &TestDb) {
    let mut hostile = mapping();
    hostile.tables[1].name = "users; DROP TABLE customers".into();
    hostile.tables[0].columns.push("name\" FROM x; --".into());
    let error = SqlConnector::open("crm", &db.url, hostile).unwrap_err();
    let ConnectorError::InvalidMapping(fields) = &error else {
        panic!("expected an invalid mapping, got {error}");
    };
    let paths: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    assert!(paths.contains(&"tables[1].name"), "{paths:?}");
    assert!(paths.contains(&"tables[0].columns[5]"), "{paths:?}");

    let mut connector = db.connector();
    let hostile_table = "customers; DROP TABLE events";
    assert!(matches!(
        connector.delete_keys(hostile_table, &["1".to_string()]),
        Err(ConnectorError::UnknownTable { .. })
    ));
    let cutoff = chrono::Utc::now().naive_utc();
    assert!(matches!(
        connector.expired_keys(
            "events",
            "occurred_at < now(); DROP TABLE events; --",
            cutoff,
            None,
            10
        ),
        Err(ConnectorError::NoSuchColumn { .. })
    ));
    assert!(matches!(
        connector.correct(
            &email("anna@example.nl"),
            "customers",
            "name = 'x', email",
            "y"
        ),
        Err(ConnectorError::UnknownColumn { .. })
    ));
    // Values are bound, never spliced in: a hostile value is just a value that matches nobody.
    let sneaky = email("x' OR '1'='1");
    assert_eq!(connector.locate(&sneaky).unwrap()["customers"], 0);
    assert_eq!(
        connector.erase(&sneaky, &[]).unwrap().deleted["customers"],
        0
    );
    for table in ["customers", "invoices", "events"] {
        assert!(db.count(&format!("SELECT COUNT(*) AS n FROM {table}")) > 0);
    }
}

// --- without a database -------------------------------------------------------------------------

#[test]
fn hostile_names_in_a_catalog_file_are_refused_with_path_and_line() {
    let yaml = format!(
        "systems:\n  - key: crm\n    name: CRM\n    owner: IT\n    identifier_kinds: [email]\n    connector: sql\n    sql:\n{}",
        MAPPING
            .replace("name: customers", "name: \"users; DROP TABLE x\"")
            .replace("{table: customers,", "{table: \"users; DROP TABLE x\",")
            .lines()
            .map(|line| format!("      {line}\n"))
            .collect::<String>()
    );
    let error = loket::catalog::parse_yaml(&yaml).unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("line 9: systems[0].sql.tables[0].name: must be an SQL name"),
        "{text}"
    );
}

#[test]
fn connection_errors_never_show_the_url_or_password() {
    let error = SqlConnector::open(
        "crm",
        "postgres://loket:s3cret-pw@127.0.0.1:1/crm",
        mapping(),
    )
    .unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(matches!(error, ConnectorError::Connect { .. }), "{text}");
    assert!(!text.contains("s3cret-pw"), "{text}");
    assert!(!text.contains("postgres://"), "{text}");

    let error =
        SqlConnector::open("crm", "oracle://loket:s3cret-pw@db/crm", mapping()).unwrap_err();
    assert!(!error.to_string().contains("s3cret-pw"));
}
