//! Outgoing webhooks: subscriptions, the events emitted once each, and one delivery per event and
//! subscription. The secret is ciphertext here; payloads hold no personal data by construction
//! (see `crate::webhooks`).
//!
//! Deliveries are claimed like the mail outbox's messages, in groups ([`claim_group`]): a
//! conditional UPDATE moves `next_attempt_at` past a lease, and only the worker whose UPDATE
//! changed the row sends it.

use crate::db::notices::{ChangeNotices, Token, Topic};
use crate::db::schema::{
    daily_job_runs, webhook_deliveries, webhook_events, webhook_subscriptions,
};
use crate::db::{DbConnection, StoreError};
use crate::vocabulary::WebhookEvent;
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use std::cell::{Cell, RefCell};
use std::sync::{Arc, Mutex};

pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = webhook_subscriptions, treat_none_as_default_value = false)]
pub struct SubscriptionRow {
    pub id: String,
    pub url: String,
    pub description: Option<String>,
    pub secret_enc: String,
    pub events: String,
    pub active: bool,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_events, treat_none_as_default_value = false)]
pub struct EventRow {
    pub id: String,
    pub event: WebhookEvent,
    pub dedup_key: Option<String>,
    pub payload: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_deliveries, treat_none_as_default_value = false)]
pub struct DeliveryRow {
    pub id: String,
    pub event_id: String,
    pub subscription_id: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub last_error: Option<String>,
    pub last_status_code: Option<i32>,
    pub created_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
}

thread_local! {
    /// The subscriptions as read in a write transaction of this thread, with its number
    /// ([`super::audit::open_transaction`]).
    static READ_IN: RefCell<Option<(u64, Arc<[SubscriptionRow]>)>> = const { RefCell::new(None) };
    /// The write transaction of this thread that changed subscriptions: what it reads is not
    /// committed, so it is neither kept for other transactions nor served from their copy.
    static CHANGED_IN: Cell<Option<u64>> = const { Cell::new(None) };
    /// The copy of the store whose work runs on this thread (see [`KeptSubscriptions::scope`]).
    static KEPT: RefCell<Option<Arc<KeptSubscriptions>>> = const { RefCell::new(None) };
}

/// The subscriptions as a store last read them, kept while its notices say none changed (see
/// [`crate::db::notices`]): on PostgreSQL every change of a request read them, a round trip
/// of every intake, though they change a few times a year.
#[derive(Debug)]
pub struct KeptSubscriptions {
    notices: Arc<ChangeNotices>,
    kept: Mutex<Option<(Token, Arc<[SubscriptionRow]>)>>,
}

impl KeptSubscriptions {
    pub fn new(notices: Arc<ChangeNotices>) -> Self {
        KeptSubscriptions {
            notices,
            kept: Mutex::new(None),
        }
    }

    /// Runs `work` with this copy as the one the reads on this thread use.
    pub fn scope<T>(self: &Arc<Self>, work: impl FnOnce() -> T) -> T {
        struct Restore(Option<Arc<KeptSubscriptions>>);
        impl Drop for Restore {
            fn drop(&mut self) {
                KEPT.with(|kept| *kept.borrow_mut() = self.0.take());
            }
        }
        let _restore = Restore(KEPT.with(|kept| kept.replace(Some(self.clone()))));
        work()
    }

    /// The copy, if the notices still vouch for it.
    fn current(&self) -> Option<Arc<[SubscriptionRow]>> {
        let kept = self.lock();
        let (token, rows) = kept.as_ref()?;
        self.notices
            .is_current(Topic::Webhooks, *token)
            .then(|| rows.clone())
    }

