//! The demo organisation's own databases: the CRM and the billing system of Telco Noord, laid out
//! exactly as `examples/catalog.yaml` maps them, filled with a few hundred customers whose data
//! is of every age, so that retention rules find expired rows next to recent ones and the fiscal
//! duty keeps old invoices.
//!
//! The data is made up from a fixed seed, relative to the day it is made: running the demo on
//! another day gives other dates, the same shape.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime};
use diesel::connection::SimpleConnection;
use diesel::sql_types::{Integer, Nullable, Text};
use diesel::{Connection, RunQueryDsl, SqliteConnection};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::Path;

/// How many customers the demo CRM holds.
pub const CUSTOMERS: i32 = 300;

/// The CRM's tables as the catalog maps them; identifiers, parent keys and the columns retention
/// rules count from are indexed, as a DBA would.
const CRM_SCHEMA: &str = "
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    customer_number VARCHAR(80) NOT NULL,
    name VARCHAR(200),
    email VARCHAR(200),
    phone VARCHAR(40),
    postal_address VARCHAR(400),
    date_of_birth DATE,
    contract_ended_at TIMESTAMP NULL,
    restricted BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX customers_customer_number ON customers (customer_number);
CREATE INDEX customers_email ON customers (email);
CREATE INDEX customers_phone ON customers (phone);
CREATE INDEX customers_contract_ended_at ON customers (contract_ended_at);
CREATE TABLE subscriptions (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    tariff_plan VARCHAR(40),
    sim_number VARCHAR(40),
    started_on DATE,
    ended_on DATE
);
CREATE INDEX subscriptions_customer_id ON subscriptions (customer_id);
CREATE TABLE interactions (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    channel VARCHAR(20),
    summary VARCHAR(400),
    occurred_at TIMESTAMP
);
CREATE INDEX interactions_customer_id ON interactions (customer_id);
CREATE INDEX interactions_occurred_at ON interactions (occurred_at);
";

