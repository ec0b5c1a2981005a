//! Connectors to the organisation's own databases: find, export, correct, restrict, erase and
//! anonymise a person's rows in a `connector: sql` system, and find and process rows whose
//! retention period has passed.
//!
//! An [`SqlConnector`] talks to SQLite (`sqlite://PATH`), PostgreSQL (`postgres://…`) or
//! MySQL/MariaDB (`mysql://…`) through diesel. Which tables and columns it touches comes only from
//! the catalog's [`SqlMapping`]; every name is validated as an SQL identifier (again here, even if
//! the catalog did) and quoted for the dialect, and every value is a bound parameter.
//!
//! A person's rows in a table are those matching any of the given identifiers in that table's
//! identifier columns, or whose parent row is one of the person's (an invoice of the customer),
//! following parents up the mapping. Deletes run children first, so foreign keys never break.
//!
//! **Blocking.** Every operation does synchronous database I/O: call the connector from a
//! blocking thread (`tokio::task::spawn_blocking`), never directly on the async executor.
//!
//! Errors name the system, tables and columns, but never the connection URL or password, and
//! values the database quotes in its messages (which may be personal data) are masked.

mod dialect;
mod expiry;
pub mod http;
mod kept;
mod registry;
mod schema;
mod statement;
mod target;

pub use dialect::Dialect;
pub use expiry::{Deleted, ExpiredQuery, ExpiredRow, Owner, Pending, Spared};
pub use kept::DatedRow;
pub use registry::{Checkout, Connectors, Usage};

use crate::catalog::model::{is_sql_identifier, IdentifierKind, SqlMapping, SqlTable, Validate};
use crate::error::FieldError;
use chrono::NaiveDateTime;
use hmac::{Hmac, Mac};
use schema::{Schema, TextPair};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use statement::Statement;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io::Write;
use target::{TargetConnection, TargetError};

/// Rows per table, by table name.
pub type TableCounts = BTreeMap<String, u64>;

/// Rows read per query when exporting or anonymising, so memory stays flat however many rows
/// match.
const PAGE_SIZE: usize = 500;
/// Keys bound in one `IN (…)` list: far below every backend's limit on parameters.
const KEYS_PER_STATEMENT: usize = 500;

/// Why a connector operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("unsupported connection URL: it must start with sqlite://, postgres:// or mysql://")]
    UnsupportedUrl,
    #[error("{system}: loket cannot reach this system: {reason}")]
    NotReachable { system: String, reason: String },
    #[error("{system}: cannot connect to the database: {reason}")]
    Connect { system: String, reason: String },
    #[error("invalid SQL mapping: {}", format_fields(.0))]
    InvalidMapping(Vec<FieldError>),
    /// What the database lacks of the mapping, one entry per table or column.
    #[error("{}", .0.join("; "))]
    Missing(Vec<String>),
    #[error("{system}: table {table} is not in the mapping")]
    UnknownTable { system: String, table: String },
    #[error("{system}: {column} is not a personal-data column of table {table} in the mapping")]
    UnknownColumn {
        system: String,
        table: String,
        column: String,
    },
    #[error("{system}: table {table} has no column {column}")]
    NoSuchColumn {
        system: String,
        table: String,
        column: String,
    },
    #[error("{system}: table {table} has no restricted_column in the mapping")]
    NoRestrictedColumn { system: String, table: String },
    #[error("{system}: no identifier given to find the person")]
    NoIdentifier { system: String },
    #[error("a keyed hash needs a key: give the connector one with `with_hash_key`")]
    NoHashKey,
    #[error("{system}: the limit must be at least 1")]
    ZeroLimit { system: String },
    #[error("{system}: query failed: {message}")]
    Query { system: String, message: String },
    /// A request to an HTTP system failed: the operation and the request as the definition
    /// writes it, never a filled-in URL or a response body.
    #[error("{system}: {step}: {message}")]
    Http {
        system: String,
        step: String,
        message: String,
    },
    /// An HTTP definition that cannot run as written (a secret missing, a path not in the
    /// response); `field` is its path in the system (`http.auth.bearer.token`).
    #[error("{system}: {field}: {message}")]
    Definition {
        system: String,
        field: String,
        message: String,
    },
    #[error("writing the export failed: {0}")]
    Write(#[from] std::io::Error),
}

fn format_fields(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

type Result<T, E = ConnectorError> = std::result::Result<T, E>;

/// How one column is anonymised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Set to NULL.
    Null,
    /// Set to this value.
    Fixed(String),
    /// Replaced by the hex HMAC-SHA256 of its value under the connector's hash key: the same
    /// value always gives the same hash (so counts and joins still work) but cannot be read back
    /// without the key. NULL stays NULL. Only for text columns.
    KeyedHash,
}

/// The strategy per column of one table.
pub type Strategies = BTreeMap<String, Strategy>;

impl Strategy {
    /// The most characters this strategy writes, where it writes text: a keyed hash is always
    /// [`KEYED_HASH_LENGTH`] long.
    pub fn longest_written(&self) -> Option<usize> {
        match self {
            Strategy::Null => None,
            Strategy::Fixed(value) => Some(value.chars().count()),
            Strategy::KeyedHash => Some(KEYED_HASH_LENGTH),
        }
    }
}

/// A column that something outside the mapping (a retention rule) reads or writes, to be checked
/// against the live database by [`SqlConnector::unfit_columns`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnUse {
    pub table: String,
    pub column: String,
    /// The longest text written to it, if anything is.
    pub longest_written: Option<usize>,
}

/// What an erasure did: rows deleted per table, rows anonymised in place (tables whose rows
/// kept records still refer to), and rows found but kept in tables under a legal duty to keep
/// them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Erasure {
    pub deleted: TableCounts,
    pub anonymised: TableCounts,
    pub kept: TableCounts,
}

/// How an erasure treats the person's rows in each table: the tables named here are anonymised
/// with their strategies (the row stays, so keys that kept rows hold still point at it); every
/// other table not kept is deleted from.
pub type ErasureMethods = BTreeMap<String, Strategies>;

/// Which rows of a table an operation is about.
#[derive(Clone, Copy)]
enum Scope<'a> {
    /// The person's rows: any identifier matches, or the parent row is the person's.
    Person(&'a [(IdentifierKind, String)]),
    /// Rows of `table` with these keys, and in its descendants the rows under them.
    Keys { table: &'a str, keys: &'a [String] },
    /// Rows that may be a person's: an identifier of the kind matches the `LIKE` pattern (see
    /// [`Spared`]), or the parent row may be such a person's.
    Resembling(&'a [(IdentifierKind, String)]),
}

/// One lookup of [`Layout::lookup_probes`]: the table narrowed to one identifier column (or
/// to its parent link), sample identifiers, and the index that serves the column.
struct Probe {
    table: SqlTable,
    identifiers: Vec<(IdentifierKind, String)>,
    column: String,
    create_index: String,
}

/// A connection to one system's database with its mapping.
pub struct SqlConnector {
    layout: Layout,
    conn: TargetConnection,
    hash_key: Option<Vec<u8>>,
}

impl std::fmt::Debug for SqlConnector {
    // The connection is left out: nothing about where it points may be printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlConnector")
            .field("system", &self.layout.system)
            .field("dialect", &self.layout.dialect)
            .finish_non_exhaustive()
    }
}

