-- Whether a request has pauses, comments on its tasks, or owner links: reading a request skips
-- the tables it has nothing in (most requests have none of the three). The database keeps the
-- marks itself, so every writer sets them (an older instance, the CLI, a script), and loket's
-- own saves of the request row never write them (they could only undo a mark).
ALTER TABLE requests ADD COLUMN has_pauses BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE requests ADD COLUMN has_comments BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE requests ADD COLUMN has_owner_links BOOLEAN NOT NULL DEFAULT FALSE;

UPDATE requests SET has_pauses = TRUE WHERE id IN (SELECT request_id FROM request_pauses);
UPDATE requests SET has_comments = TRUE
    WHERE id IN (SELECT t.request_id FROM task_comments c JOIN request_tasks t ON t.id = c.task_id);
UPDATE requests SET has_owner_links = TRUE WHERE id IN (SELECT request_id FROM owner_links);

-- Pauses and owner links name their request: one function, told by the trigger which mark to set.
CREATE FUNCTION mark_request() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('UPDATE requests SET %1$I = TRUE WHERE id = $1 AND NOT %1$I', TG_ARGV[0])
        USING NEW.request_id;
    RETURN NULL;
END $$;
CREATE TRIGGER request_pauses_mark AFTER INSERT ON request_pauses
    FOR EACH ROW EXECUTE FUNCTION mark_request('has_pauses');
CREATE TRIGGER owner_links_mark AFTER INSERT ON owner_links
    FOR EACH ROW EXECUTE FUNCTION mark_request('has_owner_links');

-- A comment names its task, whose request is marked.
CREATE FUNCTION task_comments_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE requests SET has_comments = TRUE
        WHERE id = (SELECT request_id FROM request_tasks WHERE id = NEW.task_id) AND NOT has_comments;
    RETURN NULL;
END $$;
CREATE TRIGGER task_comments_mark AFTER INSERT ON task_comments
    FOR EACH ROW EXECUTE FUNCTION task_comments_mark();
