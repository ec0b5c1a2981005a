//! The connection to an organisation's database: SQLite, PostgreSQL or MySQL/MariaDB. Separate
//! from loket's own store ([`crate::db::DbConnection`]), which never speaks MySQL.
//!
//! SQLite and PostgreSQL go through diesel: statements are built at run time with a varying
//! number of parameters, so each is bound as a boxed raw query on the concrete connection.
//! MySQL/MariaDB goes through the pure-Rust `mysql` driver, so that building loket needs no
//! system client library (libmysqlclient). The connector reads only two row shapes, a count and
//! a pair of texts ([`TextPair`]), so each driver implements just those.

use super::dialect::Dialect;
use super::schema::TextPair;
use super::statement::{Statement, Value};
use super::ConnectorError;
use diesel::backend::Backend;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel::query_builder::{AstPass, BoxedSqlQuery, Query, QueryFragment, QueryId, SqlQuery};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, HasSqlType, Text, Timestamp};
use diesel::sqlite::{Sqlite, SqliteConnection};
use mysql::prelude::Queryable as _;

pub enum TargetConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
    Mysql(mysql::Conn),
}

/// What a driver reported. Only its text is ever shown, after names and values are masked.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(transparent)]
    Diesel(#[from] diesel::result::Error),
    #[error(transparent)]
    Mysql(#[from] mysql::Error),
}

pub type TargetResult<T> = Result<T, TargetError>;

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(diesel::QueryableByName)]
struct SqlitePlanLine {
    #[diesel(sql_type = Text)]
    detail: String,
}

#[derive(diesel::QueryableByName)]
struct PgPlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

/// Rows under which MySQL may rightly read a table whole although an index was possible.
const MYSQL_SMALL_TABLE: u64 = 1_000;

