DROP TABLE readiness_snapshots;
DROP TABLE request_calls;
DELETE FROM users WHERE role = 'partner_agent';
CREATE TABLE users_issue21 (
    id            TEXT PRIMARY KEY NOT NULL,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('agent', 'privacy_officer', 'admin', 'service')),
    active        BOOLEAN NOT NULL DEFAULT 1,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    session_epoch BIGINT NOT NULL DEFAULT 0
);
INSERT INTO users_issue21 SELECT id, username, display_name, password_hash, role, active, created_at, updated_at, session_epoch FROM users;
DROP TABLE users;
ALTER TABLE users_issue21 RENAME TO users;
