DROP TABLE recipients_asked;
DROP TABLE keep_choices;
