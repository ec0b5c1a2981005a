DROP TRIGGER request_grounds_mark;
DROP TRIGGER kept_rows_mark;
DROP TRIGGER keep_choices_mark;
ALTER TABLE requests DROP COLUMN has_ground;
ALTER TABLE requests DROP COLUMN has_kept_rows;
ALTER TABLE requests DROP COLUMN has_keep_choices;
