ALTER TABLE processing_activities DROP COLUMN bsn_law;
ALTER TABLE organisation DROP COLUMN eu_representative;
ALTER TABLE organisation DROP COLUMN joint_controllers;
ALTER TABLE organisation DROP COLUMN decision_body;
ALTER TABLE organisation DROP COLUMN kind;