impl SqlConnector {
    /// Validates the mapping, connects, and reads which columns the mapped tables have. Missing
    /// tables or columns are not an error here; [`SqlConnector::check`] reports them.
    pub fn open(system: &str, url: &str, mapping: SqlMapping) -> Result<Self> {
        mapping.validate().map_err(ConnectorError::InvalidMapping)?;
        let (dialect, address) = Dialect::of_url(url)?;
        let mut conn = TargetConnection::establish(dialect, address).map_err(|reason| {
            ConnectorError::Connect {
                system: system.to_string(),
                reason: scrub_url(&reason, url),
            }
        })?;
        let mut layout = Layout {
            system: system.to_string(),
            dialect,
            mapping,
            schema: Schema::default(),
            statements: Cell::new(0),
            failed: Cell::new(false),
            recorded: RefCell::new(None),
        };
        layout.schema =
            Schema::load(&mut conn, dialect, &layout.mapping).map_err(|e| layout.failed(e))?;
        Ok(SqlConnector {
            layout,
            conn,
            hash_key: None,
        })
    }

    /// The key for [`Strategy::KeyedHash`].
    pub fn with_hash_key(mut self, key: &[u8]) -> Self {
        self.hash_key = Some(key.to_vec());
        self
    }

    pub fn system(&self) -> &str {
        &self.layout.system
    }

    pub fn dialect(&self) -> Dialect {
        self.layout.dialect
    }

    pub fn mapping(&self) -> &SqlMapping {
        &self.layout.mapping
    }

    /// The statements run on the person's or expired rows since the last call.
    pub(crate) fn take_statements(&self) -> u64 {
        self.layout.statements.take()
    }

    /// Whether a statement on this connection failed: it is not reused then.
    pub(crate) fn failed_before(&self) -> bool {
        self.layout.failed.get()
    }

    /// Reads the database's tables again and reports every mapped table and column it lacks
    /// (`crm: table customers has no column postal_adress`).
    pub fn check(&mut self) -> Result<()> {
        let layout = &mut self.layout;
        layout.schema = Schema::load(&mut self.conn, layout.dialect, &layout.mapping)
            .map_err(|e| layout.failed(e))?;
        let missing = layout.schema.missing(&layout.system, &layout.mapping);
        if missing.is_empty() {
            Ok(())
        } else {
            Err(ConnectorError::Missing(missing))
        }
    }

    /// Why each of `uses` does not fit the database: its table or column does not exist, or the
    /// column is declared narrower than the longest value written to it. One entry per misfit,
    /// with the index of the use it concerns.
    pub fn unfit_columns(&mut self, uses: &[ColumnUse]) -> Result<Vec<(usize, String)>> {
        let layout = &self.layout;
        let mut lengths: BTreeMap<&str, std::collections::HashMap<String, u64>> = BTreeMap::new();
        let mut unfit = Vec::new();
        for (index, used) in uses.iter().enumerate() {
            let system = &layout.system;
            let (table, column) = (used.table.as_str(), used.column.as_str());
            if !layout.schema.has_table(table) {
                unfit.push((index, format!("{system}: table {table} does not exist")));
                continue;
            }
            if !layout.schema.has_column(table, column) {
                unfit.push((
                    index,
                    format!("{system}: table {table} has no column {column}"),
                ));
                continue;
            }
            let Some(written) = used.longest_written else {
                continue;
            };
            if !lengths.contains_key(table) {
                let read = Schema::max_lengths(&mut self.conn, layout.dialect, table)
                    .map_err(|e| layout.failed(e))?;
                lengths.insert(table, read);
            }
            if let Some(limit) = lengths[table].get(column).filter(|l| **l < written as u64) {
                unfit.push((
                    index,
                    format!(
                        "{system}: column {table}.{column} holds at most {limit} characters, \
                         but the rule writes {written} there"
                    ),
                ));
            }
        }
        Ok(unfit)
    }

    /// Where looking a person up would read a whole table, and the index that would stop it:
    /// one line per identifier or parent-key column without a usable index, naming the system,
    /// the column and the exact `CREATE INDEX` (an expression index where the lookup applies a
    /// function to the column). Each column is probed on its own with the lookup loket runs
    /// (a plan for `a = ? OR b = ?` shows a full scan without saying which side lacks its
    /// index), and the verdict is the database's own query plan.
    pub fn index_advice(&mut self) -> Result<Vec<String>> {
        let layout = &self.layout;
        let mut advice = Vec::new();
        for table in &layout.mapping.tables {
            for probe in layout.lookup_probes(table) {
                let scope = Scope::Person(&probe.identifiers);
                let statement = layout.scoped("SELECT COUNT(*) AS n FROM ", &probe.table, scope);
                let scanned = self
                    .conn
                    .full_scans(&statement)
                    .map_err(|e| layout.failed(e))?;
                if scanned.contains(&table.name) {
                    advice.push(format!(
                        "{}: a lookup by {}.{} reads all of {}; add: {}",
                        layout.system, table.name, probe.column, table.name, probe.create_index
                    ));
                }
            }
        }
        Ok(advice)
    }

    /// Keeps a copy of every statement this connector runs on rows from now on, for
    /// [`SqlConnector::recorded_plans`].
    pub fn record_statements(&mut self) {
        self.layout.recorded.replace(Some(Vec::new()));
    }

    /// Each statement recorded since [`SqlConnector::record_statements`], with the mapped
    /// tables the database's query plan for it reads whole (empty: every table is reached
    /// through an index). The statements are explained again with the values they ran with.
    pub fn recorded_plans(&mut self) -> Result<Vec<(String, Vec<String>)>> {
        let recorded = self.layout.recorded.borrow().clone().unwrap_or_default();
        let layout = &self.layout;
        recorded
            .iter()
            .map(|statement| {
                let scanned = self
                    .conn
                    .full_scans(statement)
                    .map_err(|e| layout.failed(e))?;
                let mapped = scanned
                    .into_iter()
                    .filter(|table| layout.mapping.table(table).is_some())
                    .collect();
                Ok((statement.sql().to_string(), mapped))
            })
            .collect()
    }

