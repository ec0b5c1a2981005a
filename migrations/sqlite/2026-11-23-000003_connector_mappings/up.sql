-- The SQL connector's mapping of a system's tables (JSON), for systems with connector 'sql'.
-- Connection URLs are secrets and stay in the configuration, never here.
ALTER TABLE systems ADD COLUMN sql_mapping TEXT;
