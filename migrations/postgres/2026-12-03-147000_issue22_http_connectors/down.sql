ALTER TABLE systems DROP COLUMN http_definition;
