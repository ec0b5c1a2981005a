//! What differs between the SQL dialects the connector speaks: how a URL names the backend, how
//! names are quoted, how parameters are written and how a row becomes one JSON text.

use super::ConnectorError;

/// The database family behind a connection URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
    Mysql,
}

/// Pairs per JSON object call: below every backend's limit on function arguments (PostgreSQL
/// allows 100 arguments, SQLite 127 by default); wider rows are merged from several objects.
const JSON_PAIRS_PER_CALL: usize = 40;

impl Dialect {
    /// The dialect of `url` and what the driver is given to connect (a file path for SQLite).
    pub fn of_url(url: &str) -> Result<(Dialect, &str), ConnectorError> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(ConnectorError::UnsupportedUrl);
            }
            Ok((Dialect::Sqlite, path))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok((Dialect::Postgres, url))
        } else if url.starts_with("mysql://") {
            Ok((Dialect::Mysql, url))
        } else {
            Err(ConnectorError::UnsupportedUrl)
        }
    }

    /// A quoted table or column name. Only names that passed
    /// [`is_sql_identifier`](crate::catalog::model::is_sql_identifier) get here, so no quote
    /// character can occur inside; quoting keeps reserved words and case intact.
    pub fn quote(self, name: &str) -> String {
        debug_assert!(crate::catalog::model::is_sql_identifier(name));
        match self {
            Dialect::Mysql => format!("`{name}`"),
            Dialect::Sqlite | Dialect::Postgres => format!("\"{name}\""),
        }
    }

    /// The `n`-th (1-based) bound parameter.
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            Dialect::Sqlite | Dialect::Mysql => "?".into(),
        }
    }

    /// `expression` as text, so keys and values of any column type read back alike.
    pub fn as_text(self, expression: &str) -> String {
        match self {
            Dialect::Sqlite | Dialect::Postgres => format!("CAST({expression} AS TEXT)"),
            Dialect::Mysql => format!("CAST({expression} AS CHAR)"),
        }
    }

    /// An expression giving one JSON object as text with each column under its own name.
    pub fn json_object(self, columns: &[&str]) -> String {
        let pairs: Vec<(String, String)> = columns
            .iter()
            .map(|column| (column.to_string(), self.quote(column)))
            .collect();
        self.json_object_of(&pairs)
    }

    /// An expression giving one JSON object as text with each SQL expression under its key. The
    /// keys are written into the SQL: only names loket makes itself may be keys.
    pub fn json_object_of(self, pairs: &[(String, String)]) -> String {
        let wide = pairs.len() > JSON_PAIRS_PER_CALL;
        let objects: Vec<String> = pairs
            .chunks(JSON_PAIRS_PER_CALL)
            .map(|chunk| {
                let arguments: Vec<String> = chunk
                    .iter()
                    .map(|(key, expression)| format!("'{key}', {expression}"))
                    .collect();
                let function = match (self, wide) {
                    (Dialect::Sqlite, _) => "json_object",
                    (Dialect::Postgres, false) => "json_build_object",
                    (Dialect::Postgres, true) => "jsonb_build_object",
                    (Dialect::Mysql, _) => "JSON_OBJECT",
                };
                format!("{function}({})", arguments.join(", "))
            })
            .collect();
        let merged = objects
            .into_iter()
            .reduce(|left, right| match self {
                Dialect::Sqlite => format!("json_patch({left}, {right})"),
                Dialect::Postgres => format!("({left} || {right})"),
                Dialect::Mysql => format!("JSON_MERGE_PATCH({left}, {right})"),
            })
            .unwrap_or_else(|| "'{}'".into());
        self.as_text(&merged)
    }

    /// The query listing the text columns of a table that have a declared maximum length, with
    /// that length; its one parameter is the table. `None` on SQLite, which stores text of any
    /// length whatever the declared type says.
    pub fn lengths_query(self) -> Option<&'static str> {
        match self {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some(
                "SELECT CAST(column_name AS TEXT) AS a, CAST(character_maximum_length AS TEXT) AS b \
                 FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 \
                 AND character_maximum_length IS NOT NULL",
            ),
            Dialect::Mysql => Some(
                "SELECT CAST(COLUMN_NAME AS CHAR) AS a, CAST(CHARACTER_MAXIMUM_LENGTH AS CHAR) AS b \
                 FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? \
                 AND CHARACTER_MAXIMUM_LENGTH IS NOT NULL",
            ),
        }
    }

    /// The query listing a table's columns with their types; its one parameter is the table.
    pub fn columns_query(self) -> &'static str {
        match self {
            Dialect::Sqlite => "SELECT name AS a, type AS b FROM pragma_table_info(?)",
            Dialect::Postgres => {
                "SELECT CAST(column_name AS TEXT) AS a, CAST(udt_name AS TEXT) AS b \
                 FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1"
            }
            Dialect::Mysql => {
                "SELECT CAST(COLUMN_NAME AS CHAR) AS a, CAST(DATA_TYPE AS CHAR) AS b \
                 FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_dialect() {
        assert_eq!(
            Dialect::of_url("sqlite:///tmp/crm.db").unwrap(),
            (Dialect::Sqlite, "/tmp/crm.db")
        );
        assert_eq!(
            Dialect::of_url("postgresql://db/crm").unwrap().0,
            Dialect::Postgres
        );
        assert_eq!(
            Dialect::of_url("mysql://root@db/crm").unwrap().0,
            Dialect::Mysql
        );
        assert!(Dialect::of_url("oracle://db").is_err());
        assert!(Dialect::of_url("sqlite://").is_err());
    }

    #[test]
    fn quoting_and_placeholders_per_dialect() {
        assert_eq!(Dialect::Postgres.quote("order"), "\"order\"");
        assert_eq!(Dialect::Mysql.quote("order"), "`order`");
        assert_eq!(Dialect::Postgres.placeholder(3), "$3");
        assert_eq!(Dialect::Sqlite.placeholder(3), "?");
    }

    #[test]
    fn wide_rows_merge_several_json_objects() {
        let columns: Vec<String> = (0..90).map(|i| format!("c{i}")).collect();
        let names: Vec<&str> = columns.iter().map(String::as_str).collect();
        let sql = Dialect::Sqlite.json_object(&names);
        assert_eq!(sql.matches("json_object(").count(), 3);
        assert_eq!(sql.matches("json_patch(").count(), 2);
        assert!(Dialect::Postgres
            .json_object(&["a"])
            .starts_with("CAST(json_build_object('a', \"a\")"));
    }
}
