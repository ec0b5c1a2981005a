//! The connector's side of a retention sweep: pages of expired rows that are still to be
//! processed, with what a sweep needs to know of their owner (identifiers, restriction), and
//! marking rows restricted by key.
//!
//! A sweep may be stopped between its work on the organisation's database and the checkpoint in
//! loket's own, so every action must be safe to repeat. Deleted rows are gone; rows already
//! anonymised or restricted are recognised by their values ([`Pending`]) and never matched
//! again, so no row is processed twice and a keyed hash is never hashed again.

use super::statement::Statement;
use super::{
    keyed_hash_prefix, load, load_kept, ConnectorError, Layout, Result, SqlConnector, Strategies,
    Strategy,
};
use crate::catalog::model::{IdentifierKind, SqlTable};
use chrono::NaiveDateTime;

/// Which expired rows still need the sweep's action.
#[derive(Debug, Clone, Copy)]
pub enum Pending<'a> {
    /// Every expired row (deletion, or a dry run that changes nothing).
    All,
    /// Rows not yet in the state these strategies leave them in.
    NotAnonymised(&'a Strategies),
    /// Rows not yet marked restricted.
    NotRestricted,
}

/// One page of expired rows of `table`: `counted_from` before `cutoff`, keys after `after` and
/// up to `up_to`, at most `limit`, in key order.
#[derive(Debug, Clone, Copy)]
pub struct ExpiredQuery<'a> {
    pub table: &'a str,
    pub counted_from: &'a str,
    pub cutoff: NaiveDateTime,
    pub after: Option<&'a str>,
    pub up_to: Option<&'a str>,
    pub limit: u32,
    pub pending: Pending<'a>,
    /// What to read of who each row belongs to; needed only to honour exceptions.
    pub owner: Owner<'a>,
    /// Only the rows a deletion left out ([`Spared`]): all it left once it deleted the rest.
    pub only: Option<&'a Spared>,
}

/// What a sweep reads of each row's owner ([`ExpiredRow::identifiers`],
/// [`ExpiredRow::restricted`]), from the row and its parent rows: only as far up the parent
/// tables as what is asked for lies, so a table that holds its owner's identifiers itself (or
/// an exception about no identifier of the parent's) needs no join.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    /// Identifiers of these kinds; `None` for every kind.
    pub identifiers: Option<&'a [IdentifierKind]>,
    /// Whether the row or one of its parent rows is marked restricted.
    pub restriction: bool,
}

impl Owner<'_> {
    /// Nothing of the owner.
    pub const NONE: Owner<'static> = Owner {
        identifiers: Some(&[]),
        restriction: false,
    };

    fn reads(&self, kind: IdentifierKind) -> bool {
        self.identifiers.is_none_or(|kinds| kinds.contains(&kind))
    }
}

/// An expired row and, when asked for, who it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiredRow {
    pub key: String,
    /// The identifiers in the row and in its parent rows (an invoice's customer's number).
    pub identifiers: Vec<(IdentifierKind, String)>,
    /// The row or one of its parent rows is marked restricted.
    pub restricted: bool,
}

/// The rows a deletion leaves for a closer look, so that it can delete the rest without reading
/// whose each row is ([`SqlConnector::delete_expired`]): rows that may belong to a person under
/// an exception, and rows marked restricted, in the table or above it. What is left is then
/// read and sorted row by row, as ever; it is the few rows a sweep keeps.
///
/// A person is given as `LIKE` patterns over an identifier column in lower case, one per
/// identifier, that every way of writing the identifier matches (`%k%l%a%n%t%…`); the
/// patterns may match other persons too, whose rows are then merely sorted one by one. Rows of
/// the swept table are compared in each statement; parent rows once, by
/// [`SqlConnector::spared`], which names their keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spared {
    resembling: Vec<(IdentifierKind, String)>,
    parent_keys: Vec<String>,
    restricted: bool,
}

