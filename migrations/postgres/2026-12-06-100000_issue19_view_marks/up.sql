-- Whether a request has keep choices (Art. 17(3)), rows kept by its erasure, or a recorded
-- ground: the view of an erasure or a restriction skips the tables it has nothing in (most
-- have no keep choice and no kept row, and a ground only once an agent records it). Kept by the
-- database like the marks before them, never written by loket's saves of the row; a mark says
-- "may have".
ALTER TABLE requests ADD COLUMN has_keep_choices BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE requests ADD COLUMN has_kept_rows BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE requests ADD COLUMN has_ground BOOLEAN NOT NULL DEFAULT FALSE;

UPDATE requests SET has_keep_choices = TRUE WHERE id IN (SELECT request_id FROM keep_choices);
UPDATE requests SET has_kept_rows = TRUE WHERE id IN (SELECT request_id FROM kept_rows);
UPDATE requests SET has_ground = TRUE WHERE id IN (SELECT request_id FROM request_grounds);

-- mark_request(column) is the function of the marks of 2026-12-05.
CREATE TRIGGER keep_choices_mark AFTER INSERT ON keep_choices
    FOR EACH ROW EXECUTE FUNCTION mark_request('has_keep_choices');
CREATE TRIGGER kept_rows_mark AFTER INSERT ON kept_rows
    FOR EACH ROW EXECUTE FUNCTION mark_request('has_kept_rows');
CREATE TRIGGER request_grounds_mark AFTER INSERT ON request_grounds
    FOR EACH ROW EXECUTE FUNCTION mark_request('has_ground');
