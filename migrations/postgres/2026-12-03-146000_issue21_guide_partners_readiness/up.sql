-- First-line partners: an outsourced agent belongs to a team (the partner's name); they see only
-- the requests registered by their own team. NULL for the organisation's own staff.
ALTER TABLE users ADD COLUMN team TEXT;
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('agent', 'partner_agent', 'privacy_officer', 'admin', 'service'));

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