    /// How many of the person's rows each mapped table holds.
    pub fn locate(&mut self, identifiers: &[(IdentifierKind, String)]) -> Result<TableCounts> {
        let identifiers = self.layout.identifiers(identifiers)?;
        let scope = Scope::Person(&identifiers);
        let mut counts = TableCounts::new();
        for table in &self.layout.mapping.tables {
            let rows = count(&mut self.conn, &self.layout, table, scope)?;
            counts.insert(table.name.clone(), rows);
        }
        Ok(counts)
    }

    /// Writes the person's rows as one JSON object, `{"customers": [{…}], "invoices": […]}`, with
    /// each row's key, identifier and personal-data columns. Rows are read a page at a time and
    /// written as they come, so memory stays flat. Returns the rows written per table.
    pub fn export(
        &mut self,
        identifiers: &[(IdentifierKind, String)],
        out: &mut impl Write,
    ) -> Result<TableCounts> {
        let mut counts = TableCounts::new();
        out.write_all(b"{")?;
        let tables: Vec<String> = self
            .layout
            .mapping
            .tables
            .iter()
            .map(|t| t.name.clone())
            .collect();
        for (index, table) in tables.iter().enumerate() {
            if index > 0 {
                out.write_all(b",")?;
            }
            let name = serde_json::to_string(table).unwrap_or_default();
            write!(out, "{name}:[")?;
            let mut first = true;
            let rows = self.export_rows(identifiers, table, &mut |row| {
                if !std::mem::take(&mut first) {
                    out.write_all(b",")?;
                }
                out.write_all(row.as_bytes())
            })?;
            out.write_all(b"]")?;
            counts.insert(table.clone(), rows);
        }
        out.write_all(b"}")?;
        Ok(counts)
    }

    /// Hands each of the person's rows in `table` to `visit` as a JSON object of its exported
    /// columns ([`SqlTable::exported_columns`]), a page at a time, in key order; returns the
    /// rows visited.
    pub fn export_rows(
        &mut self,
        identifiers: &[(IdentifierKind, String)],
        table: &str,
        visit: &mut dyn FnMut(&str) -> std::io::Result<()>,
    ) -> Result<u64> {
        let identifiers = self.layout.identifiers(identifiers)?;
        let table = self.layout.table(table)?;
        export_table(
            &mut self.conn,
            &self.layout,
            table,
            Scope::Person(&identifiers),
            visit,
        )
    }

    /// [`SqlConnector::export`] into memory, for a person's usually small set of rows.
    pub fn export_json(
        &mut self,
        identifiers: &[(IdentifierKind, String)],
    ) -> Result<serde_json::Value> {
        let mut buffer = Vec::new();
        self.export(identifiers, &mut buffer)?;
        serde_json::from_slice(&buffer).map_err(|e| ConnectorError::Query {
            system: self.layout.system.clone(),
            message: format!("the database returned invalid JSON: {e}"),
        })
    }

    /// Sets `column` of the person's rows in `table` to `new_value`; returns the rows changed.
    pub fn correct(
        &mut self,
        identifiers: &[(IdentifierKind, String)],
        table: &str,
        column: &str,
        new_value: &str,
    ) -> Result<u64> {
        let identifiers = self.layout.identifiers(identifiers)?;
        let table = self.layout.table(table)?;
        self.layout.personal_column(table, column)?;
        let mut statement = self.layout.update_set(table, column);
        statement
            .text(new_value, self.layout.column_type(table, column))
            .push(" WHERE ");
        self.layout
            .condition(&mut statement, table, Scope::Person(&identifiers));
        execute(&mut self.conn, &self.layout, &statement)
    }

    /// Marks the person's rows in `table` restricted (Art. 18) through its `restricted_column`.
    pub fn restrict(
        &mut self,
        identifiers: &[(IdentifierKind, String)],
        table: &str,
    ) -> Result<u64> {
        self.set_restricted(identifiers, table, true)
    }

    /// Lifts the restriction of the person's rows in `table` (Art. 18(3)).
    pub fn unrestrict(
        &mut self,
        identifiers: &[(IdentifierKind, String)],
        table: &str,
    ) -> Result<u64> {
        self.set_restricted(identifiers, table, false)
    }

    fn set_restricted(
        &mut self,
        identifiers: &[(IdentifierKind, String)],
        table: &str,
        restricted: bool,
    ) -> Result<u64> {
        let identifiers = self.layout.identifiers(identifiers)?;
        let table = self.layout.table(table)?;
        let column = self.layout.restricted_column(table)?;
        let mut statement = self.layout.update_set(table, column);
        statement.push(if restricted {
            "TRUE WHERE "
        } else {
            "FALSE WHERE "
        });
        self.layout
            .condition(&mut statement, table, Scope::Person(&identifiers));
        execute(&mut self.conn, &self.layout, &statement)
    }

    /// Deletes the person's rows from every mapped table except those in `keep` (data the
    /// organisation must keep by law, such as invoices), children first, in one transaction.
    ///
    /// A kept table whose parent is erased needs a foreign key that allows it (none, or
    /// `ON DELETE SET NULL`); otherwise the database refuses and nothing is erased.
    pub fn erase(
        &mut self,
        identifiers: &[(IdentifierKind, String)],
        keep: &[&str],
    ) -> Result<Erasure> {
        self.erase_with(identifiers, keep, &ErasureMethods::new())
    }

    /// [`SqlConnector::erase`], anonymising instead of deleting in the tables `anonymise` names:
    /// a customer row that kept invoices refer to through a foreign key loses the person's data
    /// and stays, so the key holds. Children go first, so a child is found through its parent
    /// before the parent is anonymised.
    pub fn erase_with(
        &mut self,
        identifiers: &[(IdentifierKind, String)],
        keep: &[&str],
        anonymise: &ErasureMethods,
    ) -> Result<Erasure> {
        let identifiers = self.layout.identifiers(identifiers)?;
        for table in keep {
            // A misspelt table must not silently erase what the law says to keep.
            self.layout.table(table)?;
        }
        let mut hash_key: &[u8] = &[];
        for (table, strategies) in anonymise {
            let mapped = self.layout.table(table)?;
            let key = self
                .layout
                .check_strategies(mapped, strategies, &self.hash_key)?;
            if !key.is_empty() {
                hash_key = key;
            }
        }
        let layout = &self.layout;
        let scope = Scope::Person(&identifiers);
        self.conn.transaction(
            |e| layout.failed(e),
            |conn| {
                let mut erasure = Erasure::default();
                let order = layout.children_first(None);
                // Counted before anything is deleted: afterwards a kept child can no longer be
                // found through its erased parent.
                for table in order.iter().filter(|t| keep.contains(&t.name.as_str())) {
                    let rows = count(conn, layout, table, scope)?;
                    erasure.kept.insert(table.name.clone(), rows);
                }
                for table in order.iter().filter(|t| !keep.contains(&t.name.as_str())) {
                    match anonymise.get(&table.name) {
                        Some(strategies) => {
                            let rows =
                                anonymise_scope(conn, layout, table, scope, strategies, hash_key)?;
                            erasure.anonymised.insert(table.name.clone(), rows);
                        }
                        None => {
                            let rows = delete(conn, layout, table, scope)?;
                            erasure.deleted.insert(table.name.clone(), rows);
                        }
                    }
                }
                Ok(erasure)
            },
        )
    }

