//! The delivery worker: a tokio task that sends what the outbox holds.
//!
//! Every `mail.poll_interval_ms` (or at once when woken) it claims the due messages in groups
//! (so two loket instances on one PostgreSQL database never send the same message), then sends
//! and records each, a few at a time. A failed attempt is retried after a delay that starts at
//! `mail.backoff_base_ms` and doubles up to `mail.backoff_max_ms`; after `mail.max_attempts`
//! attempts the message is marked failed for a person to look at. Logs name message ids,
//! attempts and error kinds only: never a recipient, subject or body.
//!
//! The same loop delivers the outgoing webhooks (`crate::webhooks::delivery`) the same way, in
//! groups with a few in flight and with the same retry policy: the outbox has two kinds,
//! letters and webhook deliveries. No database connection is held while a mail server or a
//! receiver is waited for.
//!
//! A claim is a lease: if an instance dies mid-send, the message becomes due again when the lease
//! runs out, so it is delivered at least once, and exactly once unless an instance crashes
//! between handing the message to the server and recording it. The lease of a group lasts as
//! long as sending all of it can take; a worker that stops before the end of its group gives
//! the rest back at once.

use super::letters::MailError;
use super::outbox::{self, ClaimOutcome, Claimed};
use super::transport::{Outgoing, SendFailure, Transport};
use crate::config::{MailSettings, Settings};
use crate::crypto::Cipher;
use crate::db::{DbConnection, Store, StoreError};
use crate::webhooks::delivery::{self, Attempt, ClaimedRow, StepReport};
use chrono::NaiveDateTime;
use lettre::message::Mailbox;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

/// Messages (and webhook deliveries) claimed at once, then sent [`IN_FLIGHT`] at a time: one
/// claim (two statements) for the group instead of a lookup and a claim per message, which made
/// the worker deliver slower than a busy desk registers requests. A full group means another
/// follows at once.
const GROUP: i64 = 16;
/// Messages of a group in flight at once: one after the other, each waits for the mail server's
/// answer and then for its record of delivery to commit before the next begins.
const IN_FLIGHT: usize = 4;

/// Keeps the running worker. Dropping it stops the worker after the messages it is sending.
pub struct WorkerHandle {
    waker: MailWaker,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl WorkerHandle {
    /// Delivers due mail now instead of at the next poll; call after committing an enqueue.
    pub fn wake(&self) {
        self.waker.wake();
    }

    /// A cheap, cloneable way to wake the worker, for code that does not own the handle.
    pub fn waker(&self) -> MailWaker {
        self.waker.clone()
    }

    /// Stops the worker and waits until it has finished the messages in hand.
    pub async fn shutdown(mut self) -> Result<(), MailError> {
        self.stop.take();
        match self.task.take() {
            Some(task) => task.await.map_err(|e| MailError::Worker(e.to_string())),
            None => Ok(()),
        }
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        // Dropping the sender is the stop signal; the task ends at its next check.
        self.stop.take();
    }
}

#[derive(Clone, Default)]
pub struct MailWaker(Arc<Notify>);

impl MailWaker {
    pub fn wake(&self) {
        // Stored when the worker is busy, so an enqueue during a round is not missed.
        self.0.notify_one();
    }
}

impl std::fmt::Debug for MailWaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MailWaker")
    }
}

/// Starts the delivery worker on the current tokio runtime.
pub fn spawn(store: Store, cipher: Cipher, settings: &Settings) -> Result<WorkerHandle, MailError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| MailError::NoRuntime)?;
    let worker = Worker::new(store, cipher, settings)?;
    let waker = worker.waker.clone();
    let (stop, stopped) = oneshot::channel();
    let task = runtime.spawn(worker.run(stopped));
    tracing::info!(transport = ?settings.mail.transport, "mail worker started");
    Ok(WorkerHandle {
        waker,
        stop: Some(stop),
        task: Some(task),
    })
}

/// The delivery worker without its loop, driven one round at a time: what the tests use
/// instead of sleeping until the background loop has come round.
pub struct Stepper(Worker);

impl Stepper {
    pub fn new(store: Store, cipher: Cipher, settings: &Settings) -> Result<Self, MailError> {
        Ok(Stepper(Worker::new(store, cipher, settings)?))
    }

    /// One round of the background loop: delivers (or tries once) every message due now, then
    /// returns. A failed attempt is due again after the configured backoff, as in the loop.
    pub async fn run_once(&self) {
        // Nobody stops a single round: the sender lives until it is over.
        let (_running, mut stopped) = oneshot::channel::<()>();
        self.0.deliver_due(&mut stopped).await;
    }

