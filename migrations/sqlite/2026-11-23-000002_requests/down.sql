DROP TABLE outbox;
DROP TABLE task_comments;
DROP TABLE request_tasks;
DROP TABLE request_pauses;
DROP TABLE requests;