/// The billing system's tables. Invoices outlive their account (the fiscal duty), so their
/// account reference is emptied rather than the invoice deleted with it.
const BILLING_SCHEMA: &str = "
CREATE TABLE billing_accounts (
    id INTEGER PRIMARY KEY,
    customer_number VARCHAR(80),
    account_number VARCHAR(20),
    invoice_address VARCHAR(400),
    invoice_email VARCHAR(200),
    tariff_plan VARCHAR(40),
    processing_restricted BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX billing_accounts_customer_number ON billing_accounts (customer_number);
CREATE INDEX billing_accounts_account_number ON billing_accounts (account_number);
CREATE TABLE payment_mandates (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES billing_accounts (id),
    iban VARCHAR(40),
    account_holder VARCHAR(200),
    signed_on DATE
);
CREATE INDEX payment_mandates_account_id ON payment_mandates (account_id);
CREATE TABLE invoices (
    id INTEGER PRIMARY KEY,
    account_id INTEGER REFERENCES billing_accounts (id) ON DELETE SET NULL,
    invoice_number VARCHAR(20),
    invoice_address VARCHAR(400),
    amount DECIMAL(10,2),
    issued_on DATE,
    fiscal_year_end DATE
);
CREATE INDEX invoices_account_id ON invoices (account_id);
CREATE INDEX invoices_fiscal_year_end ON invoices (fiscal_year_end);
CREATE TABLE payments (
    id INTEGER PRIMARY KEY,
    invoice_id INTEGER REFERENCES invoices (id),
    amount DECIMAL(10,2),
    paid_on DATE,
    iban VARCHAR(40)
);
CREATE INDEX payments_invoice_id ON payments (invoice_id);
CREATE TABLE rated_cdrs (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES billing_accounts (id),
    called_number VARCHAR(40),
    started_at TIMESTAMP,
    duration_seconds INTEGER,
    charge DECIMAL(10,2)
);
CREATE INDEX rated_cdrs_account_id ON rated_cdrs (account_id);
CREATE INDEX rated_cdrs_started_at ON rated_cdrs (started_at);
";

const FIRST_NAMES: &[&str] = &[
    "Jan", "Piet", "Fatima", "Sanne", "Dirk", "Emma", "Mohamed", "Lotte", "Kees", "Anouk", "Ruud",
    "Noor", "Daan", "Sophie", "Bram", "Julia", "Sem", "Tess", "Lucas", "Fleur", "Ahmet", "Iris",
    "Willem", "Yara", "Thijs", "Eva", "Mehmet", "Femke", "Joost", "Lieke",
];
const SURNAMES: &[&str] = &[
    "de Vries",
    "Bakker",
    "el Amrani",
    "Jansen",
    "Visser",
    "de Jong",
    "Yilmaz",
    "Smit",
    "van Dijk",
    "Mulder",
    "Bos",
    "Hendriks",
    "de Boer",
    "Meijer",
    "Dekker",
    "van Leeuwen",
    "Brouwer",
    "de Wit",
    "Dijkstra",
    "Kok",
    "Postma",
    "Hoekstra",
    "van der Meer",
    "Kramer",
    "Veenstra",
    "Huisman",
    "Kuipers",
    "Wolters",
    "Zijlstra",
    "Boersma",
];
const STREETS: &[&str] = &[
    "Dorpsstraat",
    "Herestraat",
    "Oosterstraat",
    "Vismarkt",
    "Zuiderdiep",
    "Paterswoldseweg",
    "Kerkstraat",
    "Stationsweg",
    "Molenweg",
    "Schoolstraat",
    "Emmalaan",
    "Julianastraat",
];
const PLACES: &[(&str, &str)] = &[
    ("9711", "Groningen"),
    ("9401", "Assen"),
    ("8911", "Leeuwarden"),
    ("7811", "Emmen"),
    ("9601", "Hoogezand"),
    ("9301", "Roden"),
    ("8401", "Gorredijk"),
    ("9351", "Leek"),
];
const PLANS: &[&str] = &[
    "Basis",
    "Onbeperkt",
    "Sim Only 10 GB",
    "Familie",
    "Zakelijk",
];
const CHANNELS: &[&str] = &["phone", "chat", "email"];
const SUMMARIES: &[&str] = &[
    "vroeg naar de factuur",
    "verhuisd, nieuw adres doorgegeven",
    "storing gemeld, opgelost na herstart",
    "wil overstappen naar een ander abonnement",
    "klacht over de dekking thuis",
    "nummerbehoud aangevraagd",
    "vroeg om een specificatie van het gebruik",
    "betalingsregeling afgesproken",
];

/// The demo persons the queue's requests come from: the first customers, fixed so that the
/// README and the tests can name them.
pub const JAN: DemoPerson = DemoPerson {
    name: "Jan de Vries",
    email: "jan.devries@example.nl",
    customer_number: "TN-448812",
    phone: "+31612345678",
};

#[derive(Debug, Clone, Copy)]
pub struct DemoPerson {
    pub name: &'static str,
    pub email: &'static str,
    pub customer_number: &'static str,
    pub phone: &'static str,
}

/// What making one database did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Made {
    /// Created with this many rows in all.
    Created { rows: u64 },
    /// It was there already and was left as it was.
    Kept,
}

/// One customer, as both systems know them.
#[derive(Debug, Clone)]
pub struct Customer {
    pub id: i32,
    pub customer_number: String,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub address: String,
    date_of_birth: NaiveDate,
    started_on: NaiveDate,
    ended_at: Option<NaiveDateTime>,
    plan: &'static str,
}

/// The customers of the demo, the same for the same `today`.
pub fn customers(today: NaiveDate) -> Vec<Customer> {
    let mut rng = StdRng::seed_from_u64(2026);
    (1..=CUSTOMERS)
        .map(|id| customer(&mut rng, id, today))
        .collect()
}

