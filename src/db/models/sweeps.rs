//! Retention sweeps in the store: run records with their checkpoints, the lease that lets one
//! instance at a time sweep a rule, legal holds, and the lookup of persons with an open request.
//!
//! A lease is taken with a conditional UPDATE, like an outbox claim: of several instances
//! trying at once, only the one whose UPDATE changed the row holds it.

use crate::db::schema::{legal_holds, requests, sweep_leases, sweep_runs};
use crate::db::with::With;
use crate::db::{DbConnection, StoreError};
use crate::ids::SweepId;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::HashSet;

pub const RUNNING: &str = "running";
pub const FINISHED: &str = "finished";
pub const FAILED: &str = "failed";
/// Replaced by a newer run before it could be resumed (another mode, or a changed rule).
pub const ABANDONED: &str = "abandoned";

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = sweep_runs, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct SweepRunRow {
    pub id: SweepId,
    pub rule: String,
    pub system_key: String,
    pub table_name: Option<String>,
    pub action: String,
    pub dry_run: bool,
    pub origin: String,
    pub scheduled_for: Option<NaiveDateTime>,
    pub cutoff: NaiveDateTime,
    pub status: String,
    pub holder: String,
    pub started_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
    pub checkpoint: Option<String>,
    pub claim_end: Option<String>,
    pub claim_rows: i64,
    pub batches: i64,
    pub matched: i64,
    pub changed: i64,
    pub related: i64,
    pub skipped_legal_hold: i64,
    pub skipped_open_request: i64,
    pub skipped_restriction: i64,
    pub resumed: i32,
    pub error: Option<String>,
    /// A key a claimed group of whole-statement deletions deleted: still there on resumption,
    /// the group was rolled back and its `claim_rows` (counted already) are taken off again.
    pub claim_witness: Option<String>,
}

impl SweepRunRow {
    pub fn insert(&self, conn: &mut DbConnection) -> Result<(), StoreError> {
        diesel::insert_into(sweep_runs::table)
            .values(self)
            .execute(conn)?;
        Ok(())
    }

    /// Writes every field back.
    pub fn save(&self, conn: &mut DbConnection) -> Result<(), StoreError> {
        diesel::update(sweep_runs::table.find(&self.id))
            .set(self)
            .execute(conn)?;
        Ok(())
    }

    /// Writes every field back if `holder` still holds the rule's lease (or may take it over),
    /// renewed until `expires_at`; false, and nothing written, when another instance holds it.
    ///
    /// A sweep writes its run this way before every group of batches it commits. On PostgreSQL,
    /// where each statement is a round trip, it is one statement (the lease renewed in a `WITH`
    /// clause, the run updated only if it was) instead of a transaction of four.
    pub fn save_under_lease(
        &self,
        conn: &mut DbConnection,
        holder: &str,
        now: NaiveDateTime,
        expires_at: NaiveDateTime,
    ) -> Result<bool, StoreError> {
        if let DbConnection::Postgres(c) = conn {
            let run =
                sweep_runs::table.find(&self.id).filter(
                    diesel::dsl::sql::<diesel::sql_types::Bool>("EXISTS (SELECT 1 FROM lease)"),
                );
            let lease = sweep_leases::table.filter(renewable(&self.rule, holder, now));
            let saved = With::then(diesel::update(run).set(self))
                .first(
                    "lease",
                    diesel::update(lease)
                        .set(renewal(holder, expires_at))
                        .returning(sweep_leases::rule),
                )
                .execute(c)?;
            return Ok(saved == 1);
        }
        crate::db::write_transaction(conn, |conn| {
            let kept = renew_lease(conn, &self.rule, holder, now, expires_at)?;
            if kept {
                self.save(conn)?;
            }
            Ok(kept)
        })
    }

    pub fn find(conn: &mut DbConnection, id: &SweepId) -> Result<Option<Self>, StoreError> {
        Ok(sweep_runs::table
            .find(id)
            .select(Self::as_select())
            .first(conn)
            .optional()?)
    }

