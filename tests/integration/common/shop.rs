//! A webshop's own database as a DBA would lay it out: customers, their orders (three each) and
//! their service tickets (two each), with a plain index on every identifier and key column; and
//! the catalog that maps it. The rows are generated inside the database (`generate_series` on
//! PostgreSQL, a recursive CTE on SQLite, a cross join of digits on MySQL/MariaDB), so a million
//! customers take seconds, not a million round trips. Tests use a few thousand; only
//! `benches/dsr.rs` makes the large ones.
//!
//! Customer `i` has customer number `SH-i`, e-mail address `klant{i}@example.nl`, orders
//! `3i-2 ..= 3i` and tickets `2i-1 ..= 2i` (a ticket also carries the address it came from).

use super::targets::{TargetDb, TargetKind};

/// The tables, written for SQLite, PostgreSQL and MySQL alike.
pub const TABLES: &[&str] = &[
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, customer_number VARCHAR(20) NOT NULL, \
     email VARCHAR(200) NOT NULL, name VARCHAR(200), phone VARCHAR(20), \
     postal_address VARCHAR(200))",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, \
     placed_on VARCHAR(10), shipping_address VARCHAR(200), total_cents INTEGER)",
    "CREATE TABLE tickets (id INTEGER PRIMARY KEY, customer_id INTEGER, email VARCHAR(200), \
     subject VARCHAR(200), body VARCHAR(1000))",
];

/// A plain index on each identifier column and each column that refers to a parent.
pub const INDEXES: &[&str] = &[
    "CREATE INDEX customers_email ON customers (email)",
    "CREATE INDEX customers_customer_number ON customers (customer_number)",
    "CREATE INDEX orders_customer_id ON orders (customer_id)",
    "CREATE INDEX tickets_customer_id ON tickets (customer_id)",
    "CREATE INDEX tickets_email ON tickets (email)",
];

/// The catalog: one activity, the shop's system with its mapping. `stored:` says how the shop
/// writes its identifiers, so lookups compare with plain equality and the indexes above serve.
pub const CATALOG: &str = r#"
organisation:
  name: Webwinkel B.V.
  address: "Postbus 1, 1000 AA Amsterdam"
  contact_email: privacy@webwinkel.example
systems:
  - key: shop
    name: Webwinkel
    description: Customer accounts, orders and service tickets of the web shop.
    owner: Manager E-commerce
    identifier_kinds: [customer_number, email]
    connector: sql
    holdings:
      - category: contact
        location: customers.name, customers.email, customers.phone, customers.postal_address
        origin: provided
      - category: identity
        location: customers.customer_number
        origin: provided
      - category: communication_content
        location: tickets
        origin: provided
    sql:
      tables:
        - name: customers
          key: id
          identifiers: {customer_number: customer_number, email: email}
          stored: {customer_number: upper_no_spaces, email: lower_case}
          columns: [customer_number, name, email, phone, postal_address]
        - name: orders
          key: id
          parent: {table: customers, column: customer_id}
          columns: [placed_on, shipping_address, total_cents]
        - name: tickets
          key: id
          identifiers: {email: email}
          stored: {email: lower_case}
          parent: {table: customers, column: customer_id}
          columns: [subject, body]
activities:
  - key: webshop
    name: Webwinkel
    description: Selling and delivering orders, and answering customers' questions.
    purposes: ["Bestellingen leveren en vragen beantwoorden"]
    legal_basis: contract
    data_subjects: [Klanten]
    categories:
      - category: contact
        retention: "2 jaar na de laatste bestelling"
      - category: identity
        retention: "2 jaar na de laatste bestelling"
      - category: communication_content
        retention: "2 jaar na het contact"
    security_measures: ["Toegang op basis van rollen"]
    systems: [shop]
"#;

/// The identifiers customer `i` gives when asking: the e-mail address as people type it, the
/// customer number with a space.
pub fn requester(i: u64) -> serde_json::Value {
    serde_json::json!({
        "name": format!("Klant {i}"),
        "email": format!("Klant{i}@Example.nl"),
        "customer_number": format!(" sh-{i}"),
    })
}

/// Creates the tables, fills them with `customers` customers and their orders and tickets, then
/// adds the indexes (after the rows, as a bulk load would) and refreshes the statistics.
pub fn create(target: &TargetDb, customers: u64) {
    let mut raw = target.raw();
    for statement in TABLES {
        raw.execute(statement);
    }
    let seq = sequence(target.kind, customers);
    let concat = |parts: &[&str]| match target.kind {
        TargetKind::Mysql | TargetKind::Postgres => format!("CONCAT({})", parts.join(", ")),
        TargetKind::Sqlite => format!("({})", parts.join(" || ")),
    };
    let email = concat(&["'klant'", "seq.i", "'@example.nl'"]);
    raw.execute(&format!(
        "INSERT INTO customers (id, customer_number, email, name, phone, postal_address) \
         SELECT seq.i, {}, {email}, {}, {}, {} FROM {seq}",
        concat(&["'SH-'", "seq.i"]),
        concat(&["'Klant '", "seq.i"]),
        concat(&["'+3161'", "(1000000 + seq.i)"]),
        concat(&["'Straat '", "seq.i", "', 1000 AA Amsterdam'"]),
    ));
    let copies = |n: u64| {
        (0..n)
            .map(|k| format!("SELECT {k} AS k"))
            .collect::<Vec<_>>()
            .join(" UNION ALL ")
    };
    raw.execute(&format!(
        "INSERT INTO orders (id, customer_id, placed_on, shipping_address, total_cents) \
         SELECT 3 * seq.i - c.k, seq.i, '2026-01-15', {}, 1999 + c.k FROM {seq} \
         CROSS JOIN ({}) c",
        concat(&["'Straat '", "seq.i", "', 1000 AA Amsterdam'"]),
        copies(3),
    ));
    raw.execute(&format!(
        "INSERT INTO tickets (id, customer_id, email, subject, body) \
         SELECT 2 * seq.i - c.k, seq.i, {email}, 'Waar blijft mijn bestelling?', \
         'Ik heb nog niets ontvangen.' FROM {seq} CROSS JOIN ({}) c",
        copies(2),
    ));
    for statement in INDEXES {
        raw.execute(statement);
    }
    raw.execute(match target.kind {
        TargetKind::Sqlite => "ANALYZE",
        TargetKind::Postgres => "ANALYZE",
        TargetKind::Mysql => "ANALYZE TABLE customers, orders, tickets",
    });
}

/// A derived table `seq` with one column `i` running from 1 to `n`.
fn sequence(kind: TargetKind, n: u64) -> String {
    match kind {
        TargetKind::Postgres => format!("generate_series(1, {n}) AS seq(i)"),
        TargetKind::Sqlite => format!(
            "(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) \
             SELECT i FROM s) AS seq"
        ),
        // MySQL 8 stops recursive CTEs at 1,000 rows by default; digits need no setting.
        TargetKind::Mysql => {
            let places = n.max(2).to_string().len();
            let digits = "(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL \
                          SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 \
                          UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)";
            let sum: Vec<String> = (0..places)
                .map(|p| format!("d{p}.d * {}", 10u64.pow(p as u32)))
                .collect();
            let from: Vec<String> = (0..places).map(|p| format!("{digits} d{p}")).collect();
            format!(
                "(SELECT i FROM (SELECT {} + 1 AS i FROM {}) numbers WHERE i <= {n}) AS seq",
                sum.join(" + "),
                from.join(" CROSS JOIN ")
            )
        }
    }
}
