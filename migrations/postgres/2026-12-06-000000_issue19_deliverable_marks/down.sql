DROP TRIGGER recipients_asked_mark ON recipients_asked;
DROP TRIGGER redactions_mark ON redactions;
DROP TRIGGER attachments_mark ON attachments;
DROP TRIGGER packages_mark ON packages;
ALTER TABLE requests DROP COLUMN has_recipients_asked;
ALTER TABLE requests DROP COLUMN has_redactions;
ALTER TABLE requests DROP COLUMN has_attachments;
ALTER TABLE requests DROP COLUMN has_packages;
