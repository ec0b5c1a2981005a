//! Notices of changes to the few tables loket keeps a copy of in memory: the accounts (every
//! call checks the signed-in user), the catalog (every intake and letter uses it) and the
//! webhook subscriptions (every change of a request looks them up).
//!
//! Several loket instances may share one PostgreSQL database, so a copy kept by one instance
//! goes stale when another one (or the CLI, or a DBA) writes. Until now every use read them
//! again (or, for the catalog, a stamp saying whether the copy was still good), one round trip
//! each: three of an intake's eight statements on PostgreSQL and one of a request view's four.
//! Instead, database triggers send a `NOTIFY` on the channel [`CHANNEL`] with the changed table's name when a statement changes it, and one
//! thread of the store listens on a connection of its own ([`Store::listen_for_changes`]). A
//! copy is good while the [`Token`] it was read under is still the current one.
//!
//! What it costs: a change made elsewhere is seen here after at most [`POLL`] (the listener
//! checks its connection that often; diesel offers no blocking wait), where before it was seen
//! by the next call. A change made through this process is seen at once: its service calls
//! [`ChangeNotices::changed`] after the commit. While the listener is not connected (starting,
//! the server restarted, the network failed) there are no tokens and every use reads the
//! database as before; a reconnected listener starts new tokens, since notices sent while it
//! was away are lost. SQLite (one instance, in process) keeps reading: its reads are no round
//! trips, and the CLI writes the same file from another process without notices.
//!
//! [`Store::listen_for_changes`]: super::Store::listen_for_changes

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::time::{Duration, Instant};

/// The channel the triggers notify (migration `2026-12-07-000000_issue19_change_notices`).
pub const CHANNEL: &str = "loket_changes";

/// How often the listener looks for notices: the longest a change made by another instance
/// goes unseen here.
pub const POLL: Duration = Duration::from_millis(5);

/// How often an idle listener asks its server whether the connection still stands (a notice
/// cannot arrive on a connection the network silently dropped).
const PING_EVERY: Duration = Duration::from_secs(5);

/// How long the listener waits before connecting again after a failure.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// What a notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// The `users` table: accounts, roles, sessions.
    Users,
    /// The catalog (every catalog table moves `catalog_stamp`, whose trigger notifies).
    Catalog,
    /// The outgoing webhooks' subscriptions, which every change of a request looks up.
    Webhooks,
}

impl Topic {
    const ALL: [Topic; 3] = [Topic::Users, Topic::Catalog, Topic::Webhooks];

