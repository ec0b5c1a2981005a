//! The one place where errors become HTTP responses. Every error body is JSON:
//! `{"error": CLASS, "code": CODE, "message": TEXT, "field": PATH?, "errors": [{field, message,
//! code}]?}`.
//!
//! `error` is the broad class (`validation_failed`, `conflict`, …); `code` names the situation
//! (`tasks_open`, `no_email`, `stale`, …) and each field error has its own `code` (`required`,
//! `email`, …). Codes are stable: the desk and the public pages show people a sentence per code
//! in their language ([`ERROR_CODES`], [`FIELD_CODES`]), never the English `message`, which is
//! for developers and logs.

use crate::db::StoreError;
use crate::error::{Error, FieldError};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Domain(#[from] Error),
    /// The body or query could not be read at all (bad syntax, wrong content type).
    #[error("{message}")]
    BadRequest {
        field: Option<String>,
        message: String,
    },
    /// Readable, but a field has the wrong type, is missing or is unknown.
    #[error("{field}: {message}")]
    InvalidField { field: String, message: String },
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("this action needs another role")]
    Forbidden,
    /// A change sent with a desk session cookie but without that session's CSRF token.
    #[error("missing or wrong CSRF token: reload the page and try again")]
    CsrfRejected,
    #[error("no such route")]
    NoRoute,
    #[error("request body too large (at most {limit} bytes)")]
    TooLarge { limit: usize },
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<FieldBody<'a>>>,
    /// The system whose connector failed (`502`).
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<&'a str>,
}

/// One field's error as the body lists it.
#[derive(Serialize)]
struct FieldBody<'a> {
    field: &'a str,
    message: &'a str,
    code: &'static str,
}

/// Every value of an error body's `code`: the desk has words for each (`desk::errors`).
pub const ERROR_CODES: &[&str] = &[
    "not_found",
    "validation_failed",
    "conflict",
    "stale",
    "tasks_open",
    "no_email",
    "closed",
    "wrong_state",
    "needs_approval",
    "identity_first",
    "already_done",
    "exists",
    "invalid_credentials",
    "too_many_attempts",
    "busy",
    "forbidden",
    "gone",
    "connector_failed",
    "unavailable",
    "internal_error",
    "bad_request",
    "unauthenticated",
    "csrf_rejected",
    "payload_too_large",
    "unsupported_media_type",
];

/// Every value of a field error's `code`.
pub const FIELD_CODES: &[&str] = &[
    "required",
    "unknown_field",
    "wrong_type",
    "email",
    "date",
    "choice",
    "too_long",
    "bsn",
    "number",
    "invalid",
];

/// The kind of a field's problem, from the words serde and the domain's checks use for it.
pub fn field_code(message: &str) -> &'static str {
    let text = message.to_ascii_lowercase();
    let has = |part: &str| text.contains(part);
    if has("bsn") {
        "bsn"
    } else if has("missing field")
        || has("is required")
        || has("give at least one")
        || has("must not be empty")
        || has("write the")
        || has("say what")
    {
        "required"
    } else if has("unknown field") {
        "unknown_field"
    } else if has("e-mail address") {
        "email"
    } else if has("date") || has("yyyy-mm-dd") {
        "date"
    } else if has("unknown variant")
        || has("expected one of")
        || has("(expected")
        || has("must be nl or en")
    {
        "choice"
    } else if has("at most") || has("too long") {
        "too_long"
    } else if has("whole number") || has("invalid digit") {
        "number"
    } else if has("invalid type") {
        "wrong_type"
    } else {
        "invalid"
    }
}

fn listed(errors: &[FieldError]) -> Vec<FieldBody<'_>> {
    errors
        .iter()
        .map(|e| FieldBody {
            field: &e.field,
            message: &e.message,
            code: field_code(&e.message),
        })
        .collect()
}

impl ApiError {
    /// The situation, finer than the class: one of [`ERROR_CODES`]. The domain sets it
    /// ([`Error::code`]), so no message is read to find it.
    pub fn situation(&self) -> &'static str {
        match self {
            ApiError::Domain(error) => error.code(),
            _ => self.code(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::Domain(Error::Conflict { .. }) => "conflict",
            ApiError::Domain(error) => error.code(),
            ApiError::BadRequest { .. } => "bad_request",
            ApiError::InvalidField { .. } => "validation_failed",
            ApiError::Unauthenticated(_) => "unauthenticated",
            ApiError::Forbidden => "forbidden",
            ApiError::CsrfRejected => "csrf_rejected",
            ApiError::NoRoute => "not_found",
            ApiError::TooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
        }
    }
}