    /// What [`SqlConnector::erase_with`] with the same `keep` and `anonymise` would do, counted
    /// and not done: the rows it would delete, anonymise and keep per table. Nothing is written,
    /// so an agent sees this before confirming the erasure.
    pub fn erase_preview(
        &mut self,
        identifiers: &[(IdentifierKind, String)],
        keep: &[&str],
        anonymise: &ErasureMethods,
    ) -> Result<Erasure> {
        let identifiers = self.layout.identifiers(identifiers)?;
        for table in keep {
            self.layout.table(table)?;
        }
        let scope = Scope::Person(&identifiers);
        let mut preview = Erasure::default();
        for table in self.layout.children_first(None) {
            let rows = count(&mut self.conn, &self.layout, table, scope)?;
            let counts = if keep.contains(&table.name.as_str()) {
                &mut preview.kept
            } else if anonymise.contains_key(&table.name) {
                &mut preview.anonymised
            } else {
                &mut preview.deleted
            };
            counts.insert(table.name.clone(), rows);
        }
        Ok(preview)
    }

    /// Anonymises the person's rows in `table`, column by column; returns the rows changed.
    /// One transaction, a page of rows at a time.
    pub fn anonymise(
        &mut self,
        identifiers: &[(IdentifierKind, String)],
        table: &str,
        strategies: &Strategies,
    ) -> Result<u64> {
        let identifiers = self.layout.identifiers(identifiers)?;
        let table = self.layout.table(table)?;
        let hash_key = self
            .layout
            .check_strategies(table, strategies, &self.hash_key)?;
        let layout = &self.layout;
        self.conn.transaction(
            |e| layout.failed(e),
            |conn| {
                let scope = Scope::Person(&identifiers);
                anonymise_scope(conn, layout, table, scope, strategies, hash_key)
            },
        )
    }

    /// Up to `limit` keys of rows in `table` whose `counted_from` column lies before `cutoff`,
    /// in key order, after `after_key` (keyset pagination: pass the last key of the previous
    /// page). Rows without a value in `counted_from` never expire here.
    pub fn expired_keys(
        &mut self,
        table: &str,
        counted_from: &str,
        cutoff: NaiveDateTime,
        after_key: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>> {
        let rows = self.expired_rows(&ExpiredQuery {
            table,
            counted_from,
            cutoff,
            after: after_key,
            up_to: None,
            limit,
            pending: Pending::All,
            owner: Owner::NONE,
            only: None,
        })?;
        Ok(rows.into_iter().map(|row| row.key).collect())
    }

    /// Deletes the rows of `table` with these keys and, children first, the rows under them in
    /// its child tables; one short transaction. Returns the rows deleted per table.
    pub fn delete_keys(&mut self, table: &str, keys: &[String]) -> Result<TableCounts> {
        let root = self.layout.table(table)?;
        let layout = &self.layout;
        let order = layout.children_first(Some(&root.name));
        self.conn.transaction(
            |e| layout.failed(e),
            |conn| {
                let mut counts: TableCounts = order.iter().map(|t| (t.name.clone(), 0)).collect();
                for chunk in keys.chunks(KEYS_PER_STATEMENT) {
                    let scope = Scope::Keys {
                        table: &root.name,
                        keys: chunk,
                    };
                    for table in &order {
                        let rows = delete(conn, layout, table, scope)?;
                        *counts.entry(table.name.clone()).or_default() += rows;
                    }
                }
                Ok(counts)
            },
        )
    }

    /// Anonymises the rows of `table` with these keys; one short transaction. Returns the rows
    /// changed.
    pub fn anonymise_keys(
        &mut self,
        table: &str,
        keys: &[String],
        strategies: &Strategies,
    ) -> Result<u64> {
        let table = self.layout.table(table)?;
        let hash_key = self
            .layout
            .check_strategies(table, strategies, &self.hash_key)?;
        let layout = &self.layout;
        self.conn.transaction(
            |e| layout.failed(e),
            |conn| {
                let mut changed = 0;
                for chunk in keys.chunks(KEYS_PER_STATEMENT) {
                    changed += anonymise_batch(conn, layout, table, chunk, strategies, hash_key)?;
                }
                Ok(changed)
            },
        )
    }
}

// --- statements -------------------------------------------------------------------------------

/// The mapping and what the database has: everything needed to write a statement.
struct Layout {
    system: String,
    dialect: Dialect,
    mapping: SqlMapping,
    schema: Schema,
    /// Statements run through [`execute`], [`load`] and [`count`]: every statement on rows.
    statements: Cell<u64>,
    /// Set by [`Layout::failed`]: the connection may be broken.
    failed: Cell<bool>,
    /// A copy of every statement counted in `statements`, once
    /// [`SqlConnector::record_statements`] asked for it.
    recorded: RefCell<Option<Vec<Statement>>>,
}

impl Layout {
    fn ran(&self, statement: &Statement) {
        self.statements.set(self.statements.get() + 1);
        if let Some(recorded) = self.recorded.borrow_mut().as_mut() {
            recorded.push(statement.clone());
        }
    }

    fn statement(&self) -> Statement {
        Statement::new(self.dialect)
    }

    /// A mapped table by name; anything else (an unmapped table, a hostile name) is refused
    /// before it comes near SQL.
    fn table(&self, name: &str) -> Result<&SqlTable> {
        self.mapping
            .table(name)
            .filter(|_| is_sql_identifier(name))
            .ok_or_else(|| ConnectorError::UnknownTable {
                system: self.system.clone(),
                table: name.to_string(),
            })
    }

    /// A column the mapping lists as personal data of `table`.
    fn personal_column(&self, table: &SqlTable, column: &str) -> Result<()> {
        if table.columns.iter().any(|c| c == column) {
            Ok(())
        } else {
            Err(ConnectorError::UnknownColumn {
                system: self.system.clone(),
                table: table.name.clone(),
                column: column.to_string(),
            })
        }
    }

    /// A column the database has in `table`, mapped or not (a timestamp a retention period is
    /// counted from is rarely personal data itself).
    fn existing_column(&self, table: &SqlTable, column: &str) -> Result<()> {
        if is_sql_identifier(column) && self.schema.has_column(&table.name, column) {
            Ok(())
        } else {
            Err(ConnectorError::NoSuchColumn {
                system: self.system.clone(),
                table: table.name.clone(),
                column: column.to_string(),
            })
        }
    }

