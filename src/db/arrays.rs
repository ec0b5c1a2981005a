//! Rows sent to PostgreSQL as one array per column: `INSERT INTO t (a, b) SELECT * FROM
//! unnest($1, $2)`.
//!
//! diesel writes a batch insert as `VALUES ($1, $2), ($3, $4), …`: a text that changes with
//! the number of rows, so it is never kept as a prepared statement and the server parses and
//! plans it at every call (a checklist of twenty tasks is 440 parameters). As arrays the text
//! is the same for any number of rows: prepared once per connection and cached by diesel like
//! any other statement. PostgreSQL only; SQLite has no arrays and, in process, no round trip
//! to save.

/// Declares `$name`, the columns of a slice of `$row` as arrays, and its SQL fragment
/// `INSERT INTO $table (…) SELECT * FROM unnest(…)`, to be run alone or as the last part of a
/// larger statement. Each field is given with its type and SQL type; a field of `$row` left out
/// does not compile.
macro_rules! column_arrays {
    ($name:ident: $row:ident => $table:ident { $($field:ident: $ty:ty as $sql:ty),+ $(,)? }) => {
        pub(crate) struct $name<'a> {
            $($field: Vec<&'a $ty>,)+
        }

        impl<'a> $name<'a> {
            pub(crate) fn of(rows: &'a [$row]) -> Self {
                // Every field of the row is named here, or this pattern does not compile.
                let _every_field = |row: &$row| {
                    let $row { $($field: _),+ } = row;
                };
                Self { $($field: rows.iter().map(|row| &row.$field).collect(),)+ }
            }
        }

        impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for $name<'_> {
            fn walk_ast<'b>(
                &'b self,
                mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
            ) -> diesel::QueryResult<()> {
                out.push_sql(concat!("INSERT INTO ", stringify!($table), " ("));
                out.push_sql([$(stringify!($field)),+].join(", ").as_str());
                out.push_sql(") SELECT * FROM unnest(");
                let mut first = true;
                $(
                    if !std::mem::take(&mut first) {
                        out.push_sql(", ");
                    }
                    out.push_bind_param::<diesel::sql_types::Array<$sql>, _>(&self.$field)?;
                )+
                out.push_sql(")");
                Ok(())
            }
        }

        /// Cached by its SQL text, which is the same for any number of rows.
        impl diesel::query_builder::QueryId for $name<'_> {
            type QueryId = ();
            const HAS_STATIC_QUERY_ID: bool = false;
        }

        impl diesel::RunQueryDsl<diesel::PgConnection> for $name<'_> {}
    };
}

pub(crate) use column_arrays;
