-- The catalog's stamp: a new random value whenever a catalog table changes (set by triggers,
-- so no write path can forget it). loket caches the catalog in memory and reloads it only
-- when the stamp differs from the one it loaded, on every instance that shares the store.
-- Random rather than a counter: a rolled-back change cannot bring an old value back.
CREATE TABLE catalog_stamp (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    stamp BIGINT NOT NULL
);
INSERT INTO catalog_stamp (id, stamp) VALUES (1, 0);
CREATE TRIGGER organisation_insert_stamp AFTER INSERT ON organisation
BEGIN UPDATE catalog_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER organisation_update_stamp AFTER UPDATE ON organisation
BEGIN UPDATE catalog_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER organisation_delete_stamp AFTER DELETE ON organisation
BEGIN UPDATE catalog_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER data_categories_insert_stamp AFTER INSERT ON data_categories
BEGIN UPDATE catalog_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER data_categories_update_stamp AFTER UPDATE ON data_categories
BEGIN UPDATE catalog_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER data_categories_delete_stamp AFTER DELETE ON data_categories
BEGIN UPDATE catalog_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER systems_insert_stamp AFTER INSERT ON systems
BEGIN UPDATE catalog_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER systems_update_stamp AFTER UPDATE ON systems
BEGIN UPDATE catalog_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER systems_delete_stamp AFTER DELETE ON systems
BEGIN UPDATE catalog_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER system_holdings_insert_stamp AFTER INSERT ON system_holdings
BEGIN UPDATE catalog_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER system_holdings_update_stamp AFTER UPDATE ON system_holdings
BEGIN UPDATE catalog_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER system_holdings_delete_stamp AFTER DELETE ON system_holdings
BEGIN UPDATE catalog_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER processing_for_others_insert_stamp AFTER INSERT ON processing_for_others
BEGIN UPDATE catalog_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER processing_for_others_update_stamp AFTER UPDATE ON processing_for_others
BEGIN UPDATE catalog_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER processing_for_others_delete_stamp AFTER DELETE ON processing_for_others
BEGIN UPDATE catalog_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER processing_activities_insert_stamp AFTER INSERT ON processing_activities
BEGIN UPDATE catalog_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER processing_activities_update_stamp AFTER UPDATE ON processing_activities
BEGIN UPDATE catalog_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER processing_activities_delete_stamp AFTER DELETE ON processing_activities
BEGIN UPDATE catalog_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER activity_categories_insert_stamp AFTER INSERT ON activity_categories
BEGIN UPDATE catalog_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER activity_categories_update_stamp AFTER UPDATE ON activity_categories
BEGIN UPDATE catalog_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER activity_categories_delete_stamp AFTER DELETE ON activity_categories
BEGIN UPDATE catalog_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER activity_systems_insert_stamp AFTER INSERT ON activity_systems
BEGIN UPDATE catalog_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER activity_systems_update_stamp AFTER UPDATE ON activity_systems
BEGIN UPDATE catalog_stamp SET stamp = random() WHERE id = 1; END;
CREATE TRIGGER activity_systems_delete_stamp AFTER DELETE ON activity_systems
BEGIN UPDATE catalog_stamp SET stamp = random() WHERE id = 1; END;
