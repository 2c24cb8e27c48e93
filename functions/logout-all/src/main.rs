//! `logout-all` Lambda function: a thin entry over the domain crate.

use tokengate::lambda::{AccountRoute, serve_accounts};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    serve_accounts(AccountRoute::LogoutAll).await
}
