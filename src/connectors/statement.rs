//! An SQL statement under construction: text with placeholders and the values bound to them.
//! Values never become part of the text; only names that passed validation do.

use super::dialect::Dialect;
use crate::catalog::model::is_sql_identifier;
use chrono::NaiveDateTime;

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Timestamp(NaiveDateTime),
}

#[derive(Debug, Clone)]
pub struct Statement {
    dialect: Dialect,
    sql: String,
    binds: Vec<Value>,
}

impl Statement {
    pub fn new(dialect: Dialect) -> Self {
        Statement {
            dialect,
            sql: String::new(),
            binds: Vec::new(),
        }
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    pub fn binds(&self) -> &[Value] {
        &self.binds
    }

    /// Appends SQL text: keywords, and names quoted by the dialect.
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a quoted name.
    pub fn name(&mut self, name: &str) -> &mut Self {
        let quoted = self.dialect.quote(name);
        self.push(&quoted)
    }

    /// Binds a text value compared with or written to a column of type `column_type`.
    ///
    /// PostgreSQL does not convert a text parameter to an integer, date or boolean column by
    /// itself, so there the placeholder is cast to the column's type as the database reported
    /// it. SQLite and MySQL convert on their own.
    pub fn text(&mut self, value: impl Into<String>, column_type: Option<&str>) -> &mut Self {
        self.binds.push(Value::Text(value.into()));
        let placeholder = self.dialect.placeholder(self.binds.len());
        match (self.dialect, column_type) {
            (Dialect::Postgres, Some(ty)) if is_sql_identifier(ty) => {
                let cast = format!("CAST({placeholder} AS \"{ty}\")");
                self.push(&cast)
            }
            _ => self.push(&placeholder),
        }
    }

    pub fn timestamp(&mut self, value: NaiveDateTime) -> &mut Self {
        self.binds.push(Value::Timestamp(value));
        let placeholder = self.dialect.placeholder(self.binds.len());
        self.push(&placeholder)
    }

    /// Binds a value to a placeholder that fixed SQL text already holds.
    pub fn with_bound_text(mut self, value: &str) -> Self {
        self.binds.push(Value::Text(value.into()));
        self
    }

    /// `(v1, v2, …)` for an `IN` list of text values.
    pub fn text_list(&mut self, values: &[String], column_type: Option<&str>) -> &mut Self {
        self.push("(");
        for (index, value) in values.iter().enumerate() {
            if index > 0 {
                self.push(", ");
            }
            self.text(value.clone(), column_type);
        }
        self.push(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_bound_not_inlined() {
        let mut statement = Statement::new(Dialect::Postgres);
        statement
            .push("UPDATE ")
            .name("customers")
            .push(" SET ")
            .name("email")
            .push(" = ")
            .text("x'; DROP TABLE customers; --", Some("varchar"))
            .push(" WHERE ")
            .name("id")
            .push(" IN ")
            .text_list(&["1".into(), "2".into()], Some("int4"));
        assert_eq!(
            statement.sql(),
            "UPDATE \"customers\" SET \"email\" = CAST($1 AS \"varchar\") WHERE \"id\" IN \
             (CAST($2 AS \"int4\"), CAST($3 AS \"int4\"))"
        );
        assert_eq!(statement.binds().len(), 3);
    }

    #[test]
    fn sqlite_and_mysql_use_plain_placeholders() {
        let mut statement = Statement::new(Dialect::Mysql);
        statement.name("id").push(" = ").text("7", Some("int"));
        assert_eq!(statement.sql(), "`id` = ?");
    }
}
