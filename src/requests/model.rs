//! The vocabulary of requests, at its old path: it lives in [`crate::vocabulary`] now, below the
//! modules that share it.

pub use crate::vocabulary::{
    Channel, ExtensionGround, Language, PauseReason, QuestionChannel, RefusalGround, RequestKind,
    RequestState, SearchOutcome, TaskKind, TaskState, VerificationMethod,
};
