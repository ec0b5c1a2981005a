DROP TABLE daily_job_runs;
ALTER TABLE users DROP COLUMN language;
ALTER TABLE users DROP COLUMN email;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_events;
DROP TABLE webhook_subscriptions;