/// Runs `$body` with `$conn` bound to the concrete diesel connection and `$db` to its backend
/// type; `$mysql` handles the MySQL driver's connection.
macro_rules! on_backend {
    ($target:expr, $conn:ident, $db:ident => $body:expr, $my:ident => $mysql:expr) => {
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
            TargetConnection::Mysql($my) => $mysql,
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
            Dialect::Mysql => return mysql_connect(address).map(TargetConnection::Mysql),
        };
        connected.map_err(|e| e.to_string())
    }

    pub fn execute(&mut self, statement: &Statement) -> TargetResult<usize> {
        on_backend!(self,
            conn, DB => Ok(bound::<DB>(statement).execute(conn)?),
            conn => {
                conn.exec_drop(statement.sql(), mysql_params(statement))?;
                Ok(usize::try_from(conn.affected_rows()).unwrap_or(usize::MAX))
            }
        )
    }

    /// As [`Self::load_pairs`], for a statement run many times with the same text (a sweep's
    /// deletion, batch after batch): on PostgreSQL it is prepared once per connection and kept,
    /// instead of parsed and planned at every run (0.4 ms of a 3 ms batch).
    pub fn load_pairs_kept(&mut self, statement: &Statement) -> TargetResult<Vec<TextPair>> {
        match (self, statement.pieces()) {
            (TargetConnection::Postgres(conn), Some(pieces)) => Ok(Kept {
                pieces: pieces.collect(),
            }
            .load::<TextPair>(conn)?),
            (target, _) => target.load_pairs(statement),
        }
    }

    /// Rows of two nullable text columns named `a` and `b`.
    pub fn load_pairs(&mut self, statement: &Statement) -> TargetResult<Vec<TextPair>> {
        on_backend!(self,
            conn, DB => Ok(bound::<DB>(statement).load::<TextPair>(conn)?),
            conn => {
                let rows: Vec<(Option<String>, Option<String>)> =
                    conn.exec(statement.sql(), mysql_params(statement))?;
                Ok(rows.into_iter().map(|(a, b)| TextPair { a, b }).collect())
            }
        )
    }

    /// The first column of the first row as a count (`SELECT COUNT(*) AS n …`); 0 when no row.
    pub fn count(&mut self, statement: &Statement) -> TargetResult<i64> {
        on_backend!(self,
            conn, DB => Ok(bound::<DB>(statement)
                .load::<Count>(conn)?
                .first()
                .map_or(0, |row| row.n)),
            conn => Ok(conn
                .exec_first::<i64, _, _>(statement.sql(), mysql_params(statement))?
                .unwrap_or(0))
        )
    }

    /// The tables the database would read whole to run `statement`: its query plan, with
    /// PostgreSQL told to avoid sequential scans wherever an index can serve (so a small test
    /// table shows what a large one would get; a whole index read in order counts as a scan),
    /// MySQL's `ALL` and `index` accesses without a usable key.
    pub fn full_scans(&mut self, statement: &Statement) -> TargetResult<Vec<String>> {
        let mut tables = Vec::new();
        match self {
            TargetConnection::Sqlite(conn) => {
                let plan = bound::<Sqlite>(&statement.prefixed("EXPLAIN QUERY PLAN "))
                    .load::<SqlitePlanLine>(conn)?;
                for line in plan {
                    if let Some(scanned) = line.detail.strip_prefix("SCAN ") {
                        tables.push(first_word(scanned));
                    }
                }
            }
            TargetConnection::Postgres(conn) => {
                conn.batch_execute("SET enable_seqscan = off")?;
                let plan = bound::<Pg>(&statement.prefixed("EXPLAIN ")).load::<PgPlanLine>(conn);
                conn.batch_execute("RESET enable_seqscan")?;
                let lines: Vec<String> = plan?.into_iter().map(|line| line.line).collect();
                // The table of the bitmap heap scan the index scans below belong to.
                let mut heap: Option<String> = None;
                for (index, line) in lines.iter().enumerate() {
                    let node = line.trim_start().trim_start_matches("->").trim_start();
                    // With sequential scans off, PostgreSQL reads a whole index rather than the
                    // table: an index scan without an index condition (its details run to the
                    // next node) reads every row just the same.
                    let conditioned = || {
                        lines[index + 1..]
                            .iter()
                            .take_while(|l| !l.trim_start().starts_with("->"))
                            .any(|l| l.trim_start().starts_with("Index Cond:"))
                    };
                    if let Some(scanned) = node.strip_prefix("Seq Scan on ") {
                        tables.push(first_word(scanned));
                    } else if let Some(scanned) = node.strip_prefix("Bitmap Heap Scan on ") {
                        heap = Some(first_word(scanned));
                    } else if node.starts_with("Bitmap Index Scan") && !conditioned() {
                        tables.extend(heap.clone());
                    } else if (node.starts_with("Index Scan")
                        || node.starts_with("Index Only Scan"))
                        && !conditioned()
                    {
                        tables.extend(node.split_once(" on ").map(|(_, t)| first_word(t)));
                    }
                }
            }
            TargetConnection::Mysql(conn) => {
                let explained = statement.prefixed("EXPLAIN ");
                let rows: Vec<mysql::Row> = conn.exec(explained.sql(), mysql_params(&explained))?;
                for row in rows {
                    let text = |name: &str| {
                        row.get_opt::<Option<String>, _>(name)
                            .and_then(Result::ok)
                            .flatten()
                    };
                    // `index` reads the whole of an index in order: as much as the table. A
                    // possible key the optimizer did not use (an OR it could not split) is no
                    // help either, unless the table is so small that reading it is cheaper.
                    let whole = matches!(text("type").as_deref(), Some("ALL" | "index"));
                    let rows = row
                        .get_opt::<Option<u64>, _>("rows")
                        .and_then(Result::ok)
                        .flatten()
                        .unwrap_or(0);
                    let unusable = text("possible_keys").is_none() || rows >= MYSQL_SMALL_TABLE;
                    if whole && unusable {
                        tables.extend(text("table"));
                    }
                }
            }
        }
        tables.sort();
        tables.dedup();
        Ok(tables)
    }

    /// Runs `work` in one transaction: all of it commits, or none. SQLite takes the write lock
    /// up front (`BEGIN IMMEDIATE`) so a concurrent writer waits instead of failing half-way.
    /// `failed` turns an error of the transaction itself into the caller's error.
    pub fn transaction<T>(
        &mut self,
        failed: impl Fn(TargetError) -> ConnectorError,
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

    /// Begins a transaction; on SQLite and PostgreSQL inside an open one it is a savepoint, so
    /// a sweep can hold several batches' changes in one transaction. (MySQL's `START
    /// TRANSACTION` commits an open transaction instead: a sweep does not nest there.)
    pub(super) fn begin(&mut self) -> TargetResult<()> {
        match self {
            TargetConnection::Sqlite(c) => {
                let open = AnsiTransactionManager::transaction_manager_status_mut(c)
                    .transaction_depth()?
                    .is_some();
                if open {
                    AnsiTransactionManager::begin_transaction(c)?
                } else {
                    AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?
                }
            }
            TargetConnection::Postgres(c) => AnsiTransactionManager::begin_transaction(c)?,
            TargetConnection::Mysql(c) => c.query_drop("START TRANSACTION")?,
        }
        Ok(())
    }

    pub(super) fn finish(&mut self, commit: bool) -> TargetResult<()> {
        on_backend!(self,
            conn, DB => {
                if commit {
                    AnsiTransactionManager::commit_transaction(conn)?
                } else {
                    AnsiTransactionManager::rollback_transaction(conn)?
                }
                Ok(())
            },
            conn => Ok(conn.query_drop(if commit { "COMMIT" } else { "ROLLBACK" })?)
        )
    }
}