    /// One round of webhook deliveries as if it were `now`: every delivery due then is tried
    /// once; a failed one is due again after the configured backoff from `now`.
    pub async fn deliver_webhooks_at(&self, now: NaiveDateTime) -> StepReport {
        let (_running, mut stopped) = oneshot::channel::<()>();
        self.0.deliver_webhooks(Some(now), &mut stopped).await.1
    }
}

/// When to look again and when to give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RetryPolicy {
    poll: Duration,
    max_attempts: i32,
    base: Duration,
    max: Duration,
    /// How long a claimed message is held: longer than any SMTP conversation can last.
    lease: Duration,
    /// The longest one SMTP conversation may take (`mail.smtp_timeout_secs`).
    send_timeout: Duration,
}

impl RetryPolicy {
    fn from_settings(mail: &MailSettings) -> Result<Self, MailError> {
        if mail.poll_interval_ms == 0 || mail.max_attempts < 1 || mail.backoff_base_ms == 0 {
            return Err(MailError::Config(
                "mail.poll_interval_ms, mail.max_attempts and mail.backoff_base_ms must be at least 1"
                    .into(),
            ));
        }
        Ok(RetryPolicy {
            poll: Duration::from_millis(mail.poll_interval_ms),
            max_attempts: mail.max_attempts,
            base: Duration::from_millis(mail.backoff_base_ms),
            max: Duration::from_millis(mail.backoff_max_ms.max(mail.backoff_base_ms)),
            lease: Duration::from_secs(mail.smtp_timeout_secs.max(1) * 4 + 60),
            send_timeout: Duration::from_secs(mail.smtp_timeout_secs.max(1)),
        })
    }

    /// The lease of a group of `size` messages: long enough even when they go one after the
    /// other and each takes the whole send timeout.
    fn group_lease(&self, size: i64) -> Duration {
        let others = u32::try_from(size.saturating_sub(1)).unwrap_or(u32::MAX);
        self.lease
            .saturating_add(self.send_timeout.saturating_mul(others))
    }

    /// The wait after failed attempt number `attempts` (1-based): base, 2 × base, 4 × base, …
    fn backoff(&self, attempts: i32) -> Duration {
        let doublings = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(31);
        self.base.saturating_mul(1 << doublings).min(self.max)
    }

    /// When to try again after attempt `attempts` failed, or `None` to give up.
    fn retry_at(
        &self,
        now: NaiveDateTime,
        attempts: i32,
        permanent: bool,
    ) -> Option<NaiveDateTime> {
        if permanent || attempts >= self.max_attempts {
            return None;
        }
        Some(now + to_chrono(self.backoff(attempts)))
    }
}

