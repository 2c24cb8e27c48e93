//! Logging: JSON lines through `tracing`, level from `RUST_LOG` (default `info`).
//!
//! Nothing here logs request headers or bodies; secrets are redacted by their types. Other
//! crates do log them at their finest levels (the Lambda runtime writes whole events, Basic
//! credentials and JSON bodies with passwords included, at `trace`; HTTP and SDK crates write
//! requests at `debug`), so every crate but this one is capped at `info`, whatever `RUST_LOG`
//! asks for: a deployment's `LogLevel` can never make a function log a secret.

use std::fmt::Debug;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata};
use tracing_subscriber::filter::{EnvFilter, filter_fn};
use tracing_subscriber::layer::{Context, Filter, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

/// Whether an event or span may be logged at all: any of this crate's, other crates' only at
/// `info` and coarser.
pub fn within_cap(metadata: &Metadata<'_>) -> bool {
    metadata.target().starts_with("tokengate") || *metadata.level() <= Level::INFO
}

/// Handler errors the Lambda runtime logs as errors (it logs every one so) that are ordinary
/// answers: the authorizer's `Unauthorized` for a request without credentials, which it logs
/// itself at info (`authorizer decision: no credentials`). Their runtime line is dropped.
const ORDINARY_HANDLER_ERRORS: [&str; 1] = ["NoCredentials"];

/// Drops the runtime's error line for an [`ORDINARY_HANDLER_ERRORS`] answer.
struct OrdinaryAnswers;

impl<S> Filter<S> for OrdinaryAnswers {
    fn enabled(&self, _: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        true
    }

    fn event_enabled(&self, event: &Event<'_>, _: &Context<'_, S>) -> bool {
        if !event.metadata().target().starts_with("lambda_runtime") {
            return true;
        }
        let mut message = Message(None);
        event.record(&mut message);
        !message
            .0
            .is_some_and(|text| ORDINARY_HANDLER_ERRORS.contains(&text.as_str()))
    }
}

/// An event's `message` field, as text.
struct Message(Option<String>);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        if field.name() == "message" {
            self.0 = Some(format!("{value:?}"));
        }
    }
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
        .with_filter(filter_fn(within_cap))
        .with_filter(OrdinaryAnswers);
    let _ = tracing_subscriber::registry().with(layer).try_init();
}
