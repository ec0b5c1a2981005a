ALTER TABLE requests DROP COLUMN partial_refusal_enc;
ALTER TABLE requests DROP COLUMN extension_ground;
ALTER TABLE requests DROP COLUMN copy_sent_by_post_on;
ALTER TABLE request_pauses DROP COLUMN ended_recorded_on;
ALTER TABLE request_pauses DROP COLUMN asked_via;
ALTER TABLE request_pauses DROP COLUMN question_enc;
ALTER TABLE request_tasks DROP COLUMN found_rows;
ALTER TABLE request_tasks DROP COLUMN outcome;
