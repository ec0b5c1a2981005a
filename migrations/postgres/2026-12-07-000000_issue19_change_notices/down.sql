DROP TRIGGER webhook_subscriptions_notify ON webhook_subscriptions;
DROP TRIGGER catalog_stamp_notify ON catalog_stamp;
DROP TRIGGER users_notify ON users;
DROP FUNCTION loket_notify_change();
