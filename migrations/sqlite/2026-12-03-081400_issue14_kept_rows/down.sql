DROP TABLE suppression_list;
DROP TABLE request_grounds;
DROP TABLE task_findings;
DROP TABLE kept_rows;
