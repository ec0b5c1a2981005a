//! The store: one diesel code path over SQLite (the embedded default) and PostgreSQL (shared by
//! several loket instances). Domain modules call [`Store::read`] and [`Store::write`] with a closure
//! that runs on a blocking thread, so database work never stalls the async executor.

mod arrays;
pub mod models;
pub mod notices;
pub mod schema;
mod sql_text;
mod sqlite_plans;
mod wal;
mod with;
mod writer;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::result::{ConnectionError, DatabaseErrorKind};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Pragmas set on every SQLite connection. The busy timeout comes first so that even switching
/// to WAL waits for a lock instead of failing when the pool opens connections side by side. WAL
/// lets readers work while one writer commits; foreign keys are off by default in SQLite.
/// Checkpoints are not made inside commits but by a thread of the store (see [`wal`]). The
/// savepoints of grouped writes (see [`writer`]) keep the pages they change in a sub-journal:
/// in memory, not in a temporary file written for every page (a quarter of the writer's time).
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 0; \
     PRAGMA temp_store = MEMORY;";

/// The page cache of the SQLite writer's own connection (see [`writer`]), in KiB. The pages an
/// intake changes lie in the indexes of the requests, tasks, letters and the audit trail; kept
/// in memory from one group of writes to the next, they are not read from the file again.
/// SQLite's default is 2 MiB; readers keep it, as every write throws their caches away anyway.
const SQLITE_WRITER_CACHE_KIB: u32 = 64 * 1024;

/// A connection to either backend. Queries written against it compile for both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

pub type Pool = r2d2::Pool<ConnectionManager>;
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

/// How long a PostgreSQL connection that just served a read or write without error is taken as
/// alive without asking the server (`SELECT 1`) when it is checked out again.
const PROVEN_FOR: Duration = Duration::from_secs(1);

/// A connection as the pool holds it: the connection, and when a piece of work last ended on it
/// without error (see [`ConnectionManager::is_valid`]). Dereferences to the connection.
pub struct PoolSlot {
    conn: DbConnection,
    proven_at: Option<Instant>,
}

