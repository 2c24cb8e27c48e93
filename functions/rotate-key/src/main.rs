//! `rotate-key` Lambda function: Secrets Manager's rotation of the signing key ring, a thin
//! entry over the domain crate. Not on any route.

// Lambda sends one invocation at a time: a single-threaded runtime starts without worker threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    tokengate::lambda::serve_rotation().await
}
