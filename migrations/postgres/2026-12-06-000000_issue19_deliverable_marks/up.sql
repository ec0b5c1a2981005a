-- Whether a request has packages, attachments, redactions, or a record that the person asked
-- who the recipients are: the package's plan and the answer skip the tables a request has
-- nothing in (most have no attachments and no redactions; an erasure has no package). Kept by
-- the database like the marks before them, never written by loket's saves of the row. A mark
-- says "may have": a removed redaction or a withdrawn question leaves it set, and the read then
-- finds nothing, as before.
ALTER TABLE requests ADD COLUMN has_packages BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE requests ADD COLUMN has_attachments BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE requests ADD COLUMN has_redactions BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE requests ADD COLUMN has_recipients_asked BOOLEAN NOT NULL DEFAULT FALSE;

UPDATE requests SET has_packages = TRUE WHERE id IN (SELECT request_id FROM packages);
UPDATE requests SET has_attachments = TRUE WHERE id IN (SELECT request_id FROM attachments);
UPDATE requests SET has_redactions = TRUE WHERE id IN (SELECT request_id FROM redactions);
UPDATE requests SET has_recipients_asked = TRUE
    WHERE id IN (SELECT request_id FROM recipients_asked);

-- mark_request(column) is the function of the marks before these (2026-12-05).
CREATE TRIGGER packages_mark AFTER INSERT ON packages
    FOR EACH ROW EXECUTE FUNCTION mark_request('has_packages');
CREATE TRIGGER attachments_mark AFTER INSERT ON attachments
    FOR EACH ROW EXECUTE FUNCTION mark_request('has_attachments');
CREATE TRIGGER redactions_mark AFTER INSERT ON redactions
    FOR EACH ROW EXECUTE FUNCTION mark_request('has_redactions');
CREATE TRIGGER recipients_asked_mark AFTER INSERT ON recipients_asked
    FOR EACH ROW EXECUTE FUNCTION mark_request('has_recipients_asked');
