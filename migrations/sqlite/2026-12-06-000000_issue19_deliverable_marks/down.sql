DROP TRIGGER recipients_asked_mark;
DROP TRIGGER redactions_mark;
DROP TRIGGER attachments_mark;
DROP TRIGGER packages_mark;
ALTER TABLE requests DROP COLUMN has_recipients_asked;
ALTER TABLE requests DROP COLUMN has_redactions;
ALTER TABLE requests DROP COLUMN has_attachments;
ALTER TABLE requests DROP COLUMN has_packages;
