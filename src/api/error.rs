//! The one place where errors become HTTP responses. Every error body is JSON:
//! `{"error": CODE, "message": TEXT, "field": PATH?, "errors": [{field, message}]?}`.

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
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
    /// The system whose connector failed (`502`).
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<&'a str>,
}

impl ApiError {
    fn code(&self) -> &'static str {
        match self {
            ApiError::Domain(error) => match error {
                Error::NotFound { .. } => "not_found",
                Error::Invalid(_) => "validation_failed",
                Error::Conflict(_) => "conflict",
                Error::InvalidCredentials => "invalid_credentials",
                Error::TooManyAttempts { .. } => "too_many_attempts",
                Error::Busy { .. } => "busy",
                Error::Forbidden(_) => "forbidden",
                Error::Gone(_) => "gone",
                Error::Connector { .. } => "connector_failed",
                Error::Store(StoreError::Connect(_)) => "unavailable",
                Error::Store(_) | Error::Internal(_) => "internal_error",
            },
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
                Error::Conflict(_) => StatusCode::CONFLICT,
                Error::InvalidCredentials => StatusCode::UNAUTHORIZED,
                Error::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
                Error::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
                Error::Forbidden(_) => StatusCode::FORBIDDEN,
                Error::Gone(_) => StatusCode::GONE,
                Error::Connector { .. } => StatusCode::BAD_GATEWAY,
                Error::Store(StoreError::Connect(_)) => StatusCode::SERVICE_UNAVAILABLE,
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
                Some(errors.as_slice()),
            ),
            ApiError::BadRequest { field, .. } => (field.as_deref(), None),
            ApiError::InvalidField { field, .. } => (Some(field.as_str()), None),
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
            message,
            field,
            errors,
            system,
        })
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::Domain(Error::from(error))
    }
}
