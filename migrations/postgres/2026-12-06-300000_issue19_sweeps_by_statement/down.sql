ALTER TABLE sweep_runs DROP COLUMN claim_witness;
ALTER TABLE legal_holds DROP COLUMN identifier_enc;
