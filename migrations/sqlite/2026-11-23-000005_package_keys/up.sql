-- The keys that seal access and portability packages (envelope encryption): each key is itself
-- sealed with loket's data key. The newest sealed key seals new packages; older ones stay to open
-- the packages sealed before a rotation (`loket keys rotate`).
CREATE TABLE package_keys (
    id TEXT PRIMARY KEY,
    key_enc TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX package_keys_by_age ON package_keys (created_at);
