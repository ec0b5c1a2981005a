DROP TABLE owner_links;
ALTER TABLE systems DROP COLUMN owner_email;
