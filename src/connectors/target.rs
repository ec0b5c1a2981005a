//! The connection to an organisation's database: SQLite, PostgreSQL or MySQL/MariaDB. Separate
//! from loket's own store ([`crate::db::DbConnection`]), which never speaks MySQL.
//!
//! Statements are built at run time with a varying number of parameters, so each is bound as a
//! boxed raw query on the concrete connection; [`on_backend!`] writes that code once for all three.

use super::dialect::Dialect;
use super::statement::{Statement, Value};
use super::ConnectorError;
use diesel::backend::Backend;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::mysql::{Mysql, MysqlConnection};
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, QueryId, SqlQuery};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Text, Timestamp};
use diesel::sqlite::{Sqlite, SqliteConnection};
use diesel::QueryResult;

pub enum TargetConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
    Mysql(MysqlConnection),
}

/// Runs `$body` with `$conn` bound to the concrete connection and `$db` to its backend type.
macro_rules! on_backend {
    ($target:expr, $conn:ident, $db:ident => $body:expr) => {
        match $target {
            TargetConnection::Sqlite($conn) => {
                #[allow(dead_code)]
                type $db = Sqlite;
                $body
            }
            TargetConnection::Postgres($conn) => {
                #[allow(dead_code)]
                type $db = Pg;
                $body
            }
            TargetConnection::Mysql($conn) => {
                #[allow(dead_code)]
                type $db = Mysql;
                $body
            }
        }
    };
}

/// Settings for an SQLite target: wait for a busy database instead of failing, and enforce its
/// foreign keys (off by default in SQLite) so an erasure can never leave orphans behind.
const SQLITE_SETUP: &str = "PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;";

impl TargetConnection {
    /// Connects; `address` is what [`Dialect::of_url`] returned. The error never carries the URL.
    pub fn establish(dialect: Dialect, address: &str) -> Result<Self, String> {
        let connected = match dialect {
            Dialect::Sqlite => SqliteConnection::establish(address).and_then(|mut conn| {
                conn.batch_execute(SQLITE_SETUP)
                    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(TargetConnection::Sqlite(conn))
            }),
            Dialect::Postgres => PgConnection::establish(address).map(TargetConnection::Postgres),
            Dialect::Mysql => MysqlConnection::establish(address).map(TargetConnection::Mysql),
        };
        connected.map_err(|e| e.to_string())
    }

    pub fn execute(&mut self, statement: &Statement) -> QueryResult<usize> {
        on_backend!(self, conn, DB => bound::<DB>(statement).execute(conn))
    }

    pub fn load<R>(&mut self, statement: &Statement) -> QueryResult<Vec<R>>
    where
        R: QueryableByName<Sqlite> + QueryableByName<Pg> + QueryableByName<Mysql> + 'static,
    {
        on_backend!(self, conn, DB => bound::<DB>(statement).load::<R>(conn))
    }

    /// Runs `work` in one transaction: all of it commits, or none. SQLite takes the write lock
    /// up front (`BEGIN IMMEDIATE`) so a concurrent writer waits instead of failing half-way.
    /// `failed` turns an error of the transaction itself into the caller's error.
    pub fn transaction<T>(
        &mut self,
        failed: impl Fn(diesel::result::Error) -> ConnectorError,
        work: impl FnOnce(&mut Self) -> Result<T, ConnectorError>,
    ) -> Result<T, ConnectorError> {
        self.begin().map_err(&failed)?;
        match work(self) {
            Ok(value) => {
                self.finish(true).map_err(&failed)?;
                Ok(value)
            }
            Err(error) => {
                // The work's error is what the caller needs to see.
                let _ = self.finish(false);
                Err(error)
            }
        }
    }

    fn begin(&mut self) -> QueryResult<()> {
        match self {
            TargetConnection::Sqlite(c) => {
                AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
            }
            TargetConnection::Postgres(c) => AnsiTransactionManager::begin_transaction(c),
            TargetConnection::Mysql(c) => AnsiTransactionManager::begin_transaction(c),
        }
    }

    fn finish(&mut self, commit: bool) -> QueryResult<()> {
        on_backend!(self, conn, DB => if commit {
            AnsiTransactionManager::commit_transaction(conn)
        } else {
            AnsiTransactionManager::rollback_transaction(conn)
        })
    }
}

/// The statement as a query with every value bound in order.
fn bound<DB>(statement: &Statement) -> BoxedSqlQuery<'static, DB, SqlQuery>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<Timestamp>,
    String: ToSql<Text, DB>,
    chrono::NaiveDateTime: ToSql<Timestamp, DB>,
    SqlQuery: QueryId,
{
    let mut query = diesel::sql_query(statement.sql().to_string()).into_boxed::<DB>();
    for value in statement.binds() {
        query = match value {
            Value::Text(text) => query.bind::<Text, _>(text.clone()),
            Value::Timestamp(at) => query.bind::<Timestamp, _>(*at),
        };
    }
    query
}
