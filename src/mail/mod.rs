//! Letters and e-mail: templates, the outbox and its delivery worker.
//!
//! A change that owes the person a letter renders it ([`letters::render`]) and puts it in the
//! outbox ([`outbox::enqueue`]) in the same transaction; the [`worker`] delivers it through the
//! configured [`transport`].

pub mod letters;
pub mod lint;
pub mod outbox;
#[cfg(test)]
mod snapshots;
pub mod transport;
pub mod worker;
