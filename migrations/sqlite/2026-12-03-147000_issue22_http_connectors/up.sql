-- The HTTP connector's definition of a system (JSON), for systems with connector 'http'.
-- Secrets are only named in it; their values stay in the configuration or the environment.
ALTER TABLE systems ADD COLUMN http_definition TEXT;
