-- Notices of changes to what loket keeps copies of in memory (src/db/notices.rs): every
-- statement that changes the accounts, the webhook subscriptions or the catalog's stamp (which every catalog table moves,
-- by the triggers of 2026-12-03-181000) sends the table's name on the channel `loket_changes`.
-- PostgreSQL delivers a notice when its transaction commits, and never one of a rollback.
CREATE FUNCTION loket_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('loket_changes', TG_TABLE_NAME);
    RETURN NULL;
END;
$$;
CREATE TRIGGER users_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON users
FOR EACH STATEMENT EXECUTE FUNCTION loket_notify_change();
CREATE TRIGGER catalog_stamp_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON catalog_stamp
FOR EACH STATEMENT EXECUTE FUNCTION loket_notify_change();
CREATE TRIGGER webhook_subscriptions_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
ON webhook_subscriptions FOR EACH STATEMENT EXECUTE FUNCTION loket_notify_change();
