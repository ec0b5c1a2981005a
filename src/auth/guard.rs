//! Sign-in under attack. Argon2 is deliberately expensive (19 MiB and tens of milliseconds per
//! check), so unbounded parallel sign-ins exhaust memory and CPU without needing an account. Two
//! defences, both before any hash is computed:
//!
//! - a bounded pool: at most `hash_workers` checks run at once and at most `hash_queue` wait;
//!   anything beyond is refused at once as busy, so memory stays flat;
//! - throttling: failed attempts are counted per account and per address; past a threshold the
//!   key is locked out for a while that doubles with every further failure, up to a ceiling.
//!
//! Counts live in this process: with several instances each one throttles on its own, which
//! multiplies the attempts an attacker gets by the number of instances, no more.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// The limits, from `[sign_in]` in the configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SignInSettings {
    /// Password checks that may run at once (each holds 19 MiB while it runs).
    pub hash_workers: usize,
    /// Checks that may wait for a worker; more are refused with 503 and `Retry-After`.
    pub hash_queue: usize,
    /// Failed attempts on one account before it is locked out.
    pub account_failures: u32,
    /// Failed attempts from one address (any account) before it is locked out.
    pub address_failures: u32,
    /// The first lockout; each further failure doubles it.
    pub lockout_secs: u64,
    /// The longest lockout.
    pub max_lockout_secs: u64,
}

impl Default for SignInSettings {
    fn default() -> Self {
        SignInSettings {
            hash_workers: 2,
            hash_queue: 16,
            account_failures: 5,
            address_failures: 20,
            lockout_secs: 60,
            max_lockout_secs: 3600,
        }
    }
}

/// Why a sign-in was not even checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The account or address is locked out for this many more seconds.
    LockedOut { retry_after_secs: u64 },
    /// Every hashing worker is busy and the queue is full.
    Busy { retry_after_secs: u64 },
}

/// What a failed attempt is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    Account(String),
    Address(String),
}

impl Key {
    /// How the key appears in the audit trail.
    pub fn describe(&self) -> String {
        match self {
            Key::Account(username) => format!("account '{username}'"),
            Key::Address(address) => format!("address {address}"),
        }
    }
}

/// A lockout that has just started, to be audited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lockout {
    pub key: Key,
    pub failures: u32,
    pub seconds: u64,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// Entries kept at most; beyond it, entries idle for longer than the longest lockout go first.
const MAX_TRACKED: usize = 100_000;

/// Shared by every worker of the server.
#[derive(Debug, Clone)]
pub struct SignInGuard {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: SignInSettings,
    workers: Semaphore,
    waiting: AtomicUsize,
    failures: Mutex<HashMap<Key, Failures>>,
}

impl Default for SignInGuard {
    fn default() -> Self {
        SignInGuard::new(SignInSettings::default())
    }
}