/// What one statement of [`SqlConnector::delete_expired`] deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    pub rows: u64,
    /// One of the deleted rows' keys (none when no row was deleted): gone once the deletion is
    /// committed, there again when it was rolled back.
    pub witness: Option<String>,
}

/// At most this many parent rows are spared by key: each batch's statement carries them. More
/// (a great many restricted customers) and the sweep reads and sorts every row instead.
const MAX_SPARED_PARENTS: usize = 1_000;

/// The alias of the table `depth` steps up from the swept one (`t0` is the swept table).
pub(super) fn alias(depth: usize) -> String {
    format!("t{depth}")
}

/// ` LEFT JOIN parent t1 ON t1.key = t0.link …` up `chain` (the table `t0` and its ancestors).
pub(super) fn join_ancestors(statement: &mut Statement, chain: &[&SqlTable]) {
    for (depth, pair) in chain.windows(2).enumerate() {
        let (child, parent) = (pair[0], pair[1]);
        let Some(link) = &child.parent else { break };
        statement
            .push(" LEFT JOIN ")
            .name(&parent.name)
            .push(&format!(" {} ON {}.", alias(depth + 1), alias(depth + 1)))
            .name(&parent.key)
            .push(&format!(" = {}.", alias(depth)))
            .name(&link.column);
    }
}

impl SqlConnector {
    /// One page of expired rows still to process; see [`ExpiredQuery`].
    pub fn expired_rows(&mut self, query: &ExpiredQuery<'_>) -> Result<Vec<ExpiredRow>> {
        let layout = &self.layout;
        let table = layout.table(query.table)?;
        layout.existing_column(table, query.counted_from)?;
        if query.limit == 0 {
            return Err(ConnectorError::ZeroLimit {
                system: layout.system.clone(),
            });
        }
        if let Pending::NotAnonymised(strategies) = query.pending {
            layout.check_strategy_columns(table, strategies)?;
        }
        let mut chain = layout.chain(table);
        let (owner, depth) = layout.owner_json(&chain, query.owner);
        chain.truncate(depth);
        let statement = layout.expired_statement(&chain, owner.as_deref(), query)?;
        let rows = load(&mut self.conn, layout, &statement)?;
        rows.into_iter()
            .filter_map(|row| Some((row.b?, row.a)))
            .map(|(key, owner)| layout.expired_row(&chain, key, owner.as_deref()))
            .collect()
    }

    /// Deletes at most `limit` expired rows of `table` in one statement and says how many,
    /// with one of their keys: the plain batched `DELETE … WHERE key IN (SELECT key … LIMIT
    /// n)`, leaving the `spared` rows where a rule honours exceptions (nothing about the owner
    /// needs reading first). `None` when that cannot be done in one statement: MySQL refuses a
    /// subquery with `LIMIT` on the table it deletes from, and child tables in the mapping must
    /// be deleted first; the sweep then reads each page before deleting it.
    pub fn delete_expired(
        &mut self,
        table: &str,
        counted_from: &str,
        cutoff: NaiveDateTime,
        limit: u32,
        spared: Option<&Spared>,
    ) -> Result<Option<Deleted>> {
        let layout = &self.layout;
        let root = layout.table(table)?;
        layout.existing_column(root, counted_from)?;
        if layout.dialect == super::Dialect::Mysql || layout.children_first(Some(table)).len() > 1 {
            return Ok(None);
        }
        let key = layout.dialect.quote(&root.key);
        let key_text = layout.dialect.as_text(&key);
        let mut statement = layout.statement();
        if layout.dialect == super::Dialect::Postgres {
            // One row back, not a key per deleted row.
            statement.push("WITH gone AS (");
        }
        statement
            .push("DELETE FROM ")
            .name(&root.name)
            .push(&format!(" WHERE {key} IN (SELECT {key} FROM "))
            .name(&root.name)
            .push(" WHERE ")
            .name(counted_from)
            .push(" < ")
            .timestamp(cutoff);
        if let Some(spared) = spared {
            layout.spare(&mut statement, root, spared);
        }
        statement.push(&format!(" LIMIT {limit})"));
        if layout.dialect == super::Dialect::Postgres {
            statement.push(&format!(
                " RETURNING {key}) SELECT CAST(COUNT(*) AS TEXT) AS a, \
                 CAST(MAX({key}) AS TEXT) AS b FROM gone"
            ));
            let row = load_kept(&mut self.conn, layout, &statement)?.pop();
            let rows = row.as_ref().and_then(|row| row.a.as_deref()?.parse().ok());
            return Ok(Some(Deleted {
                rows: rows.unwrap_or(0),
                witness: row.and_then(|row| row.b),
            }));
        }
        statement.push(&format!(" RETURNING NULL AS a, {key_text} AS b"));
        let gone = load(&mut self.conn, layout, &statement)?;
        Ok(Some(Deleted {
            rows: u64::try_from(gone.len()).unwrap_or(u64::MAX),
            witness: gone.into_iter().next_back().and_then(|row| row.b),
        }))
    }

