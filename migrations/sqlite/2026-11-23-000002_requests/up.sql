-- Data-subject requests, their checklist, pauses, and the mail outbox.
-- Everything a requester told us (name, contact details, free text) is stored encrypted
-- (columns ending in _enc: AES-256-GCM, key id inside); lookups go through keyed hashes (_index).

CREATE TABLE requests (
    id                       TEXT PRIMARY KEY NOT NULL,
    reference                TEXT NOT NULL UNIQUE,
    kind                     TEXT NOT NULL CHECK (kind IN ('access', 'rectification', 'erasure', 'restriction', 'portability', 'objection', 'human_review')),
    channel                  TEXT NOT NULL CHECK (channel IN ('phone', 'email', 'letter', 'web_form', 'counter')),
    state                    TEXT NOT NULL CHECK (state IN ('received', 'verifying_identity', 'in_progress', 'awaiting_approval', 'completed', 'refused', 'withdrawn')),
    language                 TEXT NOT NULL CHECK (language IN ('nl', 'en')),
    received_at              TIMESTAMP NOT NULL,
    due_on                   DATE NOT NULL,
    extended                 BOOLEAN NOT NULL DEFAULT 0,
    extension_reason         TEXT,
    identity_verified        BOOLEAN NOT NULL DEFAULT 0,
    verification_method      TEXT,
    verified_by              TEXT,
    verified_at              TIMESTAMP,
    email_confirmed          BOOLEAN NOT NULL DEFAULT 0,
    confirmation_code_hash   TEXT,
    confirmation_expires_at  TIMESTAMP,
    confirmation_attempts    INTEGER NOT NULL DEFAULT 0,
    name_enc                 TEXT,
    email_enc                TEXT,
    customer_number_enc      TEXT,
    phone_enc                TEXT,
    details_enc              TEXT,
    representative_enc       TEXT,
    email_index              TEXT,
    customer_number_index    TEXT,
    phone_index              TEXT,
    assignee                 TEXT,
    proposed_outcome         TEXT,
    refusal_ground           TEXT,
    decision_reason_enc      TEXT,
    justification_enc        TEXT,
    proposed_by              TEXT,
    approved_by              TEXT,
    version                  INTEGER NOT NULL DEFAULT 1,
    created_by               TEXT NOT NULL,
    created_at               TIMESTAMP NOT NULL,
    updated_at               TIMESTAMP NOT NULL,
    closed_at                TIMESTAMP
);
CREATE INDEX requests_state_due ON requests (state, due_on);
CREATE INDEX requests_due ON requests (due_on);
CREATE INDEX requests_email_index ON requests (email_index);
CREATE INDEX requests_customer_number_index ON requests (customer_number_index);
CREATE INDEX requests_phone_index ON requests (phone_index);

CREATE TABLE request_pauses (
    id          TEXT PRIMARY KEY NOT NULL,
    request_id  TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    started_on  DATE NOT NULL,
    ended_on    DATE,
    reason      TEXT NOT NULL CHECK (reason IN ('identity', 'clarification')),
    created_by  TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX request_pauses_request ON request_pauses (request_id);

CREATE TABLE request_tasks (
    id              TEXT PRIMARY KEY NOT NULL,
    request_id      TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,
    kind            TEXT NOT NULL,
    title_nl        TEXT NOT NULL,
    title_en        TEXT NOT NULL,
    system_key      TEXT,
    activity_key    TEXT,
    categories      TEXT NOT NULL DEFAULT '',
    recipient       TEXT,
    legal_exception TEXT,
    keep_until      DATE,
    state           TEXT NOT NULL CHECK (state IN ('open', 'done', 'not_applicable')),
    assignee        TEXT,
    evidence_enc    TEXT,
    closed_by       TEXT,
    closed_at       TIMESTAMP,
    version         INTEGER NOT NULL DEFAULT 1,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE INDEX request_tasks_request ON request_tasks (request_id, position);

CREATE TABLE task_comments (
    id         TEXT PRIMARY KEY NOT NULL,
    task_id    TEXT NOT NULL REFERENCES request_tasks (id) ON DELETE CASCADE,
    author     TEXT NOT NULL,
    body_enc   TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX task_comments_task ON task_comments (task_id);

-- Mail is written here in the same transaction as the change that causes it, and delivered by a
-- background worker with retries, so a mail server that is down loses nothing.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY NOT NULL,
    request_id      TEXT REFERENCES requests (id) ON DELETE SET NULL,
    template        TEXT NOT NULL,
    language        TEXT NOT NULL,
    recipient_enc   TEXT NOT NULL,
    subject_enc     TEXT NOT NULL,
    body_enc        TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error      TEXT,
    created_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP
);
CREATE INDEX outbox_pending ON outbox (status, next_attempt_at);
CREATE INDEX outbox_request ON outbox (request_id);
