DROP TABLE task_findings;
DROP TABLE kept_rows;
