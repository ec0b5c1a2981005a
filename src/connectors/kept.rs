//! The connector's side of keeping under an exception (Art. 17(3) GDPR): a person's rows in a
//! table with the date each one's retention period counts from, read from the row itself or
//! from the ancestor row the period belongs to (a payment counts from its invoice's fiscal year
//! end), so every kept row gets an end of its own.

use super::expiry::{alias, join_ancestors};
use super::{load, ConnectorError, Result, Scope, SqlConnector, PAGE_SIZE};
use crate::catalog::model::IdentifierKind;
use chrono::NaiveDate;

/// One of the person's rows and the date its period counts from, when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatedRow {
    pub key: String,
    pub counted_from: Option<NaiveDate>,
}

impl SqlConnector {
    /// The person's rows in `table`, in key order, each with the date in `dated_by` (a table and
    /// its column: `table` itself or one of its ancestors) or without a date when `dated_by` is
    /// `None` or the column is empty.
    pub fn dated_rows(
        &mut self,
        identifiers: &[(IdentifierKind, String)],
        table: &str,
        dated_by: Option<(&str, &str)>,
    ) -> Result<Vec<DatedRow>> {
        let identifiers = self.layout.identifiers(identifiers)?;
        let layout = &self.layout;
        let table = layout.table(table)?;
        let chain = layout.chain(table);
        let date = match dated_by {
            None => "NULL".to_string(),
            Some((owner, column)) => {
                let depth = chain.iter().position(|t| t.name == owner).ok_or_else(|| {
                    ConnectorError::UnknownTable {
                        system: layout.system.clone(),
                        table: format!("{owner} (not {} or one of its parents)", table.name),
                    }
                })?;
                layout.existing_column(chain[depth], column)?;
                let quoted = format!("{}.{}", alias(depth), layout.dialect.quote(column));
                layout.dialect.as_text(&quoted)
            }
        };
        let key = format!("t0.{}", layout.dialect.quote(&table.key));
        let key_type = layout.column_type(table, &table.key);
        let mut rows = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut statement = layout.statement();
            statement
                .push(&format!(
                    "SELECT {date} AS a, {} AS b FROM ",
                    layout.dialect.as_text(&key)
                ))
                .name(&table.name)
                .push(" t0");
            join_ancestors(&mut statement, &chain);
            statement
                .push(&format!(" WHERE {key} IN (SELECT "))
                .name(&table.key)
                .push(" FROM ")
                .name(&table.name)
                .push(" WHERE ");
            layout.condition(&mut statement, table, Scope::Person(&identifiers));
            statement.push(")");
            if let Some(after) = &after {
                statement
                    .push(&format!(" AND {key} > "))
                    .text(after.clone(), key_type);
            }
            statement.push(&format!(" ORDER BY {key} LIMIT {PAGE_SIZE}"));
            let page = load(&mut self.conn, layout, &statement)?;
            let full = page.len() == PAGE_SIZE;
            for pair in page {
                let Some(key) = pair.b else { continue };
                after = Some(key.clone());
                rows.push(DatedRow {
                    key,
                    counted_from: pair.a.as_deref().and_then(date_of),
                });
            }
            if !full {
                return Ok(rows);
            }
        }
    }
}

/// The date at the start of a DATE or TIMESTAMP as the database writes it as text
/// (`2026-12-31`, `2026-12-31 00:00:00`, `2026-12-31T00:00:00`).
fn date_of(text: &str) -> Option<NaiveDate> {
    let day = text.get(..10)?;
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_read_from_dates_and_timestamps() {
        let last_day = NaiveDate::from_ymd_opt(2026, 12, 31);
        assert_eq!(date_of("2026-12-31"), last_day);
        assert_eq!(date_of("2026-12-31 00:00:00"), last_day);
        assert_eq!(date_of("2026-12-31T23:59:59"), last_day);
        assert_eq!(date_of("31-12-2026"), None);
        assert_eq!(date_of(""), None);
    }
}
