//! SQLite's writes committed in groups by one thread of the store.
//!
//! SQLite has one writer at a time, and under load an intake spent most of its time waiting
//! for that turn while another wrote and committed (a commit writes every page it changed to
//! the log). The writer thread takes the writes queued while it was busy, runs each in a
//! savepoint of one transaction, and commits them together: pages several writes changed (the
//! chain head, the last pages of the indexes) are written once, and one commit serves them all.
//!
//! A write that fails is rolled back to its savepoint and the others go on; its caller gets its
//! own error. A caller hears of success only after the group's commit; if that commit fails,
//! every write of the group is told so.
//!
//! The thread keeps one connection of its own, outside the pool, with a larger page cache.
//! SQLite throws a connection's cache away when it finds that another connection wrote since its
//! last transaction; a pooled connection, used by readers in between and by the writer now and
//! then, found that at nearly every group and read the index pages an intake touches again from
//! the file (a fifth of the writer's time went to `pread`). The writer's own connection sees
//! only its own writes, so its cache stays valid from one group to the next.

use super::{begin_write, finish, in_transaction, DbConnection, StoreError};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender};

/// Opens the writer's connection (again, after one was given up).
pub type Open = Box<dyn Fn() -> Result<DbConnection, StoreError> + Send>;

/// The most writes one commit carries: enough to empty the queue of a busy desk, few enough
/// that the first of them does not wait long for the last.
const GROUP: usize = 32;

/// Tells one caller how its write ended, once the group's commit is known: `None` when it
/// committed, the reason otherwise.
type Reply = Box<dyn FnOnce(Option<&StoreError>) + Send>;

/// One queued write: runs in its savepoint on the connection given (or learns why there is
/// none) and returns how to answer its caller.
type Job = Box<dyn FnOnce(Result<&mut DbConnection, &StoreError>) -> Reply + Send>;

/// The queue to the writer thread; the thread ends when the last clone of the store is gone.
#[derive(Debug, Clone)]
pub struct Writer {
    jobs: Sender<Job>,
}

impl Writer {
    pub fn start(open: Open) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(&open, queue))?;
        Ok(Writer { jobs })
    }

    /// Queues `work` and waits for its outcome, known after the commit of its group.
    pub async fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (answer, outcome) = tokio::sync::oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |conn| {
            let result = match conn {
                Ok(conn) => super::write_transaction(conn, work),
                Err(error) => Err(StoreError::NotBegun(error.to_string()).into()),
            };
            Box::new(move |commit_failed| {
                let result = match (result, commit_failed) {
                    (Ok(_), Some(error)) => Err(StoreError::NotCommitted(error.to_string()).into()),
                    (result, _) => result,
                };
                // The caller may have gone (a dropped request); its write stands regardless.
                let _ = answer.send(result);
            })
        });
        self.jobs.send(job).map_err(|_| StoreError::Cancelled)?;
        outcome.await.map_err(|_| StoreError::Cancelled)?
    }
}

fn run(open: &Open, queue: Receiver<Job>) {
    let mut conn = None;
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        group.extend(queue.try_iter().take(GROUP - 1));
        commit_group(open, &mut conn, group);
    }
}

/// Runs the writes of `group` in one transaction on the writer's connection (opened first when
/// there is none) and answers each caller after the commit. A connection left inside a
/// transaction is given up, and the next group opens a new one.
fn commit_group(open: &Open, slot: &mut Option<DbConnection>, group: Vec<Job>) {
    if group.is_empty() {
        return;
    }
    let conn = match slot {
        Some(conn) => conn,
        None => match open() {
            Ok(conn) => slot.insert(conn),
            Err(error) => return refuse(group, &error),
        },
    };
    let rest = write_group(conn, group);
    if !rest.is_empty() || in_transaction(conn) {
        *slot = None;
    }
    if !rest.is_empty() {
        commit_group(open, slot, rest);
    }
}

/// Runs and commits `group` on `conn`; returns the writes it did not get to, when a write
/// left the connection unusable.
fn write_group(conn: &mut DbConnection, group: Vec<Job>) -> Vec<Job> {
    if let Err(error) = begin_write(conn).map_err(StoreError::from) {
        refuse(group, &error);
        return Vec::new();
    }
    let mut replies = Vec::with_capacity(group.len());
    let mut jobs = group.into_iter();
    for job in jobs.by_ref() {
        match catch_unwind(AssertUnwindSafe(|| job(Ok(&mut *conn)))) {
            Ok(reply) => replies.push(reply),
            // A write that panicked may have left its savepoint open: rolled back to the
            // group's transaction, the others go on. Its caller sees the write cancelled.
            Err(_) if super::roll_back_to(conn, 1) => {}
            Err(_) => {
                // The rollback failed too: the group is given up (the connection, left inside
                // a transaction, with it) and its writes so far are told; those not yet run
                // go on in a group of their own, on a new connection.
                let error = StoreError::Cancelled;
                replies.into_iter().for_each(|reply| reply(Some(&error)));
                return jobs.collect();
            }
        }
    }
    let committed = finish(conn, true).map_err(StoreError::from);
    for reply in replies {
        reply(committed.as_ref().err());
    }
    Vec::new()
}

/// Answers the writes of a group that could not begin.
fn refuse(group: Vec<Job>, error: &StoreError) {
    tracing::error!(%error, writes = group.len(), "could not begin a write transaction");
    for job in group {
        job(Err(error))(None);
    }
}
