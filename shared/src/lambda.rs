//! The Lambda entry: what every function's `main` calls. State is built once per cold start
//! (configuration, one DynamoDB client, the use-cases) and borrowed by every invocation.

use std::sync::Arc;

use lambda_http::{Error, Request, service_fn};

use crate::authorizer::Authorizer;
use crate::clock::SystemClock;
use crate::config::Config;
use crate::profiles::Profiles;
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
    /// `POST /auth/logout-all`
    LogoutAll,
    /// `POST /auth/password`
    ChangePassword,
}

/// The routes served over profiles (no password hasher).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileRoute {
    /// `GET /api/me`
    Me,
}

/// The routes served over the token use-cases alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRoute {
    /// `GET /auth/verify`
    Verify,
    /// `POST /auth/logout`
    Logout,
}

async fn cold_start() -> Result<(Config, store::Client), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let client = store::connect(config.store_timeout).await?;
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
            AccountRoute::LogoutAll => handlers::logout_all(accounts, request).await,
            AccountRoute::ChangePassword => handlers::change_password(accounts, request).await,
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
            TokenRoute::Logout => handlers::logout(tokens, request).await,
        })
    }))
    .await
}

/// Serves `route` over the profile use-case.
pub async fn serve_profiles(route: ProfileRoute) -> Result<(), Error> {
    let (config, client) = cold_start().await?;
    let profiles = &Profiles::from_config(&config, client, Arc::new(SystemClock));
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Error>(match route {
            ProfileRoute::Me => handlers::me(profiles, request).await,
        })
    }))
    .await
}

/// Serves the API Gateway authorizer (REST or HTTP API events).
pub async fn serve_authorizer() -> Result<(), Error> {
    use lambda_http::lambda_runtime::{self, LambdaEvent};
    let (config, client) = cold_start().await?;
    let tokens = Tokens::from_config(&config, client, Arc::new(SystemClock));
    let authorizer = &Authorizer::new(tokens, config.authorizer_cache);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            // Boxed: the nested futures are otherwise too deep for the compiler's layout queries.
            Ok::<_, Error>(Box::pin(authorizer.handle(event.payload)).await)
        },
    ))
    .await
}
