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
    #[error("{0}")]
    Conflict(String),
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
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
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
            Error::Conflict("an object with this key already exists".into())
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