fn customer(rng: &mut StdRng, id: i32, today: NaiveDate) -> Customer {
    let index = usize::try_from(id - 1).unwrap_or(0);
    // The first customers are the demo persons, in list order, so their names are known.
    let first = FIRST_NAMES[index % FIRST_NAMES.len()];
    let surname = SURNAMES[(index + index / SURNAMES.len()) % SURNAMES.len()];
    let name = format!("{first} {surname}");
    let mailbox = format!(
        "{first}.{surname}{}",
        if index < 30 {
            String::new()
        } else {
            id.to_string()
        }
    )
    .to_lowercase()
    .replace(' ', "");
    let (postcode, place) = PLACES[rng.gen_range(0..PLACES.len())];
    let address = format!(
        "{} {}, {postcode} {}{} {place}",
        STREETS[rng.gen_range(0..STREETS.len())],
        rng.gen_range(1..180),
        (b'A' + rng.gen_range(0..26u8)) as char,
        (b'A' + rng.gen_range(0..26u8)) as char,
    );
    // Customers of up to eleven years, so that some invoices are past the fiscal duty.
    let started_on = today - Duration::days(rng.gen_range(60..11 * 365));
    let tenure = (today - started_on).num_days();
    // One in five has left: half of those more than two years ago.
    let ended_at = rng.gen_bool(0.2).then(|| {
        let ended = started_on + Duration::days(rng.gen_range(30..tenure.max(31)));
        ended.and_time(NaiveTime::from_hms_opt(17, 0, 0).unwrap_or_default())
    });
    let mut customer = Customer {
        id,
        customer_number: format!("TN-{}", 400_000 + id * 137 % 99_991),
        name,
        email: format!("{mailbox}@example.nl"),
        phone: format!("+316{:08}", rng.gen_range(10_000_000..99_999_999)),
        address,
        date_of_birth: NaiveDate::from_ymd_opt(
            rng.gen_range(1945..2006),
            rng.gen_range(1..13),
            rng.gen_range(1..29),
        )
        .unwrap_or_default(),
        started_on,
        ended_at,
        plan: PLANS[rng.gen_range(0..PLANS.len())],
    };
    if id == 1 {
        customer.name = JAN.name.into();
        customer.email = JAN.email.into();
        customer.customer_number = JAN.customer_number.into();
        customer.phone = JAN.phone.into();
        customer.ended_at = None;
    }
    customer
}

/// Creates `path` as the demo CRM unless it exists.
pub fn make_crm(path: &Path, customers: &[Customer], today: NaiveDate) -> anyhow::Result<Made> {
    make(path, CRM_SCHEMA, |conn| fill_crm(conn, customers, today))
}

/// Creates `path` as the demo billing system unless it exists.
pub fn make_billing(path: &Path, customers: &[Customer], today: NaiveDate) -> anyhow::Result<Made> {
    make(path, BILLING_SCHEMA, |conn| {
        fill_billing(conn, customers, today)
    })
}

/// Creates the database in one transaction: a failure leaves no half-filled file behind.
fn make(
    path: &Path,
    schema: &str,
    fill: impl FnOnce(&mut SqliteConnection) -> diesel::QueryResult<u64>,
) -> anyhow::Result<Made> {
    if path.exists() {
        return Ok(Made::Kept);
    }
    let url = path.to_string_lossy().to_string();
    let made = (|| -> anyhow::Result<u64> {
        let mut conn = SqliteConnection::establish(&url)?;
        conn.batch_execute("PRAGMA foreign_keys = ON")?;
        Ok(conn.transaction(|conn| {
            conn.batch_execute(schema)?;
            fill(conn)
        })?)
    })();
    match made {
        Ok(rows) => Ok(Made::Created { rows }),
        Err(error) => {
            let _ = std::fs::remove_file(path);
            Err(error.context(format!("creating {}", path.display())))
        }
    }
}

/// Binds text parameters in order; `None` is NULL.
struct Insert<'a> {
    conn: &'a mut SqliteConnection,
    rows: u64,
}

impl Insert<'_> {
    fn row(&mut self, sql: &str, id: i32, values: &[Option<String>]) -> diesel::QueryResult<()> {
        let mut query = diesel::sql_query(sql).into_boxed().bind::<Integer, _>(id);
        for value in values {
            query = query.bind::<Nullable<Text>, _>(value.clone());
        }
        query.execute(self.conn)?;
        self.rows += 1;
        Ok(())
    }
}

