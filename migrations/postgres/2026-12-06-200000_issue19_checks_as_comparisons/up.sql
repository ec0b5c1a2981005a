-- The SQLite migration of this name writes its `IN (…)` checks as comparisons; PostgreSQL
-- checks such a list without building anything, so nothing changes here.
SELECT 1;
