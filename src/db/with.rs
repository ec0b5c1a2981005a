//! Several statements sent to PostgreSQL as one: `WITH a AS (…), b AS (…) <last>`.
//!
//! Each statement is a round trip; data-modifying `WITH` clauses let the writes that belong
//! together (a new request with its letter and checklist, a sweep's run with its lease) go in
//! one, atomic without a transaction of their own. The clauses' text is fixed by the caller, so
//! diesel keeps the statement prepared by its text. PostgreSQL only: SQLite, in process, has no
//! round trip to save and no `INSERT` in `WITH`.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::query_dsl::RunQueryDsl;
use diesel::QueryResult;

/// Named statements run before `last`, which may read what they return by name.
pub(crate) struct With<'a> {
    clauses: Vec<(&'static str, Box<dyn QueryFragment<Pg> + 'a>)>,
    last: Box<dyn QueryFragment<Pg> + 'a>,
}

impl<'a> With<'a> {
    pub(crate) fn then(last: impl QueryFragment<Pg> + 'a) -> Self {
        With {
            clauses: Vec::new(),
            last: Box::new(last),
        }
    }

    /// Runs `statement` first, as `name`.
    pub(crate) fn first(
        mut self,
        name: &'static str,
        statement: impl QueryFragment<Pg> + 'a,
    ) -> Self {
        self.clauses.push((name, Box::new(statement)));
        self
    }
}

impl QueryFragment<Pg> for With<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        for (n, (name, statement)) in self.clauses.iter().enumerate() {
            out.push_sql(if n == 0 { "WITH " } else { ", " });
            out.push_identifier(name)?;
            out.push_sql(" AS (");
            statement.walk_ast(out.reborrow())?;
            out.push_sql(")");
        }
        out.push_sql(" ");
        self.last.walk_ast(out.reborrow())
    }
}

/// Cached by its SQL text.
impl QueryId for With<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl RunQueryDsl<diesel::PgConnection> for With<'_> {}