    /// The topic of a notice's payload (the table's name); `None` for a table this version does
    /// not know, which then counts as a change of everything.
    fn of_table(table: &str) -> Option<Topic> {
        match table {
            "users" => Some(Topic::Users),
            "catalog_stamp" => Some(Topic::Catalog),
            "webhook_subscriptions" => Some(Topic::Webhooks),
            _ => None,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A copy read under this token is current while [`ChangeNotices::token`] still returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token(u64);

/// Moved by every change of a topic, and of all of them when a listener starts or stops
/// listening.
type Generations = [AtomicU64; Topic::ALL.len()];

/// The generations of each database this process opened a store on. A process serves one
/// store; where it holds several on one database (the tests: a server's and the test's own) a
/// change made through any of them is seen by all at once, and stores on other databases are
/// not disturbed by it.
static BY_DATABASE: LazyLock<Mutex<HashMap<String, Arc<Generations>>>> =
    LazyLock::new(Mutex::default);

/// A store's view of changes: whether its listener listens, and its database's generations.
#[derive(Debug, Default)]
pub struct ChangeNotices {
    /// Whether the listener is connected and listening: only then can a copy be trusted.
    listening: AtomicBool,
    /// Notices this store's listener received, per topic (unknown tables count for all).
    received: Generations,
    generations: Arc<Generations>,
}

impl ChangeNotices {
    /// The notices of a store on the database at `url`.
    pub fn for_database(url: &str) -> Self {
        let mut known = BY_DATABASE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        ChangeNotices {
            generations: known.entry(url.to_string()).or_default().clone(),
            ..ChangeNotices::default()
        }
    }

    /// The token to read `topic` under now, to keep what was read; `None` when nothing may be
    /// kept (the listener is not listening). Take it before reading, never after: a change
    /// committed in between then makes the copy stale instead of current.
    pub fn token(&self, topic: Topic) -> Option<Token> {
        // Generation first: a stop of the listener moves it after clearing the flag.
        let generation = self.generations[topic.index()].load(Ordering::Acquire);
        self.listening
            .load(Ordering::Acquire)
            .then_some(Token(generation))
    }

    /// Whether a copy read under `token` is still current.
    pub fn is_current(&self, topic: Topic, token: Token) -> bool {
        self.token(topic) == Some(token)
    }

    /// `topic` changed (a notice came, or this process committed a change to it).
    pub fn changed(&self, topic: Topic) {
        self.generations[topic.index()].fetch_add(1, Ordering::AcqRel);
    }

    /// How many notices of `topic` this store's listener has received.
    pub fn received(&self, topic: Topic) -> u64 {
        self.received[topic.index()].load(Ordering::Acquire)
    }

    /// A notice came from the database.
    fn notice(&self, topic: Option<Topic>) {
        let topics = match topic {
            Some(topic) => vec![topic],
            None => Topic::ALL.to_vec(),
        };
        for topic in topics {
            self.received[topic.index()].fetch_add(1, Ordering::AcqRel);
            self.changed(topic);
        }
    }

    fn all_changed(&self) {
        for topic in Topic::ALL {
            self.changed(topic);
        }
    }

    /// Listening started (after `LISTEN`) or stopped: either way, what was kept is dropped.
    fn set_listening(&self, listening: bool) {
        if !listening {
            self.listening.store(false, Ordering::Release);
        }
        self.all_changed();
        if listening {
            self.listening.store(true, Ordering::Release);
        }
    }
}

/// Starts the listener thread for a PostgreSQL store at `url`. It ends, closing its connection,
/// once the store and all its clones are gone.
pub(super) fn listen(url: String, notices: &Arc<ChangeNotices>) -> std::io::Result<()> {
    let notices = Arc::downgrade(notices);
    std::thread::Builder::new()
        .name("loket-notices".into())
        .spawn(move || {
            while let Some(alive) = notices.upgrade() {
                drop(alive);
                if let Err(error) = listen_once(&url, &notices) {
                    tracing::warn!(%error, "not listening for changes; copies are not kept");
                }
                if let Some(notices) = notices.upgrade() {
                    notices.set_listening(false);
                }
                std::thread::sleep(RETRY_AFTER);
            }
        })
        .map(drop)
}

/// Connects, listens and takes notices until the connection fails (an error) or the store is
/// gone (`Ok`).
fn listen_once(url: &str, notices: &Weak<ChangeNotices>) -> anyhow::Result<()> {
    let mut conn = PgConnection::establish(url)?;
    conn.batch_execute(&format!("LISTEN {CHANNEL}"))?;
    let Some(alive) = notices.upgrade() else {
        return Ok(());
    };
    alive.set_listening(true);
    drop(alive);
    let mut pinged = Instant::now();
    loop {
        std::thread::sleep(POLL);
        let Some(notices) = notices.upgrade() else {
            return Ok(());
        };
        for notice in conn.notifications_iter() {
            notices.notice(Topic::of_table(&notice?.payload));
        }
        if pinged.elapsed() >= PING_EVERY {
            conn.batch_execute("SELECT 1")?;
            pinged = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_kept_while_not_listening() {
        let notices = ChangeNotices::for_database("postgres://one");
        assert_eq!(notices.token(Topic::Users), None);
        notices.set_listening(true);
        let token = notices.token(Topic::Users).expect("listening");
        assert!(notices.is_current(Topic::Users, token));
        notices.set_listening(false);
        assert!(!notices.is_current(Topic::Users, token));
        notices.set_listening(true);
        assert!(
            !notices.is_current(Topic::Users, token),
            "a reconnected listener may have missed notices: old copies stay stale"
        );
    }

    #[test]
    fn a_change_makes_copies_of_its_topic_stale_only() {
        let notices = ChangeNotices::for_database("postgres://two");
        notices.set_listening(true);
        let users = notices.token(Topic::Users).unwrap();
        let catalog = notices.token(Topic::Catalog).unwrap();
        notices.changed(Topic::Users);
        assert!(!notices.is_current(Topic::Users, users));
        assert!(notices.is_current(Topic::Catalog, catalog));
        let elsewhere = ChangeNotices::for_database("postgres://elsewhere");
        elsewhere.set_listening(true);
        elsewhere.changed(Topic::Catalog);
        assert!(
            notices.is_current(Topic::Catalog, catalog),
            "another database changed"
        );
        let same_database = ChangeNotices::for_database("postgres://two");
        same_database.changed(Topic::Catalog);
        assert!(
            !notices.is_current(Topic::Catalog, catalog),
            "changed through another store on the same database"
        );
    }

    #[test]
    fn notices_name_their_table() {
        assert_eq!(Topic::of_table("users"), Some(Topic::Users));
        assert_eq!(Topic::of_table("catalog_stamp"), Some(Topic::Catalog));
        assert_eq!(
            Topic::of_table("webhook_subscriptions"),
            Some(Topic::Webhooks)
        );
        assert_eq!(Topic::of_table("requests"), None);
    }
}
