-- Access and portability packages (issue #5), the files agents attach to tasks on systems loket
-- cannot reach, and what agents withhold from a package (third parties' data, Art. 15(4)).
--
-- Packages and attachments are stored sealed (crypto::stream) as numbered blobs in this database,
-- not on one machine's disk, so every loket instance behind a load balancer can serve a download
-- and a sweep on any instance can delete one.

CREATE TABLE packages (
    id TEXT PRIMARY KEY NOT NULL,
    request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('access', 'portability')),
    language TEXT NOT NULL CHECK (language IN ('nl', 'en')),
    -- building -> ready -> deleted; failed when building stopped half-way.
    state TEXT NOT NULL CHECK (state IN ('building', 'ready', 'deleted', 'failed')),
    key_id TEXT,
    sealed_bytes BIGINT NOT NULL DEFAULT 0,
    plain_bytes BIGINT NOT NULL DEFAULT 0,
    -- Rows per system and table, attachments and withheld items: counts and names, never data.
    contents TEXT NOT NULL DEFAULT '{}',
    passphrase_hash TEXT,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    max_downloads INTEGER NOT NULL,
    downloads INTEGER NOT NULL DEFAULT 0,
    expires_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    deleted_at TIMESTAMP,
    deleted_reason TEXT
);
CREATE INDEX packages_by_request ON packages (request_id, created_at);
CREATE INDEX packages_by_state ON packages (state, expires_at);

-- A sealed stream cut into numbered blobs; owner is the place it was sealed for
-- ('packages/{id}', 'attachments/{id}').
CREATE TABLE sealed_blobs (
    owner TEXT NOT NULL,
    seq INTEGER NOT NULL,
    bytes BYTEA NOT NULL,
    PRIMARY KEY (owner, seq)
);

CREATE TABLE attachments (
    id TEXT PRIMARY KEY NOT NULL,
    request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    task_id TEXT NOT NULL REFERENCES request_tasks (id) ON DELETE CASCADE,
    system_key TEXT,
    name_enc TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX attachments_by_request ON attachments (request_id, created_at);

-- What is withheld from the packages of a request: a table, a column, one row's column, or an
-- attachment; the reason is sealed (it may name the third party).
CREATE TABLE redactions (
    id TEXT PRIMARY KEY NOT NULL,
    request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    system_key TEXT,
    table_name TEXT,
    column_name TEXT,
    row_key TEXT,
    attachment_id TEXT REFERENCES attachments (id) ON DELETE CASCADE,
    reason_enc TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX redactions_by_request ON redactions (request_id);
