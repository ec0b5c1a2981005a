-- A BSN given as a requester's identifier, only where the catalog names the law that allows it
-- (UAVG art. 46): sealed like the other identifiers, found through its keyed hash.
ALTER TABLE requests ADD COLUMN bsn_enc TEXT;
ALTER TABLE requests ADD COLUMN bsn_index TEXT;
CREATE INDEX requests_bsn_index ON requests (bsn_index);
-- The country a system is hosted in (ISO 3166-1 alpha-2), so a host outside the EEA without a
-- transfer safeguard shows in the register (Art. 30(1)(e), 44-46).
ALTER TABLE systems ADD COLUMN hosting_country TEXT;
-- The record of processing carried out on behalf of other controllers (Art. 30(2)), one entry
-- per kind of service; read and written only whole, so the entry is JSON.
CREATE TABLE processing_for_others (
    key         TEXT PRIMARY KEY NOT NULL,
    body        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