    /// The rule's run that is still marked running: its instance stopped before finishing it.
    pub fn unfinished(conn: &mut DbConnection, rule: &str) -> Result<Option<Self>, StoreError> {
        Ok(sweep_runs::table
            .filter(sweep_runs::rule.eq(rule))
            .filter(sweep_runs::status.eq(RUNNING))
            .order(sweep_runs::started_at.desc())
            .select(Self::as_select())
            .first(conn)
            .optional()?)
    }

    /// Whether a scheduled run of `rule` for the slot `scheduled_for` exists already.
    pub fn slot_taken(
        conn: &mut DbConnection,
        rule: &str,
        scheduled_for: NaiveDateTime,
    ) -> Result<bool, StoreError> {
        let runs: i64 = sweep_runs::table
            .filter(sweep_runs::rule.eq(rule))
            .filter(sweep_runs::scheduled_for.eq(scheduled_for))
            .count()
            .get_result(conn)?;
        Ok(runs > 0)
    }

    /// The newest runs first, optionally of one rule.
    pub fn recent(
        conn: &mut DbConnection,
        rule: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Self>, StoreError> {
        let mut query = sweep_runs::table
            .order((sweep_runs::started_at.desc(), sweep_runs::id.desc()))
            .limit(limit)
            .select(Self::as_select())
            .into_boxed();
        if let Some(rule) = rule {
            query = query.filter(sweep_runs::rule.eq(rule.to_string()));
        }
        Ok(query.load(conn)?)
    }
}

/// Takes or renews the lease on `rule` for `holder` until `expires_at`, if it is free, expired or
/// already `holder`'s. Returns whether `holder` holds it now. Call it outside a transaction: on
/// PostgreSQL the losing insert of a race would abort the caller's transaction.
pub fn take_lease(
    conn: &mut DbConnection,
    rule: &str,
    holder: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> Result<bool, StoreError> {
    let exists: i64 = sweep_leases::table
        .filter(sweep_leases::rule.eq(rule))
        .count()
        .get_result(conn)?;
    if exists == 0 {
        let inserted = diesel::insert_into(sweep_leases::table)
            .values((
                sweep_leases::rule.eq(rule),
                sweep_leases::holder.eq(holder),
                sweep_leases::expires_at.eq(expires_at),
            ))
            .execute(conn);
        match inserted.map_err(StoreError::from) {
            Ok(_) => return Ok(true),
            // Another instance inserted it first; fall through to the conditional update.
            Err(error) if error.is_unique_violation() => {}
            Err(error) => return Err(error),
        }
    }
    renew_lease(conn, rule, holder, now, expires_at)
}

/// Extends `holder`'s lease on `rule`, or takes it over if it expired; false when another
/// instance holds it. Safe inside a transaction.
pub fn renew_lease(
    conn: &mut DbConnection,
    rule: &str,
    holder: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> Result<bool, StoreError> {
    let taken = diesel::update(sweep_leases::table.filter(renewable(rule, holder, now)))
        .set(renewal(holder, expires_at))
        .execute(conn)?;
    Ok(taken == 1)
}

/// The lease on `rule` as `holder` may renew it at `now`: its own, or expired.
#[diesel::dsl::auto_type]
fn renewable<'a>(rule: &'a str, holder: &'a str, now: NaiveDateTime) -> _ {
    sweep_leases::rule.eq(rule).and(
        sweep_leases::expires_at
            .lt(now)
            .or(sweep_leases::holder.eq(holder)),
    )
}

/// The lease given to `holder` until `expires_at`.
#[diesel::dsl::auto_type]
fn renewal<'a>(holder: &'a str, expires_at: NaiveDateTime) -> _ {
    (
        sweep_leases::holder.eq(holder),
        sweep_leases::expires_at.eq(expires_at),
    )
}

/// Who holds the lease on `rule`, if anyone.
pub fn lease_holder(conn: &mut DbConnection, rule: &str) -> Result<Option<String>, StoreError> {
    Ok(sweep_leases::table
        .filter(sweep_leases::rule.eq(rule))
        .select(sweep_leases::holder)
        .first(conn)
        .optional()?)
}

/// Takes the lease on `rule` from `gone` (a holder known to be dead), if it still holds it.
pub fn take_over_lease(
    conn: &mut DbConnection,
    rule: &str,
    gone: &str,
    holder: &str,
    expires_at: NaiveDateTime,
) -> Result<bool, StoreError> {
    let taken = diesel::update(
        sweep_leases::table
            .filter(sweep_leases::rule.eq(rule))
            .filter(sweep_leases::holder.eq(gone)),
    )
    .set((
        sweep_leases::holder.eq(holder),
        sweep_leases::expires_at.eq(expires_at),
    ))
    .execute(conn)?;
    Ok(taken == 1)
}

/// Gives the lease on `rule` up, if `holder` has it.
pub fn release_lease(conn: &mut DbConnection, rule: &str, holder: &str) -> Result<(), StoreError> {
    diesel::delete(
        sweep_leases::table
            .filter(sweep_leases::rule.eq(rule))
            .filter(sweep_leases::holder.eq(holder)),
    )
    .execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = legal_holds, treat_none_as_default_value = false)]