fn to_chrono(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

#[derive(Debug, PartialEq, Eq)]
enum Round {
    Done,
    Stopped,
}

struct Worker {
    store: Store,
    cipher: Cipher,
    transport: Transport,
    from: Mailbox,
    policy: RetryPolicy,
    waker: MailWaker,
    webhooks: delivery::Sender,
}

impl Worker {
    fn new(store: Store, cipher: Cipher, settings: &Settings) -> Result<Self, MailError> {
        let policy = RetryPolicy::from_settings(&settings.mail)?;
        let from: Mailbox = settings.mail.from.parse().map_err(|_| {
            MailError::Config(
                "mail.from must be an address like `Name <privacy@example.nl>`".into(),
            )
        })?;
        let webhooks = delivery::Sender::new(cipher.clone())
            .map_err(|e| MailError::Config(format!("webhook client: {e}")))?;
        Ok(Worker {
            store,
            cipher,
            webhooks,
            transport: Transport::from_settings(settings)?,
            from,
            policy,
            waker: MailWaker::default(),
        })
    }

    async fn run(self, mut stopped: oneshot::Receiver<()>) {
        loop {
            if self.deliver_due(&mut stopped).await == Round::Stopped {
                break;
            }
            if self.deliver_webhooks(None, &mut stopped).await.0 == Round::Stopped {
                break;
            }
            tokio::select! {
                _ = &mut stopped => break,
                _ = self.waker.0.notified() => {}
                _ = tokio::time::sleep(self.policy.poll) => {}
            }
        }
        tracing::info!("mail worker stopped");
    }

    /// Delivers everything that is due, round after round, until nothing is or a stop is asked.
    /// Once the stop is seen the receiver is spent, so the caller must not wait on it again.
    async fn deliver_due(&self, stopped: &mut oneshot::Receiver<()>) -> Round {
        loop {
            let now = crate::db::now();
            let lease_until = now + to_chrono(self.policy.group_lease(GROUP));
            let cipher = self.cipher.clone();
            let claimed = self
                .store
                .write_statements(move |c| outbox::claim_group(c, &cipher, now, lease_until, GROUP))
                .await;
            let claimed = match claimed {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::warn!(%error, "mail worker could not claim from the outbox");
                    return Round::Done;
                }
            };
            let full = claimed.len() as i64 == GROUP;
            let unsent = self.deliver_group(claimed, stopped).await;
            if !unsent.is_empty() {
                self.release(unsent).await;
                return Round::Stopped;
            }
            if !full {
                return Round::Done;
            }
        }
    }

    /// Sends and records the messages of a claimed group (see [`in_flight`]). Returns the ids of
    /// those it did not start.
    ///
    /// The letters sent are marked together once the group is through, in one statement: one
    /// per letter was a statement of every intake on a busy desk. A crash before that mark
    /// sends the group's letters again when their lease ends, as a crash between a send and its
    /// own mark did for one letter.
    async fn deliver_group(
        &self,
        claimed: Vec<(String, ClaimOutcome)>,
        stopped: &mut oneshot::Receiver<()>,
    ) -> Vec<String> {
        let (outcomes, unsent) = in_flight(claimed, stopped, |id, message| async move {
            match self.deliver(id.clone(), message).await {
                Ok(sent_at) => sent_at.map(|at| (id, at)),
                Err(error) => {
                    tracing::warn!(outbox_id = %id, %error, "mail worker could not record a failed delivery");
                    None
                }
            }
        })
        .await;
        let sent: Vec<(String, NaiveDateTime)> = outcomes.into_iter().flatten().collect();
        if !sent.is_empty() {
            self.write_ids(
                sent,
                outbox::record_sent,
                "could not mark sent letters; they are sent again when their lease ends",
            )
            .await;
        }
        unsent
    }

    /// Gives back the claimed messages a stopping worker did not come to.
    async fn release(&self, unsent: Vec<String>) {
        self.write_ids(
            unsent,
            outbox::release,
            "could not give back unsent messages; they are due again when their lease ends",
        )
        .await;
    }

    /// Records something of the messages `ids` by `write`; a failure is logged with `failed`,
    /// since what it leaves undone the messages' leases set right.
    async fn write_ids<T: Send + 'static>(
        &self,
        ids: Vec<T>,
        write: fn(&mut DbConnection, &[T]) -> Result<(), StoreError>,
        failed: &'static str,
    ) {
        let count = ids.len();
        if let Err(error) = self.store.write_statements(move |c| write(c, &ids)).await {
            tracing::warn!(%error, count, "mail worker {failed}");
        }
    }

    /// Delivers the webhook deliveries due, group after group, as [`Worker::deliver_due`] the
    /// letters; at `now` when given, else by the clock. What the round did, for tests.
    async fn deliver_webhooks(
        &self,
        now: Option<NaiveDateTime>,
        stopped: &mut oneshot::Receiver<()>,
    ) -> (Round, StepReport) {
        let clock = || now.unwrap_or_else(crate::db::now);
        let mut report = StepReport::default();
        let at = clock();
        match self.store.read(move |c| delivery::any_due(c, at)).await {
            Ok(true) => {}
            Ok(false) => return (Round::Done, report),
            Err(error) => {
                tracing::warn!(%error, "webhook deliveries could not be looked up");
                return (Round::Done, report);
            }
        }
        loop {
            let at = clock();
            let claimed = self
                .store
                .write_statements(move |c| delivery::claim_group(c, at, GROUP))
                .await;
            let claimed = match claimed {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::warn!(%error, "webhook deliveries could not be claimed");
                    return (Round::Done, report);
                }
            };
            let full = claimed.len() as i64 == GROUP;
            let claimed = claimed
                .into_iter()
                .map(|row| (row.delivery.id.clone(), row))
                .collect();
            let (attempts, unsent) = in_flight(claimed, stopped, |id, row| {
                self.deliver_webhook(id, row, clock)
            })
            .await;
            attempts.iter().for_each(|attempt| report.count(attempt));
            if !unsent.is_empty() {
                let count = unsent.len();
                let released = self
                    .store
                    .write_statements(move |c| delivery::release(c, &unsent))
                    .await;
                if let Err(error) = released {
                    tracing::warn!(%error, count, "webhook deliveries not given back; they are due again when their lease ends");
                }
                return (Round::Stopped, report);
            }
            if !full {
                return (Round::Done, report);
            }
        }
    }

    /// Sends one claimed webhook delivery and records how it went.
    async fn deliver_webhook(
        &self,
        id: String,
        claimed: ClaimedRow,
        clock: impl Fn() -> NaiveDateTime,
    ) -> Attempt {
        let attempt = self.webhooks.send(&claimed).await;
        let now = clock();
        let retry_at = self.policy.retry_at(now, claimed.delivery.attempts, false);
        let (recorded, delivery_id) = (attempt.clone(), id.clone());
        if let Err(error) = self
            .store
            .write_statements(move |c| delivery::record(c, &id, &recorded, now, retry_at))
            .await
        {
            tracing::warn!(delivery = %delivery_id, %error, "webhook delivery could not be recorded");
        }
        attempt
    }

    /// Sends one claimed message; when it went, to be marked sent with its group. A failure
    /// is recorded at once.
    async fn deliver(
        &self,
        id: String,
        message: ClaimOutcome,
    ) -> Result<Option<NaiveDateTime>, StoreError> {
        let (attempts, result) = match message {
            ClaimOutcome::Unreadable { attempts, error } => {
                tracing::error!(outbox_id = %id, %error, "outbox message cannot be decrypted");
                let failure = SendFailure {
                    error: "message cannot be decrypted (is its data key configured?)".into(),
                    permanent: false,
                };
                (attempts, Err(failure))
            }
            ClaimOutcome::Claimed(message) => (message.attempts, self.send(&id, &message).await),
        };
        self.record(id, attempts, result).await
    }

    async fn send(&self, id: &str, message: &Claimed) -> Result<(), SendFailure> {
        let letter = Outgoing {
            outbox_id: id,
            recipient: &message.recipient,
            subject: &message.subject,
            body: &message.body,
        };
        self.transport.send(&self.from, &letter).await
    }

    /// What a send came to: the moment it went (marked with its group later), or its failure,
    /// recorded now with the next attempt's time.
    async fn record(
        &self,
        id: String,
        attempts: i32,
        result: Result<(), SendFailure>,
    ) -> Result<Option<NaiveDateTime>, StoreError> {
        match result {
            Ok(()) => {
                tracing::info!(outbox_id = %id, attempts, "mail delivered");
                Ok(Some(crate::db::now()))
            }
            Err(failure) => {
                let retry_at = self
                    .policy
                    .retry_at(crate::db::now(), attempts, failure.permanent);
                if retry_at.is_some() {
                    tracing::warn!(outbox_id = %id, attempts, error = %failure.error, "mail delivery failed; will retry");
                } else {
                    tracing::error!(outbox_id = %id, attempts, error = %failure.error, "mail delivery failed; giving up");
                }
                self.store
                    .write_statements(move |c| {
                        outbox::record_failure(c, &id, &failure.error, retry_at)
                    })
                    .await
                    .map(|()| None)
            }
        }
    }
}

