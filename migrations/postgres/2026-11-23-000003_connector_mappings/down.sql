ALTER TABLE systems DROP COLUMN sql_mapping;