    fn column_type(&self, table: &SqlTable, column: &str) -> Option<&str> {
        self.schema.column_type(&table.name, column)
    }

    /// The given identifiers without blank values; a blank one would match every row with an
    /// empty column.
    fn identifiers(
        &self,
        identifiers: &[(IdentifierKind, String)],
    ) -> Result<Vec<(IdentifierKind, String)>> {
        let given: Vec<(IdentifierKind, String)> = identifiers
            .iter()
            .filter(|(_, value)| !value.trim().is_empty())
            .map(|(kind, value)| (*kind, value.trim().to_string()))
            .collect();
        if given.is_empty() {
            return Err(ConnectorError::NoIdentifier {
                system: self.system.clone(),
            });
        }
        Ok(given)
    }

    /// Every column is a personal-data column, and the hash key is there if a column needs it.
    fn check_strategies<'k>(
        &self,
        table: &SqlTable,
        strategies: &Strategies,
        hash_key: &'k Option<Vec<u8>>,
    ) -> Result<&'k [u8]> {
        self.check_strategy_columns(table, strategies)?;
        let needs_key = strategies.values().any(|s| *s == Strategy::KeyedHash);
        match hash_key {
            Some(key) => Ok(key),
            None if needs_key => Err(ConnectorError::NoHashKey),
            None => Ok(&[]),
        }
    }

    /// Every column of `strategies` is a personal-data column of `table`.
    fn check_strategy_columns(&self, table: &SqlTable, strategies: &Strategies) -> Result<()> {
        strategies
            .keys()
            .try_for_each(|column| self.personal_column(table, column))
    }

    /// `UPDATE table SET column = `: the caller writes the value and the condition.
    fn update_set(&self, table: &SqlTable, column: &str) -> Statement {
        let mut statement = self.statement();
        statement.push("UPDATE ").name(&table.name);
        if self.dialect == Dialect::Mysql {
            // As in `delete`: the multi-table form, so that the rows under a parent are found
            // through the index on the parent key on MariaDB before 11.1 too.
            statement.push(", (SELECT 1 AS one) AS loket_one_row");
        }
        statement.push(" SET ").name(column).push(" = ");
        statement
    }

    /// `{head}table WHERE (rows in scope)`: a count or a delete of the rows in `scope`.
    fn scoped(&self, head: &str, table: &SqlTable, scope: Scope<'_>) -> Statement {
        let mut statement = self.statement();
        statement.push(head).name(&table.name).push(" WHERE ");
        self.condition(&mut statement, table, scope);
        statement
    }

    /// Writes the condition selecting the rows of `table` in `scope`, in parentheses.
    ///
    /// A row is the person's when one of its identifiers matches or its parent is the person's:
    /// `(email = ? OR customer_id IN (SELECT id FROM customers WHERE …))`. Written like that,
    /// neither PostgreSQL nor MySQL/MariaDB can combine two indexes (the subquery under the OR
    /// becomes a filter on every row), so the table is read whole. PostgreSQL gets the parent
    /// keys as an array computed once (`customer_id = ANY(ARRAY(SELECT …))`), an index
    /// condition like a list of values; MySQL/MariaDB gets the parts as a UNION of keys, each
    /// part served by its own index (`id IN (SELECT id FROM (SELECT id … UNION SELECT id …))`).
    fn condition(&self, statement: &mut Statement, table: &SqlTable, scope: Scope<'_>) {
        let is_root = matches!(scope, Scope::Keys { table: root, .. } if root == table.name);
        let parent = table
            .parent
            .as_ref()
            .filter(|_| !is_root)
            .and_then(|link| Some((link, self.mapping.table(&link.table)?)));
        let own: Vec<(IdentifierKind, &String, &String)> = match scope {
            Scope::Person(identifiers) | Scope::Resembling(identifiers) => identifiers
                .iter()
                .filter_map(|(kind, value)| Some((*kind, table.identifiers.get(kind)?, value)))
                .collect(),
            Scope::Keys { .. } => Vec::new(),
        };
        let union = self.dialect == Dialect::Mysql && parent.is_some() && !own.is_empty();
        let key = self.dialect.quote(&table.key);
        let branch = format!(
            " UNION SELECT {key} FROM {} WHERE ",
            self.dialect.quote(&table.name)
        );
        let mut parts = 0;
        let mut or = |statement: &mut Statement| {
            if parts > 0 {
                statement.push(if union { &branch } else { " OR " });
            }
            parts += 1;
        };
        statement.push("(");
        if union {
            statement.push(&format!("{key} IN (SELECT {key} FROM (SELECT {key} FROM "));
            statement.name(&table.name).push(" WHERE ");
        }
        for (kind, column, value) in own {
            or(statement);
            match scope {
                Scope::Resembling(_) => {
                    self.resembles(statement, &self.dialect.quote(column), value)
                }
                _ => self.identifier_matches(statement, table, kind, column, value),
            }
        }
        if let (Scope::Keys { keys, .. }, true) = (scope, is_root) {
            or(statement);
            statement.one_of(&table.key, keys, self.column_type(table, &table.key));
        }
        if let Some((link, parent)) = parent {
            or(statement);
            statement.name(&link.column).push(match self.dialect {
                Dialect::Postgres => " = ANY(ARRAY(SELECT ",
                Dialect::Sqlite | Dialect::Mysql => " IN (SELECT ",
            });
            statement
                .name(&parent.key)
                .push(" FROM ")
                .name(&parent.name)
                .push(" WHERE ");
            self.condition(statement, parent, scope);
            statement.push(match self.dialect {
                Dialect::Postgres => "))",
                Dialect::Sqlite | Dialect::Mysql => ")",
            });
        }
        if parts == 0 {
            statement.push("1 = 0");
        }
        if union {
            statement.push(") AS loket_union)");
        }
        statement.push(")");
    }

    /// `column` holds `value` as a person would recognise it: an e-mail address whatever its
    /// case, a customer number whatever its spaces and case, a phone number whatever its spaces,
    /// dashes, brackets and dots and however the Dutch country code is written (`+31 6…`,
    /// `0031 6…`, `06…`). An erasure that misses rows because the CRM wrote the number
    /// differently would be a failure to erase. Columns PostgreSQL does not hold as text (a
    /// numeric customer number) are compared as they are. Where the mapping declares how the
    /// system writes the column (`stored:`), the value is written the same way and compared
    /// with plain equality, which an ordinary index serves; otherwise functions on the column
    /// need an expression index, which `loket connectors check` names.
    fn identifier_matches(
        &self,
        statement: &mut Statement,
        table: &SqlTable,
        kind: IdentifierKind,
        column: &str,
        value: &str,
    ) {
        let column_type = self.column_type(table, column);
        if let Some(form) = table.stored.get(&kind) {
            statement
                .name(column)
                .push(" = ")
                .text(form.write(kind, value), column_type);
            return;
        }
        let quoted = self.dialect.quote(column);
        let normalised = kind.normalise(value);
        match self.forgiving_match(table, kind, column) {
            Some(expression) if kind == IdentifierKind::Phone => {
                if normalised.is_empty() {
                    statement.push("1 = 0");
                    return;
                }
                statement.push(&format!("{expression} IN ("));
                for (index, variant) in phone_variants(&normalised).into_iter().enumerate() {
                    if index > 0 {
                        statement.push(", ");
                    }
                    statement.text(variant, column_type);
                }
                statement.push(")");
            }
            Some(expression) => {
                statement
                    .push(&format!("{expression} = "))
                    .text(normalised, column_type);
            }
            None => {
                statement
                    .push(&quoted)
                    .push(" = ")
                    .text(value.to_string(), column_type);
            }
        }
    }

    /// `LOWER(CAST(column AS TEXT)) LIKE pattern`: the value of `column` (quoted, perhaps with
    /// its table's alias), in lower case, matches a pattern of [`Spared`]. No index serves it
    /// (the pattern starts with `%`).
    fn resembles(&self, statement: &mut Statement, column: &str, pattern: &str) {
        statement
            .push(&format!("LOWER({}) LIKE ", self.dialect.as_text(column)))
            .text(pattern.to_string(), None);
    }

    /// The lookups of `table` to probe one column at a time, each with the index that serves
    /// it: one per identifier column, as the lookup compares it (an expression index where it
    /// matches forgivingly), and one through the column that refers to the parent (the parent
    /// found by every identifier kind of the mapping).
    fn lookup_probes(&self, table: &SqlTable) -> Vec<Probe> {
        let sample = |kind: IdentifierKind| (kind, sample_identifier(kind).to_string());
        let mut probes: Vec<Probe> = table
            .identifiers
            .iter()
            .map(|(kind, column)| {
                let mut only = table.clone();
                only.identifiers = BTreeMap::from([(*kind, column.clone())]);
                only.parent = None;
                let create_index = match self.forgiving_match(table, *kind, column) {
                    Some(expression) => self.expression_index(table, column, &expression),
                    None => self.create_index(table, column, &self.dialect.quote(column)),
                };
                Probe {
                    table: only,
                    identifiers: vec![sample(*kind)],
                    column: column.clone(),
                    create_index,
                }
            })
            .collect();
        if let Some(parent) = &table.parent {
            let mut through_parent = table.clone();
            through_parent.identifiers.clear();
            let kinds: std::collections::BTreeSet<IdentifierKind> = self
                .mapping
                .tables
                .iter()
                .flat_map(|t| t.identifiers.keys().copied())
                .collect();
            probes.push(Probe {
                table: through_parent,
                identifiers: kinds.into_iter().map(sample).collect(),
                column: parent.column.clone(),
                create_index: self.create_index(
                    table,
                    &parent.column,
                    &self.dialect.quote(&parent.column),
                ),
            });
        }
        probes
    }

    /// `CREATE INDEX "table_suffix" ON "table" (indexed);`
    fn create_index(&self, table: &SqlTable, suffix: &str, indexed: &str) -> String {
        let name = self.dialect.quote(&format!("{}_{suffix}", table.name));
        format!(
            "CREATE INDEX {name} ON {} ({indexed});",
            self.dialect.quote(&table.name)
        )
    }

    /// The index on the expression a forgiving match compares (`LOWER("email")`). MariaDB has
    /// no expression indexes, so on MySQL/MariaDB the advice also names the way that works on
    /// both: declaring the column's stored form, which makes the lookup a plain comparison.
    fn expression_index(&self, table: &SqlTable, column: &str, expression: &str) -> String {
        let create = self.create_index(
            table,
            &format!("{column}_match"),
            &format!("({expression})"),
        );
        match self.dialect {
            Dialect::Mysql => format!(
                "{create} (MySQL 8.0.13 or later; on MariaDB declare how the system writes \
                 {column} under `stored:` in the mapping and index the column itself: \
                 CREATE INDEX {} ON {} ({});)",
                self.dialect.quote(&format!("{}_{column}", table.name)),
                self.dialect.quote(&table.name),
                self.dialect.quote(column)
            ),
            Dialect::Sqlite | Dialect::Postgres => create,
        }
    }

    /// The expression a forgiving match applies to `column` (`LOWER(email)`), or `None` when the
    /// column is compared as it is: its form is declared in the mapping, it is not text, or its
    /// kind has no forgiving match.
    fn forgiving_match(
        &self,
        table: &SqlTable,
        kind: IdentifierKind,
        column: &str,
    ) -> Option<String> {
        if table.stored.contains_key(&kind) {
            return None;
        }
        let is_text = match self.dialect {
            Dialect::Postgres => matches!(
                self.column_type(table, column),
                Some("varchar" | "text" | "bpchar" | "citext")
            ),
            Dialect::Sqlite | Dialect::Mysql => true,
        };
        let quoted = self.dialect.quote(column);
        match kind {
            _ if !is_text => None,
            IdentifierKind::Email => Some(format!("LOWER({quoted})")),
            IdentifierKind::CustomerNumber => Some(format!("UPPER(REPLACE({quoted}, ' ', ''))")),
            IdentifierKind::Phone => Some(
                [" ", "-", "(", ")", "."]
                    .iter()
                    .fold(quoted, |inner, c| format!("REPLACE({inner}, '{c}', '')")),
            ),
            _ => None,
        }
    }

    /// `SELECT a, key AS b … WHERE filter [AND key > after] ORDER BY key LIMIT n`.
    fn select_page(
        &self,
        table: &SqlTable,
        a: &str,
        filter: impl FnOnce(&mut Statement),
        after: Option<&str>,
        limit: usize,
    ) -> Statement {
        let key = self.dialect.quote(&table.key);
        let mut statement = self.statement();
        statement
            .push(&format!(
                "SELECT {a} AS a, {} AS b FROM ",
                self.dialect.as_text(&key)
            ))
            .name(&table.name)
            .push(" WHERE ");
        filter(&mut statement);
        if let Some(after) = after {
            statement
                .push(" AND ")
                .push(&key)
                .push(" > ")
                .text(after, self.column_type(table, &table.key));
        }
        statement.push(&format!(" ORDER BY {key} LIMIT {limit}"));
        statement
    }

    /// Mapped tables with every child before its parent. With `root`, only that table and the
    /// tables under it.
    fn children_first(&self, root: Option<&str>) -> Vec<&SqlTable> {
        let mut tables: Vec<(usize, &SqlTable)> = self
            .mapping
            .tables
            .iter()
            .filter_map(|table| {
                let chain = self.ancestry(table);
                let inside = root.is_none_or(|root| chain.contains(&root));
                inside.then_some((chain.len(), table))
            })
            .collect();
        // Deepest first; a stable sort keeps the mapping's order among tables of one depth.
        tables.sort_by_key(|(depth, _)| std::cmp::Reverse(*depth));
        tables.into_iter().map(|(_, table)| table).collect()
    }

    /// The table's name and its ancestors' names, nearest first. The catalog refuses cycles; the
    /// bound is for a mapping that bypassed it.
    fn ancestry<'a>(&'a self, table: &'a SqlTable) -> Vec<&'a str> {
        let mut chain = vec![table.name.as_str()];
        let mut current = table;
        while let Some(parent) = current
            .parent
            .as_ref()
            .and_then(|p| self.mapping.table(&p.table))
        {
            if chain.len() > self.mapping.tables.len() {
                break;
            }
            chain.push(&parent.name);
            current = parent;
        }
        chain
    }

    /// A database error as the caller may see it: quoted values masked unless they are names
    /// from the mapping, since databases quote the offending value (`invalid input syntax for
    /// type integer: "jan@example.nl"`).
    fn failed(&self, error: TargetError) -> ConnectorError {
        self.failed.set(true);
        let is_name = |quoted: &str| {
            self.mapping
                .tables
                .iter()
                .any(|table| table.name == quoted || table.named_columns().contains(&quoted))
        };
        ConnectorError::Query {
            system: self.system.clone(),
            message: mask_quoted(&error.to_string(), is_name),
        }
    }
}

