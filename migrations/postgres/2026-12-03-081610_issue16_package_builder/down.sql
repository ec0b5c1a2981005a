ALTER TABLE packages DROP COLUMN builder;
