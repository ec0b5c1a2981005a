-- A legal hold's identifier, sealed like a requester's own details (AES-256-GCM under the
-- store's key), beside its lookup hash: a sweep opens it in memory to find the held person's
-- rows through the organisation's indexes instead of reading the owner of every expired row.
-- Holds placed before this migration have none and are honoured the old way.
ALTER TABLE legal_holds ADD COLUMN identifier_enc TEXT;

-- A key deleted by the group of batches a run claimed: whether it is still there tells, on
-- resumption, whether the group was committed in the organisation's database.
ALTER TABLE sweep_runs ADD COLUMN claim_witness TEXT;