/// Runs `deliver` on each claimed item, [`IN_FLIGHT`] at a time; once a stop is asked, starts
/// no more. The outcomes of those it started (in the order they ended), and the ids of those it
/// did not, for the caller to give back.
async fn in_flight<T, R, F, Fut>(
    claimed: Vec<(String, T)>,
    stopped: &mut oneshot::Receiver<()>,
    deliver: F,
) -> (Vec<R>, Vec<String>)
where
    F: Fn(String, T) -> Fut,
    Fut: Future<Output = R>,
{
    use futures_util::StreamExt;
    let mut unsent = Vec::new();
    // Pulled one by one as a slot frees up, so the stop is checked before each start.
    let started = claimed.into_iter().filter_map(|(id, item)| {
        if !unsent.is_empty() || stop_requested(stopped) {
            unsent.push(id);
            return None;
        }
        Some(deliver(id, item))
    });
    let outcomes = futures_util::stream::iter(started)
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    (outcomes, unsent)
}

/// Whether the handle asked the worker to stop (or is gone).
fn stop_requested(stopped: &mut oneshot::Receiver<()>) -> bool {
    !matches!(stopped.try_recv(), Err(oneshot::error::TryRecvError::Empty))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy::from_settings(&MailSettings {
            backoff_base_ms: 100,
            backoff_max_ms: 1_000,
            max_attempts: 6,
            ..MailSettings::default()
        })
        .unwrap()
    }

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let policy = policy();
        let delays: Vec<u128> = (1..=6).map(|a| policy.backoff(a).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(policy.backoff(i32::MAX), Duration::from_millis(1_000));
    }

    #[test]
    fn gives_up_after_max_attempts_or_a_permanent_failure() {
        let policy = policy();
        let now = crate::db::now();
        assert_eq!(
            policy.retry_at(now, 1, false),
            Some(now + chrono::Duration::milliseconds(100))
        );
        assert!(policy.retry_at(now, 5, false).is_some());
        assert_eq!(policy.retry_at(now, 6, false), None);
        assert_eq!(policy.retry_at(now, 1, true), None);
    }

    #[test]
    fn a_group_is_held_as_long_as_sending_all_of_it_can_take() {
        let policy = policy();
        assert_eq!(policy.group_lease(1), policy.lease);
        assert_eq!(
            policy.group_lease(16),
            policy.lease + policy.send_timeout * 15
        );
    }

    #[tokio::test]
    async fn a_worker_told_to_stop_gives_back_the_group_it_claimed() {
        use crate::db::models::outbox::OutboxRow;
        use crate::mail::letters::LetterKind;
        use crate::mail::outbox::NewMail;
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(&dir);
        store.migrate().unwrap();
        let cipher = Cipher::new(&[1; 32], &[], [2; 32]);
        for _ in 0..3 {
            let cipher = cipher.clone();
            store
                .write(move |conn| {
                    let mail = NewMail {
                        request_id: None,
                        letter: LetterKind::ReceiptConfirmation,
                        language: crate::vocabulary::Language::Nl,
                        recipient: "jan@example.nl",
                        subject: "Ontvangstbevestiging",
                        body: "Beste Jan,",
                    };
                    outbox::enqueue(conn, &cipher, mail)
                })
                .await
                .unwrap();
        }
        let settings = Settings {
            data_dir: dir.path().to_path_buf(),
            ..Settings::default()
        };
        let worker = Worker::new(store.clone(), cipher, &settings).unwrap();
        let (stop, mut stopped) = oneshot::channel::<()>();
        drop(stop);
        assert_eq!(worker.deliver_due(&mut stopped).await, Round::Stopped);
        let now = crate::db::now();
        let rows = store
            .read(|conn| {
                use crate::db::schema::outbox;
                use diesel::prelude::*;
                outbox::table
                    .select(OutboxRow::as_select())
                    .load(conn)
                    .map_err(StoreError::from)
            })
            .await
            .unwrap();
        assert_eq!(rows.len(), 3);
        for row in rows {
            assert_eq!(row.status, "pending");
            assert_eq!(
                row.attempts, 0,
                "the attempt that was not made is not counted"
            );
            assert!(
                row.next_attempt_at <= now,
                "due again at once, not after the lease"
            );
        }
    }

    #[test]
    fn nonsense_settings_are_refused() {
        let zero_poll = MailSettings {
            poll_interval_ms: 0,
            ..MailSettings::default()
        };
        assert!(RetryPolicy::from_settings(&zero_poll).is_err());
        let no_attempts = MailSettings {
            max_attempts: 0,
            ..MailSettings::default()
        };
        assert!(RetryPolicy::from_settings(&no_attempts).is_err());
    }

    fn store_in(dir: &tempfile::TempDir) -> Store {
        Store::open(&format!("sqlite://{}/t.db", dir.path().display()), 1).unwrap()
    }

    #[tokio::test]
    async fn every_smtp_tls_mode_builds_and_a_bad_from_address_is_refused() {
        use crate::config::{MailTransportKind, SmtpTls};
        let dir = tempfile::tempdir().unwrap();
        let cipher = Cipher::new(&[1; 32], &[], [2; 32]);
        for tls in [SmtpTls::None, SmtpTls::Starttls, SmtpTls::Tls] {
            let mut settings = Settings::default();
            settings.mail.transport = MailTransportKind::Smtp;
            settings.mail.smtp_tls = tls;
            settings.mail.smtp_username = Some("loket".into());
            let handle = spawn(store_in(&dir), cipher.clone(), &settings).unwrap();
            handle.shutdown().await.unwrap();
        }
        let mut settings = Settings {
            data_dir: dir.path().to_path_buf(),
            ..Settings::default()
        };
        settings.mail.from = "not an address".into();
        assert!(matches!(
            spawn(store_in(&dir), cipher, &settings),
            Err(MailError::Config(_))
        ));
    }

    #[test]
    fn spawn_outside_a_runtime_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let cipher = Cipher::new(&[1; 32], &[], [2; 32]);
        let result = spawn(store_in(&dir), cipher, &Settings::default());
        assert!(matches!(result, Err(MailError::NoRuntime)));
    }
}