// --- execution --------------------------------------------------------------------------------

fn execute(conn: &mut TargetConnection, layout: &Layout, statement: &Statement) -> Result<u64> {
    layout.ran(statement);
    let rows = conn.execute(statement).map_err(|e| layout.failed(e))?;
    Ok(u64::try_from(rows).unwrap_or(u64::MAX))
}

fn load(
    conn: &mut TargetConnection,
    layout: &Layout,
    statement: &Statement,
) -> Result<Vec<TextPair>> {
    layout.ran(statement);
    conn.load_pairs(statement).map_err(|e| layout.failed(e))
}

/// [`load`] for a statement run again and again with the same text (kept prepared).
fn load_kept(
    conn: &mut TargetConnection,
    layout: &Layout,
    statement: &Statement,
) -> Result<Vec<TextPair>> {
    layout.ran(statement);
    conn.load_pairs_kept(statement)
        .map_err(|e| layout.failed(e))
}

fn count(
    conn: &mut TargetConnection,
    layout: &Layout,
    table: &SqlTable,
    scope: Scope<'_>,
) -> Result<u64> {
    let statement = layout.scoped("SELECT COUNT(*) AS n FROM ", table, scope);
    layout.ran(&statement);
    let n = conn.count(&statement).map_err(|e| layout.failed(e))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn delete(
    conn: &mut TargetConnection,
    layout: &Layout,
    table: &SqlTable,
    scope: Scope<'_>,
) -> Result<u64> {
    let head = match layout.dialect {
        // MariaDB before 11.1 (and MySQL before 8.0.21) reads the whole table for a
        // single-table DELETE whose condition has a subquery (the rows under a parent); the
        // multi-table form is planned as a join and uses the index on the parent key.
        Dialect::Mysql => format!("DELETE {} FROM ", layout.dialect.quote(&table.name)),
        Dialect::Sqlite | Dialect::Postgres => "DELETE FROM ".to_string(),
    };
    let statement = layout.scoped(&head, table, scope);
    execute(conn, layout, &statement)
}

/// Writes the table's rows in `scope` as JSON objects separated by commas; returns how many.
fn export_table(
    conn: &mut TargetConnection,
    layout: &Layout,
    table: &SqlTable,
    scope: Scope<'_>,
    visit: &mut dyn FnMut(&str) -> std::io::Result<()>,
) -> Result<u64> {
    let json = layout.dialect.json_object(&table.exported_columns());
    let mut written = 0;
    let mut after: Option<String> = None;
    loop {
        let filter = |s: &mut Statement| layout.condition(s, table, scope);
        let page = layout.select_page(table, &json, filter, after.as_deref(), PAGE_SIZE);
        let rows = load(conn, layout, &page)?;
        for row in &rows {
            visit(row.a.as_deref().unwrap_or("null"))?;
            written += 1;
        }
        if rows.len() < PAGE_SIZE {
            return Ok(written);
        }
        after = rows.last().and_then(|row| row.b.clone());
    }
}

/// Applies `strategies` to the rows of `table` in `scope`, a page of keys at a time (the keys
/// are read first: once anonymised, a row may no longer match the person); returns the rows
/// changed.
fn anonymise_scope(
    conn: &mut TargetConnection,
    layout: &Layout,
    table: &SqlTable,
    scope: Scope<'_>,
    strategies: &Strategies,
    hash_key: &[u8],
) -> Result<u64> {
    let key_text = layout.dialect.as_text(&layout.dialect.quote(&table.key));
    let mut after: Option<String> = None;
    let mut changed = 0;
    loop {
        let filter = |s: &mut Statement| layout.condition(s, table, scope);
        let page = layout.select_page(table, &key_text, filter, after.as_deref(), PAGE_SIZE);
        let keys: Vec<String> = load(conn, layout, &page)?
            .into_iter()
            .filter_map(|row| row.b)
            .collect();
        changed += anonymise_batch(conn, layout, table, &keys, strategies, hash_key)?;
        if keys.len() < PAGE_SIZE {
            return Ok(changed);
        }
        after = keys.last().cloned();
    }
}

/// Applies `strategies` to the rows of `table` with these keys; returns the rows changed.
fn anonymise_batch(
    conn: &mut TargetConnection,
    layout: &Layout,
    table: &SqlTable,
    keys: &[String],
    strategies: &Strategies,
    hash_key: &[u8],
) -> Result<u64> {
    if keys.is_empty() || strategies.is_empty() {
        return Ok(0);
    }
    let scope = Scope::Keys {
        table: &table.name,
        keys,
    };
    let mut changed = 0;
    let plain: Vec<(&String, &Strategy)> = strategies
        .iter()
        .filter(|(_, s)| **s != Strategy::KeyedHash)
        .collect();
    if !plain.is_empty() {
        let mut statement = layout.statement();
        statement.push("UPDATE ").name(&table.name).push(" SET ");
        for (index, (column, strategy)) in plain.into_iter().enumerate() {
            if index > 0 {
                statement.push(", ");
            }
            statement.name(column).push(" = ");
            match strategy {
                Strategy::Fixed(value) => {
                    statement.text(value.clone(), layout.column_type(table, column));
                }
                _ => {
                    statement.push("NULL");
                }
            }
        }
        statement.push(" WHERE ");
        layout.condition(&mut statement, table, scope);
        changed = execute(conn, layout, &statement)?;
    }
    for column in strategies
        .iter()
        .filter(|(_, s)| **s == Strategy::KeyedHash)
        .map(|(column, _)| column)
    {
        let rows = hash_column(conn, layout, table, scope, column, hash_key, keys.len())?;
        changed = changed.max(rows);
    }
    Ok(changed)
}

/// Replaces each value of `column` in `scope` by its keyed hash; returns the rows in scope.
fn hash_column(
    conn: &mut TargetConnection,
    layout: &Layout,
    table: &SqlTable,
    scope: Scope<'_>,
    column: &str,
    hash_key: &[u8],
    limit: usize,
) -> Result<u64> {
    let value = layout.dialect.as_text(&layout.dialect.quote(column));
    // A value hashed before (a repeated batch) is left alone: hashing it again would break
    // the grouping the hash exists for.
    let filter = |s: &mut Statement| {
        layout.condition(s, table, scope);
        s.push(&format!(" AND {value} NOT LIKE '{KEYED_HASH_PREFIX}%'"));
    };
    let select = layout.select_page(table, &value, filter, None, limit);
    let rows = load(conn, layout, &select)?;
    for row in &rows {
        let (Some(value), Some(key)) = (&row.a, &row.b) else {
            continue;
        };
        let mut update = layout.statement();
        update
            .push("UPDATE ")
            .name(&table.name)
            .push(" SET ")
            .name(column)
            .push(" = ")
            .text(
                keyed_hash(hash_key, value),
                layout.column_type(table, column),
            )
            .push(" WHERE ")
            .name(&table.key)
            .push(" = ")
            .text(key.clone(), layout.column_type(table, &table.key));
        execute(conn, layout, &update)?;
    }
    Ok(u64::try_from(rows.len()).unwrap_or(u64::MAX))
}

/// The ways a database may hold the Dutch number `0612345678` once spaces, dashes, brackets and
/// dots are gone: `0612345678`, `+31612345678`, `0031612345678`. A number that does not start
/// with one 0 is looked for as it is.
fn phone_variants(normalised: &str) -> Vec<String> {
    match normalised.strip_prefix('0') {
        Some(national) if !national.starts_with('0') && !national.is_empty() => vec![
            normalised.to_string(),
            format!("+31{national}"),
            format!("0031{national}"),
        ],
        _ => vec![normalised.to_string()],
    }
}

/// A value of `kind` to ask the database how it would look one up; never a real person's.
fn sample_identifier(kind: IdentifierKind) -> &'static str {
    match kind {
        IdentifierKind::Email => "plan@example.invalid",
        IdentifierKind::Phone => "0612345678",
        _ => "PLAN-1",
    }
}

