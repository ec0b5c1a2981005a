-- What a search found (issue 15): the Art. 15 facts follow the systems where data was found.
ALTER TABLE request_tasks ADD COLUMN outcome TEXT CHECK (outcome IN ('found', 'not_found', 'not_reachable'));
ALTER TABLE request_tasks ADD COLUMN found_rows BIGINT;
-- The question a pause waits for (sealed), how it was asked, and the day the answer was recorded.
ALTER TABLE request_pauses ADD COLUMN question_enc TEXT;
ALTER TABLE request_pauses ADD COLUMN asked_via TEXT CHECK (asked_via IN ('email', 'phone', 'post'));
ALTER TABLE request_pauses ADD COLUMN ended_recorded_on DATE;
-- The day a copy of the data went by post, when the answer carries no package (Art. 15(3)).
ALTER TABLE requests ADD COLUMN copy_sent_by_post_on DATE;
-- The ground of an extension from the law's list (Art. 12(3)); extension_reason holds the explanation.
ALTER TABLE requests ADD COLUMN extension_ground TEXT CHECK (extension_ground IN ('complexity', 'number_of_requests'));
-- What a partial refusal refuses and why (sealed): sent with the answer once approved.
ALTER TABLE requests ADD COLUMN partial_refusal_enc TEXT;
