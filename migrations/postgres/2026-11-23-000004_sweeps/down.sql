DROP TABLE legal_holds;
DROP TABLE sweep_leases;
DROP TABLE sweep_runs;
