-- PostgreSQL only: notices of changes for instances sharing one database (src/db/notices.rs).
-- SQLite serves one instance in process and reads what it needs every time; this migration
-- keeps the two lists of migrations alike.
SELECT 1;
