-- A counter per account, carried in every token and session: raising it (sign-out, disabling, a
-- role change) revokes everything issued before.
ALTER TABLE users ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;
