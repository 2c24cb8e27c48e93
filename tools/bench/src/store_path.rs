//! The token paths in process, through the domain crate with the real DynamoDB client, against
//! a bare `GetItem` of the same item with the same client.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::http::HeaderValue;
use lambda_http::{Body, Request};
use tokengate::authorizer::Authorizer;
use tokengate::ids::UserId;
use tokengate::keyring::{Authentication, KeyId, SigningKey};
use tokengate::keys::secret::RingSecret;
use tokengate::lambda::{FromConfig, Parts, respond};
use tokengate::store::RequestCounter;
use tokengate::tokens::{Tokens, Verification};

use crate::deployment::Deployment;
use crate::events;
use crate::stats::Samples;

/// The bare read every token check is compared with: the token's item, read as `verify`
/// reads it (strongly consistent), with no domain code around it.
#[derive(Clone)]
pub struct BareGetItem {
    client: Client,
    table: String,
    uid: String,
    sk: String,
}

impl BareGetItem {
    /// The read of the seeded account's sessions item: the one read a valid token costs
    /// `verify` and the authorizer, of the same item, as big as the account's sessions make it.
    pub fn of_seeded_sessions(deployment: &Deployment) -> Self {
        Self::of_sessions(deployment, &deployment.claims.user)
    }

    /// The read of `user`'s sessions item.
    pub fn of_sessions(deployment: &Deployment, user: &UserId) -> Self {
        Self {
            client: deployment.client.clone(),
            table: deployment.config.tokens_table.clone(),
            uid: user.to_string(),
            // The tokens table's sort key of an account's sessions (see tokengate::store).
            sk: "sessions".to_owned(),
        }
    }

    /// One `GetItem`; panics when the item is not there, which would void the comparison.
    pub async fn call(&self) {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("uid", AttributeValue::S(self.uid.clone()))
            .key("sk", AttributeValue::S(self.sk.clone()))
            .consistent_read(true)
            .send()
            .await
            .expect("GetItem on DynamoDB Local");
        assert!(
            output.item.is_some(),
            "the account's sessions item is missing"
        );
    }
}

/// Times `ours` and `baseline` `samples` times each, alternating which goes first, after
/// `warmup` untimed rounds.
pub async fn paired<A, B, FA, FB>(
    warmup: usize,
    samples: usize,
    mut ours: FA,
    mut baseline: FB,
) -> (Samples, Samples)
where
    FA: FnMut() -> A,
    FB: FnMut() -> B,
    A: Future<Output = ()>,
    B: Future<Output = ()>,
{
    for _ in 0..warmup {
        ours().await;
        baseline().await;
    }
    let (mut ours_samples, mut baseline_samples) = (
        Samples::with_capacity(samples),
        Samples::with_capacity(samples),
    );
    for round in 0..samples {
        if round % 2 == 0 {
            let started = Instant::now();
            ours().await;
            ours_samples.push(started.elapsed());
        }
        let started = Instant::now();
        baseline().await;
        baseline_samples.push(started.elapsed());
        if round % 2 == 1 {
            let started = Instant::now();
            ours().await;
            ours_samples.push(started.elapsed());
        }
    }
    (ours_samples, baseline_samples)
}

/// `GET /auth/verify` with the seeded token, as the verify function hands it to its handler.
fn verify_request(authorization: &HeaderValue) -> Request {
    bearer_request("/auth/verify", authorization)
}

fn sessions_request(authorization: &HeaderValue) -> Request {
    bearer_request("/auth/sessions", authorization)
}

/// A GET of `path` presenting `authorization`.
fn bearer_request(path: &str, authorization: &HeaderValue) -> Request {
    let mut request = Request::new(Body::Empty);
    *request.uri_mut() = path.parse().expect("a valid path");
    request.headers_mut().insert(
        lambda_http::http::header::AUTHORIZATION,
        authorization.clone(),
    );
    request
}

