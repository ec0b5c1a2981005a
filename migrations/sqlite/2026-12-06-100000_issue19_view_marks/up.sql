-- Whether a request has keep choices (Art. 17(3)), rows kept by its erasure, or a recorded
-- ground: the view of an erasure or a restriction skips the tables it has nothing in (most
-- have no keep choice and no kept row, and a ground only once an agent records it). Kept by the
-- database like the marks before them, never written by loket's saves of the row; a mark says
-- "may have".
ALTER TABLE requests ADD COLUMN has_keep_choices BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN has_kept_rows BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN has_ground BOOLEAN NOT NULL DEFAULT 0;

UPDATE requests SET has_keep_choices = 1 WHERE id IN (SELECT request_id FROM keep_choices);
UPDATE requests SET has_kept_rows = 1 WHERE id IN (SELECT request_id FROM kept_rows);
UPDATE requests SET has_ground = 1 WHERE id IN (SELECT request_id FROM request_grounds);

CREATE TRIGGER keep_choices_mark AFTER INSERT ON keep_choices
BEGIN
    UPDATE requests SET has_keep_choices = 1 WHERE id = NEW.request_id AND has_keep_choices = 0;
END;
CREATE TRIGGER kept_rows_mark AFTER INSERT ON kept_rows
BEGIN
    UPDATE requests SET has_kept_rows = 1 WHERE id = NEW.request_id AND has_kept_rows = 0;
END;
CREATE TRIGGER request_grounds_mark AFTER INSERT ON request_grounds
BEGIN
    UPDATE requests SET has_ground = 1 WHERE id = NEW.request_id AND has_ground = 0;
END;