    /// Whether `table` still holds the row with `key`.
    pub fn holds_key(&mut self, table: &str, key: &str) -> Result<bool> {
        let layout = &self.layout;
        let root = layout.table(table)?;
        let mut statement = layout.statement();
        statement
            .push("SELECT COUNT(*) AS n FROM ")
            .name(&root.name)
            .push(" WHERE ")
            .name(&root.key)
            .push(" = ")
            .text(key, layout.column_type(root, &root.key));
        layout.ran(&statement);
        let rows = self.conn.count(&statement).map_err(|e| layout.failed(e))?;
        Ok(rows > 0)
    }

    /// What a deletion of `table`'s expired rows must leave alone: the rows that may be a
    /// person's by these `resembling` patterns ([`Spared`]) and, with `restriction`, rows
    /// marked restricted. The parent rows concerned are looked up now, in one statement (no
    /// index serves the patterns, so it reads the parent table once); `None` when there are
    /// too many to name in each batch.
    pub fn spared(
        &mut self,
        table: &str,
        resembling: &[(IdentifierKind, String)],
        restriction: bool,
    ) -> Result<Option<Spared>> {
        let layout = &self.layout;
        let root = layout.table(table)?;
        let mut spared = Spared {
            resembling: resembling.to_vec(),
            parent_keys: Vec::new(),
            restricted: restriction && root.restricted_column.is_some(),
        };
        let Some(parent) = root
            .parent
            .as_ref()
            .and_then(|link| layout.mapping.table(&link.table))
        else {
            return Ok(Some(spared));
        };
        let by_person = layout.chain(parent).iter().any(|table| {
            resembling
                .iter()
                .any(|(kind, _)| table.identifiers.contains_key(kind))
        });
        let by_restriction = restriction && layout.restricts(parent);
        if !by_person && !by_restriction {
            return Ok(Some(spared));
        }
        let key = layout.dialect.quote(&parent.key);
        let mut statement = layout.statement();
        statement
            .push(&format!(
                "SELECT NULL AS a, {} AS b FROM ",
                layout.dialect.as_text(&key)
            ))
            .name(&parent.name)
            .push(" WHERE ");
        if by_person {
            layout.condition(&mut statement, parent, super::Scope::Resembling(resembling));
        }
        if by_restriction {
            if by_person {
                statement.push(" OR ");
            }
            layout.restricted_condition(&mut statement, parent, 0);
        }
        statement.push(&format!(" LIMIT {}", MAX_SPARED_PARENTS + 1));
        let keys: Vec<String> = load(&mut self.conn, layout, &statement)?
            .into_iter()
            .filter_map(|row| row.b)
            .collect();
        if keys.len() > MAX_SPARED_PARENTS {
            return Ok(None);
        }
        spared.parent_keys = keys;
        Ok(Some(spared))
    }

