DROP TRIGGER owner_links_mark ON owner_links;
DROP TRIGGER request_pauses_mark ON request_pauses;
DROP FUNCTION mark_request();
DROP TRIGGER task_comments_mark ON task_comments;
DROP FUNCTION task_comments_mark();
ALTER TABLE requests DROP COLUMN has_owner_links;
ALTER TABLE requests DROP COLUMN has_comments;
ALTER TABLE requests DROP COLUMN has_pauses;