/// Connects to MySQL/MariaDB. The URL takes MySQL's own `ssl-mode` (or `ssl_mode`) parameter:
/// `required` encrypts without checking the server's certificate, `verify_ca` and
/// `verify_identity` check it (against `ssl-ca=/path/to/ca.pem` when given, else the bundled
/// web roots; `verify_ca` does not compare the host name). Without it the connection is plain.
fn mysql_connect(address: &str) -> Result<mysql::Conn, String> {
    let (base, query) = address.split_once('?').unwrap_or((address, ""));
    let mut passed = Vec::new();
    let mut ssl_mode = None;
    let mut ssl_ca = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("ssl-mode" | "ssl_mode" | "sslmode", mode)) => {
                ssl_mode = Some(mode.to_ascii_lowercase())
            }
            Some(("ssl-ca" | "ssl_ca" | "sslrootcert", path)) => ssl_ca = Some(path.to_string()),
            _ => passed.push(pair),
        }
    }
    let url = if passed.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", passed.join("&"))
    };
    let opts = mysql::Opts::from_url(&url).map_err(|e| e.to_string())?;
    let ssl = match ssl_mode.as_deref() {
        None | Some("disabled") | Some("preferred") => None,
        Some("required") => Some(
            mysql::SslOpts::default()
                .with_danger_accept_invalid_certs(true)
                .with_danger_skip_domain_validation(true),
        ),
        Some("verify_ca") => {
            Some(mysql::SslOpts::default().with_danger_skip_domain_validation(true))
        }
        Some("verify_identity") => Some(mysql::SslOpts::default()),
        Some(other) => {
            return Err(format!(
                "unknown ssl-mode `{other}` (disabled, required, verify_ca or verify_identity)"
            ))
        }
    }
    .map(|ssl| ssl.with_root_cert_path(ssl_ca.map(std::path::PathBuf::from)));
    let builder = mysql::OptsBuilder::from_opts(opts).ssl_opts(ssl);
    mysql::Conn::new(builder).map_err(|e| e.to_string())
}

