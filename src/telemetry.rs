//! Structured logging with `tracing`. Log lines carry ids, keys and counts, never the personal
//! data of a requester.

use crate::config::LogFormat;
use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global subscriber; `RUST_LOG` overrides the default level. Calling it twice is
/// harmless (the second call keeps the first subscriber), which the tests rely on.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}
