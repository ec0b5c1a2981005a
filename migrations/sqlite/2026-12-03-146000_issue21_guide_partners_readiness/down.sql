DROP TABLE readiness_snapshots;
DROP TABLE request_calls;
ALTER TABLE users DROP COLUMN team;
