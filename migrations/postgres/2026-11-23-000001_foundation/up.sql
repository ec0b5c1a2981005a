-- The foundation: users, the Art. 30 catalog and the hash-chained audit trail.
-- Timestamps are UTC. List-valued fields that are only ever read as a whole are JSON text;
-- references that must stay valid (categories, systems) are rows with foreign keys.

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('agent', 'privacy_officer', 'admin', 'service')),
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);

CREATE TABLE organisation (
    id            INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    name          TEXT NOT NULL,
    address       TEXT,
    contact_email TEXT NOT NULL,
    dpo_name      TEXT,
    dpo_email     TEXT,
    updated_at    TIMESTAMP NOT NULL
);

CREATE TABLE data_categories (
    code        TEXT PRIMARY KEY NOT NULL,
    name_nl     TEXT NOT NULL,
    name_en     TEXT NOT NULL,
    description TEXT,
    sensitivity TEXT NOT NULL CHECK (sensitivity IN ('normal', 'special', 'criminal', 'national_id')),
    builtin     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

CREATE TABLE systems (
    key              TEXT PRIMARY KEY NOT NULL,
    name             TEXT NOT NULL,
    description      TEXT,
    owner            TEXT NOT NULL,
    hosting          TEXT,
    processor        TEXT,
    identifier_kinds TEXT NOT NULL,
    connector        TEXT NOT NULL,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL
);

CREATE TABLE system_holdings (
    system_key    TEXT NOT NULL REFERENCES systems (key) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    category_code TEXT NOT NULL REFERENCES data_categories (code),
    location      TEXT NOT NULL,
    origin        TEXT NOT NULL CHECK (origin IN ('provided', 'observed', 'inferred')),
    PRIMARY KEY (system_key, position)
);
CREATE INDEX system_holdings_category ON system_holdings (category_code);

CREATE TABLE processing_activities (
    key                      TEXT PRIMARY KEY NOT NULL,
    name                     TEXT NOT NULL,
    description              TEXT,
    purposes                 TEXT NOT NULL,
    legal_basis              TEXT,
    legal_basis_detail       TEXT,
    special_category_ground  TEXT,
    criminal_data_basis      TEXT,
    data_subjects            TEXT NOT NULL,
    recipients               TEXT NOT NULL,
    security_measures        TEXT NOT NULL,
    source                   TEXT,
    automated_decision_logic TEXT,
    created_at               TIMESTAMP NOT NULL,
    updated_at               TIMESTAMP NOT NULL
);

CREATE TABLE activity_categories (
    activity_key  TEXT NOT NULL REFERENCES processing_activities (key) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    category_code TEXT NOT NULL REFERENCES data_categories (code),
    retention     TEXT,
    PRIMARY KEY (activity_key, position)
);
CREATE INDEX activity_categories_category ON activity_categories (category_code);

CREATE TABLE activity_systems (
    activity_key TEXT NOT NULL REFERENCES processing_activities (key) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    system_key   TEXT NOT NULL REFERENCES systems (key),
    PRIMARY KEY (activity_key, position)
);
CREATE INDEX activity_systems_system ON activity_systems (system_key);

-- Append-only, hash-chained. `audit_head` holds the newest link: appenders lock it first, which
-- serialises them on both backends, and it lets `loket audit verify` notice removed tail rows.
CREATE TABLE audit_events (
    seq         BIGINT PRIMARY KEY NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    summary     TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);

CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END;
$$;
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

-- The built-in taxonomy; organisations add their own categories beside it.
INSERT INTO data_categories (code, name_nl, name_en, description, sensitivity, builtin, created_at, updated_at) VALUES
    ('contact', 'Contactgegevens', 'Contact details', 'Name, address, e-mail address, phone number.', 'normal', TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('identity', 'Identificatiegegevens', 'Identity data', 'Date of birth, customer or account numbers, login names.', 'normal', TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('financial', 'Financiële gegevens', 'Financial data', 'Bank account, payments, invoices, credit checks.', 'normal', TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('communication_content', 'Inhoud van communicatie', 'Communication content', 'Content of e-mails, chats, letters, call recordings.', 'normal', TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('usage', 'Gebruiks- en gedragsgegevens', 'Usage and behaviour', 'Logs, clicks, usage records, preferences derived from behaviour.', 'normal', TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('location', 'Locatiegegevens', 'Location data', 'Location from devices, cell towers or IP addresses.', 'normal', TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('special_racial_ethnic_origin', 'Ras of etnische afkomst', 'Racial or ethnic origin', 'Art. 9(1) GDPR.', 'special', TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('special_political_opinions', 'Politieke opvattingen', 'Political opinions', 'Art. 9(1) GDPR.', 'special', TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('special_religious_beliefs', 'Religieuze of levensbeschouwelijke overtuigingen', 'Religious or philosophical beliefs', 'Art. 9(1) GDPR.', 'special', TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('special_trade_union', 'Lidmaatschap van een vakbond', 'Trade union membership', 'Art. 9(1) GDPR.', 'special', TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('special_genetic', 'Genetische gegevens', 'Genetic data', 'Art. 9(1) GDPR.', 'special', TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('special_biometric', 'Biometrische gegevens (identificatie)', 'Biometric data for identification', 'Art. 9(1) GDPR.', 'special', TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('special_health', 'Gezondheidsgegevens', 'Health data', 'Art. 9(1) GDPR.', 'special', TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('special_sex_life', 'Seksueel gedrag of seksuele gerichtheid', 'Sex life or sexual orientation', 'Art. 9(1) GDPR.', 'special', TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('criminal', 'Strafrechtelijke gegevens', 'Criminal convictions and offences', 'Art. 10 GDPR.', 'criminal', TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('bsn', 'Burgerservicenummer (BSN)', 'Citizen service number (BSN)', 'Only where a law prescribes it (UAVG art. 46).', 'national_id', TRUE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);
