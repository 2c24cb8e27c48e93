//! `email-verify` Lambda function: a thin entry over the domain crate.

use tokengate::{handlers, lambda};

// Lambda sends one invocation at a time: a single-threaded runtime starts without worker threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lambda::serve(handlers::email_verify).await
}
