//! Logging: JSON lines through `tracing`, level from `RUST_LOG` (default `info`).
//! Nothing here logs request headers or bodies; secrets are redacted by their types.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber once per cold start.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .try_init();
}