/// The verify handler, valid token, against a bare `GetItem`.
pub async fn verify_handler(
    deployment: &Deployment,
    warmup: usize,
    samples: usize,
) -> (Samples, Samples) {
    let authorization =
        HeaderValue::from_str(&format!("Bearer {}", deployment.token)).expect("a header value");
    let tokens = &deployment.tokens;
    let bare = BareGetItem::of_seeded_sessions(deployment);
    let body = respond(tokengate::handlers::verify(tokens, verify_request(&authorization)).await)
        .into_body();
    assert!(
        matches!(&body, Body::Text(text) if text.contains("\"valid\":true")),
        "verify does not accept the seeded token: {body:?}"
    );
    paired(
        warmup,
        samples,
        || async {
            let response =
                respond(tokengate::handlers::verify(tokens, verify_request(&authorization)).await);
            assert_eq!(response.status(), 200);
        },
        || bare.call(),
    )
    .await
}

/// The authorizer (REST API REQUEST event, valid token, no cache so every call reads the store)
/// against a bare `GetItem`.
pub async fn authorizer(
    deployment: &Deployment,
    warmup: usize,
    samples: usize,
) -> (Samples, Samples) {
    let authorizer = &Authorizer::new(deployment.tokens.clone(), Duration::ZERO);
    let event = &events::authorizer_request(Some(&format!("Bearer {}", deployment.token)));
    let bare = BareGetItem::of_seeded_sessions(deployment);
    paired(
        warmup,
        samples,
        || async {
            let answer = authorizer.handle(event.clone()).await.expect("a policy");
            assert_eq!(
                answer["policyDocument"]["Statement"][0]["Effect"], "Allow",
                "authorizer denied: {answer}"
            );
        },
        || bare.call(),
    )
    .await
}

/// What rejecting garbage and forgeries cost, and how many store requests it made.
pub struct Rejections {
    /// Time per rejected token (each sample is a batch, divided by its size).
    pub rejected: Samples,
    /// Time per tag check of an authentic token, the same HMAC work without a store call.
    pub tag_check: Samples,
    /// Store requests made while rejecting (must be 0).
    pub store_requests: u64,
    /// Store requests made by one valid verify through the same client (must be 1): shows the
    /// counter sees requests at all.
    pub control_requests: u64,
    /// How many tokens were rejected in all.
    pub rejected_count: u64,
}

/// Tokens that must be refused: garbage, right-shaped forgeries, a tampered genuine token, and
/// one signed with another key.
fn refused_tokens(deployment: &Deployment) -> Vec<String> {
    let genuine = deployment.token.as_str();
    let mut tampered = genuine.as_bytes().to_vec();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let active = deployment.ring.active_id();
    let other_key = SigningKey::new(&tokengate::ids::random_bytes::<32>()).expect("a 32-byte key");
    let random_body = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        tokengate::ids::random_bytes::<64>(),
    );
    vec![
        String::new(),
        "not-a-token".to_owned(),
        "32997522-0c9f-4336-80fb-fef717e28248".to_owned(),
        format!("tg1_{}", "A".repeat(86)),
        format!("tg1_{random_body}"),
        format!("tg2_{}", "A".repeat(91)),
        String::from_utf8(tampered).expect("ASCII"),
        // Signed with another key under the ring's own key id, and under key ids the ring does
        // not hold: an older one (as if dropped) and newer ones (a ring read is forced at most
        // once per refresh window; the file source keeps that read off DynamoDB too).
        other_key
            .token_for(active, &deployment.claims.user, &deployment.claims.token)
            .expose()
            .to_owned(),
        other_key
            .token_for(KeyId(0), &deployment.claims.user, &deployment.claims.token)
            .expose()
            .to_owned(),
        other_key
            .token_for(
                KeyId(active.0 + 1),
                &deployment.claims.user,
                &deployment.claims.token,
            )
            .expose()
            .to_owned(),
        other_key
            .token_for(
                KeyId(u32::MAX),
                &deployment.claims.user,
                &deployment.claims.token,
            )
            .expose()
            .to_owned(),
        "x".repeat(4096),
    ]
}

