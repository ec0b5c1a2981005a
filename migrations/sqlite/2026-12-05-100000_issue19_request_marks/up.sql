-- Whether a request has pauses, comments on its tasks, or owner links: reading a request skips
-- the tables it has nothing in (most requests have none of the three). The database keeps the
-- marks itself, so every writer sets them (an older instance, the CLI, a script), and loket's
-- own saves of the request row never write them (they could only undo a mark).
ALTER TABLE requests ADD COLUMN has_pauses BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN has_comments BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN has_owner_links BOOLEAN NOT NULL DEFAULT 0;

UPDATE requests SET has_pauses = 1 WHERE id IN (SELECT request_id FROM request_pauses);
UPDATE requests SET has_comments = 1
    WHERE id IN (SELECT t.request_id FROM task_comments c JOIN request_tasks t ON t.id = c.task_id);
UPDATE requests SET has_owner_links = 1 WHERE id IN (SELECT request_id FROM owner_links);

CREATE TRIGGER request_pauses_mark AFTER INSERT ON request_pauses
BEGIN
    UPDATE requests SET has_pauses = 1 WHERE id = NEW.request_id AND has_pauses = 0;
END;
CREATE TRIGGER task_comments_mark AFTER INSERT ON task_comments
BEGIN
    UPDATE requests SET has_comments = 1
        WHERE id = (SELECT request_id FROM request_tasks WHERE id = NEW.task_id) AND has_comments = 0;
END;
CREATE TRIGGER owner_links_mark AFTER INSERT ON owner_links
BEGIN
    UPDATE requests SET has_owner_links = 1 WHERE id = NEW.request_id AND has_owner_links = 0;
END;