impl std::ops::Deref for PoolSlot {
    type Target = DbConnection;
    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for PoolSlot {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

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
    #[error("could not start a thread of the store: {0}")]
    Thread(#[source] std::io::Error),
    #[error("the write was not committed: {0}")]
    NotCommitted(String),
    /// The writer could not get a connection or begin its transaction (the pool or SQLite's
    /// write lock stayed busy past its timeout): nothing was written, try again.
    #[error("the write could not begin: {0}")]
    NotBegun(String),
}

impl StoreError {
    /// The store is busy or unreachable for now (HTTP 503), rather than broken.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Connect(_) | StoreError::NotBegun(_))
    }

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

impl ConnectionManager {
    fn open(&self) -> Result<DbConnection, ConnectionError> {
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
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = PoolSlot;
    type Error = ConnectionError;

    fn connect(&self) -> Result<PoolSlot, ConnectionError> {
        Ok(PoolSlot {
            conn: self.open()?,
            proven_at: None,
        })
    }

    /// Asked at every check-out of a PostgreSQL connection: a server's connection can go away
    /// between uses (a restart), and a `SELECT 1` turns that into a fresh connection instead of
    /// a failed request. That round trip was one in six of a request view's statements, so a
    /// connection on which work ended without error less than [`PROVEN_FOR`] ago is handed out
    /// unasked: under load that is nearly every check-out, and an idle pool (where a restart
    /// shows) is still asked. A connection the server dropped within that second fails its next
    /// piece of work once; the failure leaves it unproven, so the check after that replaces it.
    fn is_valid(&self, slot: &mut PoolSlot) -> Result<(), ConnectionError> {
        if slot
            .proven_at
            .take()
            .is_some_and(|at| at.elapsed() < PROVEN_FOR)
        {
            return Ok(());
        }
        slot.conn
            .batch_execute("SELECT 1")
            .map_err(ConnectionError::CouldntSetupConfiguration)
    }

    /// A connection given back inside a transaction (a write that panicked) is not handed out
    /// again: its next user would write into that transaction.
    fn has_broken(&self, slot: &mut PoolSlot) -> bool {
        in_transaction(&mut slot.conn)
    }
}

/// Opens the SQLite writer's own connection, outside the pool, with its larger page cache.
fn writer_connection(url: DatabaseUrl) -> writer::Open {
    let manager = ConnectionManager { url };
    Box::new(move || {
        let mut conn = manager.open()?;
        conn.batch_execute(&format!("PRAGMA cache_size = -{SQLITE_WRITER_CACHE_KIB}"))?;
        Ok(conn)
    })
}

/// The handle the rest of loket holds: a connection pool and the backend it talks to.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    backend: Backend,
    /// SQLite allows one writer at a time. Writers that met its lock waited in SQLite's busy
    /// handler, which sleeps 1, 2, 5, 10 … 100 ms between tries, and then each wrote and
    /// committed alone. Writes of this process go to one thread instead, which commits them in
    /// groups (see [`writer`]); they meet SQLite's lock only when another process (the CLI, a
    /// second server on the same file) writes. PostgreSQL has row locks and needs none of it.
    writer: Option<writer::Writer>,
    /// SQLite's write-ahead log copied back off the commit path, while the store is open.
    _checkpointer: Option<Arc<wal::Checkpointer>>,
    /// The audit chain's head as this store's transactions last committed it: on PostgreSQL a
    /// transaction's events then go after it in one statement instead of two.
    audit_head: Arc<models::audit::HeadCache>,
    /// Changes to what callers keep copies of (accounts, the catalog, webhook subscriptions);
    /// see [`notices`].
    notices: Arc<notices::ChangeNotices>,
    /// The webhook subscriptions, kept while the notices vouch for them.
    subscriptions: Arc<models::webhooks::KeptSubscriptions>,
    /// Where the listener for those notices connects (PostgreSQL only).
    listen_url: Option<String>,
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
        let manager = ConnectionManager { url: url.clone() };
        if backend == Backend::Sqlite {
            // Switching a new file to WAL needs it to itself: done once here, before the pool
            // opens its connections side by side, or some of them fail with "database is locked".
            drop(manager.open()?);
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
        let change_notices = Arc::new(notices::ChangeNotices::for_database(match &url {
            DatabaseUrl::Sqlite(path) => path,
            DatabaseUrl::Postgres(url) => url,
        }));
        let writer = match sqlite {
            true => Some(
                writer::Writer::start(writer_connection(url.clone()))
                    .map_err(StoreError::Thread)?,
            ),
            false => None,
        };
        let checkpointer = match sqlite {
            true => Some(Arc::new(
                wal::Checkpointer::start(pool.clone()).map_err(StoreError::Thread)?,
            )),
            false => None,
        };
        Ok(Self {
            pool,
            backend,
            writer,
            _checkpointer: checkpointer,
            audit_head: Arc::default(),
            subscriptions: Arc::new(models::webhooks::KeptSubscriptions::new(
                change_notices.clone(),
            )),
            notices: change_notices,
            listen_url: match url {
                DatabaseUrl::Postgres(url) => Some(url),
                DatabaseUrl::Sqlite(_) => None,
            },
        })
    }

    /// Changes to what callers keep copies of; see [`notices`].
    pub fn notices(&self) -> &Arc<notices::ChangeNotices> {
        &self.notices
    }

    /// Starts listening for changes made by other instances (PostgreSQL), so that copies of
    /// accounts and the catalog can be kept between calls; a no-op on SQLite. A server calls it
    /// once; short-lived commands (the CLI) do not, and read every time.
    pub fn listen_for_changes(&self) -> Result<(), StoreError> {
        match &self.listen_url {
            Some(url) => notices::listen(url.clone(), &self.notices).map_err(StoreError::Thread),
            None => Ok(()),
        }
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
        let applied = match &mut **conn {
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
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.blocking(work))
            .await
            .map_err(|_| StoreError::Cancelled)?
    }

    /// Runs `work` with a pooled connection on the calling thread, which may block: what
    /// [`Store::read`] runs on a blocking thread, for code already on one (a package build,
    /// the webhook worker). Work that ends without error proves the connection alive for its
    /// next check-out (see [`ConnectionManager::is_valid`]).
    pub fn blocking<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E>,
        E: From<StoreError>,
    {
        let mut slot = self.pool.get().map_err(StoreError::from)?;
        let done = self
            .audit_head
            .scope(|| self.subscriptions.scope(|| work(&mut slot)));
        if done.is_ok() {
            slot.proven_at = Some(Instant::now());
        }
        done
    }

    /// Runs `work` in a write transaction on a blocking thread: all of it commits, or none.
    pub async fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        // On SQLite the writer thread runs every write in its savepoint of a transaction.
        if self.writer.is_some() {
            return self.write_statements(work).await;
        }
        self.read(move |conn| write_transaction(conn, work)).await
    }

    /// [`Store::write`] for a change to what the store's users keep copies of (`topic`): once
    /// it has ended, the copies of this process go at once (other instances' go with the
    /// database's notice, see [`notices`]).
    pub async fn write_changing<T, E, F>(&self, topic: notices::Topic, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let done = self.write(work).await;
        self.notices.changed(topic);
        done
    }

    /// Runs `work`, whose statements are each safe on their own (a conditional UPDATE, a mark
    /// on one row), where a change belongs: on SQLite queued to the writer like [`Store::write`]
    /// (changes made from a reader's connection wait for SQLite's lock, and under a stream of
    /// writes they can wait the whole busy timeout); on PostgreSQL each statement commits by
    /// itself, without the two round trips of a transaction. What must commit together uses
    /// [`Store::write`].
    pub async fn write_statements<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        match &self.writer {
            Some(writer) => writer.write(work).await,
            None => self.read(work).await,
        }
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
            let appended = match events.flush(conn) {
                Ok(appended) => appended,
                Err(error) => {
                    let _ = finish(conn, false);
                    return Err(error.into());
                }
            };
            finish(conn, true).map_err(StoreError::from)?;
            if let Some(appended) = appended {
                appended.committed();
            }
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

/// Begins a write transaction, or a savepoint inside one already open (a write of a group,
/// see [`writer`]).
fn begin_write(conn: &mut DbConnection) -> QueryResult<()> {
    let nested = in_transaction(conn);
    match conn {
        DbConnection::Sqlite(c) if !nested => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
        }
        DbConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction(c),
        DbConnection::Postgres(c) => AnsiTransactionManager::begin_transaction(c),
    }
}

/// How many transactions and savepoints are open on `conn`; an error when diesel marked its
/// transaction state broken.
fn transaction_depth(conn: &mut DbConnection) -> QueryResult<u32> {
    let status = match conn {
        DbConnection::Sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(c),
        DbConnection::Postgres(c) => AnsiTransactionManager::transaction_manager_status_mut(c),
    };
    Ok(status.transaction_depth()?.map_or(0, |depth| depth.get()))
}

/// Whether `conn` is inside a transaction; a broken transaction state counts as inside one.
fn in_transaction(conn: &mut DbConnection) -> bool {
    transaction_depth(conn) != Ok(0)
}

/// Rolls back what is open on `conn` beyond `depth`; false when that did not work.
fn roll_back_to(conn: &mut DbConnection, depth: u32) -> bool {
    loop {
        match transaction_depth(conn) {
            Ok(open) if open == depth => return true,
            Ok(open) if open > depth && finish(conn, false).is_ok() => {}
            _ => return false,
        }
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
