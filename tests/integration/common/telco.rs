//! The organisation databases of the example telecom (`examples/catalog.yaml`'s `sql:`
//! mappings), seeded with two customers: Jan de Vries (who makes the requests) and Piet Bakker.
//! Statements are written for SQLite and PostgreSQL alike.

/// The CRM's tables as `examples/catalog.yaml` maps them: Jan (the requester) and Piet.
pub const CRM: &[&str] = &[
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, customer_number VARCHAR(80) NOT NULL, \
     name VARCHAR(200), email VARCHAR(200), phone VARCHAR(40), postal_address VARCHAR(400), \
     date_of_birth DATE, contract_ended_at TIMESTAMP NULL, \
     restricted BOOLEAN NOT NULL DEFAULT FALSE)",
    "CREATE TABLE subscriptions (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, \
     tariff_plan VARCHAR(40), sim_number VARCHAR(40), started_on DATE, ended_on DATE, \
     FOREIGN KEY (customer_id) REFERENCES customers (id))",
    "CREATE TABLE interactions (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, \
     channel VARCHAR(20), summary VARCHAR(400), occurred_at TIMESTAMP, \
     FOREIGN KEY (customer_id) REFERENCES customers (id))",
    "INSERT INTO customers (id, customer_number, name, email, phone, postal_address, date_of_birth) VALUES \
     (1, 'TN-448812', 'Jan de Vries', 'jan.devries@example.nl', '+31612345678', 'Dorpsstraat 1, Groningen', '1980-05-01'), \
     (2, 'TN-500100', 'Piet Bakker', 'piet@example.nl', '+31622222222', 'Markt 2, Assen', '1975-11-23')",
    "INSERT INTO subscriptions (id, customer_id, tariff_plan, sim_number, started_on) VALUES \
     (10, 1, 'Onbeperkt', '8931000000000000001', '2022-01-01'), \
     (20, 2, 'Basis', '8931000000000000002', '2023-03-01')",
    "INSERT INTO interactions (id, customer_id, channel, summary, occurred_at) VALUES \
     (100, 1, 'phone', 'vroeg naar de factuur', '2026-01-01 10:00:00'), \
     (101, 1, 'chat', 'verhuisd', '2026-06-01 09:30:00'), \
     (200, 2, 'phone', 'klacht', '2026-03-01 12:00:00')",
];

/// The billing system's tables. Invoices outlive their account under the fiscal duty, which
/// counts from the end of each invoice's fiscal year.
pub const BILLING: &[&str] = &[
    "CREATE TABLE billing_accounts (id INTEGER PRIMARY KEY, customer_number VARCHAR(20), \
     account_number VARCHAR(20), invoice_address VARCHAR(400), invoice_email VARCHAR(200), \
     tariff_plan VARCHAR(40), processing_restricted BOOLEAN NOT NULL DEFAULT FALSE)",
    "CREATE TABLE payment_mandates (id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL, \
     iban VARCHAR(40), account_holder VARCHAR(200), signed_on DATE, \
     FOREIGN KEY (account_id) REFERENCES billing_accounts (id))",
    "CREATE TABLE invoices (id INTEGER PRIMARY KEY, account_id INTEGER, \
     invoice_number VARCHAR(20), invoice_address VARCHAR(400), amount DECIMAL(10,2), issued_on DATE, \
     fiscal_year_end DATE, \
     FOREIGN KEY (account_id) REFERENCES billing_accounts (id) ON DELETE SET NULL)",
    "CREATE TABLE payments (id INTEGER PRIMARY KEY, invoice_id INTEGER, amount DECIMAL(10,2), \
     paid_on DATE, iban VARCHAR(40), FOREIGN KEY (invoice_id) REFERENCES invoices (id))",
    "CREATE TABLE rated_cdrs (id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL, \
     called_number VARCHAR(40), started_at TIMESTAMP, duration_seconds INTEGER, charge DECIMAL(10,2), \
     FOREIGN KEY (account_id) REFERENCES billing_accounts (id))",
    "INSERT INTO billing_accounts (id, customer_number, account_number, invoice_address, invoice_email, tariff_plan) VALUES \
     (1, 'TN-448812', 'A-1', 'Dorpsstraat 1, Groningen', 'jan.devries@example.nl', 'Onbeperkt'), \
     (2, 'TN-500100', 'A-2', 'Markt 2, Assen', 'piet@example.nl', 'Basis')",
    "INSERT INTO payment_mandates (id, account_id, iban, account_holder, signed_on) VALUES \
     (1, 1, 'NL91ABNA0417164300', 'J. de Vries', '2022-01-01')",
    "INSERT INTO invoices (id, account_id, invoice_number, invoice_address, amount, issued_on, fiscal_year_end) VALUES \
     (10, 1, 'F-10', 'Dorpsstraat 1, Groningen', 30.00, '2026-01-31', '2026-12-31'), \
     (11, 1, 'F-11', 'Dorpsstraat 1, Groningen', 30.00, '2026-02-28', '2026-12-31'), \
     (20, 2, 'F-20', 'Markt 2, Assen', 15.00, '2026-01-31', '2026-12-31')",
    "INSERT INTO rated_cdrs (id, account_id, called_number, started_at, duration_seconds, charge) VALUES \
     (1, 1, '+31501234567', '2026-10-01 10:00:00', 120, 0.10), \
     (2, 1, '+31501234568', '2026-10-02 11:00:00', 60, 0.05), \
     (3, 2, '+31501234569', '2026-10-03 12:00:00', 30, 0.02)",
];
