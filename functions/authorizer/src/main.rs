//! `authorizer` Lambda function: the API Gateway authorizer, a thin entry over the domain crate.

// Lambda sends one invocation at a time: a single-threaded runtime starts without worker threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    tokengate::lambda::serve_authorizer().await
}
