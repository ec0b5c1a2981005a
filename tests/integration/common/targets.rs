//! Databases of their own for one test: an empty SQLite file, a PostgreSQL database on the server
//! named by `LOKET_TEST_POSTGRES_URL`, or a MySQL/MariaDB database on `LOKET_TEST_MYSQL_URL`,
//! created fresh and dropped afterwards so tests never see each other's rows. loket's own store
//! and the organisation databases its connectors reach are both made here.

use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryableByName, RunQueryDsl};
use mysql::prelude::Queryable as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    Sqlite,
    Postgres,
    Mysql,
}

/// A database of one test; dropped (or its directory removed) when this is dropped.
pub struct TargetDb {
    pub kind: TargetKind,
    pub url: String,
    /// The server's URL and the database created on it, to drop.
    created: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TargetDb {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("target.db").display());
        TargetDb {
            kind: TargetKind::Sqlite,
            url,
            created: None,
            _dir: Some(dir),
        }
    }

    /// A SQLite file at `path`, kept when this is dropped (its directory belongs to the caller,
    /// e.g. a test app's data directory, so the database lives as long as the app).
    pub fn sqlite_at(path: &std::path::Path) -> Self {
        TargetDb {
            kind: TargetKind::Sqlite,
            url: format!("sqlite://{}", path.display()),
            created: None,
            _dir: None,
        }
    }

    /// Panics without `LOKET_TEST_POSTGRES_URL`: PostgreSQL tests are ignored unless it is set.
    pub fn postgres() -> Self {
        let admin = std::env::var("LOKET_TEST_POSTGRES_URL")
            .expect("LOKET_TEST_POSTGRES_URL must be set for PostgreSQL tests");
        let name = unique_name();
        let mut conn = PgConnection::establish(&admin).expect("connect to test PostgreSQL");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .expect("create test database");
        Self::created(TargetKind::Postgres, admin, name)
    }

    /// `None` when `LOKET_TEST_MYSQL_URL` is not set; the caller says the test was skipped.
    pub fn mysql() -> Option<Self> {
        let admin = std::env::var("LOKET_TEST_MYSQL_URL")
            .ok()
            .filter(|url| !url.is_empty())?;
        let name = unique_name();
        let mut conn = mysql::Conn::new(admin.as_str()).expect("connect to test MySQL");
        conn.query_drop(format!("CREATE DATABASE {name}"))
            .expect("create test database");
        Some(Self::created(TargetKind::Mysql, admin, name))
    }

    fn created(kind: TargetKind, admin: String, name: String) -> Self {
        TargetDb {
            kind,
            url: replace_database(&admin, &name),
            created: Some((admin, name)),
            _dir: None,
        }
    }

    /// Runs `statements`, written for SQLite and PostgreSQL; on MySQL `TIMESTAMP` becomes
    /// `DATETIME` (MySQL's TIMESTAMP has a time zone and an automatic default).
    pub fn seed(self, statements: &[&str]) -> Self {
        let mut raw = self.raw();
        for statement in statements {
            raw.execute(&self.dialect_of(statement));
        }
        self
    }

    pub fn dialect_of(&self, statement: &str) -> String {
        match self.kind {
            TargetKind::Mysql => statement.replace("TIMESTAMP", "DATETIME"),
            _ => statement.to_string(),
        }
    }

    /// A plain connection, for seeding and for checking what loket did.
    pub fn raw(&self) -> Raw {
        match self.kind {
            TargetKind::Sqlite => {
                let path = self.url.trim_start_matches("sqlite://");
                let mut conn = SqliteConnection::establish(path).expect("open SQLite");
                diesel::sql_query("PRAGMA foreign_keys = ON")
                    .execute(&mut conn)
                    .expect("foreign keys on");
                Raw::Sqlite(conn)
            }
            TargetKind::Postgres => {
                Raw::Postgres(PgConnection::establish(&self.url).expect("connect"))
            }
            TargetKind::Mysql => Raw::Mysql(mysql::Conn::new(self.url.as_str()).expect("connect")),
        }
    }

    /// `sql` must select one `COUNT(*) AS n`.
    pub fn count(&self, sql: &str) -> i64 {
        self.raw().count(sql)
    }

    pub fn execute(&self, sql: &str) -> usize {
        self.raw().execute(&self.dialect_of(sql))
    }
}

impl Drop for TargetDb {
    fn drop(&mut self) {
        let Some((admin, name)) = &self.created else {
            return;
        };
        let dropped = match self.kind {
            TargetKind::Postgres => PgConnection::establish(admin).ok().map(|mut conn| {
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .map_err(|e| e.to_string())
            }),
            TargetKind::Mysql => mysql::Conn::new(admin.as_str()).ok().map(|mut conn| {
                conn.query_drop(format!("DROP DATABASE IF EXISTS {name}"))
                    .map(|()| 0)
                    .map_err(|e| e.to_string())
            }),
            TargetKind::Sqlite => None,
        };
        if let Some(Err(error)) = dropped {
            eprintln!("could not drop test database {name}: {error}");
        }
    }
}

fn unique_name() -> String {
    format!("loket_test_{}", uuid::Uuid::new_v4().simple())
}

/// `scheme://user@host:port/db?x` with another database name.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    format!("{host_part}/{name}{query}")
}

/// A plain connection to a test database.
pub enum Raw {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
    Mysql(mysql::Conn),
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

impl Raw {
    /// Runs `sql`; returns the rows it changed.
    pub fn execute(&mut self, sql: &str) -> usize {
        let result = match self {
            Raw::Sqlite(c) => diesel::sql_query(sql).execute(c).map_err(|e| e.to_string()),
            Raw::Postgres(c) => diesel::sql_query(sql).execute(c).map_err(|e| e.to_string()),
            Raw::Mysql(c) => c
                .query_drop(sql)
                .map(|()| usize::try_from(c.affected_rows()).unwrap_or(usize::MAX))
                .map_err(|e| e.to_string()),
        };
        result.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// `sql` must select one `COUNT(*) AS n`.
    pub fn count(&mut self, sql: &str) -> i64 {
        let result = match self {
            Raw::Sqlite(c) => diesel::sql_query(sql)
                .get_result::<Count>(c)
                .map(|row| row.n)
                .map_err(|e| e.to_string()),
            Raw::Postgres(c) => diesel::sql_query(sql)
                .get_result::<Count>(c)
                .map(|row| row.n)
                .map_err(|e| e.to_string()),
            Raw::Mysql(c) => c
                .query_first::<i64, _>(sql)
                .map(|n| n.unwrap_or(0))
                .map_err(|e| e.to_string()),
        };
        result.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}
