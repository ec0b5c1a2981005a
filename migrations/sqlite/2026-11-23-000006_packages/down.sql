DROP TABLE redactions;
DROP TABLE attachments;
DROP TABLE sealed_blobs;
DROP TABLE packages;
