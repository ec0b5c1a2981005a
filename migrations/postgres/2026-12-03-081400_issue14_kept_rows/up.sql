-- Rows of the organisation's databases that an erasure kept under an exception of Art. 17(3)
-- GDPR, each with its own end: a row is never named in the clear (a keyed hash of system, table
-- and key finds it, the key itself is sealed so that only loket can erase the row when its duty
-- ends). A keep is not an Art. 18 restriction: the retention sweep deletes the row once
-- keep_until has passed and no legal hold covers the person, and records that here.

CREATE TABLE kept_rows (
    id TEXT PRIMARY KEY NOT NULL,
    request_id TEXT NOT NULL REFERENCES requests (id),
    system_key TEXT NOT NULL,
    table_name TEXT NOT NULL,
    row_hash TEXT NOT NULL,
    row_key_enc TEXT NOT NULL,
    -- legal_obligation, public_task, public_health, archiving or legal_claims.
    exception TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    rule TEXT,
    -- NULL: kept while a legal hold lasts, or until a person sets the end.
    keep_until DATE,
    kept_at TIMESTAMP NOT NULL,
    erased_at TIMESTAMP,
    erased_by TEXT,
    UNIQUE (request_id, row_hash)
);
CREATE INDEX kept_rows_due ON kept_rows (system_key, erased_at, keep_until);

-- What a task run through a connector found of the person, per system: Art. 19 notifications
-- go only to recipients of systems where the person's data was found.
CREATE TABLE task_findings (
    task_id TEXT NOT NULL REFERENCES request_tasks (id),
    system_key TEXT NOT NULL,
    rows_found BIGINT NOT NULL,
    PRIMARY KEY (task_id, system_key)
);

-- The ground of an erasure (Art. 17(1)(a)-(f)) or a restriction (Art. 18(1)(a)-(d)), and the
-- lifting of a restriction: the officer's reason, when the person was told (Art. 18(3): before
-- the lift) and when the rows were un-restricted.
CREATE TABLE request_grounds (
    request_id TEXT PRIMARY KEY NOT NULL REFERENCES requests (id),
    ground TEXT,
    note_enc TEXT,
    recorded_by TEXT,
    recorded_at TIMESTAMP,
    lift_reason_enc TEXT,
    lift_noticed_at TIMESTAMP,
    lifted_by TEXT,
    lifted_at TIMESTAMP
);

-- The marketing suppression list: after a marketing erasure only a keyed hash of the e-mail
-- address stays, so that no mail is sent to it again.
CREATE TABLE suppression_list (
    email_hash TEXT PRIMARY KEY NOT NULL,
    request_id TEXT NOT NULL REFERENCES requests (id),
    added_at TIMESTAMP NOT NULL
);