/// What every keyed hash starts with, so a sweep (and a person) can tell a pseudonym from a
/// value.
const KEYED_HASH_PREFIX: &str = "kh:";

fn keyed_hash_prefix() -> &'static str {
    KEYED_HASH_PREFIX
}

/// How long every keyed hash is: `kh:` and 64 hex digits.
pub const KEYED_HASH_LENGTH: usize = KEYED_HASH_PREFIX.len() + 64;

/// `kh:` and the hex HMAC-SHA256 of `value` under `key` ([`KEYED_HASH_LENGTH`] characters: the
/// column must hold them).
pub fn keyed_hash(key: &[u8], value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(value.as_bytes());
    format!(
        "{KEYED_HASH_PREFIX}{}",
        hex::encode(mac.finalize().into_bytes())
    )
}

// --- keeping secrets and personal data out of errors ------------------------------------------

/// The driver's connection error without the URL or the password in it.
fn scrub_url(reason: &str, url: &str) -> String {
    let mut scrubbed = reason.replace(url, "***");
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split('@').next().filter(|_| rest.contains('@')))
        .and_then(|userinfo| userinfo.split_once(':'))
        .map(|(_, password)| password)
        .filter(|password| !password.is_empty());
    if let Some(password) = password {
        scrubbed = scrubbed.replace(password, "***");
    }
    scrubbed
}

