DROP TABLE processing_for_others;
ALTER TABLE systems DROP COLUMN hosting_country;
DROP INDEX requests_bsn_index;
ALTER TABLE requests DROP COLUMN bsn_index;
ALTER TABLE requests DROP COLUMN bsn_enc;
