-- The catalog's stamp: a new random value whenever a catalog table changes (set by triggers,
-- so no write path can forget it). loket caches the catalog in memory and reloads it only
-- when the stamp differs from the one it loaded, on every instance that shares the store.
-- Random rather than a counter: a rolled-back change cannot bring an old value back.
CREATE TABLE catalog_stamp (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    stamp BIGINT NOT NULL
);
INSERT INTO catalog_stamp (id, stamp) VALUES (1, 0);

CREATE FUNCTION catalog_stamp_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE catalog_stamp SET stamp = (random() * 9.2e18)::bigint WHERE id = 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER organisation_stamp AFTER INSERT OR UPDATE OR DELETE ON organisation
FOR EACH STATEMENT EXECUTE FUNCTION catalog_stamp_change();
CREATE TRIGGER data_categories_stamp AFTER INSERT OR UPDATE OR DELETE ON data_categories
FOR EACH STATEMENT EXECUTE FUNCTION catalog_stamp_change();
CREATE TRIGGER systems_stamp AFTER INSERT OR UPDATE OR DELETE ON systems
FOR EACH STATEMENT EXECUTE FUNCTION catalog_stamp_change();
CREATE TRIGGER system_holdings_stamp AFTER INSERT OR UPDATE OR DELETE ON system_holdings
FOR EACH STATEMENT EXECUTE FUNCTION catalog_stamp_change();
CREATE TRIGGER processing_for_others_stamp AFTER INSERT OR UPDATE OR DELETE ON processing_for_others
FOR EACH STATEMENT EXECUTE FUNCTION catalog_stamp_change();
CREATE TRIGGER processing_activities_stamp AFTER INSERT OR UPDATE OR DELETE ON processing_activities
FOR EACH STATEMENT EXECUTE FUNCTION catalog_stamp_change();
CREATE TRIGGER activity_categories_stamp AFTER INSERT OR UPDATE OR DELETE ON activity_categories
FOR EACH STATEMENT EXECUTE FUNCTION catalog_stamp_change();
CREATE TRIGGER activity_systems_stamp AFTER INSERT OR UPDATE OR DELETE ON activity_systems
FOR EACH STATEMENT EXECUTE FUNCTION catalog_stamp_change();
