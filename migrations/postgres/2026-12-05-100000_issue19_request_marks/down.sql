DROP TRIGGER owner_links_mark ON owner_links;
DROP FUNCTION owner_links_mark();
DROP TRIGGER task_comments_mark ON task_comments;
DROP FUNCTION task_comments_mark();
DROP TRIGGER request_pauses_mark ON request_pauses;
DROP FUNCTION request_pauses_mark();
ALTER TABLE requests DROP COLUMN has_owner_links;
ALTER TABLE requests DROP COLUMN has_comments;
ALTER TABLE requests DROP COLUMN has_pauses;
