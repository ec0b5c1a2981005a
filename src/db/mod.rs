//! The store: one diesel code path over SQLite (the embedded default) and PostgreSQL (shared by
//! several loket instances). Domain modules call [`Store::read`] and [`Store::write`] with a closure
//! that runs on a blocking thread, so database work never stalls the async executor.

pub mod models;
pub mod schema;
mod sql_text;
mod sqlite_plans;
mod wal;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::result::{ConnectionError, DatabaseErrorKind};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Pragmas set on every SQLite connection. The busy timeout comes first so that even switching
/// to WAL waits for a lock instead of failing when the pool opens connections side by side. WAL
/// lets readers work while one writer commits; foreign keys are off by default in SQLite.
/// Checkpoints are not made inside commits but by a thread of the store (see [`wal`]).
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0;";

/// A connection to either backend. Queries written against it compile for both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

pub type Pool = r2d2::Pool<ConnectionManager>;
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL (expected sqlite://PATH or postgres://…)")]
    UnsupportedUrl,
    #[error("could not connect to the database: {0}")]
    Connect(#[from] r2d2::Error),
    #[error("could not open the database: {0}")]
    Open(#[from] ConnectionError),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database task was cancelled")]
    Cancelled,
    #[error("could not start the thread that checkpoints SQLite's log: {0}")]
    Checkpointer(#[source] std::io::Error),
}

impl StoreError {
    /// A unique constraint refused the write: someone stored the same key first.
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            StoreError::Query(diesel::result::Error::DatabaseError(
                DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }

    /// A foreign key refused the write: the row is still referenced, or references nothing.
    pub fn is_foreign_key_violation(&self) -> bool {
        matches!(
            self,
            StoreError::Query(diesel::result::Error::DatabaseError(
                DatabaseErrorKind::ForeignKeyViolation,
                _
            ))
        )
    }
}

/// Which database a URL points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(String),
    Postgres(String),
}

impl DatabaseUrl {
    /// Accepts `sqlite://PATH` (or `sqlite:PATH`) and `postgres://` / `postgresql://` URLs. The
    /// backend is chosen by the scheme alone, never by trying: a PostgreSQL URL with a typo must
    /// fail, not silently create a SQLite file of that name.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(StoreError::UnsupportedUrl);
            }
            Ok(DatabaseUrl::Sqlite(path.to_string()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseUrl::Postgres(url.to_string()))
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Sqlite(_) => Backend::Sqlite,
            DatabaseUrl::Postgres(_) => Backend::Postgres,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// Opens connections for the pool, with the per-backend settings applied.
#[derive(Debug)]
pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = ConnectionError;

    fn connect(&self) -> Result<DbConnection, ConnectionError> {
        match &self.url {
            DatabaseUrl::Sqlite(path) => {
                sqlite_plans::plan_once_per_statement();
                let mut conn = SqliteConnection::establish(path)?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
            DatabaseUrl::Postgres(url) => {
                let mut conn = PgConnection::establish(url)?;
                conn.batch_execute("SET TIME ZONE 'UTC'")
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Postgres(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ConnectionError> {
        conn.batch_execute("SELECT 1")
            .map_err(ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

/// The handle the rest of loket holds: a connection pool and the backend it talks to.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    backend: Backend,
    /// SQLite allows one writer at a time. Writers that meet its lock wait in SQLite's busy
    /// handler, which sleeps 1, 2, 5, 10 … 100 ms between tries: under load most of an
    /// intake's time went to those sleeps. Writers of this process take turns here instead and
    /// meet the lock only when another process (the CLI, a second server on the same file)
    /// writes. PostgreSQL has row locks and needs no such turn.
    write_turn: Option<Arc<Mutex<()>>>,
    /// SQLite's write-ahead log copied back off the commit path, while the store is open.
    _checkpointer: Option<Arc<wal::Checkpointer>>,
}

impl std::fmt::Debug for Store {
    // The URL may hold a password, so it is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens a pool. Nothing is migrated here: call [`Store::migrate`].
    pub fn open(url: &str, pool_size: u32) -> Result<Self, StoreError> {
        let url = DatabaseUrl::parse(url)?;
        let backend = url.backend();
        let manager = ConnectionManager { url };
        if backend == Backend::Sqlite {
            // Switching a new file to WAL needs it to itself: done once here, before the pool
            // opens its connections side by side, or some of them fail with "database is locked".
            drop(r2d2::ManageConnection::connect(&manager)?);
        }
        let pool = r2d2::Pool::builder()
            .max_size(pool_size.max(1))
            // One connection up front, the rest when needed: r2d2 otherwise opens all of them
            // in background threads at once, and on a fresh SQLite file those ran into the
            // migration's write lock (`ERROR r2d2: database is locked` from `loket migrate`).
            .min_idle(Some(1))
            // A file on local disk does not go away between uses; a server's connection can
            // (a restart), and a `SELECT 1` before handing it out turns that into a fresh one.
            .test_on_check_out(backend == Backend::Postgres)
            .connection_timeout(Duration::from_secs(10))
            .build(manager)?;
        let sqlite = backend == Backend::Sqlite;
        let write_turn = sqlite.then(|| Arc::new(Mutex::new(())));
        let checkpointer = match sqlite {
            true => Some(Arc::new(
                wal::Checkpointer::start(pool.clone()).map_err(StoreError::Checkpointer)?,
            )),
            false => None,
        };
        Ok(Self {
            pool,
            backend,
            write_turn,
            _checkpointer: checkpointer,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A pooled connection for blocking code (the CLI, background workers on their own thread).
    pub fn connection(&self) -> Result<PooledConnection, StoreError> {
        Ok(self.pool.get()?)
    }

    /// Applies the embedded migrations of this backend; returns the versions that were applied.
    pub fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.connection()?;
        let applied = match &mut *conn {
            DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
            DbConnection::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
        }
        .map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(applied.iter().map(|v| v.to_string()).collect())
    }

    /// Runs `work` on a blocking thread with a pooled connection.
    pub async fn read<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.on_blocking_thread(None, work).await
    }

    /// Runs `work` in a write transaction on a blocking thread: all of it commits, or none.
    pub async fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.on_blocking_thread(self.write_turn.clone(), move |conn| {
            write_transaction(conn, work)
        })
        .await
    }

    /// Runs `work` with a pooled connection on a blocking thread, after waiting for `turn` if
    /// given. The turn comes first, so a writer waiting for it holds no connection that a
    /// reader could use.
    async fn on_blocking_thread<T, E, F>(
        &self,
        turn: Option<Arc<Mutex<()>>>,
        work: F,
    ) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            // A writer that panicked left nothing half-done behind the turn (its transaction
            // rolled back), so a poisoned turn is taken as it is.
            let _turn = turn
                .as_deref()
                .map(|turn| turn.lock().unwrap_or_else(PoisonError::into_inner));
            let mut conn = pool.get().map_err(StoreError::from)?;
            work(&mut conn)
        })
        .await
        .map_err(|_| StoreError::Cancelled)?
    }

    /// Whether the database answers; used by `/readyz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|conn| conn.batch_execute("SELECT 1").map_err(StoreError::from))
            .await
    }
}

/// Runs `work` inside a transaction that is ready to write from its first statement; the audit
/// events it records are appended together just before the commit.
///
/// SQLite's default deferred `BEGIN` takes the write lock only at the first write; if another
/// connection committed in between, that write fails at once with SQLITE_BUSY instead of waiting.
/// `BEGIN IMMEDIATE` takes the lock up front, so concurrent writers queue on the busy timeout.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<StoreError>,
{
    begin_write(conn).map_err(StoreError::from)?;
    let events = models::audit::Deferred::open();
    match work(conn) {
        Ok(value) => {
            if let Err(error) = events.flush(conn) {
                let _ = finish(conn, false);
                return Err(error.into());
            }
            finish(conn, true).map_err(StoreError::from)?;
            Ok(value)
        }
        Err(error) => {
            drop(events);
            // The work's error is what the caller needs; a failed rollback leaves the connection
            // marked broken by diesel, so it is not reused.
            let _ = finish(conn, false);
            Err(error)
        }
    }
}

/// Lets the open write transaction's commit return before PostgreSQL has flushed it to disk: a
/// crash of the database server (not of loket) can lose it; nothing is corrupted. For progress
/// records written many times a second whose loss costs only a count. SQLite's store commits
/// without waiting for the disk anyway (`synchronous = NORMAL`).
pub fn commit_without_flush(conn: &mut DbConnection) -> Result<(), StoreError> {
    if let DbConnection::Postgres(c) = conn {
        c.batch_execute("SET LOCAL synchronous_commit = off")?;
    }
    Ok(())
}

fn begin_write(conn: &mut DbConnection) -> QueryResult<()> {
    match conn {
        DbConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
        }
        DbConnection::Postgres(c) => AnsiTransactionManager::begin_transaction(c),
    }
}

fn finish(conn: &mut DbConnection, commit: bool) -> QueryResult<()> {
    match (conn, commit) {
        (DbConnection::Sqlite(c), true) => AnsiTransactionManager::commit_transaction(c),
        (DbConnection::Sqlite(c), false) => AnsiTransactionManager::rollback_transaction(c),
        (DbConnection::Postgres(c), true) => AnsiTransactionManager::commit_transaction(c),
        (DbConnection::Postgres(c), false) => AnsiTransactionManager::rollback_transaction(c),
    }
}

/// The current time as stored: UTC, truncated to microseconds so both backends return exactly
/// what was written (PostgreSQL keeps microseconds; the audit hash covers the timestamp).
pub fn now() -> chrono::NaiveDateTime {
    use chrono::{SubsecRound, Utc};
    Utc::now().naive_utc().trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_picks_backend_by_scheme_only() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/loket.db").unwrap(),
            DatabaseUrl::Sqlite("data/loket.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite::memory:").unwrap(),
            DatabaseUrl::Sqlite(":memory:".into())
        );
        assert!(matches!(
            DatabaseUrl::parse("postgresql://localhost/x").unwrap(),
            DatabaseUrl::Postgres(_)
        ));
        assert!(DatabaseUrl::parse("postgress://typo").is_err());
        assert!(DatabaseUrl::parse("loket.db").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }
}
