//! The Lambda entry: what every function's `main` calls. State is built once per cold start
//! (configuration, one DynamoDB client, the use-cases) and borrowed by every invocation.

use std::sync::Arc;

use lambda_http::{Error, Request, service_fn};

use crate::clock::SystemClock;
use crate::config::Config;
use crate::{Accounts, Tokens, handlers, store, telemetry};

/// The routes served over the account use-cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountRoute {
    /// `POST /auth/signup`
    Signup,
    /// `POST /auth/login`
    Login,
    /// `GET /api/login-token`
    LoginToken,
}

/// The routes served over the token use-cases alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRoute {
    /// `GET /auth/verify`
    Verify,
}

async fn cold_start() -> Result<(Config, store::Client), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let client = store::connect(config.store_timeout).await;
    Ok((config, client))
}

/// Serves `route` over the account use-cases (password hasher included).
pub async fn serve_accounts(route: AccountRoute) -> Result<(), Error> {
    let (config, client) = cold_start().await?;
    let accounts = &Accounts::from_config(&config, client, Arc::new(SystemClock))?;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(match route {
            AccountRoute::Signup => handlers::signup(accounts, request).await,
            AccountRoute::Login => handlers::login(accounts, request).await,
            AccountRoute::LoginToken => handlers::login_token(accounts, request).await,
        })
    }))
    .await
}

/// Serves `route` over the token use-cases only: no password hasher is built.
pub async fn serve_tokens(route: TokenRoute) -> Result<(), Error> {
    let (config, client) = cold_start().await?;
    let tokens = &Tokens::from_config(&config, client, Arc::new(SystemClock));
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(match route {
            TokenRoute::Verify => handlers::verify(tokens, request).await,
        })
    }))
    .await
}
