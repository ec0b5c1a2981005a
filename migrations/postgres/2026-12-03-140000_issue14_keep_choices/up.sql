-- Art. 17(3) exceptions an agent chose for an erasure, beyond what retention rules keep: legal
-- obligation, public task, public health, archiving or research, legal claims. Each choice is a
-- keep_under_exception task of the request, naming the system and every table it keeps; the
-- reason is for staff and sealed. keep_until NULL: kept until a person decides.
CREATE TABLE keep_choices (
    task_id TEXT PRIMARY KEY NOT NULL REFERENCES request_tasks (id),
    request_id TEXT NOT NULL REFERENCES requests (id),
    system_key TEXT NOT NULL,
    exception TEXT NOT NULL,
    -- Mapped table names, comma-separated.
    tables TEXT NOT NULL,
    reason_enc TEXT NOT NULL,
    keep_until DATE,
    chosen_by TEXT NOT NULL,
    chosen_at TIMESTAMP NOT NULL
);
CREATE INDEX keep_choices_request ON keep_choices (request_id);

-- The person asked who the recipients told of the erasure, rectification or restriction are
-- (Art. 19, last sentence): the answer names them.
CREATE TABLE recipients_asked (
    request_id TEXT PRIMARY KEY NOT NULL REFERENCES requests (id),
    recorded_by TEXT NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
