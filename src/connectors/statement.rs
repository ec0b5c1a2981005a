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
    /// Where each bind's placeholder stands in `sql` (start, length), in the order of `binds`;
    /// `None` once a bind was added to a placeholder the text already held.
    placed: Option<Vec<(usize, usize)>>,
}

impl Statement {
    pub fn new(dialect: Dialect) -> Self {
        Statement {
            dialect,
            sql: String::new(),
            binds: Vec::new(),
            placed: Some(Vec::new()),
        }
    }

    /// The text between the placeholders, each followed by its value: `None` when a placeholder's
    /// place is not known. Lets a driver write the placeholders itself (diesel's cached
    /// statements do).
    pub fn pieces(&self) -> Option<impl Iterator<Item = (&str, Option<&Value>)>> {
        let placed = self.placed.as_ref()?;
        let mut from = 0;
        let mut binds = self.binds.iter().zip(placed);
        Some(std::iter::from_fn(move || match binds.next() {
            Some((value, &(start, length))) => {
                let text = &self.sql[from..start];
                from = start + length;
                Some((text, Some(value)))
            }
            None if from <= self.sql.len() => {
                let text = &self.sql[from..];
                from = self.sql.len() + 1;
                Some((text, None))
            }
            None => None,
        }))
    }

    /// Appends `before`, a placeholder bound to `value`, and `after`.
    fn bind(&mut self, value: Value, before: &str, after: &str) -> &mut Self {
        self.binds.push(value);
        let placeholder = self.dialect.placeholder(self.binds.len());
        self.sql.push_str(before);
        if let Some(placed) = &mut self.placed {
            placed.push((self.sql.len(), placeholder.len()));
        }
        self.sql.push_str(&placeholder);
        self.push(after)
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
        let value = Value::Text(value.into());
        match (self.dialect, column_type) {
            (Dialect::Postgres, Some(ty)) if is_sql_identifier(ty) => {
                self.bind(value, "CAST(", &format!(" AS \"{ty}\")"))
            }
            _ => self.bind(value, "", ""),
        }
    }

    pub fn timestamp(&mut self, value: NaiveDateTime) -> &mut Self {
        self.bind(Value::Timestamp(value), "", "")
    }

    /// Binds a value to a placeholder that fixed SQL text already holds.
    /// The same statement behind `head` (`EXPLAIN …`), with the same values bound.
    pub fn prefixed(&self, head: &str) -> Self {
        Statement {
            dialect: self.dialect,
            sql: format!("{head}{}", self.sql),
            binds: self.binds.clone(),
            placed: self.placed.as_ref().map(|placed| {
                placed
                    .iter()
                    .map(|&(start, length)| (start + head.len(), length))
                    .collect()
            }),
        }
    }

    pub fn with_bound_text(mut self, value: &str) -> Self {
        self.binds.push(Value::Text(value.into()));
        self.placed = None;
        self
    }

    /// `"column" IN (v1, v2, …)`: `column` is one of `values`. On PostgreSQL, when the column's
    /// type is known, the list is one array parameter instead (`= ANY(CAST($1 AS "int8"[]))`):
    /// a thousand keys are then one value to bind and one cast to plan, not a thousand.
    pub fn one_of(
        &mut self,
        column: &str,
        values: &[String],
        column_type: Option<&str>,
    ) -> &mut Self {
        self.name(column);
        match (self.dialect, column_type) {
            (Dialect::Postgres, Some(ty)) if is_sql_identifier(ty) => self.bind(
                Value::Text(array_literal(values)),
                " = ANY(CAST(",
                &format!(" AS \"{ty}\"[]))"),
            ),
            _ => {
                self.push(" IN (");
                for (index, value) in values.iter().enumerate() {
                    if index > 0 {
                        self.push(", ");
                    }
                    self.text(value.clone(), column_type);
                }
                self.push(")")
            }
        }
    }
}

/// A PostgreSQL array literal of text elements, each quoted: `{"1","a\"b"}`.
fn array_literal(values: &[String]) -> String {
    let elements: Vec<String> = values
        .iter()
        .map(|value| format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("{{{}}}", elements.join(","))
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
            .one_of("id", &["1".into(), "2\"\\".into()], Some("int4"));
        assert_eq!(
            statement.sql(),
            "UPDATE \"customers\" SET \"email\" = CAST($1 AS \"varchar\") WHERE \"id\" = \
             ANY(CAST($2 AS \"int4\"[]))"
        );
        assert_eq!(statement.binds().len(), 2);
        assert!(
            matches!(&statement.binds()[1], Value::Text(list) if list == r#"{"1","2\"\\"}"#),
            "{:?}",
            statement.binds()[1]
        );
        let mut unknown = Statement::new(Dialect::Postgres);
        unknown.one_of("id", &["1".into(), "2".into()], None);
        assert_eq!(unknown.sql(), "\"id\" IN ($1, $2)");
    }

    #[test]
    fn pieces_give_back_the_text_around_each_placeholder_with_its_value() {
        let at = chrono::NaiveDate::from_ymd_opt(2024, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        let mut statement = Statement::new(Dialect::Postgres);
        statement
            .push("DELETE FROM ")
            .name("t")
            .push(" WHERE ")
            .name("at")
            .push(" < ")
            .timestamp(at)
            .push(" AND ")
            .text("a", Some("varchar"))
            .push(" <> ")
            .name("email")
            .push(" AND NOT ")
            .one_of("id", &["1".into(), "2".into()], Some("int8"));
        let statement = statement.prefixed("EXPLAIN ");
        // Written back with a placeholder numbered as diesel numbers them, the text is the
        // statement's own, and the values come in the order of the binds.
        let (mut text, mut values) = (String::new(), Vec::new());
        for (piece, value) in statement.pieces().expect("every placeholder placed") {
            text.push_str(piece);
            if let Some(value) = value {
                values.push(value.clone());
                text.push_str(&format!("${}", values.len()));
            }
        }
        assert_eq!(text, statement.sql());
        assert_eq!(values, statement.binds());
        assert!(statement.with_bound_text("t").pieces().is_none());
    }

    #[test]
    fn sqlite_and_mysql_use_plain_placeholders() {
        let mut statement = Statement::new(Dialect::Mysql);
        statement.name("id").push(" = ").text("7", Some("int"));
        assert_eq!(statement.sql(), "`id` = ?");
    }
}
