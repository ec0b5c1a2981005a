//! Structured logging with `tracing`. Log lines carry ids, keys and counts, never the personal
//! data of a requester.

use crate::config::LogFormat;
use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global subscriber; `RUST_LOG` overrides the default level. Calling it twice is
/// harmless (the second call keeps the first subscriber), which the tests rely on.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(|| OneLinePerEvent(std::io::stderr()));
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// The span of each HTTP request, naming its route pattern (`/packages/{token}`) instead of its
/// path: the links sent to people carry their token in the path (status pages, package
/// downloads), and a log must not hold what opens a person's data.
pub struct RouteOnlySpan;

impl tracing_actix_web::RootSpanBuilder for RouteOnlySpan {
    fn on_request_start(request: &actix_web::dev::ServiceRequest) -> tracing::Span {
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "(no route)".to_string());
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.status_code = tracing::field::Empty,
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    /// Records the status only. The error's text is never recorded: a validation message
    /// quotes what the client sent (a phone number sent as a JSON number, a name with a
    /// newline), and the client's input may be a requester's personal data.
    fn on_request_end<B: actix_web::body::MessageBody>(
        span: tracing::Span,
        outcome: &Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
    ) {
        let status = match outcome {
            Ok(response) => response.response().status(),
            Err(error) => error.as_response_error().status_code(),
        };
        span.record("http.status_code", status.as_u16());
        span.record(
            "otel.status_code",
            if status.is_server_error() {
                "ERROR"
            } else {
                "OK"
            },
        );
    }
}

/// A log writer that keeps every event on one line: the formatter hands over one event per
/// write, and any line break inside it (from a value, never from loket's own text) is escaped,
/// so input cannot forge a log line.
pub struct OneLinePerEvent<W>(pub W);

impl<W: std::io::Write> std::io::Write for OneLinePerEvent<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let (body, end) = match bytes.strip_suffix(b"\n") {
            Some(body) => (body, &b"\n"[..]),
            None => (bytes, &b""[..]),
        };
        let mut line = Vec::with_capacity(bytes.len() + 8);
        for &byte in body {
            match byte {
                b'\n' => line.extend_from_slice(b"\\n"),
                b'\r' => line.extend_from_slice(b"\\r"),
                other => line.push(other),
            }
        }
        line.extend_from_slice(end);
        self.0.write_all(&line)?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{test, web, App, HttpResponse};
    use std::sync::{Arc, Mutex};

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[actix_web::test]
    async fn request_logs_name_the_route_not_the_token_in_the_path() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let app = test::init_service(
            App::new()
                .wrap(tracing_actix_web::TracingLogger::<RouteOnlySpan>::new())
                .route(
                    "/packages/{token}",
                    web::get().to(|| async {
                        tracing::warn!("inside the request");
                        HttpResponse::Gone().finish()
                    }),
                ),
        )
        .await;
        let request = test::TestRequest::get()
            .uri("/packages/eyJhbGciOiJIUzI1NiJ9.secret-part.signature")
            .to_request();
        assert_eq!(test::call_service(&app, request).await.status(), 410);
        let logged = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("text");
        assert!(logged.contains("/packages/{token}"), "{logged}");
        assert!(!logged.contains("secret-part"), "{logged}");
    }

    #[actix_web::test]
    async fn a_line_break_in_a_value_cannot_start_a_new_log_line() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = fmt()
            .with_writer(move || OneLinePerEvent(writer.clone()))
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let name = "Jan\n2026-12-03T08:00:00Z  INFO loket: forged";
        tracing::warn!(%name, "something happened");
        let logged = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("text");
        assert_eq!(logged.lines().count(), 1, "{logged}");
        assert!(logged.contains("Jan\\n2026"), "{logged}");
    }
}
