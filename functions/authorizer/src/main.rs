//! `authorizer` Lambda function: the API Gateway authorizer, a thin entry over the domain crate.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tokengate::lambda::serve_authorizer().await
}