    /// Whether a sweep may keep one transaction open over several batches
    /// ([`begin_batches`](Self::begin_batches)): not on MySQL, where the `START TRANSACTION` of
    /// each batch's change would commit it.
    pub fn groups_batches(&self) -> bool {
        self.layout.dialect != super::Dialect::Mysql
    }

    /// Opens a transaction around the next batches; their changes (each in a transaction of its
    /// own, nested in this one) commit together at [`end_batches`](Self::end_batches).
    pub fn begin_batches(&mut self) -> Result<()> {
        debug_assert!(self.groups_batches());
        self.conn.begin().map_err(|e| self.layout.failed(e))
    }

    /// Commits (or rolls back) the transaction [`begin_batches`](Self::begin_batches) opened.
    pub fn end_batches(&mut self, commit: bool) -> Result<()> {
        self.conn.finish(commit).map_err(|e| self.layout.failed(e))
    }

    /// Marks the rows of `table` with these keys restricted; one short transaction. Returns the
    /// rows changed.
    pub fn restrict_keys(&mut self, table: &str, keys: &[String]) -> Result<u64> {
        let table = self.layout.table(table)?;
        let column = self.layout.restricted_column(table)?;
        let layout = &self.layout;
        self.conn.transaction(
            |e| layout.failed(e),
            |conn| {
                let mut changed = 0;
                for chunk in keys.chunks(super::KEYS_PER_STATEMENT) {
                    let mut statement = layout.update_set(table, column);
                    statement.push("TRUE WHERE ").one_of(
                        &table.key,
                        chunk,
                        layout.column_type(table, &table.key),
                    );
                    changed += super::execute(conn, layout, &statement)?;
                }
                Ok(changed)
            },
        )
    }
}

impl Layout {
    /// The table and its ancestors, nearest first.
    pub(super) fn chain<'a>(&'a self, table: &'a SqlTable) -> Vec<&'a SqlTable> {
        self.ancestry(table)
            .into_iter()
            .filter_map(|name| self.mapping.table(name))
            .collect()
    }

