-- First-line partners: an outsourced agent belongs to a team (the partner's name); they see only
-- the requests registered by their own team. NULL for the organisation's own staff.
-- SQLite cannot change a CHECK constraint, so the table is rebuilt with partner_agent allowed.
CREATE TABLE users_issue21 (
    id            TEXT PRIMARY KEY NOT NULL,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('agent', 'partner_agent', 'privacy_officer', 'admin', 'service')),
    active        BOOLEAN NOT NULL DEFAULT 1,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    session_epoch BIGINT NOT NULL DEFAULT 0,
    team          TEXT
);
INSERT INTO users_issue21 (id, username, display_name, password_hash, role, active, created_at, updated_at, session_epoch)
    SELECT id, username, display_name, password_hash, role, active, created_at, updated_at, session_epoch FROM users;
DROP TABLE users;
ALTER TABLE users_issue21 RENAME TO users;

-- The requests registered from one call (one request per kind), so each shows the others.
CREATE TABLE request_calls (
    request_id TEXT PRIMARY KEY NOT NULL REFERENCES requests (id),
    call_id TEXT NOT NULL
);
CREATE INDEX request_calls_call ON request_calls (call_id);

-- The readiness report as it stood at a moment: the figures only (no personal data), kept so
-- the board sees a trend.
CREATE TABLE readiness_snapshots (
    id TEXT PRIMARY KEY NOT NULL,
    taken_at TIMESTAMP NOT NULL,
    origin TEXT NOT NULL,
    score INTEGER NOT NULL,
    report TEXT NOT NULL
);
CREATE INDEX readiness_snapshots_taken ON readiness_snapshots (taken_at);
