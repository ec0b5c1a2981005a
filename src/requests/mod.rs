//! Data-subject requests: intake, the legal deadline, the lifecycle, the checklist and the letters.
//!
//! Every operation loads the request as a [`case::Case`], changes it, and saves it with its audit
//! event and any letter in one transaction: a state change without its letter in the outbox, or a
//! letter without its state change, cannot be committed.

pub mod answer;
pub mod case;
pub mod checklist;
pub mod choices;
pub mod deadline;
pub mod first_line;
pub mod grounds;
pub mod intake;
pub mod kept;
pub mod letters;
pub mod lifecycle;
mod notify;
pub mod overview;
pub mod owners;
pub mod public;
pub mod reindex;
pub mod reminders;
pub mod requester;
pub mod run;
pub mod tasks;
pub mod view;

use crate::audit::Actor;
use crate::auth::{Role, TokenService};
use crate::crypto::Cipher;
use crate::db::Store;
use crate::ids::{RequestId, Username};
use crate::policies::Policies;
use anyhow::Context;
use futures_util::future::BoxFuture;
use std::sync::Arc;

/// The audience of the status links sent to people.
pub const STATUS_LINK_AUDIENCE: &str = "loket-status";
/// The audience of package download links (signed for the answer letter, checked by
/// `packages::download`): never valid as a status link or an API token.
pub const DOWNLOAD_LINK_AUDIENCE: &str = "loket-package";

/// A member of staff acting on a request.
#[derive(Debug, Clone)]
pub struct Staff {
    pub username: Username,
    pub role: Role,
}

impl Staff {
    pub fn actor(&self) -> Actor {
        Actor::User {
            username: self.username.to_string(),
        }
    }
}

/// Called after a transaction that queued mail has committed, to wake the delivery worker.
pub type MailQueued = Arc<dyn Fn() + Send + Sync>;

/// What a build read of one system: rows per table and the SHA-256 of the rows as read (each
/// row's JSON followed by a newline, tables in package order): the evidence of an export.
#[derive(Debug, Clone, Default)]
pub struct SystemRead {
    pub rows: crate::connectors::TableCounts,
    pub sha256: String,
}

/// Builds the package of a request as the runner and returns its id; the build settles the
/// tasks its read answers ([`RequestService::record_package_read`]). Packages read requests, so
/// request handling reaches them only through this hook, set where the services are wired
/// ([`RequestService::with_package_builder`]).
pub type BuildPackage = Arc<
    dyn Fn(
            RequestService,
            run::Runner,
            crate::ids::RequestId,
        ) -> BoxFuture<'static, crate::error::Result<crate::ids::PackageId>>
        + Send
        + Sync,
>;

/// Everything request handling needs, cheap to clone into each blocking database closure.
#[derive(Clone)]
pub struct RequestService {
    pub(crate) store: Store,
    pub(crate) cipher: Cipher,
    pub(crate) policies: Arc<Policies>,
    pub(crate) links: TokenService,
    /// The base of links in letters, without a trailing slash.
    pub(crate) public_url: String,
    /// The From address, used as the organisation's contact when the catalog names none.
    pub(crate) mail_from: String,
    pub(crate) mail_queued: MailQueued,
    /// The systems whose checklist tasks loket can run itself.
    pub(crate) connectors: crate::connectors::Connectors,
    /// Builds packages for `requests.run_automatically`; without it the export tasks run one
    /// by one.
    pub(crate) build_package: Option<BuildPackage>,
    /// The catalog, read again only when it changed.
    pub(crate) catalog: letters::CatalogCache,
    /// What a request set running in the background, to be awaited.
    pub(crate) background: Background,
}

/// The work requests start in the background (their tasks run once identity is verified),
/// kept so that it can be awaited: by a test, one step at a time instead of polling for its
/// effect.
#[derive(Clone, Default)]
pub struct Background(Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>);

impl Background {
    pub(crate) fn spawn(&self, work: impl std::future::Future<Output = ()> + Send + 'static) {
        let handle = tokio::spawn(work);
        let mut running = self.0.lock().unwrap_or_else(|e| e.into_inner());
        running.retain(|h| !h.is_finished());
        running.push(handle);
    }

    /// Waits until all background work started so far, and any it started in turn, is done.
    pub async fn settle(&self) {
        loop {
            let running = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
            if running.is_empty() {
                return;
            }
            for handle in running {
                // A panicked task was logged by tokio; what is left is the next round's.
                let _ = handle.await;
            }
        }
    }
}

