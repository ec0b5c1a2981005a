-- Whether the controller is a private party or a public body (UAVG art. 34 vs 35), the body that
-- signs its besluiten, and the rest of Art. 30(1)(a): joint controllers and the EU representative.
ALTER TABLE organisation ADD COLUMN kind TEXT NOT NULL DEFAULT 'private';
ALTER TABLE organisation ADD COLUMN decision_body TEXT;
ALTER TABLE organisation ADD COLUMN joint_controllers TEXT NOT NULL DEFAULT '[]';
ALTER TABLE organisation ADD COLUMN eu_representative TEXT;
-- The law that prescribes the BSN for an activity (UAVG art. 46), e.g. "Wabb art. 10".
ALTER TABLE processing_activities ADD COLUMN bsn_law TEXT;