    fn keep(&self, token: Token, rows: Arc<[SubscriptionRow]>) {
        *self.lock() = Some((token, rows));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Token, Arc<[SubscriptionRow]>)>> {
        self.kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl SubscriptionRow {
    pub fn insert(&self, conn: &mut DbConnection) -> Result<(), StoreError> {
        forget_read();
        diesel::insert_into(webhook_subscriptions::table)
            .values(self)
            .execute(conn)?;
        Ok(())
    }

    pub fn update(&self, conn: &mut DbConnection) -> Result<(), StoreError> {
        forget_read();
        diesel::update(webhook_subscriptions::table.find(&self.id))
            .set(self)
            .execute(conn)?;
        Ok(())
    }

    pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<Self>, StoreError> {
        Ok(webhook_subscriptions::table
            .find(id)
            .select(Self::as_select())
            .first(conn)
            .optional()?)
    }

    /// Every subscription, oldest first.
    pub fn list(conn: &mut DbConnection) -> Result<Vec<Self>, StoreError> {
        Ok(webhook_subscriptions::table
            .order((
                webhook_subscriptions::created_at.asc(),
                webhook_subscriptions::id.asc(),
            ))
            .select(Self::as_select())
            .load(conn)?)
    }

    /// Every subscription, read once per write transaction: a change of a request emits an
    /// event for each step it records (an intake two), and each would read them again. Inside
    /// the transaction only its own changes could move them, and those forget the read.
    ///
    /// Between transactions, the store's copy is used while its notices vouch for it.
    pub fn list_once(conn: &mut DbConnection) -> Result<Arc<[Self]>, StoreError> {
        let transaction = super::audit::open_transaction();
        let changed_here = transaction.is_some() && CHANGED_IN.with(Cell::get) == transaction;
        let copy = match changed_here {
            true => None,
            false => KEPT.with(|kept| kept.borrow().clone()),
        };
        if let Some(rows) = copy.as_ref().and_then(|copy| copy.current()) {
            return Ok(rows);
        }
        let read_in = |number| {
            READ_IN.with(|read| match &*read.borrow() {
                Some((read_in, rows)) if *read_in == number => Some(rows.clone()),
                _ => None,
            })
        };
        if let Some(rows) = transaction.and_then(read_in) {
            return Ok(rows);
        }
        // The token before the read: a change committed meanwhile makes the copy stale.
        let token = copy
            .as_ref()
            .and_then(|copy| copy.notices.token(Topic::Webhooks));
        let rows: Arc<[Self]> = Self::list(conn)?.into();
        if let Some(transaction) = transaction {
            READ_IN.with(|read| *read.borrow_mut() = Some((transaction, rows.clone())));
        }
        if let (Some(copy), Some(token)) = (copy, token) {
            copy.keep(token, rows.clone());
        }
        Ok(rows)
    }

    /// Deletes the subscription with its deliveries; whether it existed.
    pub fn delete(conn: &mut DbConnection, id: &str) -> Result<bool, StoreError> {
        forget_read();
        diesel::delete(
            webhook_deliveries::table.filter(webhook_deliveries::subscription_id.eq(id)),
        )
        .execute(conn)?;
        let deleted = diesel::delete(webhook_subscriptions::table.find(id)).execute(conn)?;
        Ok(deleted == 1)
    }
}

/// This thread's transaction changes subscriptions: what it read of them is out of date, and
/// what it reads from now on is its own (see [`CHANGED_IN`]).
fn forget_read() {
    READ_IN.with(|read| read.borrow_mut().take());
    CHANGED_IN.with(|changed| changed.set(super::audit::open_transaction()));
}

/// Stores an event once. With a dedup key already used, nothing is stored and `false` returned.
pub fn insert_event(conn: &mut DbConnection, row: &EventRow) -> Result<bool, StoreError> {
    if let Some(key) = &row.dedup_key {
        let seen: i64 = webhook_events::table
            .filter(webhook_events::dedup_key.eq(key))
            .count()
            .get_result(conn)?;
        if seen > 0 {
            return Ok(false);
        }
    }
    diesel::insert_into(webhook_events::table)
        .values(row)
        .execute(conn)?;
    Ok(true)
}

pub fn insert_deliveries(conn: &mut DbConnection, rows: &[DeliveryRow]) -> Result<(), StoreError> {
    // One per subscription, and subscriptions are few.
    for row in rows {
        diesel::insert_into(webhook_deliveries::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

/// One page of deliveries, newest first, optionally of one subscription; with the total.
pub fn deliveries_page(
    conn: &mut DbConnection,
    subscription: Option<&str>,
    offset: i64,
    limit: i64,
) -> Result<(Vec<(DeliveryRow, String)>, i64), StoreError> {
    let filtered = || {
        let mut query = webhook_deliveries::table
            .inner_join(webhook_events::table)
            .into_boxed();
        if let Some(id) = subscription {
            query = query.filter(webhook_deliveries::subscription_id.eq(id.to_string()));
        }
        query
    };
    let total = filtered().count().get_result(conn)?;
    let rows = filtered()
        .order((
            webhook_deliveries::created_at.desc(),
            webhook_deliveries::id.desc(),
        ))
        .offset(offset)
        .limit(limit)
        .select((DeliveryRow::as_select(), webhook_events::event))
        .load(conn)?;
    Ok((rows, total))
}

super::queue::retried_queue!(webhook_deliveries, DeliveryRow, last_status_code: Option<i32>);

/// A claimed delivery with what sending it takes.
pub struct ClaimedRow {
    pub delivery: DeliveryRow,
    pub event: EventRow,
    pub subscription: SubscriptionRow,
}

/// Takes at most `limit` due deliveries until `lease_until` (see `take_due_group`), oldest
/// first, each with its event and subscription: read in one join after the claim.
pub fn claim_group(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> Result<Vec<ClaimedRow>, StoreError> {
    let taken = take_due_group(conn, now, lease_until, limit)?;
    if taken.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = taken.iter().map(|row| row.id.as_str()).collect();
    let mut joined: std::collections::HashMap<String, (EventRow, SubscriptionRow)> =
        webhook_deliveries::table
            .inner_join(webhook_events::table)
            .inner_join(webhook_subscriptions::table)
            .filter(webhook_deliveries::id.eq_any(&ids))
            .select((
                webhook_deliveries::id,
                EventRow::as_select(),
                SubscriptionRow::as_select(),
            ))
            .load::<(String, EventRow, SubscriptionRow)>(conn)?
            .into_iter()
            .map(|(id, event, subscription)| (id, (event, subscription)))
            .collect();
    // The deliveries as the claim returned them (attempt counted), in its order.
    Ok(taken
        .into_iter()
        .filter_map(|delivery| {
            let (event, subscription) = joined.remove(&delivery.id)?;
            Some(ClaimedRow {
                delivery,
                event,
                subscription,
            })
        })
        .collect())
}

pub fn mark_delivered(
    conn: &mut DbConnection,
    id: &str,
    status_code: i32,
    now: NaiveDateTime,
) -> Result<(), StoreError> {
    diesel::update(webhook_deliveries::table.find(id))
        .set((
            webhook_deliveries::status.eq(DELIVERED),
            webhook_deliveries::delivered_at.eq(Some(now)),
            webhook_deliveries::last_status_code.eq(Some(status_code)),
            webhook_deliveries::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Marks `job` as run on `day`; `false` when some instance already did (the job is skipped).
pub fn claim_daily_job(
    conn: &mut DbConnection,
    job: &str,
    day: NaiveDate,
    now: NaiveDateTime,
) -> Result<bool, StoreError> {
    let seen: i64 = daily_job_runs::table
        .filter(daily_job_runs::job.eq(job))
        .filter(daily_job_runs::day.eq(day))
        .count()
        .get_result(conn)?;
    if seen > 0 {
        return Ok(false);
    }
    diesel::insert_into(daily_job_runs::table)
        .values((
            daily_job_runs::job.eq(job),
            daily_job_runs::day.eq(day),
            daily_job_runs::started_at.eq(now),
        ))
        .execute(conn)?;
    Ok(true)
}