impl ApiError {
    /// Seconds a refused client should wait before trying again, when that is known.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::Domain(
                Error::TooManyAttempts { retry_after_secs } | Error::Busy { retry_after_secs },
            ) => Some(*retry_after_secs),
            _ => None,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Domain(error) => match error {
                Error::NotFound { .. } => StatusCode::NOT_FOUND,
                Error::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
                Error::Conflict { .. } => StatusCode::CONFLICT,
                Error::InvalidCredentials => StatusCode::UNAUTHORIZED,
                Error::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
                Error::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
                Error::Forbidden(_) => StatusCode::FORBIDDEN,
                Error::Gone(_) => StatusCode::GONE,
                Error::Connector { .. } => StatusCode::BAD_GATEWAY,
                Error::Store(store) if store.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
                Error::Store(_) | Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::InvalidField { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden | ApiError::CsrfRejected => StatusCode::FORBIDDEN,
            ApiError::NoRoute => StatusCode::NOT_FOUND,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let message = match self {
            // Scrubbed of URLs, passwords and quoted values by the connector; the agent needs
            // the reason to decide between trying again and doing the task by hand.
            ApiError::Domain(Error::Connector { .. }) => {
                tracing::warn!(error = %self, "connector failed");
                self.to_string()
            }
            // Not a fault: the client is told to come back.
            ApiError::Domain(Error::Busy { .. }) => self.to_string(),
            _ if status.is_server_error() => {
                // The detail goes to the log (it may name tables or hosts), not to the client.
                tracing::error!(error = %self, "request failed");
                "the server could not complete this request; it has been logged".to_string()
            }
            _ => self.to_string(),
        };
        let (field, errors) = match self {
            ApiError::Domain(Error::Invalid(errors)) => (
                errors.first().map(|e| e.field.as_str()),
                Some(listed(errors)),
            ),
            // A single field's error is listed too, so every field error carries its code.
            ApiError::InvalidField { field, message } => (
                Some(field.as_str()),
                Some(vec![FieldBody {
                    field,
                    message,
                    code: field_code(message),
                }]),
            ),
            ApiError::BadRequest { field, .. } => (field.as_deref(), None),
            ApiError::CsrfRejected => (Some(super::desk::session::CSRF_FIELD), None),
            _ => (None, None),
        };
        let mut response = HttpResponse::build(status);
        if matches!(self, ApiError::Unauthenticated(_)) {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        if let Some(seconds) = self.retry_after() {
            response.insert_header(("Retry-After", seconds.to_string()));
        }
        let system = match self {
            ApiError::Domain(Error::Connector { system, .. }) => Some(system.as_str()),
            _ => None,
        };
        response.json(Body {
            error: self.code(),
            code: self.situation(),
            message,
            field,
            errors,
            system,
        })
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        ApiError::Domain(Error::from(error))
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::Domain(Error::from(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ConflictCode;

    #[test]
    fn a_conflict_carries_the_code_the_domain_gave_it_whatever_its_words() {
        let error = ApiError::from(Error::conflict(ConflictCode::Stale, "reworded freely"));
        assert_eq!(error.situation(), "stale");
        assert_eq!(error.code(), "conflict");
        assert_eq!(error.status_code(), StatusCode::CONFLICT);
        let other = ApiError::from(Error::conflict(
            ConflictCode::Other,
            "already done, it says",
        ));
        assert_eq!(other.situation(), "conflict");
    }

    #[test]
    fn a_write_that_could_not_begin_is_unavailable_and_a_failed_commit_internal() {
        let busy = ApiError::from(StoreError::NotBegun("database is locked".into()));
        assert_eq!(busy.status_code(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.code(), "unavailable");
        let failed = ApiError::from(StoreError::NotCommitted("disk I/O error".into()));
        assert_eq!(failed.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(failed.code(), "internal_error");
    }

    #[test]
    fn an_internal_error_keeps_its_cause_for_the_log_and_tells_the_client_nothing() {
        let cause = std::io::Error::other("disk full");
        let error = ApiError::from(Error::from(
            anyhow::Error::new(cause).context("writing the package"),
        ));
        // The log line (Display) has the whole chain; the body has only the stable sentence.
        assert_eq!(
            error.to_string(),
            "internal error: writing the package: disk full"
        );
        assert_eq!(error.situation(), "internal_error");
        let body = actix_web::body::to_bytes(error.error_response().into_body());
        let body = futures_util::FutureExt::now_or_never(body)
            .unwrap()
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(!text.contains("disk full"), "{text}");
        assert!(text.contains("\"code\":\"internal_error\""), "{text}");
    }
}
