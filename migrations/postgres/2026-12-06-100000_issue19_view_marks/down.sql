DROP TRIGGER request_grounds_mark ON request_grounds;
DROP TRIGGER kept_rows_mark ON kept_rows;
DROP TRIGGER keep_choices_mark ON keep_choices;
ALTER TABLE requests DROP COLUMN has_ground;
ALTER TABLE requests DROP COLUMN has_kept_rows;
ALTER TABLE requests DROP COLUMN has_keep_choices;
