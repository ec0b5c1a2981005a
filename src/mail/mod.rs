//! Letters and e-mail: templates, the outbox and its delivery worker.

pub mod letters;
pub mod outbox;
