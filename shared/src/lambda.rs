//! The Lambda entry: what every function's `main` calls, and the one place that wires the
//! use-cases to their configuration. State is built once per cold start (configuration, one
//! DynamoDB client, the use-cases the function needs and no more) and borrowed by every
//! invocation; every handler's error becomes problem+json here.

use std::future::Future;
use std::sync::Arc;

use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{Body, Error, Request, Response, service_fn};

use crate::accounts::Accounts;
use crate::authorizer::Authorizer;
use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::handlers::Answer;
use crate::passwords::PasswordHasher;
use crate::problem::ApiError;
use crate::profiles::Profiles;
use crate::store::{self, Client, Store};
use crate::telemetry;
use crate::tokens::Tokens;

/// State a function builds from its configuration at cold start.
pub trait FromConfig: Sized {
    /// Builds it over one DynamoDB `client`, judging time by `clock`.
    fn from_config(config: &Config, client: Client, clock: SharedClock) -> Result<Self, Error>;
}

fn store(config: &Config, client: Client) -> Store {
    Store::new(client, &config.users_table, &config.tokens_table)
}

impl FromConfig for Tokens {
    /// The token use-cases alone: no password hasher is built.
    fn from_config(config: &Config, client: Client, clock: SharedClock) -> Result<Self, Error> {
        Ok(Self::new(
            store(config, client),
            config.signing_key.clone(),
            config.token_ttl,
            config.max_sessions,
            clock,
        ))
    }
}

impl FromConfig for Accounts {
    /// The account use-cases, password hasher included.
    fn from_config(config: &Config, client: Client, clock: SharedClock) -> Result<Self, Error> {
        Ok(Self::new(
            store(config, client.clone()),
            PasswordHasher::new(config.hash_params)?,
            Tokens::from_config(config, client, clock)?,
            config.throttle,
        ))
    }
}

impl FromConfig for Profiles {
    /// Profiles, checking unvouched tokens: no password hasher.
    fn from_config(config: &Config, client: Client, clock: SharedClock) -> Result<Self, Error> {
        Ok(Self::new(
            store(config, client.clone()),
            Tokens::from_config(config, client, clock)?,
        ))
    }
}

impl FromConfig for Authorizer {
    /// The authorizer over the token use-cases, with its cache window.
    fn from_config(config: &Config, client: Client, clock: SharedClock) -> Result<Self, Error> {
        Ok(Self::new(
            Tokens::from_config(config, client, clock)?,
            config.authorizer_cache,
        ))
    }
}

/// The response for a handler's answer: an error becomes its problem+json here, and only here.
pub fn respond(answer: Answer) -> Response<Body> {
    answer.unwrap_or_else(ApiError::into_response)
}

/// Cold start: logging, configuration, the DynamoDB client, then the state `S`. The state
/// lives as long as the process (Lambda keeps it for every invocation), so it is leaked once
/// and borrowed for `'static` by each invocation.
async fn cold_start<S: FromConfig + 'static>() -> Result<&'static S, Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let client = store::connect(config.store_timeout, config.ca_bundle.as_deref()).await?;
    let state = S::from_config(&config, client, Arc::new(SystemClock))?;
    Ok(Box::leak(Box::new(state)))
}

/// Serves one HTTP route: builds `handler`'s state `S` once, then answers every request with it.
pub async fn serve<S, F, Fut>(handler: F) -> Result<(), Error>
where
    S: FromConfig + Sync + 'static,
    F: Fn(&'static S, Request) -> Fut,
    Fut: Future<Output = Answer> + Send,
{
    let state = cold_start::<S>().await?;
    lambda_http::run(service_fn(move |request: Request| {
        let answer = handler(state, request);
        async move { Ok::<_, Error>(respond(answer.await)) }
    }))
    .await
}

/// Serves the API Gateway authorizer (REST or HTTP API events).
pub async fn serve_authorizer() -> Result<(), Error> {
    let authorizer = cold_start::<Authorizer>().await?;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            // Boxed: the nested futures are otherwise too deep for the compiler's layout queries.
            Ok::<_, Error>(Box::pin(authorizer.handle(event.payload)).await)
        },
    ))
    .await
}