    /// The column marking `table`'s rows restricted.
    pub(super) fn restricted_column<'a>(&self, table: &'a SqlTable) -> Result<&'a str> {
        table
            .restricted_column
            .as_deref()
            .ok_or_else(|| ConnectorError::NoRestrictedColumn {
                system: self.system.clone(),
                table: table.name.clone(),
            })
    }

    /// Whether rows of `table` can be restricted, in the table or through a parent row.
    fn restricts(&self, table: &SqlTable) -> bool {
        self.chain(table)
            .iter()
            .any(|table| table.restricted_column.is_some())
    }

    /// `(restricted = TRUE OR parent IN (SELECT key FROM parent WHERE …))`: the rows of
    /// `table` marked restricted, themselves or through a parent row.
    fn restricted_condition(&self, statement: &mut Statement, table: &SqlTable, depth: usize) {
        statement.push("(");
        let mut parts = 0;
        if let Some(column) = &table.restricted_column {
            statement.name(column).push(" = TRUE");
            parts += 1;
        }
        let parent = table
            .parent
            .as_ref()
            .and_then(|link| Some((link, self.mapping.table(&link.table)?)))
            // The catalog refuses cycles; the bound is for a mapping that bypassed it.
            .filter(|(_, parent)| depth < self.mapping.tables.len() && self.restricts(parent));
        if let Some((link, parent)) = parent {
            if parts > 0 {
                statement.push(" OR ");
            }
            statement
                .name(&link.column)
                .push(" IN (SELECT ")
                .name(&parent.key)
                .push(" FROM ")
                .name(&parent.name)
                .push(" WHERE ");
            self.restricted_condition(statement, parent, depth + 1);
            statement.push(")");
            parts += 1;
        }
        if parts == 0 {
            statement.push("1 = 0");
        }
        statement.push(")");
    }

    /// ` AND NOT (spared)` for the rows of `table` (unaliased): no identifier in the row like a
    /// spared person's, no spared parent, not marked restricted.
    fn spare(&self, statement: &mut Statement, table: &SqlTable, spared: &Spared) {
        for (kind, pattern) in &spared.resembling {
            let Some(column) = table.identifiers.get(kind) else {
                continue;
            };
            statement.push(" AND NOT COALESCE(");
            self.resembles(statement, &self.dialect.quote(column), pattern);
            statement.push(", FALSE)");
        }
        if let (Some(link), false) = (&table.parent, spared.parent_keys.is_empty()) {
            statement
                .push(" AND (")
                .name(&link.column)
                .push(" IS NULL OR NOT (")
                .one_of(
                    &link.column,
                    &spared.parent_keys,
                    self.column_type(table, &link.column),
                )
                .push("))");
        }
        if let (Some(column), true) = (&table.restricted_column, spared.restricted) {
            statement
                .push(" AND (")
                .name(column)
                .push(" IS NULL OR ")
                .name(column)
                .push(" <> TRUE)");
        }
    }

    /// ` AND (spared)` for the swept table `t0`: the rows [`Self::spare`] leaves out, found
    /// through the index on the parent key rather than among all expired rows.
    fn only_spared(&self, statement: &mut Statement, table: &SqlTable, spared: &Spared) {
        let column = |name: &str| format!("t0.{}", self.dialect.quote(name));
        let mut parts = 0;
        let mut or = |statement: &mut Statement| {
            statement.push(if parts == 0 { " AND (" } else { " OR " });
            parts += 1;
        };
        for (kind, pattern) in &spared.resembling {
            if let Some(name) = table.identifiers.get(kind) {
                or(statement);
                self.resembles(statement, &column(name), pattern);
            }
        }
        if let (Some(link), false) = (&table.parent, spared.parent_keys.is_empty()) {
            or(statement);
            statement.push("t0.").one_of(
                &link.column,
                &spared.parent_keys,
                self.column_type(table, &link.column),
            );
        }
        if let (Some(name), true) = (&table.restricted_column, spared.restricted) {
            or(statement);
            statement.push(&format!("{} = TRUE", column(name)));
        }
        statement.push(if parts == 0 { " AND 1 = 0" } else { ")" });
    }

    /// `SELECT owner AS a, key AS b FROM t0 LEFT JOIN t1 … WHERE expired AND pending [AND key
    /// range] ORDER BY key LIMIT n`, joining the tables of `chain` (`owner` is `None` when
    /// nothing of the owner is read).
    fn expired_statement(
        &self,
        chain: &[&SqlTable],
        owner: Option<&str>,
        query: &ExpiredQuery<'_>,
    ) -> Result<Statement> {
        let root = chain[0];
        let key = format!("t0.{}", self.dialect.quote(&root.key));
        let mut statement = self.statement();
        statement
            .push(&format!(
                "SELECT {} AS a, {} AS b FROM ",
                owner.unwrap_or("NULL"),
                self.dialect.as_text(&key)
            ))
            .name(&root.name)
            .push(" t0");
        join_ancestors(&mut statement, chain);
        statement
            .push(" WHERE t0.")
            .name(query.counted_from)
            .push(" < ")
            .timestamp(query.cutoff);
        self.pending_condition(&mut statement, root, query.pending)?;
        if let Some(spared) = query.only {
            self.only_spared(&mut statement, root, spared);
        }
        let key_type = self.column_type(root, &root.key);
        if let Some(after) = query.after {
            statement
                .push(&format!(" AND {key} > "))
                .text(after, key_type);
        }
        if let Some(up_to) = query.up_to {
            statement
                .push(&format!(" AND {key} <= "))
                .text(up_to, key_type);
        }
        statement.push(&format!(" ORDER BY {key} LIMIT {}", query.limit));
        Ok(statement)
    }

    /// ` AND NOT (already processed)` for the swept table `t0`.
    fn pending_condition(
        &self,
        statement: &mut Statement,
        table: &SqlTable,
        pending: Pending<'_>,
    ) -> Result<()> {
        match pending {
            Pending::All => {}
            Pending::NotRestricted => {
                let column = self.restricted_column(table)?;
                statement
                    .push(" AND (t0.")
                    .name(column)
                    .push(" IS NULL OR t0.")
                    .name(column)
                    .push(" <> TRUE)");
            }
            Pending::NotAnonymised(strategies) => {
                statement.push(" AND NOT (");
                for (index, (column, strategy)) in strategies.iter().enumerate() {
                    if index > 0 {
                        statement.push(" AND ");
                    }
                    let quoted = format!("t0.{}", self.dialect.quote(column));
                    match strategy {
                        Strategy::Null => statement.push(&format!("{quoted} IS NULL")),
                        Strategy::Fixed(value) => statement
                            .push(&format!("({quoted} IS NOT NULL AND {quoted} = "))
                            .text(value.clone(), self.column_type(table, column))
                            .push(")"),
                        Strategy::KeyedHash => statement.push(&format!(
                            "({quoted} IS NULL OR {} LIKE '{}%')",
                            self.dialect.as_text(&quoted),
                            keyed_hash_prefix()
                        )),
                    };
                }
                if strategies.is_empty() {
                    statement.push("1 = 1");
                }
                statement.push(")");
            }
        }
        Ok(())
    }

    /// A JSON object with each identifier of the chain that `owner` asks for under
    /// `kind.depth` and, when asked for, each restriction flag under `restricted.depth` (1 or
    /// 0); with how many tables of the chain it needs (1: the swept table alone). `None` and 1
    /// when nothing is asked for.
    fn owner_json(&self, chain: &[&SqlTable], owner: Owner<'_>) -> (Option<String>, usize) {
        let mut pairs = Vec::new();
        let mut tables = 1;
        for (depth, table) in chain.iter().enumerate() {
            let alias = alias(depth);
            let before = pairs.len();
            for (kind, column) in &table.identifiers {
                if !owner.reads(*kind) {
                    continue;
                }
                let expression = self
                    .dialect
                    .as_text(&format!("{alias}.{}", self.dialect.quote(column)));
                pairs.push((format!("{}.{depth}", kind.as_str()), expression));
            }
            if let Some(column) = table
                .restricted_column
                .as_ref()
                .filter(|_| owner.restriction)
            {
                let flag = format!(
                    "CASE WHEN {alias}.{} = TRUE THEN 1 ELSE 0 END",
                    self.dialect.quote(column)
                );
                pairs.push((format!("restricted.{depth}"), flag));
            }
            if pairs.len() > before {
                tables = depth + 1;
            }
        }
        if pairs.is_empty() {
            return (None, 1);
        }
        (Some(self.dialect.json_object_of(&pairs)), tables)
    }

    fn expired_row(
        &self,
        chain: &[&SqlTable],
        key: String,
        owner: Option<&str>,
    ) -> Result<ExpiredRow> {
        let mut row = ExpiredRow {
            key,
            identifiers: Vec::new(),
            restricted: false,
        };
        let Some(owner) = owner else {
            return Ok(row);
        };
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(owner)
            .map_err(|e| ConnectorError::Query {
                system: self.system.clone(),
                message: format!("the database returned invalid JSON: {e}"),
            })?;
        for (depth, table) in chain.iter().enumerate() {
            for kind in table.identifiers.keys() {
                let value = object.get(&format!("{}.{depth}", kind.as_str()));
                if let Some(text) = value.and_then(json_text) {
                    row.identifiers.push((*kind, text));
                }
            }
            let flag = object.get(&format!("restricted.{depth}"));
            row.restricted |= flag.and_then(serde_json::Value::as_i64) == Some(1);
        }
        Ok(row)
    }
}

/// A JSON value as the text an identifier is compared by; empty and null values are none.
fn json_text(value: &serde_json::Value) -> Option<String> {
    let text = match value {
        serde_json::Value::String(text) => text.trim().to_string(),
        serde_json::Value::Number(number) => number.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}
