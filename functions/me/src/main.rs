//! `me` Lambda function: a thin entry over the domain crate; the sample protected route.

use tokengate::lambda::{ProfileRoute, serve_profiles};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    serve_profiles(ProfileRoute::Me).await
}