pub struct LegalHoldRow {
    pub id: String,
    pub system_key: Option<String>,
    pub identifier_kind: String,
    pub identifier_index: String,
    pub reason_enc: String,
    pub placed_by: String,
    pub placed_at: NaiveDateTime,
    pub lifted_by: Option<String>,
    pub lifted_at: Option<NaiveDateTime>,
    /// The identifier, sealed; `None` on holds placed before it was kept (their sweeps compare
    /// every row's owner by hash).
    pub identifier_enc: Option<String>,
}

impl LegalHoldRow {
    /// Where the reason of a hold is sealed (also its associated data).
    pub const REASON_PLACE: &'static str = "legal_holds.reason";
    /// Where the identifier of a hold is sealed.
    pub const IDENTIFIER_PLACE: &'static str = "legal_holds.identifier";

    /// The hold's reason, opened. Here beside the row because the holds (retention) and a
    /// request's run (which says why a system's data stays) both read it.
    pub fn reason(&self, cipher: &crate::crypto::Cipher) -> anyhow::Result<String> {
        use anyhow::Context;
        cipher
            .decrypt(Self::REASON_PLACE, &self.reason_enc)
            .context(Self::REASON_PLACE)
    }

    pub fn insert(&self, conn: &mut DbConnection) -> Result<(), StoreError> {
        diesel::insert_into(legal_holds::table)
            .values(self)
            .execute(conn)?;
        Ok(())
    }

    pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<Self>, StoreError> {
        Ok(legal_holds::table
            .find(id)
            .select(Self::as_select())
            .first(conn)
            .optional()?)
    }

    /// Holds in force first, newest first.
    pub fn list(conn: &mut DbConnection, include_lifted: bool) -> Result<Vec<Self>, StoreError> {
        let mut query = legal_holds::table
            .order(legal_holds::placed_at.desc())
            .select(Self::as_select())
            .into_boxed();
        if !include_lifted {
            query = query.filter(legal_holds::lifted_at.is_null());
        }
        Ok(query.load(conn)?)
    }

    /// Marks the hold lifted; false when it was lifted already.
    pub fn lift(
        conn: &mut DbConnection,
        id: &str,
        by: &str,
        at: NaiveDateTime,
    ) -> Result<bool, StoreError> {
        let changed = diesel::update(
            legal_holds::table
                .find(id)
                .filter(legal_holds::lifted_at.is_null()),
        )
        .set((legal_holds::lifted_by.eq(by), legal_holds::lifted_at.eq(at)))
        .execute(conn)?;
        Ok(changed == 1)
    }
}

