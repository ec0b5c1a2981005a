-- Whether a request has packages, attachments, redactions, or a record that the person asked
-- who the recipients are: the package's plan and the answer skip the tables a request has
-- nothing in (most have no attachments and no redactions; an erasure has no package). Kept by
-- the database like the marks before them, never written by loket's saves of the row. A mark
-- says "may have": a removed redaction or a withdrawn question leaves it set, and the read then
-- finds nothing, as before.
ALTER TABLE requests ADD COLUMN has_packages BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN has_attachments BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN has_redactions BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN has_recipients_asked BOOLEAN NOT NULL DEFAULT 0;

UPDATE requests SET has_packages = 1 WHERE id IN (SELECT request_id FROM packages);
UPDATE requests SET has_attachments = 1 WHERE id IN (SELECT request_id FROM attachments);
UPDATE requests SET has_redactions = 1 WHERE id IN (SELECT request_id FROM redactions);
UPDATE requests SET has_recipients_asked = 1
    WHERE id IN (SELECT request_id FROM recipients_asked);

CREATE TRIGGER packages_mark AFTER INSERT ON packages
BEGIN
    UPDATE requests SET has_packages = 1 WHERE id = NEW.request_id AND has_packages = 0;
END;
CREATE TRIGGER attachments_mark AFTER INSERT ON attachments
BEGIN
    UPDATE requests SET has_attachments = 1 WHERE id = NEW.request_id AND has_attachments = 0;
END;
CREATE TRIGGER redactions_mark AFTER INSERT ON redactions
BEGIN
    UPDATE requests SET has_redactions = 1 WHERE id = NEW.request_id AND has_redactions = 0;
END;
CREATE TRIGGER recipients_asked_mark AFTER INSERT ON recipients_asked
BEGIN
    UPDATE requests SET has_recipients_asked = 1
        WHERE id = NEW.request_id AND has_recipients_asked = 0;
END;
