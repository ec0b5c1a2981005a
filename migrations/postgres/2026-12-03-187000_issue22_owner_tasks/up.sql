-- Issue #22: tasks on systems loket cannot reach, sent to the system's owner.
-- The owner's address in the catalog (a team's mailbox).
ALTER TABLE systems ADD COLUMN owner_email TEXT;

-- A signed, expiring, single-use link to the owner's form. Only the SHA-256 of the random token
-- is kept, so the table cannot be turned back into working links. The address it went to is
-- sealed like other addresses in the outbox.
CREATE TABLE owner_links (
    id TEXT PRIMARY KEY NOT NULL,
    request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    task_id TEXT NOT NULL REFERENCES request_tasks (id) ON DELETE CASCADE,
    system_key TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    recipient_enc TEXT NOT NULL,
    language TEXT NOT NULL CHECK (language IN ('nl', 'en')),
    note_enc TEXT,
    due_on DATE NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    sent_by TEXT NOT NULL,
    sent_at TIMESTAMP NOT NULL,
    reminded_at TIMESTAMP,
    escalated_at TIMESTAMP,
    used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX owner_links_by_task ON owner_links (task_id, sent_at);
CREATE INDEX owner_links_open ON owner_links (used_at, revoked_at, due_on);