/// Rejects garbage and forged tokens through `Tokens::verify` over a client that counts its
/// requests, against a tag check of the genuine token.
pub async fn rejections(deployment: &Deployment, batches: usize, batch: usize) -> Rejections {
    let counter = RequestCounter::default();
    let parts = Parts {
        client: counter.counting(&deployment.client),
        ..deployment.parts.clone()
    };
    let tokens = Tokens::from_config(&deployment.config, &parts).expect("token use-cases");
    let valid = tokens.verify(&deployment.token).await;
    assert!(matches!(valid, Ok(Verification::Valid { .. })), "{valid:?}");
    let control_requests = counter.count();

    let refused = refused_tokens(deployment);
    let ring = &deployment.ring;
    let before = counter.count();
    let mut rejected = Samples::with_capacity(batches);
    let mut tag_check = Samples::with_capacity(batches);
    let mut rejected_count = 0;
    for round in 0..batches + batches / 10 {
        let started = Instant::now();
        for call in 0..batch {
            let token = &refused[(round + call) % refused.len()];
            let verdict = tokens.verify(std::hint::black_box(token)).await;
            assert!(matches!(verdict, Ok(Verification::Invalid)), "{verdict:?}");
        }
        let rejecting = started.elapsed();
        let started = Instant::now();
        for _ in 0..batch {
            assert!(matches!(
                ring.authenticate(std::hint::black_box(&deployment.token)),
                Authentication::Authentic(_)
            ));
        }
        let checking = started.elapsed();
        // The first tenth warms caches and is not kept.
        if round >= batches / 10 {
            rejected.push(rejecting / batch as u32);
            tag_check.push(checking / batch as u32);
        }
        rejected_count += batch as u64;
    }
    Rejections {
        rejected,
        tag_check,
        store_requests: counter.count() - before,
        control_requests,
        rejected_count,
    }
}

/// Calls per second that `callers` concurrent tasks complete in `window` with `call`.
async fn calls_per_second<F, Fut>(callers: usize, window: Duration, call: F) -> f64
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let deadline = Instant::now() + window;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..callers {
        let call = call.clone();
        tasks.spawn(async move {
            let mut calls = 0u64;
            while Instant::now() < deadline {
                call().await;
                calls += 1;
            }
            calls
        });
    }
    let mut total = 0;
    while let Some(calls) = tasks.join_next().await {
        total += calls.expect("a caller task");
    }
    total as f64 / started.elapsed().as_secs_f64()
}

/// Verify calls per second from `callers` concurrent callers sharing one warm `Tokens`, and bare
/// `GetItem`s per second at the same concurrency: `rounds` windows of `window` each, in
/// alternating order.
pub async fn throughput(
    deployment: &Deployment,
    callers: usize,
    rounds: usize,
    window: Duration,
) -> (f64, f64) {
    let tokens = Arc::new(deployment.tokens.clone());
    let token: Arc<str> = deployment.token.as_str().into();
    let verify = move || {
        let (tokens, token) = (tokens.clone(), token.clone());
        async move {
            let verdict = tokens.verify(&token).await;
            assert!(
                matches!(verdict, Ok(Verification::Valid { .. })),
                "{verdict:?}"
            );
        }
    };
    let bare = Arc::new(BareGetItem::of_seeded_sessions(deployment));
    let get_item = move || {
        let bare = bare.clone();
        async move { bare.call().await }
    };
    calls_per_second(callers, window / 4, verify.clone()).await;
    calls_per_second(callers, window / 4, get_item.clone()).await;
    let (mut ours, mut baseline) = (0.0, 0.0);
    for round in 0..rounds {
        if round % 2 == 1 {
            baseline += calls_per_second(callers, window, get_item.clone()).await;
        }
        ours += calls_per_second(callers, window, verify.clone()).await;
        if round % 2 == 0 {
            baseline += calls_per_second(callers, window, get_item.clone()).await;
        }
    }
    (ours / rounds as f64, baseline / rounds as f64)
}

