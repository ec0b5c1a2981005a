DROP TABLE readiness_snapshots;
DROP TABLE request_calls;
DELETE FROM users WHERE role = 'partner_agent';
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('agent', 'privacy_officer', 'admin', 'service'));
ALTER TABLE users DROP COLUMN team;
