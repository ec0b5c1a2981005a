//! The domain's error type. The domain speaks of what went wrong (not found, invalid field,
//! conflict); `api::error` alone decides what that means in HTTP.

use crate::db::StoreError;

/// A problem with one input field, named by its path (e.g. `systems[2].holdings[0].category`).
#[derive(utoipa::ToSchema, Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("invalid input: {}", .0.first().map(|e| format!("{}: {}", e.field, e.message)).unwrap_or_default())]
    Invalid(Vec<FieldError>),
    /// In conflict with the current state; `code` says which situation, for people to act on.
    #[error("{message}")]
    Conflict { code: ConflictCode, message: String },
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Too many failed sign-ins for the account or from the address.
    #[error("too many failed sign-ins; try again in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: u64 },
    /// More work of this kind than loket takes on at once (password checks).
    #[error("the server is busy; try again in {retry_after_secs} s")]
    Busy { retry_after_secs: u64 },
    #[error("{0}")]
    Forbidden(String),
    /// What was asked for existed but is no longer there to give (an expired or used-up
    /// download link).
    #[error("{0}")]
    Gone(String),
    /// A system's connector failed (cannot connect, a query failed). The message names the
    /// system and is already scrubbed of connection URLs, passwords and quoted values.
    #[error("{message}")]
    Connector { system: String, message: String },
    #[error(transparent)]
    Store(StoreError),
    /// Something that should not happen did (a template does not render, a stored value does
    /// not read back, a worker thread died): the cause is kept, with what loket was doing as
    /// its context, for the log. `{0:#}` prints the whole chain of causes.
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The situation of a conflict, set where the conflict is found: a stable code (the error body's
/// `code`) that the desk and the public pages have a sentence for in Dutch and English
/// (`api::desk::errors`). The message beside it is for developers and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum ConflictCode {
    /// Someone else changed the object since the client read its version.
    Stale,
    /// Checklist tasks are still open.
    TasksOpen,
    /// There is no e-mail address to send to: the letter goes by post.
    NoEmail,
    /// A closed request cannot be changed.
    Closed,
    /// The step does not fit the request's state.
    WrongState,
    /// The step needs a privacy officer's approval first.
    NeedsApproval,
    /// Identity must be verified first.
    IdentityFirst,
    /// What was asked was done already.
    AlreadyDone,
    /// An object with this key exists.
    Exists,
    /// Any other conflict with the current state.
    #[strum(serialize = "conflict")]
    Other,
}

impl ConflictCode {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl Error {
    pub fn conflict(code: ConflictCode, message: impl Into<String>) -> Self {
        Error::Conflict {
            code,
            message: message.into(),
        }
    }

    /// The situation, a stable code the desk has words for: `not_found`, `validation_failed`,
    /// a [`ConflictCode`], … (every value is listed by [`Error::codes`]).
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "not_found",
            Error::Invalid(_) => "validation_failed",
            Error::Conflict { code, .. } => code.as_str(),
            Error::InvalidCredentials => "invalid_credentials",
            Error::TooManyAttempts { .. } => "too_many_attempts",
            Error::Busy { .. } => "busy",
            Error::Forbidden(_) => "forbidden",
            Error::Gone(_) => "gone",
            Error::Connector { .. } => "connector_failed",
            Error::Store(store) if store.is_unavailable() => "unavailable",
            Error::Store(_) | Error::Internal(_) => "internal_error",
        }
    }

    /// Every code [`Error::code`] can give.
    pub fn codes() -> impl Iterator<Item = &'static str> {
        use strum::IntoEnumIterator;
        [
            "not_found",
            "validation_failed",
            "invalid_credentials",
            "too_many_attempts",
            "busy",
            "forbidden",
            "gone",
            "connector_failed",
            "unavailable",
            "internal_error",
        ]
        .into_iter()
        .chain(ConflictCode::iter().map(ConflictCode::as_str))
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Error::NotFound { what: what.into() }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid(vec![FieldError::new(field, message)])
    }
}

/// Ok when no field failed; otherwise every failure at once.
pub fn all_valid(errors: Vec<FieldError>) -> Result<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid(errors))
    }
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        // A unique key taken by a concurrent writer is the caller's conflict, not a server fault.
        if error.is_unique_violation() {
            Error::conflict(
                ConflictCode::Exists,
                "an object with this key already exists",
            )
        } else {
            Error::Store(error)
        }
    }
}

impl From<diesel::result::Error> for Error {
    fn from(error: diesel::result::Error) -> Self {
        Error::from(StoreError::from(error))
    }
}

impl From<Vec<FieldError>> for Error {
    fn from(errors: Vec<FieldError>) -> Self {
        Error::Invalid(errors)
    }
}
