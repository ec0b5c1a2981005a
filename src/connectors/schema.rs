//! What the target database really has: the columns (and their types) of each mapped table, read
//! from `pragma_table_info` on SQLite and `information_schema` on PostgreSQL and MySQL.

use super::dialect::Dialect;
use super::statement::Statement;
use super::target::{TargetConnection, TargetResult};
use crate::catalog::model::SqlMapping;
use diesel::sql_types::Text;
use std::collections::HashMap;

/// Two text columns `a` and `b`, the shape of every small lookup the connector makes.
#[derive(Debug, diesel::QueryableByName)]
pub struct TextPair {
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    pub a: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    pub b: Option<String>,
}

/// The columns of each mapped table, with the type the database reports; a table that does not
/// exist has no entry.
#[derive(Debug, Default)]
pub struct Schema {
    tables: HashMap<String, HashMap<String, String>>,
}

impl Schema {
    pub fn load(
        conn: &mut TargetConnection,
        dialect: Dialect,
        mapping: &SqlMapping,
    ) -> TargetResult<Self> {
        let mut tables = HashMap::new();
        for table in &mapping.tables {
            let mut statement = Statement::new(dialect);
            statement.push(dialect.columns_query());
            // The query carries its own placeholder; only the value is added.
            let statement = statement.with_bound_text(&table.name);
            let columns: HashMap<String, String> = conn
                .load_pairs(&statement)?
                .into_iter()
                .filter_map(|pair| Some((pair.a?, pair.b.unwrap_or_default())))
                .collect();
            if !columns.is_empty() {
                tables.insert(table.name.clone(), columns);
            }
        }
        Ok(Schema { tables })
    }

    /// The declared maximum length of each text column of `table` that has one (PostgreSQL and
    /// MySQL); empty on SQLite, which does not enforce lengths.
    pub fn max_lengths(
        conn: &mut TargetConnection,
        dialect: Dialect,
        table: &str,
    ) -> TargetResult<HashMap<String, u64>> {
        let Some(query) = dialect.lengths_query() else {
            return Ok(HashMap::new());
        };
        let mut statement = Statement::new(dialect);
        statement.push(query);
        let statement = statement.with_bound_text(table);
        Ok(conn
            .load_pairs(&statement)?
            .into_iter()
            .filter_map(|pair| Some((pair.a?, pair.b?.parse().ok()?)))
            .collect())
    }

    pub fn has_table(&self, table: &str) -> bool {
        self.tables.contains_key(table)
    }

    pub fn has_column(&self, table: &str, column: &str) -> bool {
        self.tables
            .get(table)
            .is_some_and(|columns| columns.contains_key(column))
    }

    /// The column's type as the database names it (`int4`, `varchar`, `date` on PostgreSQL).
    pub fn column_type(&self, table: &str, column: &str) -> Option<&str> {
        self.tables.get(table)?.get(column).map(String::as_str)
    }

    /// Every table and column of the mapping the database lacks, one line each, in mapping order.
    pub fn missing(&self, system: &str, mapping: &SqlMapping) -> Vec<String> {
        let mut problems = Vec::new();
        for table in &mapping.tables {
            if !self.tables.contains_key(&table.name) {
                problems.push(format!("{system}: table {} does not exist", table.name));
                continue;
            }
            for column in table.named_columns() {
                if !self.has_column(&table.name, column) {
                    problems.push(format!(
                        "{system}: table {} has no column {column}",
                        table.name
                    ));
                }
            }
        }
        problems
    }
}
