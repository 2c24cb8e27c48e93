//! The Lambda entry: what every function's `main` calls, and the one place that wires the
//! use-cases to their configuration. State is built once per cold start (configuration, one
//! DynamoDB client, the key ring, the use-cases the function needs and no more) and borrowed by
//! every invocation; every handler's error becomes problem+json here.

use std::future::Future;
use std::sync::Arc;

use aws_config::SdkConfig;
use aws_lambda_events::event::dynamodb;
use aws_lambda_events::event::secretsmanager::SecretsManagerSecretRotationEvent;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
pub use lambda_http::Error;
use lambda_http::http::header;
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{Body, Request, Response, service_fn};
use serde::{Deserialize, Deserializer};

use crate::accounts::Accounts;
use crate::authorizer::Authorizer;
use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::handlers::Answer;
use crate::ids::CodeId;
use crate::keys::secret::RingSecret;
use crate::keys::{KeyRingLocation, Keys};
use crate::mailer::{Mailer, SWEEP_MIN_AGE_SECONDS};
use crate::passwords::PasswordHasher;
use crate::problem::ApiError;
use crate::profiles::Profiles;
use crate::rotation::{Rotation, RotationStep};
use crate::ses::MailSender;
use crate::store::{self, Client, Store};
use crate::telemetry;
use crate::tokens::Tokens;

/// Runs a function's `serve` future to its end on a single-threaded runtime: Lambda sends one
/// invocation at a time, so no worker threads are started. Each binary's `main` is this call.
pub fn run(serve: impl Future<Output = Result<(), Error>>) -> Result<(), Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(serve)
}

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

/// What the mailer is invoked with.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum MailerEvent {
    /// `{"sweep":true}`, a schedule's.
    Sweep {
        /// Always `true`: an event whose `sweep` is anything else is no sweep.
        #[serde(deserialize_with = "only_true")]
        sweep: (),
    },
    /// A batch of the outbox's stream records (keys only).
    Stream(dynamodb::Event),
}

fn only_true<'de, D: Deserializer<'de>>(deserializer: D) -> Result<(), D::Error> {
    if bool::deserialize(deserializer)? {
        Ok(())
    } else {
        Err(serde::de::Error::custom("a sweep is `\"sweep\":true`"))
    }
}

/// The mailer's answer to one event: a batch of outbox stream records (the items whose
/// delivery failed are reported, so the stream retries from them), or `{"sweep":true}` (a
/// schedule's), which delivers every unfinished item a minute old or more.
pub async fn mail(mailer: &Mailer, event: serde_json::Value) -> Result<serde_json::Value, Error> {
    let event = serde_json::from_value(event)
        .map_err(|_| "the mailer takes outbox stream records or {\"sweep\":true}")?;
    let records = match event {
        MailerEvent::Sweep { sweep: () } => {
            let sweep = mailer.sweep(SWEEP_MIN_AGE_SECONDS).await?;
            return Ok(serde_json::json!({"finished": sweep.finished, "left": sweep.left}));
        }
        MailerEvent::Stream(stream) => stream.records,
    };
    let mut answer = DynamoDbEventResponse::default();
    for record in records {
        if record.event_name != "INSERT" {
            continue;
        }
        let change = record.change;
        let Some(id) = outbox_id(&change.keys) else {
            tracing::error!("an outbox stream record without an item id");
            continue;
        };
        if let Err(error) = mailer.deliver(&id).await {
            tracing::warn!(%error, "message left for a retry");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = change.sequence_number;
            answer.batch_item_failures.push(failure);
        }
    }
    Ok(serde_json::to_value(answer)?)
}

/// The outbox item's id in a stream record's keys.
fn outbox_id(keys: &serde_dynamo::Item) -> Option<CodeId> {
    match keys.get("id")? {
        serde_dynamo::AttributeValue::S(id) => CodeId::parse(id),
        _ => None,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An INSERT of the outbox's stream as the event source mapping delivers it (keys only).
    fn insert(id: &str, sequence: &str) -> serde_json::Value {
        serde_json::json!({
            "eventID": "c81e728d9d4c2f636f067f89cc14862c",
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "eu-west-1",
            "dynamodb": {
                "ApproximateCreationDateTime": 1_700_000_000,
                "Keys": {"id": {"S": id}},
                "SequenceNumber": sequence,
                "SizeBytes": 38,
                "StreamViewType": "KEYS_ONLY"
            },
            "eventSourceARN": "arn:aws:dynamodb:eu-west-1:1:table/outbox/stream/2024-01-01T00:00:00.000"
        })
    }

    #[test]
    fn a_stream_batch_reads_each_records_item_id_and_sequence_number() {
        let id = CodeId::generate();
        let event =
            serde_json::json!({"Records": [insert(&id.to_string(), "42"), insert("x", "43")]});
        let Ok(MailerEvent::Stream(stream)) = serde_json::from_value(event) else {
            panic!("a stream batch");
        };
        let [first, second] = &stream.records[..] else {
            panic!("two records");
        };
        assert_eq!(first.event_name, "INSERT");
        assert_eq!(outbox_id(&first.change.keys), Some(id));
        assert_eq!(first.change.sequence_number.as_deref(), Some("42"));
        assert_eq!(outbox_id(&second.change.keys), None);
    }

    #[test]
    fn only_sweep_true_is_a_sweep() {
        let sweep = serde_json::from_value(serde_json::json!({"sweep": true}));
        assert!(matches!(sweep, Ok(MailerEvent::Sweep { .. })));
        for neither in [
            serde_json::json!({"sweep": false}),
            serde_json::json!({"sweep": "yes"}),
            serde_json::json!({}),
        ] {
            assert!(serde_json::from_value::<MailerEvent>(neither).is_err());
        }
    }

    #[test]
    fn failed_items_are_reported_as_the_stream_expects() {
        let mut answer = DynamoDbEventResponse::default();
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = Some("42".into());
        answer.batch_item_failures.push(failure);
        assert_eq!(
            serde_json::to_value(answer).unwrap(),
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": "42"}]})
        );
        assert_eq!(
            serde_json::to_value(DynamoDbEventResponse::default()).unwrap(),
            serde_json::json!({"batchItemFailures": []})
        );
    }
}
