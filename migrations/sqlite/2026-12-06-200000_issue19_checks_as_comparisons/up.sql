-- SQLite checks `x IN ('a', 'b', 'c')` (three values or more) by building a temporary B-tree of
-- the values at every insert and update of the row: about forty per intake (a request, twenty
-- tasks with two such checks each, a letter), a tenth of the writer thread's time. The same
-- checks written as comparisons build nothing. They accept exactly the same values (NULL, where
-- the column allows it, passes both), so no stored row is affected, and SQLite documents editing
-- the table's SQL this way for a change that leaves the stored data as it is. `RESET` makes
-- this connection read the new text; creating and dropping a table moves the schema version,
-- so every other connection reads it too.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql,
    'sensitivity IN (''normal'', ''special'', ''criminal'', ''national_id'')',
    'sensitivity = ''normal'' OR sensitivity = ''special'' OR sensitivity = ''criminal'' OR sensitivity = ''national_id''')
WHERE type = 'table' AND name = 'data_categories';
UPDATE sqlite_schema SET sql = replace(sql,
    'status IN (''pending'', ''sent'', ''failed'')',
    'status = ''pending'' OR status = ''sent'' OR status = ''failed''')
WHERE type = 'table' AND name = 'outbox';
UPDATE sqlite_schema SET sql = replace(sql,
    'state IN (''building'', ''ready'', ''deleted'', ''failed'')',
    'state = ''building'' OR state = ''ready'' OR state = ''deleted'' OR state = ''failed''')
WHERE type = 'table' AND name = 'packages';
UPDATE sqlite_schema SET sql = replace(sql,
    'asked_via IN (''email'', ''phone'', ''post'')',
    'asked_via = ''email'' OR asked_via = ''phone'' OR asked_via = ''post''')
WHERE type = 'table' AND name = 'request_pauses';
UPDATE sqlite_schema SET sql = replace(sql,
    'state IN (''open'', ''done'', ''not_applicable'')',
    'state = ''open'' OR state = ''done'' OR state = ''not_applicable''')
WHERE type = 'table' AND name = 'request_tasks';
UPDATE sqlite_schema SET sql = replace(sql,
    'outcome IN (''found'', ''not_found'', ''not_reachable'')',
    'outcome = ''found'' OR outcome = ''not_found'' OR outcome = ''not_reachable''')
WHERE type = 'table' AND name = 'request_tasks';
UPDATE sqlite_schema SET sql = replace(sql,
    'kind IN (''access'', ''rectification'', ''erasure'', ''restriction'', ''portability'', ''objection'', ''human_review'')',
    'kind = ''access'' OR kind = ''rectification'' OR kind = ''erasure'' OR kind = ''restriction'' OR kind = ''portability'' OR kind = ''objection'' OR kind = ''human_review''')
WHERE type = 'table' AND name = 'requests';
UPDATE sqlite_schema SET sql = replace(sql,
    'channel IN (''phone'', ''email'', ''letter'', ''web_form'', ''counter'')',
    'channel = ''phone'' OR channel = ''email'' OR channel = ''letter'' OR channel = ''web_form'' OR channel = ''counter''')
WHERE type = 'table' AND name = 'requests';
UPDATE sqlite_schema SET sql = replace(sql,
    'state IN (''received'', ''verifying_identity'', ''in_progress'', ''awaiting_approval'', ''completed'', ''refused'', ''withdrawn'')',
    'state = ''received'' OR state = ''verifying_identity'' OR state = ''in_progress'' OR state = ''awaiting_approval'' OR state = ''completed'' OR state = ''refused'' OR state = ''withdrawn''')
WHERE type = 'table' AND name = 'requests';
UPDATE sqlite_schema SET sql = replace(sql,
    'origin IN (''provided'', ''observed'', ''inferred'')',
    'origin = ''provided'' OR origin = ''observed'' OR origin = ''inferred''')
WHERE type = 'table' AND name = 'system_holdings';
UPDATE sqlite_schema SET sql = replace(sql,
    'role IN (''agent'', ''partner_agent'', ''privacy_officer'', ''admin'', ''service'')',
    'role = ''agent'' OR role = ''partner_agent'' OR role = ''privacy_officer'' OR role = ''admin'' OR role = ''service''')
WHERE type = 'table' AND name = 'users';
UPDATE sqlite_schema SET sql = replace(sql,
    'status IN (''pending'', ''delivered'', ''failed'')',
    'status = ''pending'' OR status = ''delivered'' OR status = ''failed''')
WHERE type = 'table' AND name = 'webhook_deliveries';

PRAGMA writable_schema = RESET;
CREATE TABLE schema_version_bump (x INTEGER);
DROP TABLE schema_version_bump;