/// Of these lookup hashes, the ones under a hold in force on `system` (or on every system).
pub fn held_indexes(
    conn: &mut DbConnection,
    system: &str,
    indexes: &[String],
) -> Result<HashSet<String>, StoreError> {
    let mut held = HashSet::new();
    for chunk in indexes.chunks(LOOKUP_CHUNK) {
        let found: Vec<String> = legal_holds::table
            .filter(legal_holds::lifted_at.is_null())
            .filter(
                legal_holds::system_key
                    .is_null()
                    .or(legal_holds::system_key.eq(system)),
            )
            .filter(legal_holds::identifier_index.eq_any(chunk))
            .select(legal_holds::identifier_index)
            .load(conn)?;
        held.extend(found);
    }
    Ok(held)
}

/// The holds in force on `system` or on every system.
pub fn in_force_on(system: &str) -> legal_holds::BoxedQuery<'_, DbBackend> {
    legal_holds::table
        .filter(legal_holds::lifted_at.is_null())
        .filter(
            legal_holds::system_key
                .is_null()
                .or(legal_holds::system_key.eq(system)),
        )
        .into_boxed()
}

type DbBackend = <DbConnection as diesel::Connection>::Backend;

/// The kind, lookup hash and sealed identifier (where kept) of every hold in force on `system`
/// (or on every system): few, so a sweep reads them once and compares each row with them in
/// memory.
pub fn holds_in_force(
    conn: &mut DbConnection,
    system: &str,
) -> Result<Vec<(String, String, Option<String>)>, StoreError> {
    Ok(in_force_on(system)
        .select((
            legal_holds::identifier_kind,
            legal_holds::identifier_index,
            legal_holds::identifier_enc,
        ))
        .load(conn)?)
}

/// The identifiers (e-mail, customer number, phone) of every request in one of `open_states`,
/// as lookup hashes and sealed; found through the index on the state, so the cost follows the
/// requests in progress, not every request ever made.
pub fn open_requests_identifiers(
    conn: &mut DbConnection,
    open_states: &[&str],
) -> Result<Vec<OpenIdentifiers>, StoreError> {
    Ok(requests::table
        .filter(requests::state.eq_any(open_states))
        .select(OpenIdentifiers::as_select())
        .load(conn)?)
}

/// An open request's identifiers: each as its lookup hash and sealed.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = requests)]
pub struct OpenIdentifiers {
    pub email_index: Option<String>,
    pub customer_number_index: Option<String>,
    pub phone_index: Option<String>,
    pub email_enc: Option<String>,
    pub customer_number_enc: Option<String>,
    pub phone_enc: Option<String>,
}

/// What the holds and open requests a sweep honours looked like: when it is still the same,
/// so are they, and the sweep need not read them again. Holds are only ever added and lifted
/// (counts); an open request that appears, changes or closes moves the count, the sum of the
/// versions (every update adds one) or the latest update.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct ExceptionsStamp {
    holds: Option<i64>,
    lifted: Option<i64>,
    open: Option<i64>,
    versions: Option<i64>,
    latest: Option<NaiveDateTime>,
}

/// The [`ExceptionsStamp`] as of now, in one statement (a sweep asks before every group of
/// batches, and on PostgreSQL each statement is a round trip): small aggregates over the holds
/// and over the open requests only (through the index on the state).
pub fn exceptions_stamp(
    conn: &mut DbConnection,
    open_states: &[&str],
) -> Result<ExceptionsStamp, StoreError> {
    use diesel::dsl::{count, count_star, max, sum};
    let open = || requests::table.filter(requests::state.eq_any(open_states));
    Ok(diesel::select((
        legal_holds::table.select(count_star()).single_value(),
        legal_holds::table
            .select(count(legal_holds::lifted_at))
            .single_value(),
        open().select(count_star()).single_value(),
        open().select(sum(requests::version)).single_value(),
        open().select(max(requests::updated_at)).single_value(),
    ))
    .get_result(conn)?)
}

/// Hashes bound per query: three lists of it stay far below SQLite's and PostgreSQL's limits.
const LOOKUP_CHUNK: usize = 1000;
