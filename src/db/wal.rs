//! SQLite's write-ahead log copied back into the database file by a thread of its own.
//!
//! By default SQLite does this "checkpoint" inside the commit that makes the log pass 1,000
//! pages, so every few dozen intakes one of them wrote and fsynced the log's pages into the
//! database while it held the writers' turn (5% of the CPU of the intake benchmark, all of it
//! spent while other writers waited). The store's connections switch that off
//! (`wal_autocheckpoint = 0`) and this thread runs a passive checkpoint every
//! [`INTERVAL`]: it copies what no reader still needs and never blocks a writer or a reader.

use super::Pool;
use diesel::connection::SimpleConnection;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::Duration;

/// How often the log is copied back: often enough that it stays a few thousand pages under
/// full load, rarely enough that an idle desk does nothing noticeable.
pub const INTERVAL: Duration = Duration::from_millis(500);

/// Keeps the checkpoint thread running; when the last clone of the store that holds it is
/// dropped, the thread runs a last checkpoint and ends.
#[derive(Debug)]
pub struct Checkpointer {
    _stop: Sender<()>,
}

impl Checkpointer {
    pub fn start(pool: Pool) -> std::io::Result<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || loop {
                let last = matches!(
                    stopped.recv_timeout(INTERVAL),
                    Err(RecvTimeoutError::Disconnected)
                );
                checkpoint(&pool);
                if last {
                    break;
                }
            })?;
        Ok(Checkpointer { _stop: stop })
    }
}

fn checkpoint(pool: &Pool) {
    let result = pool
        .get()
        .map_err(|error| error.to_string())
        .and_then(|mut conn| {
            conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)")
                .map_err(|error| error.to_string())
        });
    if let Err(error) = result {
        tracing::warn!(%error, "could not copy SQLite's write-ahead log into the database file");
    }
}