impl std::fmt::Debug for RequestService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestService")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl RequestService {
    pub fn new(
        store: Store,
        cipher: Cipher,
        policies: Arc<Policies>,
        links: TokenService,
        public_url: &str,
        mail_from: &str,
    ) -> Self {
        let catalog = letters::CatalogCache::watching(store.notices().clone());
        RequestService {
            store,
            cipher,
            policies,
            links,
            public_url: public_url.trim_end_matches('/').to_string(),
            mail_from: mail_from.to_string(),
            mail_queued: Arc::new(|| {}),
            connectors: crate::connectors::Connectors::default(),
            build_package: None,
            catalog,
            background: Background::default(),
        }
    }

    /// The work this service set running in the background.
    pub fn background(&self) -> Background {
        self.background.clone()
    }

    /// Sets what to call after mail was queued (the outbox worker's wake-up).
    pub fn on_mail_queued(mut self, notify: MailQueued) -> Self {
        self.mail_queued = notify;
        self
    }

    /// Lets checklist tasks on reachable systems be run through their connectors.
    pub fn with_connectors(mut self, connectors: crate::connectors::Connectors) -> Self {
        self.connectors = connectors;
        self
    }

    /// Lets an access or portability request be answered by a package built by loket itself.
    pub fn with_package_builder(mut self, build: BuildPackage) -> Self {
        self.build_package = Some(build);
        self
    }

    /// The keys of the catalog's systems loket reaches through a connector: their tasks can be
    /// run from the desk.
    pub async fn reachable_systems(
        &self,
    ) -> crate::error::Result<std::collections::BTreeSet<String>> {
        let systems = crate::catalog::list::<crate::catalog::model::System>(&self.store).await?;
        Ok(systems
            .into_iter()
            .filter(|system| self.connectors.reaches_any(system))
            .map(|system| system.key)
            .collect())
    }

    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    /// The link to a request's status page, valid for the policy's number of days.
    pub(crate) fn status_url(&self, request_id: &RequestId) -> crate::error::Result<String> {
        let ttl = self.policies.requests.status_link_days * 24 * 3600;
        let token = self
            .links
            .issue_link(STATUS_LINK_AUDIENCE, request_id, ttl)
            .context("could not sign a status link")?;
        Ok(format!("{}/status/{token}", self.public_url))
    }
}

/// Today in the Netherlands: deadlines are counted in Dutch calendar days.
pub fn today() -> chrono::NaiveDate {
    // Europe/Amsterdam is UTC+1 or +2; without a time-zone database the later offset is used
    // only in summer. Deadlines are whole days, so the hour around midnight is what matters.
    let now = chrono::Utc::now();
    let offset_hours = if is_dutch_summer_time(now) { 2 } else { 1 };
    (now + chrono::TimeDelta::hours(offset_hours)).date_naive()
}

/// Central European Summer Time: from 01:00 UTC on the last Sunday of March to 01:00 UTC on the
/// last Sunday of October.
fn is_dutch_summer_time(now: chrono::DateTime<chrono::Utc>) -> bool {
    use chrono::{Datelike, TimeZone};
    let last_sunday = |month: u32| {
        let first_of_next = chrono::NaiveDate::from_ymd_opt(now.year(), month + 1, 1)
            .expect("March and October have a following month");
        let last = first_of_next.pred_opt().expect("a day before the first");
        let back = last.weekday().num_days_from_sunday();
        last - chrono::TimeDelta::days(i64::from(back))
    };
    let at_one = |date: chrono::NaiveDate| {
        chrono::Utc.from_utc_datetime(&date.and_hms_opt(1, 0, 0).expect("01:00 exists"))
    };
    now >= at_one(last_sunday(3)) && now < at_one(last_sunday(10))
}

/// The Dutch calendar date of a stored UTC time.
pub fn dutch_date(at: chrono::NaiveDateTime) -> chrono::NaiveDate {
    dutch_time(at).date()
}

/// A stored UTC time as the clock in Amsterdam shows it.
pub fn dutch_time(at: chrono::NaiveDateTime) -> chrono::NaiveDateTime {
    use chrono::TimeZone;
    let utc = chrono::Utc.from_utc_datetime(&at);
    let offset_hours = if is_dutch_summer_time(utc) { 2 } else { 1 };
    at + chrono::TimeDelta::hours(offset_hours)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn utc(y: i32, m: u32, d: u32, h: u32) -> chrono::NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
    }

    #[test]
    fn dutch_dates_follow_summer_and_winter_time() {
        // 23:30 UTC in winter is 00:30 the next day in Amsterdam.
        assert_eq!(
            dutch_date(utc(2026, 1, 5, 23)),
            NaiveDate::from_ymd_opt(2026, 1, 6).unwrap()
        );
        // 22:00 UTC in summer is midnight.
        assert_eq!(
            dutch_date(utc(2026, 7, 5, 22)),
            NaiveDate::from_ymd_opt(2026, 7, 6).unwrap()
        );
        assert_eq!(
            dutch_date(utc(2026, 7, 5, 21)),
            NaiveDate::from_ymd_opt(2026, 7, 5).unwrap()
        );
    }
}