impl SignInGuard {
    pub fn new(settings: SignInSettings) -> Self {
        let workers = settings.hash_workers.max(1);
        SignInGuard {
            inner: Arc::new(Inner {
                settings,
                workers: Semaphore::new(workers),
                waiting: AtomicUsize::new(0),
                failures: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Refuses when any of `keys` is locked out now.
    pub fn check(&self, keys: &[Key]) -> Result<(), Refusal> {
        let now = Instant::now();
        let failures = self.lock();
        let wait = keys
            .iter()
            .filter_map(|key| failures.get(key)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max();
        match wait {
            Some(wait) => Err(Refusal::LockedOut {
                retry_after_secs: whole_seconds(wait),
            }),
            None => Ok(()),
        }
    }

    /// Counts a failed attempt against each key; returns the lockouts it starts.
    pub fn failed(&self, keys: &[Key]) -> Vec<Lockout> {
        let now = Instant::now();
        let settings = &self.inner.settings;
        let mut failures = self.lock();
        if failures.len() >= MAX_TRACKED {
            let idle = Duration::from_secs(settings.max_lockout_secs);
            failures.retain(|_, f| now.duration_since(f.last) < idle);
        }
        let mut started = Vec::new();
        for key in keys {
            let entry = failures.entry(key.clone()).or_insert(Failures {
                count: 0,
                last: now,
                locked_until: None,
            });
            entry.count = entry.count.saturating_add(1);
            entry.last = now;
            let threshold = match key {
                Key::Account(_) => settings.account_failures,
                Key::Address(_) => settings.address_failures,
            }
            .max(1);
            if entry.count >= threshold {
                let seconds = lockout_seconds(settings, entry.count - threshold);
                entry.locked_until = Some(now + Duration::from_secs(seconds));
                started.push(Lockout {
                    key: key.clone(),
                    failures: entry.count,
                    seconds,
                });
            }
        }
        started
    }

    /// A correct password clears the account's count (not the address's: one known account
    /// must not buy an attacker fresh guesses at the others).
    pub fn succeeded(&self, account: &Key) {
        self.lock().remove(account);
    }

    /// Runs `work` (a password check) on a hashing worker, waiting in the bounded queue.
    pub async fn hash<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Refusal> {
        let inner = &self.inner;
        let permit = match inner.workers.try_acquire() {
            Ok(permit) => permit,
            Err(_) => {
                let waiting = WaitingSlot::take(&inner.waiting, inner.settings.hash_queue).ok_or(
                    Refusal::Busy {
                        retry_after_secs: 1,
                    },
                )?;
                let permit = inner.workers.acquire().await.map_err(|_| Refusal::Busy {
                    retry_after_secs: 1,
                })?;
                drop(waiting);
                permit
            }
        };
        let result = tokio::task::spawn_blocking(work)
            .await
            .map_err(|_| Refusal::Busy {
                retry_after_secs: 1,
            });
        drop(permit);
        result
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Failures>> {
        // A panic while counting leaves the map usable; the counts are advisory.
        self.inner
            .failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A place in the hashing queue, given back when dropped (also when the client goes away).
struct WaitingSlot<'a>(&'a AtomicUsize);

impl<'a> WaitingSlot<'a> {
    fn take(waiting: &'a AtomicUsize, limit: usize) -> Option<Self> {
        waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| WaitingSlot(waiting))
    }
}

impl Drop for WaitingSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// `lockout_secs` doubled `extra` times, at most `max_lockout_secs`.
fn lockout_seconds(settings: &SignInSettings, extra: u32) -> u64 {
    let doubled = settings
        .lockout_secs
        .saturating_mul(1u64.checked_shl(extra.min(32)).unwrap_or(u64::MAX));
    doubled.min(settings.max_lockout_secs).max(1)
}

fn whole_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SignInSettings {
        SignInSettings {
            hash_workers: 1,
            hash_queue: 1,
            account_failures: 3,
            address_failures: 5,
            lockout_secs: 10,
            max_lockout_secs: 35,
        }
    }

    #[test]
    fn lockouts_start_at_the_threshold_and_double_to_the_ceiling() {
        let guard = SignInGuard::new(settings());
        let anna = Key::Account("anna".into());
        assert!(guard.failed(std::slice::from_ref(&anna)).is_empty());
        assert!(guard.failed(std::slice::from_ref(&anna)).is_empty());
        assert!(guard.check(std::slice::from_ref(&anna)).is_ok());
        let started = guard.failed(std::slice::from_ref(&anna));
        assert_eq!(started[0].seconds, 10);
        assert!(matches!(
            guard.check(std::slice::from_ref(&anna)),
            Err(Refusal::LockedOut { retry_after_secs }) if retry_after_secs <= 10
        ));
        assert_eq!(guard.failed(std::slice::from_ref(&anna))[0].seconds, 20);
        assert_eq!(guard.failed(std::slice::from_ref(&anna))[0].seconds, 35);
        guard.succeeded(&anna);
        assert!(guard.check(&[anna]).is_ok());
    }

    #[test]
    fn addresses_count_across_accounts() {
        let guard = SignInGuard::new(settings());
        let address = Key::Address("192.0.2.1".into());
        for n in 0..5 {
            guard.failed(&[Key::Account(format!("user{n}")), address.clone()]);
        }
        assert!(guard.check(&[Key::Account("new".into()), address]).is_err());
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once() {
        let guard = SignInGuard::new(settings());
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let running = {
            let guard = guard.clone();
            tokio::spawn(async move { guard.hash(move || hold.recv().ok()).await })
        };
        while guard.inner.workers.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let queued = {
            let guard = guard.clone();
            tokio::spawn(async move { guard.hash(|| 1).await })
        };
        while guard.inner.waiting.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            guard.hash(|| 2).await,
            Err(Refusal::Busy {
                retry_after_secs: 1
            })
        );
        release.send(()).unwrap();
        assert!(running.await.unwrap().is_ok());
        assert_eq!(queued.await.unwrap(), Ok(1));
    }
}