fn fill_crm(
    conn: &mut SqliteConnection,
    customers: &[Customer],
    today: NaiveDate,
) -> diesel::QueryResult<u64> {
    let mut rng = StdRng::seed_from_u64(11);
    let mut insert = Insert { conn, rows: 0 };
    let (mut subscription, mut interaction) = (0, 0);
    for customer in customers {
        insert.row(
            "INSERT INTO customers (id, customer_number, name, email, phone, postal_address, \
             date_of_birth, contract_ended_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            customer.id,
            &[
                Some(customer.customer_number.clone()),
                Some(customer.name.clone()),
                Some(customer.email.clone()),
                Some(customer.phone.clone()),
                Some(customer.address.clone()),
                Some(customer.date_of_birth.to_string()),
                customer.ended_at.map(timestamp),
            ],
        )?;
        subscription += 1;
        insert.row(
            "INSERT INTO subscriptions (id, customer_id, tariff_plan, sim_number, started_on, \
             ended_on) VALUES (?, ?, ?, ?, ?, ?)",
            subscription,
            &[
                Some(customer.id.to_string()),
                Some(customer.plan.to_string()),
                Some(format!("89310{:014}", customer.id * 7919)),
                Some(customer.started_on.to_string()),
                customer.ended_at.map(|at| at.date().to_string()),
            ],
        )?;
        let last = customer.ended_at.map_or(today, |at| at.date());
        let span = (last - customer.started_on).num_days().clamp(1, 4 * 365);
        for _ in 0..rng.gen_range(1..8) {
            interaction += 1;
            let day = last - Duration::days(rng.gen_range(0..span));
            let at = day.and_time(
                NaiveTime::from_hms_opt(rng.gen_range(8..20), rng.gen_range(0..60), 0)
                    .unwrap_or_default(),
            );
            insert.row(
                "INSERT INTO interactions (id, customer_id, channel, summary, occurred_at) \
                 VALUES (?, ?, ?, ?, ?)",
                interaction,
                &[
                    Some(customer.id.to_string()),
                    Some(CHANNELS[rng.gen_range(0..CHANNELS.len())].to_string()),
                    Some(SUMMARIES[rng.gen_range(0..SUMMARIES.len())].to_string()),
                    Some(timestamp(at)),
                ],
            )?;
        }
    }
    Ok(insert.rows)
}

