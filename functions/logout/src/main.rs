//! `logout` Lambda function: a thin entry over the domain crate.

use tokengate::lambda::{TokenRoute, serve_tokens};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    serve_tokens(TokenRoute::Logout).await
}
