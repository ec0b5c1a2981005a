-- Outgoing webhooks (issue 22): subscriptions kept by administrators, the events loket emitted,
-- and one delivery per event and subscription, retried by the worker like the mail outbox.
CREATE TABLE webhook_subscriptions (
    id          TEXT PRIMARY KEY NOT NULL,
    url         TEXT NOT NULL,
    description TEXT,
    -- The signing secret, sealed with the data key (never returned by the API).
    secret_enc  TEXT NOT NULL,
    -- The events subscribed to, comma-separated names of the vocabulary.
    events      TEXT NOT NULL,
    active      BOOLEAN NOT NULL DEFAULT 1,
    created_by  TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

-- Every event once: its id is what receivers deduplicate on. Events that must happen only once
-- per object (a request falling due soon) carry a dedup key that the unique index holds to once.
CREATE TABLE webhook_events (
    id          TEXT PRIMARY KEY NOT NULL,
    event       TEXT NOT NULL,
    dedup_key   TEXT UNIQUE,
    -- The JSON body as sent: ids, references, kinds, states and dates only, never personal data.
    payload     TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY NOT NULL,
    event_id         TEXT NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    subscription_id  TEXT NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMP NOT NULL,
    last_error       TEXT,
    last_status_code INTEGER,
    created_at       TIMESTAMP NOT NULL,
    delivered_at     TIMESTAMP
);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries (subscription_id, created_at);

-- Reminder digests go to staff: their address and the language they read.
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN language TEXT NOT NULL DEFAULT 'nl';

-- Daily jobs run once a day across every instance: the first to insert the day runs it.
CREATE TABLE daily_job_runs (
    job        TEXT NOT NULL,
    day        DATE NOT NULL,
    started_at TIMESTAMP NOT NULL,
    PRIMARY KEY (job, day)
);
