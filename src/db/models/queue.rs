//! The queue both background senders keep in a table (the mail outbox, webhook deliveries): a
//! row waits `pending` until its `next_attempt_at`, a worker takes it by pushing that moment to
//! the end of its lease and counting the attempt, and a failure either sets the next attempt or
//! gives up (`failed`). One macro writes these queries for each table, so the lease works the
//! same way for both; diesel's table types differ, which a generic function cannot bridge simply.

/// The status condition, for SQLite, of a statement that names its rows by key (`id IN (…)`):
/// a unary `+` (SQLite's documented way) keeps its planner from using the column to pick an
/// index. Without statistics it took the index on `(status, next_attempt_at)` over the keys for
/// a list of ids, so every claim and release read each pending row: thousands while a busy
/// desk's letters wait, 7% of the writer thread during intake. PostgreSQL plans by the values.
pub const SQLITE_STATUS_BY_KEY: &str = "+status = ";

/// Writes `due_ids`, `take_due_group`, `release` and `mark_attempt_failed` for `$table` (which
/// has `id`, `status`, `next_attempt_at`, `attempts`, `last_error` and `created_at` columns,
/// and whose rows `$row` holds) into the calling module, with its `PENDING` and `FAILED` status
/// words. A table that records more of a failed attempt names the column and its type
/// (`last_status_code: Option<i32>`): it becomes a parameter too, written in the same UPDATE.
macro_rules! retried_queue {
    ($table:ident, $row:ty $(, $extra:ident: $extra_type:ty)?) => {
        /// Ids of pending rows due at `now`, those waiting longest first.
        pub fn due_ids(
            conn: &mut $crate::db::DbConnection,
            now: chrono::NaiveDateTime,
            limit: i64,
        ) -> Result<Vec<String>, $crate::db::StoreError> {
            Ok($table::table
                .filter($table::status.eq(PENDING))
                .filter($table::next_attempt_at.le(now))
                .order(($table::next_attempt_at.asc(), $table::id.asc()))
                .limit(limit)
                .select($table::id)
                .load(conn)?)
        }

        /// Takes at most `limit` due rows at once, those waiting longest first: counts each
        /// one's attempt and holds it until `lease_until`, so no other worker picks it up
        /// meanwhile. Two statements for the group (the due ids, one UPDATE of them) where
        /// claiming row by row made one per row. The caller sizes `lease_until` for the whole
        /// group, which it sends before the lease ends. A row another worker took in between
        /// fails the UPDATE's condition and is left out.
        pub fn take_due_group(
            conn: &mut $crate::db::DbConnection,
            now: chrono::NaiveDateTime,
            lease_until: chrono::NaiveDateTime,
            limit: i64,
        ) -> Result<Vec<$row>, $crate::db::StoreError> {
            let ids = due_ids(conn, now, limit)?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let mut taken = take_if_due(conn, &ids, now, lease_until)?;
            // RETURNING keeps no order; the oldest first, as they were due.
            taken.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            Ok(taken)
        }

        /// The rows of `ids` still due at `now`, taken until `lease_until`, as the UPDATE that
        /// took them returned them (where a second statement read them).
        ///
        /// One conditional UPDATE is atomic on both backends: on PostgreSQL a concurrent UPDATE
        /// of the same row waits for the first to commit and then re-checks the condition, which
        /// no longer holds.
        fn take_if_due(
            conn: &mut $crate::db::DbConnection,
            ids: &[String],
            now: chrono::NaiveDateTime,
            lease_until: chrono::NaiveDateTime,
        ) -> Result<Vec<$row>, $crate::db::StoreError> {
            let taken = (
                $table::next_attempt_at.eq(lease_until),
                $table::attempts.eq($table::attempts + 1),
            );
            let ids = $table::table.filter($table::id.eq_any(ids));
            // On the concrete connection: diesel's MultiConnection returns no whole rows.
            Ok(match conn {
                $crate::db::DbConnection::Sqlite(c) => diesel::update(
                    ids.filter(pending_by_key())
                        .filter($table::next_attempt_at.le(now)),
                )
                .set(taken)
                .returning(<$row>::as_returning())
                .get_results(c)?,
                $crate::db::DbConnection::Postgres(c) => diesel::update(
                    ids.filter($table::status.eq(PENDING))
                        .filter($table::next_attempt_at.le(now)),
                )
                .set(taken)
                .returning(<$row>::as_returning())
                .get_results(c)?,
            })
        }

        /// Gives taken rows back unsent: due at `now` again, the attempt not counted. For a
        /// worker that stops before it came to them, so they need not wait out the lease.
        pub fn release(
            conn: &mut $crate::db::DbConnection,
            ids: &[String],
            now: chrono::NaiveDateTime,
        ) -> Result<(), $crate::db::StoreError> {
            let given_back = (
                $table::next_attempt_at.eq(now),
                $table::attempts.eq($table::attempts - 1),
            );
            let ids = $table::table.filter($table::id.eq_any(ids));
            match conn {
                $crate::db::DbConnection::Sqlite(c) => diesel::update(ids.filter(pending_by_key()))
                    .set(given_back)
                    .execute(c)?,
                $crate::db::DbConnection::Postgres(c) => {
                    diesel::update(ids.filter($table::status.eq(PENDING)))
                        .set(given_back)
                        .execute(c)?
                }
            };
            Ok(())
        }

        /// `status = PENDING` for SQLite statements that name their rows by key (see
        /// [`SQLITE_STATUS_BY_KEY`](super::queue::SQLITE_STATUS_BY_KEY)).
        fn pending_by_key() -> diesel::expression::UncheckedBind<
            diesel::expression::SqlLiteral<diesel::sql_types::Bool>,
            <&'static str as diesel::expression::AsExpression<diesel::sql_types::Text>>::Expression,
        > {
            diesel::dsl::sql::<diesel::sql_types::Bool>(super::queue::SQLITE_STATUS_BY_KEY)
                .bind::<diesel::sql_types::Text, _>(PENDING)
        }

        /// Records a failed attempt: retried at `retry_at`, or given up (`failed`) when `None`.
        pub fn mark_attempt_failed(
            conn: &mut $crate::db::DbConnection,
            id: &str,
            error: &str,
            $($extra: $extra_type,)?
            retry_at: Option<chrono::NaiveDateTime>,
        ) -> Result<(), $crate::db::StoreError> {
            let target = $table::table.find(id);
            let what = ($table::last_error.eq(error), $($table::$extra.eq($extra),)?);
            match retry_at {
                Some(at) => diesel::update(target)
                    .set((what, $table::next_attempt_at.eq(at)))
                    .execute(conn)?,
                None => diesel::update(target)
                    .set((what, $table::status.eq(FAILED)))
                    .execute(conn)?,
            };
            Ok(())
        }
    };
}

pub(crate) use retried_queue;