/// `message` with every quoted part ('…' or "…") replaced by `***` unless `keep` says it may stay.
fn mask_quoted(message: &str, keep: impl Fn(&str) -> bool) -> String {
    let mut masked = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(['\'', '"']) {
        let quote = &rest[start..=start];
        masked.push_str(&rest[..=start]);
        let inside = &rest[start + 1..];
        match inside.find(quote) {
            Some(end) => {
                let quoted = &inside[..end];
                masked.push_str(if keep(quoted) { quoted } else { "***" });
                masked.push_str(quote);
                rest = &inside[end + 1..];
            }
            None => {
                masked.push_str("***");
                rest = "";
            }
        }
    }
    masked.push_str(rest);
    masked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_errors_lose_the_url_and_password() {
        let url = "postgres://crm:hunter2@db.internal/crm";
        let reason = format!("could not connect to {url}: password hunter2 rejected");
        let scrubbed = scrub_url(&reason, url);
        assert!(!scrubbed.contains("hunter2"), "{scrubbed}");
        assert!(!scrubbed.contains("db.internal"), "{scrubbed}");
    }

    #[test]
    fn quoted_values_are_masked_but_names_stay() {
        let message = r#"invalid input syntax for type integer: "jan@example.nl" in "customers""#;
        let masked = mask_quoted(message, |quoted| quoted == "customers");
        assert_eq!(
            masked,
            r#"invalid input syntax for type integer: "***" in "customers""#
        );
        assert_eq!(mask_quoted("no quotes", |_| false), "no quotes");
        assert_eq!(mask_quoted("open 'end", |_| false), "open '***");
    }

    #[test]
    fn dutch_numbers_are_looked_for_in_every_common_form() {
        assert_eq!(
            phone_variants("0612345678"),
            ["0612345678", "+31612345678", "0031612345678"]
        );
        assert_eq!(phone_variants("004915112345"), ["004915112345"]);
        assert_eq!(phone_variants("112"), ["112"]);
    }

    #[test]
    fn keyed_hash_is_stable_hex_and_depends_on_the_key() {
        let hash = keyed_hash(b"key", "jan@example.nl");
        assert_eq!(hash.len(), 67);
        assert!(hash.starts_with("kh:"));
        assert_eq!(hash, keyed_hash(b"key", "jan@example.nl"));
        assert_ne!(hash, keyed_hash(b"other", "jan@example.nl"));
    }
}
