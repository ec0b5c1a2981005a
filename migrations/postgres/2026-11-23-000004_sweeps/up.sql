-- Retention sweeps: one row per run of one rule, with its checkpoint so a run that stopped
-- half-way resumes after its last finished batch; a lease per rule so that of several loket
-- instances on one database only one sweeps a rule at a time; and legal holds, the persons
-- whose data no sweep may touch.

CREATE TABLE sweep_runs (
    id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    system_key TEXT NOT NULL,
    table_name TEXT,
    action TEXT NOT NULL,
    dry_run BOOLEAN NOT NULL,
    -- 'schedule' or 'command'; with the slot, a scheduled run is done once however many
    -- instances wake up for it.
    origin TEXT NOT NULL,
    scheduled_for TIMESTAMP,
    -- Rows whose period counts from before this moment are expired; fixed for the whole run,
    -- so a resumed run matches what the first attempt matched.
    cutoff TIMESTAMP NOT NULL,
    status TEXT NOT NULL,
    holder TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    -- The last key of the batches accounted for, and the batch claimed but not yet accounted.
    checkpoint TEXT,
    claim_end TEXT,
    claim_rows BIGINT NOT NULL DEFAULT 0,
    batches BIGINT NOT NULL DEFAULT 0,
    matched BIGINT NOT NULL DEFAULT 0,
    changed BIGINT NOT NULL DEFAULT 0,
    related BIGINT NOT NULL DEFAULT 0,
    skipped_legal_hold BIGINT NOT NULL DEFAULT 0,
    skipped_open_request BIGINT NOT NULL DEFAULT 0,
    skipped_restriction BIGINT NOT NULL DEFAULT 0,
    resumed INTEGER NOT NULL DEFAULT 0,
    error TEXT
);
CREATE INDEX sweep_runs_by_rule ON sweep_runs (rule, started_at);
CREATE INDEX sweep_runs_by_start ON sweep_runs (started_at);

CREATE TABLE sweep_leases (
    rule TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);

CREATE TABLE legal_holds (
    id TEXT PRIMARY KEY,
    -- NULL: the hold covers every system.
    system_key TEXT,
    identifier_kind TEXT NOT NULL,
    -- The keyed lookup hash of the identifier, never the identifier itself.
    identifier_index TEXT NOT NULL,
    reason_enc TEXT NOT NULL,
    placed_by TEXT NOT NULL,
    placed_at TIMESTAMP NOT NULL,
    lifted_by TEXT,
    lifted_at TIMESTAMP
);
CREATE INDEX legal_holds_by_identifier ON legal_holds (identifier_index);