fn fill_billing(
    conn: &mut SqliteConnection,
    customers: &[Customer],
    today: NaiveDate,
) -> diesel::QueryResult<u64> {
    let mut rng = StdRng::seed_from_u64(12);
    let mut insert = Insert { conn, rows: 0 };
    let (mut invoice, mut cdr) = (0, 0);
    for customer in customers {
        let iban = iban(&mut rng);
        insert.row(
            "INSERT INTO billing_accounts (id, customer_number, account_number, invoice_address, \
             invoice_email, tariff_plan) VALUES (?, ?, ?, ?, ?, ?)",
            customer.id,
            &[
                Some(customer.customer_number.clone()),
                Some(format!("A-{}", 10_000 + customer.id)),
                Some(customer.address.clone()),
                Some(customer.email.clone()),
                Some(customer.plan.to_string()),
            ],
        )?;
        insert.row(
            "INSERT INTO payment_mandates (id, account_id, iban, account_holder, signed_on) \
             VALUES (?, ?, ?, ?, ?)",
            customer.id,
            &[
                Some(customer.id.to_string()),
                Some(iban.clone()),
                Some(customer.name.clone()),
                Some(customer.started_on.to_string()),
            ],
        )?;
        // A quarterly invoice from the start of the contract to its end: the oldest are past
        // the seven years of the fiscal duty.
        let last = customer.ended_at.map_or(today, |at| at.date());
        let mut issued = customer.started_on + Duration::days(30);
        while issued <= last {
            invoice += 1;
            let amount = format!("{}.{:02}", rng.gen_range(15..90), rng.gen_range(0..100));
            let year_end = NaiveDate::from_ymd_opt(issued.year(), 12, 31).unwrap_or(issued);
            insert.row(
                "INSERT INTO invoices (id, account_id, invoice_number, invoice_address, amount, \
                 issued_on, fiscal_year_end) VALUES (?, ?, ?, ?, ?, ?, ?)",
                invoice,
                &[
                    Some(customer.id.to_string()),
                    Some(format!("F-{}", 100_000 + invoice)),
                    Some(customer.address.clone()),
                    Some(amount.clone()),
                    Some(issued.to_string()),
                    Some(year_end.to_string()),
                ],
            )?;
            insert.row(
                "INSERT INTO payments (id, invoice_id, amount, paid_on, iban) VALUES (?, ?, ?, ?, ?)",
                invoice,
                &[
                    Some(invoice.to_string()),
                    Some(amount),
                    Some((issued + Duration::days(14)).to_string()),
                    Some(iban.clone()),
                ],
            )?;
            issued += Duration::days(91);
        }
        // Call detail records of the last year: those older than six months have expired.
        if customer.ended_at.is_none() {
            for _ in 0..rng.gen_range(5..25) {
                cdr += 1;
                let day = today - Duration::days(rng.gen_range(1..365));
                let at = day.and_time(
                    NaiveTime::from_hms_opt(
                        rng.gen_range(7..23),
                        rng.gen_range(0..60),
                        rng.gen_range(0..60),
                    )
                    .unwrap_or_default(),
                );
                insert.row(
                    "INSERT INTO rated_cdrs (id, account_id, called_number, started_at, \
                     duration_seconds, charge) VALUES (?, ?, ?, ?, ?, ?)",
                    cdr,
                    &[
                        Some(customer.id.to_string()),
                        Some(format!("+3150{:07}", rng.gen_range(1_000_000..9_999_999))),
                        Some(timestamp(at)),
                        Some(rng.gen_range(5..1800).to_string()),
                        Some(format!("0.{:02}", rng.gen_range(1..99))),
                    ],
                )?;
            }
        }
    }
    Ok(insert.rows)
}

fn timestamp(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A Dutch IBAN with the right check digits (ISO 13616: mod 97 of the account with the country
/// moved to the end is 1), so that a validating system would take it.
fn iban(rng: &mut StdRng) -> String {
    const BANKS: &[&str] = &["ABNA", "INGB", "RABO", "SNSB", "TRIO"];
    let bank = BANKS[rng.gen_range(0..BANKS.len())];
    let account = format!("{:010}", rng.gen_range(100_000_000u64..9_999_999_999));
    let digits: String = format!("{bank}{account}NL00")
        .chars()
        .map(|c| match c.to_digit(36) {
            Some(value) => value.to_string(),
            None => String::new(),
        })
        .collect();
    let remainder = digits
        .bytes()
        .fold(0u32, |acc, b| (acc * 10 + u32::from(b - b'0')) % 97);
    format!("NL{:02}{bank}{account}", 98 - remainder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibans_pass_the_mod_97_check() {
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..50 {
            let iban = iban(&mut rng);
            let moved = format!("{}{}", &iban[4..], &iban[..4]);
            let digits: String = moved
                .chars()
                .map(|c| c.to_digit(36).unwrap().to_string())
                .collect();
            let remainder = digits
                .bytes()
                .fold(0u32, |acc, b| (acc * 10 + u32::from(b - b'0')) % 97);
            assert_eq!(remainder, 1, "{iban}");
        }
    }

    #[test]
    fn the_same_day_gives_the_same_customers_and_jan_comes_first() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        let once = customers(today);
        let again = customers(today);
        assert_eq!(once.len(), CUSTOMERS as usize);
        assert_eq!(once[0].customer_number, JAN.customer_number);
        assert_eq!(once[5].email, again[5].email);
        let numbers: std::collections::HashSet<&str> =
            once.iter().map(|c| c.customer_number.as_str()).collect();
        assert_eq!(numbers.len(), once.len(), "customer numbers are unique");
        let emails: std::collections::HashSet<&str> =
            once.iter().map(|c| c.email.as_str()).collect();
        assert_eq!(emails.len(), once.len(), "e-mail addresses are unique");
    }
}
