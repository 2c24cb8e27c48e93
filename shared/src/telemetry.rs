//! Logging: JSON lines through `tracing`, level from `RUST_LOG` (default `info`).
//!
//! Nothing here logs request headers or bodies; secrets are redacted by their types. Other
//! crates do log them at their finest levels (the Lambda runtime writes whole events, Basic
//! credentials and JSON bodies with passwords included, at `trace`; HTTP and SDK crates write
//! requests at `debug`), so every crate but this one is capped at `info`, whatever `RUST_LOG`
//! asks for: a deployment's `LogLevel` can never make a function log a secret.

use tracing::{Level, Metadata};
use tracing_subscriber::filter::{EnvFilter, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

/// Whether an event or span may be logged at all: any of this crate's, other crates' only at
/// `info` and coarser.
pub fn within_cap(metadata: &Metadata<'_>) -> bool {
    metadata.target().starts_with("tokengate") || *metadata.level() <= Level::INFO
}

/// Installs the JSON subscriber once per cold start.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let layer = fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .with_filter(filter)
        .with_filter(filter_fn(within_cap));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}