/// `GET /auth/sessions` through its handler for an account with `sessions` live sessions,
/// against a bare `GetItem` of that account's sessions item.
pub async fn sessions_listing(
    deployment: &Deployment,
    sessions: usize,
    warmup: usize,
    samples: usize,
) -> Result<(Samples, Samples), String> {
    let (email, token) = deployment
        .extra_account(&format!("sessions-{sessions}"))
        .await?;
    deployment
        .add_sessions(&email, &token, sessions - 1)
        .await?;
    let authorization = HeaderValue::from_str(&format!("Bearer {token}")).expect("a header value");
    let tokens = &deployment.tokens;
    let listed =
        respond(tokengate::handlers::sessions(tokens, sessions_request(&authorization)).await);
    let body: serde_json::Value =
        serde_json::from_slice(listed.body().as_ref()).map_err(|error| error.to_string())?;
    let count = body["sessions"].as_array().map_or(0, Vec::len);
    if count != sessions {
        return Err(format!(
            "the listing shows {count} sessions, not {sessions}"
        ));
    }
    let Authentication::Authentic(claims) = deployment.ring.authenticate(&token) else {
        return Err("the listed account's token does not authenticate".into());
    };
    let bare = BareGetItem::of_sessions(deployment, &claims.user);
    Ok(paired(
        warmup,
        samples,
        || async {
            let response = respond(
                tokengate::handlers::sessions(tokens, sessions_request(&authorization)).await,
            );
            assert_eq!(response.status(), 200);
        },
        || bare.call(),
    )
    .await)
}

/// The key ring's read at a cold start, on its own: a fresh client (as a new process has) and
/// its first `GetSecretValue`, against a fresh DynamoDB client's first `GetItem`.
pub async fn first_calls(deployment: &Deployment) -> (Duration, Duration) {
    let config = &deployment.config;
    let started = Instant::now();
    let sdk = tokengate::store::sdk_config(config.store_timeout, None)
        .await
        .expect("SDK configuration");
    let secret = RingSecret::new(
        aws_sdk_secretsmanager::Client::new(&sdk),
        &deployment.secret_arn,
    );
    secret.current().await.expect("the key ring secret");
    let ring_read = started.elapsed();

    let started = Instant::now();
    let client = tokengate::store::connect(config.store_timeout, None)
        .await
        .expect("DynamoDB client");
    let bare = BareGetItem {
        client,
        ..BareGetItem::of_seeded_sessions(deployment)
    };
    bare.call().await;
    (ring_read, started.elapsed())
}

/// `POST /auth/password-reset` for the seeded account's email (ours) against the same request
/// for an address no account has (baseline), through the handler with the real client: the
/// request path must not tell them apart by time.
pub async fn reset_requests(
    deployment: &Deployment,
    warmup: usize,
    samples: usize,
) -> (Samples, Samples) {
    let unknown = format!("nobody-{}", deployment.email);
    let request = |email: &str| {
        let mut request = Request::new(Body::from(
            serde_json::json!({ "email": email }).to_string(),
        ));
        *request.uri_mut() = "/auth/password-reset".parse().expect("a valid path");
        request.headers_mut().insert(
            lambda_http::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        request
    };
    let accounts = &deployment.accounts;
    let call = |email: String| {
        let request = request(&email);
        async move {
            let response = respond(tokengate::handlers::password_reset(accounts, request).await);
            assert_eq!(response.status(), 202);
        }
    };
    paired(
        warmup,
        samples,
        || call(deployment.email.clone()),
        || call(unknown.clone()),
    )
    .await
}