/// `customers` of `customers AS t0 USING …`.
fn first_word(text: &str) -> String {
    text.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The statement's values as the MySQL driver's positional parameters.
fn mysql_params(statement: &Statement) -> mysql::Params {
    if statement.binds().is_empty() {
        return mysql::Params::Empty;
    }
    mysql::Params::Positional(
        statement
            .binds()
            .iter()
            .map(|value| match value {
                Value::Text(text) => mysql::Value::from(text.as_str()),
                Value::Timestamp(at) => mysql::Value::from(*at),
            })
            .collect(),
    )
}

/// A statement diesel keeps prepared by its text: unlike a raw query (never kept), its
/// placeholders are written by diesel as each value is bound, between the statement's pieces
/// of text, so the text comes out as the statement's own.
struct Kept<'a> {
    pieces: Vec<(&'a str, Option<&'a Value>)>,
}

impl QueryFragment<Pg> for Kept<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        for (text, value) in &self.pieces {
            out.push_sql(text);
            match value {
                Some(Value::Text(text)) => out.push_bind_param::<Text, _>(text)?,
                Some(Value::Timestamp(at)) => out.push_bind_param::<Timestamp, _>(at)?,
                None => {}
            }
        }
        Ok(())
    }
}

impl QueryId for Kept<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Kept<'_> {
    type SqlType = diesel::sql_types::Untyped;
}

impl RunQueryDsl<PgConnection> for Kept<'_> {}

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

#[cfg(all(test, loket_test_postgres))]
mod tests {
    use super::*;

    /// A deletion batch as a sweep sends it, on a table of this session only.
    fn deletion(before: chrono::NaiveDateTime) -> Statement {
        let mut statement = Statement::new(Dialect::Postgres);
        statement
            .push("WITH gone AS (DELETE FROM ")
            .name("expiring")
            .push(" WHERE ")
            .name("at")
            .push(" < ")
            .timestamp(before)
            .push(" AND NOT ")
            .one_of("id", &["3".into()], Some("int8"))
            .push(" RETURNING id) SELECT CAST(COUNT(*) AS TEXT) AS a, NULL AS b FROM gone");
        statement
    }

    fn prepared_deletions(conn: &mut TargetConnection) -> i64 {
        let count = Statement::new(Dialect::Postgres).prefixed(
            "SELECT COUNT(*) AS n FROM pg_prepared_statements WHERE statement LIKE 'WITH gone%'",
        );
        conn.count(&count).unwrap()
    }

    #[test]
    fn a_kept_statement_is_prepared_once_and_gives_what_a_raw_one_gives() {
        let url = std::env::var("LOKET_TEST_POSTGRES_URL").expect("set by the build");
        let mut conn = TargetConnection::establish(Dialect::Postgres, &url).unwrap();
        for sql in [
            "CREATE TEMP TABLE expiring (id BIGINT PRIMARY KEY, at TIMESTAMP NOT NULL)",
            "INSERT INTO expiring SELECT n, TIMESTAMP '2020-01-01' + n * INTERVAL '1 day' \
             FROM generate_series(1, 10) AS s(n)",
        ] {
            conn.execute(&Statement::new(Dialect::Postgres).prefixed(sql))
                .unwrap();
        }
        let day = |n: i64| {
            chrono::NaiveDate::from_ymd_opt(2020, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
                + chrono::Duration::days(n)
        };
        let gone = |pairs: Vec<TextPair>| pairs[0].a.clone().unwrap();
        assert_eq!(gone(conn.load_pairs(&deletion(day(2))).unwrap()), "1");
        assert_eq!(
            prepared_deletions(&mut conn),
            0,
            "a raw query is never kept"
        );
        assert_eq!(gone(conn.load_pairs_kept(&deletion(day(5))).unwrap()), "2");
        assert_eq!(gone(conn.load_pairs_kept(&deletion(day(8))).unwrap()), "3");
        assert_eq!(prepared_deletions(&mut conn), 1);
    }
}
