//! The Lambda entry: what every function's `main` calls, and the one place that wires the
//! use-cases to their configuration. State is built once per cold start (configuration, one
//! DynamoDB client, the key ring, the use-cases the function needs and no more) and borrowed by
//! every invocation; every handler's error becomes problem+json here.

use std::future::Future;
use std::sync::Arc;

use aws_config::SdkConfig;
use aws_lambda_events::event::secretsmanager::SecretsManagerSecretRotationEvent;
use lambda_http::http::header;
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{Body, Error, Request, Response, service_fn};

use crate::accounts::Accounts;
use crate::authorizer::Authorizer;
use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::handlers::Answer;
use crate::ids::CodeId;
use crate::keys::secret::RingSecret;
use crate::keys::{KeyRingLocation, Keys};
use crate::mailer::Mailer;
use crate::passwords::PasswordHasher;
use crate::problem::ApiError;
use crate::profiles::Profiles;
use crate::rotation::{Rotation, RotationStep};
use crate::ses::MailSender;
use crate::store::{self, Client, Store};
use crate::telemetry;
use crate::tokens::Tokens;

/// What a cold start connects before any use-case is built.
#[derive(Clone)]
pub struct Parts {
    /// The DynamoDB client.
    pub client: Client,
    /// The signing keys, read from their source.
    pub keys: Keys,
    /// The clock every expiry is judged by.
    pub clock: SharedClock,
    /// The AWS SDK configuration the clients were made from (the mailer's SES client too).
    pub sdk: SdkConfig,
}

/// State a function builds from its configuration at cold start.
pub trait FromConfig: Sized {
    /// Builds it over the connected `parts`.
    fn from_config(config: &Config, parts: &Parts) -> Result<Self, Error>;
}

fn store(config: &Config, parts: &Parts) -> Store {
    Store::new(parts.client.clone(), &config.tables())
}

impl FromConfig for Tokens {
    /// The token use-cases alone: no password hasher is built.
    fn from_config(config: &Config, parts: &Parts) -> Result<Self, Error> {
        Ok(Self::new(
            store(config, parts),
            parts.keys.clone(),
            config.token_ttl,
            config.max_sessions,
            parts.clock.clone(),
        ))
    }
}

impl FromConfig for Accounts {
    /// The account use-cases, password hasher included.
    fn from_config(config: &Config, parts: &Parts) -> Result<Self, Error> {
        Ok(Self::new(
            store(config, parts),
            PasswordHasher::new(config.hash_params)?,
            Tokens::from_config(config, parts)?,
            config.throttle,
            config.require_verified_email,
        ))
    }
}

impl FromConfig for Profiles {
    /// Profiles: the store alone (the authorizer vouched for the caller).
    fn from_config(config: &Config, parts: &Parts) -> Result<Self, Error> {
        Ok(Self::new(store(config, parts)))
    }
}

impl FromConfig for Authorizer {
    /// The authorizer over the token use-cases, with its cache window.
    fn from_config(config: &Config, parts: &Parts) -> Result<Self, Error> {
        Ok(Self::new(
            Tokens::from_config(config, parts)?,
            config.authorizer_cache,
        ))
    }
}

/// The response for a handler's answer: an error becomes its problem+json here, and only here.
pub fn respond(answer: Answer) -> Response<Body> {
    answer.unwrap_or_else(ApiError::into_response)
}

/// Connects what every use-case needs: the SDK configuration, the DynamoDB client, and the
/// key ring read from its source (in Secrets Manager, one round trip of the cold start).
pub async fn connect(config: &Config, clock: SharedClock) -> Result<Parts, Error> {
    let sdk = store::sdk_config(config.store_timeout, config.ca_bundle.as_deref()).await?;
    let keys = Keys::load(&config.key_ring, &sdk, config.key_refresh, clock.clone()).await?;
    Ok(Parts {
        client: Client::new(&sdk),
        keys,
        clock,
        sdk,
    })
}

/// Cold start: logging, configuration, the clients and key ring, then the state `S`. The state
/// lives as long as the process (Lambda keeps it for every invocation), so it is leaked once
/// and borrowed for `'static` by each invocation.
async fn cold_start<S: FromConfig + 'static>() -> Result<(&'static S, &'static Config), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let parts = connect(&config, Arc::new(SystemClock)).await?;
    let state = S::from_config(&config, &parts)?;
    Ok((Box::leak(Box::new(state)), Box::leak(Box::new(config))))
}

