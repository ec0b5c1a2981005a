PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql,
    'sensitivity = ''normal'' OR sensitivity = ''special'' OR sensitivity = ''criminal'' OR sensitivity = ''national_id''',
    'sensitivity IN (''normal'', ''special'', ''criminal'', ''national_id'')')
WHERE type = 'table' AND name = 'data_categories';
UPDATE sqlite_schema SET sql = replace(sql,
    'status = ''pending'' OR status = ''sent'' OR status = ''failed''',
    'status IN (''pending'', ''sent'', ''failed'')')
WHERE type = 'table' AND name = 'outbox';
UPDATE sqlite_schema SET sql = replace(sql,
    'state = ''building'' OR state = ''ready'' OR state = ''deleted'' OR state = ''failed''',
    'state IN (''building'', ''ready'', ''deleted'', ''failed'')')
WHERE type = 'table' AND name = 'packages';
UPDATE sqlite_schema SET sql = replace(sql,
    'asked_via = ''email'' OR asked_via = ''phone'' OR asked_via = ''post''',
    'asked_via IN (''email'', ''phone'', ''post'')')
WHERE type = 'table' AND name = 'request_pauses';
UPDATE sqlite_schema SET sql = replace(sql,
    'state = ''open'' OR state = ''done'' OR state = ''not_applicable''',
    'state IN (''open'', ''done'', ''not_applicable'')')
WHERE type = 'table' AND name = 'request_tasks';
UPDATE sqlite_schema SET sql = replace(sql,
    'outcome = ''found'' OR outcome = ''not_found'' OR outcome = ''not_reachable''',
    'outcome IN (''found'', ''not_found'', ''not_reachable'')')
WHERE type = 'table' AND name = 'request_tasks';
UPDATE sqlite_schema SET sql = replace(sql,
    'kind = ''access'' OR kind = ''rectification'' OR kind = ''erasure'' OR kind = ''restriction'' OR kind = ''portability'' OR kind = ''objection'' OR kind = ''human_review''',
    'kind IN (''access'', ''rectification'', ''erasure'', ''restriction'', ''portability'', ''objection'', ''human_review'')')
WHERE type = 'table' AND name = 'requests';
UPDATE sqlite_schema SET sql = replace(sql,
    'channel = ''phone'' OR channel = ''email'' OR channel = ''letter'' OR channel = ''web_form'' OR channel = ''counter''',
    'channel IN (''phone'', ''email'', ''letter'', ''web_form'', ''counter'')')
WHERE type = 'table' AND name = 'requests';
UPDATE sqlite_schema SET sql = replace(sql,
    'state = ''received'' OR state = ''verifying_identity'' OR state = ''in_progress'' OR state = ''awaiting_approval'' OR state = ''completed'' OR state = ''refused'' OR state = ''withdrawn''',
    'state IN (''received'', ''verifying_identity'', ''in_progress'', ''awaiting_approval'', ''completed'', ''refused'', ''withdrawn'')')
WHERE type = 'table' AND name = 'requests';
UPDATE sqlite_schema SET sql = replace(sql,
    'origin = ''provided'' OR origin = ''observed'' OR origin = ''inferred''',
    'origin IN (''provided'', ''observed'', ''inferred'')')
WHERE type = 'table' AND name = 'system_holdings';
UPDATE sqlite_schema SET sql = replace(sql,
    'role = ''agent'' OR role = ''partner_agent'' OR role = ''privacy_officer'' OR role = ''admin'' OR role = ''service''',
    'role IN (''agent'', ''partner_agent'', ''privacy_officer'', ''admin'', ''service'')')
WHERE type = 'table' AND name = 'users';
UPDATE sqlite_schema SET sql = replace(sql,
    'status = ''pending'' OR status = ''delivered'' OR status = ''failed''',
    'status IN (''pending'', ''delivered'', ''failed'')')
WHERE type = 'table' AND name = 'webhook_deliveries';

PRAGMA writable_schema = RESET;
CREATE TABLE schema_version_bump (x INTEGER);
DROP TABLE schema_version_bump;
