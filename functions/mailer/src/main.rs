//! `mailer` Lambda function: sends what the outbox asks for (its stream, and scheduled sweeps),
//! a thin entry over the domain crate. Not on any route.

// Lambda sends one invocation at a time: a single-threaded runtime starts without worker threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    tokengate::lambda::serve_mailer().await
}