/// Serves one HTTP route: builds `handler`'s state `S` once, then answers every request with
/// it, adding the CORS headers of the request's origin to every response.
pub async fn serve<S, F, Fut>(handler: F) -> Result<(), Error>
where
    S: FromConfig + Sync + 'static,
    F: Fn(&'static S, Request) -> Fut,
    Fut: Future<Output = Answer> + Send,
{
    let (state, config) = cold_start::<S>().await?;
    lambda_http::run(service_fn(move |request: Request| {
        let origin = request.headers().get(header::ORIGIN).cloned();
        let answer = handler(state, request);
        async move {
            let mut response = respond(answer.await);
            config
                .cors
                .add_headers(origin.as_ref(), response.headers_mut());
            Ok::<_, Error>(response)
        }
    }))
    .await
}

/// Serves the REST API's REQUEST authorizer: a policy, or the error whose message API Gateway
/// reads (`Unauthorized`: its 401 response; anything else: its authorizer failure response).
pub async fn serve_authorizer() -> Result<(), Error> {
    let (authorizer, _) = cold_start::<Authorizer>().await?;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            // Boxed: the nested futures are otherwise too deep for the compiler's layout queries.
            Box::pin(authorizer.handle(event.payload))
                .await
                .map_err(Error::from)
        },
    ))
    .await
}

/// Serves the key ring's rotation, the four steps Secrets Manager invokes; a failed step is an
/// error, which stops the rotation with the current ring untouched.
pub async fn serve_rotation() -> Result<(), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let KeyRingLocation::Secret(secret_id) = &config.key_ring else {
        return Err("the rotation function needs KEY_RING_SECRET_ID".into());
    };
    let sdk = store::sdk_config(config.store_timeout, config.ca_bundle.as_deref()).await?;
    let secret = RingSecret::new(aws_sdk_secretsmanager::Client::new(&sdk), secret_id);
    let rotation: &'static Rotation = Box::leak(Box::new(Rotation::new(
        secret,
        config.key_overlap().as_secs(),
        Arc::new(SystemClock),
    )));
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<SecretsManagerSecretRotationEvent>| async move {
            let event = event.payload;
            let step: RotationStep = event.step.parse()?;
            rotation
                .run(&event.secret_id, step, &event.client_request_token)
                .await
                .inspect_err(|error| tracing::error!(?step, %error, "rotation step failed"))?;
            tracing::info!(?step, "rotation step done");
            Ok::<_, Error>(())
        },
    ))
    .await
}

/// How old an unfinished outbox item must be before a sweep sends it: younger ones are the
/// stream's to deliver.
pub const SWEEP_MIN_AGE_SECONDS: u64 = 60;

impl FromConfig for Mailer {
    /// The mailer: the store, the key ring (codes are made with it), SES from `MAIL_FROM`.
    fn from_config(config: &Config, parts: &Parts) -> Result<Self, Error> {
        if config.mail.from.is_empty() {
            return Err("the mailer needs MAIL_FROM, the sender address".into());
        }
        Ok(Self::new(
            store(config, parts),
            parts.keys.clone(),
            MailSender::new(&parts.sdk, &config.mail.from),
            config.mail.clone(),
            parts.clock.clone(),
        ))
    }
}

/// The mailer's answer to one event: a batch of outbox stream records (the items whose
/// delivery failed are reported, so the stream retries from them), or `{"sweep":true}` (a
/// schedule's), which delivers every unfinished item a minute old or more.
pub async fn mail(mailer: &Mailer, event: serde_json::Value) -> Result<serde_json::Value, Error> {
    if event.get("sweep").and_then(serde_json::Value::as_bool) == Some(true) {
        let sweep = mailer.sweep(SWEEP_MIN_AGE_SECONDS).await?;
        return Ok(serde_json::json!({"finished": sweep.finished, "left": sweep.left}));
    }
    let Some(records) = event.get("Records").and_then(serde_json::Value::as_array) else {
        return Err("the mailer takes outbox stream records or {\"sweep\":true}".into());
    };
    let mut failures = Vec::new();
    for record in records {
        if record.get("eventName").and_then(serde_json::Value::as_str) != Some("INSERT") {
            continue;
        }
        let change = &record["dynamodb"];
        let Some(id) = change["Keys"]["id"]["S"].as_str().and_then(CodeId::parse) else {
            tracing::error!("an outbox stream record without an item id");
            continue;
        };
        if let Err(error) = mailer.deliver(&id).await {
            tracing::warn!(%error, "message left for a retry");
            failures.push(serde_json::json!({"itemIdentifier": change["SequenceNumber"]}));
        }
    }
    Ok(serde_json::json!({ "batchItemFailures": failures }))
}

/// Serves the mailer: outbox stream batches and sweeps.
pub async fn serve_mailer() -> Result<(), Error> {
    let (mailer, _) = cold_start::<Mailer>().await?;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            Box::pin(mail(mailer, event.payload)).await
        },
    ))
    .await
}
