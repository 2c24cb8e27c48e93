//! `me` Lambda function: a thin entry over the domain crate; the sample protected route.

use tokengate::lambda::{ProfileRoute, serve_profiles};

// Lambda sends one invocation at a time: a single-threaded runtime starts without worker threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    serve_profiles(ProfileRoute::Me).await
}
