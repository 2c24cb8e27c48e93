//! The REST API's REQUEST authorizer: what it answers API Gateway for each kind of token.

use std::time::Duration;

use serde_json::{Value, json};
use tokengate::authorizer::{Authorizer, AuthorizerError};
use tokengate_tests::{ApiRequest, START, TTL_SECONDS, TestApp};

/// The method ARN the local front's events name for `GET /api/me`.
const METHOD_ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:local/local/GET/api/me";

/// A token's three places.
pub(crate) enum Place {
    Bearer,
    Header,
    Query,
}

/// The REQUEST authorizer event of `GET /api/me` presenting `token` at `place`.
pub(crate) fn authorizer_event(token: Option<&str>, place: Place) -> Value {
    let request = ApiRequest::get("/api/me");
    let request = match (token, place) {
        (None, _) => request,
        (Some(token), Place::Bearer) => request.header("Authorization", &format!("Bearer {token}")),
        (Some(token), Place::Header) => request.header("X-Auth-Token", token),
        (Some(token), Place::Query) => request.query("x-auth-token", token),
    };
    request.authorizer_event()
}

/// Signs up and returns (token, user id, token id).
async fn issued(app: &TestApp, email: &str) -> (String, String, String) {
    let body = app.sign_up(email, "correct horse").await;
    let token = body["x-auth-token"].as_str().unwrap().to_owned();
    let user = body["userObj"]["id"].as_str().unwrap().to_owned();
    let claims = app.claims(&token).unwrap();
    (token, user, claims.token.to_string())
}

/// Whether the authorizer's answer is an allow (a policy, with an Allow statement).
pub(crate) fn allowed(answer: &Result<Value, AuthorizerError>) -> bool {
    matches!(answer, Ok(policy) if policy["policyDocument"]["Statement"][0]["Effect"] == "Allow")
}

/// The `detail` a deny's context carries for API Gateway's ACCESS_DENIED response.
fn denial(answer: &Result<Value, AuthorizerError>) -> String {
    let policy = answer.as_ref().expect("a policy, not an error");
    assert_eq!(policy["policyDocument"]["Statement"][0]["Effect"], "Deny");
    assert_eq!(
        policy["policyDocument"]["Statement"][0]["Resource"],
        json!([METHOD_ARN])
    );
    assert_eq!(policy["principalId"], "anonymous");
    policy["context"]["detail"]
        .as_str()
        .expect("a detail")
        .to_owned()
}

#[tokio::test]
async fn a_valid_token_in_each_place_is_allowed_on_the_whole_stage_with_its_context() {
    let app = TestApp::spawn().await;
    let (token, user, _) = issued(&app, "authz@example.com").await;
    let authorizer = Authorizer::new(app.tokens.clone(), Duration::ZERO);
    for place in [Place::Bearer, Place::Header, Place::Query] {
        let policy = authorizer
            .handle(authorizer_event(Some(&token), place))
            .await
            .unwrap();
        assert_eq!(policy["principalId"], user);
        let statement = &policy["policyDocument"]["Statement"][0];
        assert_eq!(statement["Effect"], "Allow");
        assert_eq!(statement["Action"], json!(["execute-api:Invoke"]));
        assert_eq!(
            statement["Resource"],
            json!(["arn:aws:execute-api:us-east-1:123456789012:local/local/*"])
        );
        assert_eq!(
            policy["context"],
            json!({"userId": user, "clientId": "default", "expire": START + TTL_SECONDS})
        );
    }
}

#[tokio::test]
async fn no_token_is_api_gateways_unauthorized_error_and_nothing_else_is() {
    let app = TestApp::spawn().await;
    let authorizer = Authorizer::new(app.tokens.clone(), Duration::ZERO);
    for event in [
        authorizer_event(None, Place::Bearer),
        ApiRequest::get("/api/me")
            .header("Authorization", "Bearer   ")
            .authorizer_event(),
        ApiRequest::get("/api/me")
            .header("X-Auth-Token", "")
            .authorizer_event(),
    ] {
        let answer = authorizer.handle(event).await;
        assert!(
            matches!(answer, Err(AuthorizerError::NoCredentials)),
            "{answer:?}"
        );
        // API Gateway's UNAUTHORIZED response is chosen by this exact message.
        assert_eq!(answer.unwrap_err().to_string(), "Unauthorized");
    }
}

#[tokio::test]
async fn garbage_forged_and_expired_tokens_are_denied_with_the_reason_as_detail() {
    let app = TestApp::spawn().await;
    let (token, _, _) = issued(&app, "deny@example.com").await;
    let authorizer = Authorizer::new(app.tokens.clone(), Duration::from_secs(10));
    let forged = tokengate_tests::forged_token();
    for (token, place) in [
        ("garbage", Place::Header),
        (forged.as_str(), Place::Query),
        ("tg1_nope", Place::Bearer),
    ] {
        let answer = authorizer
            .handle(authorizer_event(Some(token), place))
            .await;
        assert_eq!(denial(&answer), "Invalid access token.");
    }

    app.clock.advance(TTL_SECONDS);
    let answer = authorizer
        .handle(authorizer_event(Some(&token), Place::Bearer))
        .await;
    assert_eq!(denial(&answer), "Access token expired.");
    assert!(
        app.scan(&app.config.tokens_table)
            .await
            .iter()
            .any(|item| item["sk"].as_s().unwrap().starts_with("token#")),
        "denied although its item still exists (TTL deletion is lazy)"
    );
}

#[tokio::test]
async fn a_store_fault_is_an_authorizer_failure_never_an_allow() {
    let app = TestApp::spawn().await;
    let (token, _, _) = issued(&app, "fault-authz@example.com").await;
    let healthy = tokengate::store::connect(Duration::from_millis(300), None)
        .await
        .expect("client");
    let down = aws_sdk_dynamodb::Client::from_conf(
        healthy
            .config()
            .to_builder()
            .endpoint_url("http://127.0.0.1:9")
            .build(),
    );
    let broken = TestApp::with_client(down, app.config.clone(), false).await;
    let authorizer = Authorizer::new(broken.tokens.clone(), Duration::from_secs(10));
    let answer = authorizer
        .handle(authorizer_event(Some(&token), Place::Bearer))
        .await;
    assert!(
        matches!(answer, Err(AuthorizerError::Unavailable)),
        "{answer:?}"
    );
    assert_ne!(
        answer.unwrap_err().to_string(),
        "Unauthorized",
        "a fault is not a 401"
    );
}

#[tokio::test]
async fn a_cached_allow_outlives_revocation_only_within_the_window() {
    let app = TestApp::spawn().await;
    let (token, user, token_id) = issued(&app, "cache@example.com").await;
    let authorizer = Authorizer::new(app.tokens.clone(), Duration::from_secs(10));
    let event = || authorizer_event(Some(&token), Place::Bearer);
    assert!(allowed(&authorizer.handle(event()).await));

    app.revoke_in_store(&user, &token_id).await;
    app.clock.advance(9);
    assert!(allowed(&authorizer.handle(event()).await), "cached");
    app.clock.advance(1);
    assert_eq!(
        denial(&authorizer.handle(event()).await),
        "Invalid access token.",
        "window over"
    );
}

#[tokio::test]
async fn with_caching_off_revocation_is_seen_at_once() {
    let app = TestApp::spawn().await;
    let (token, user, token_id) = issued(&app, "nocache@example.com").await;
    let authorizer = Authorizer::new(app.tokens.clone(), Duration::ZERO);
    let event = || authorizer_event(Some(&token), Place::Bearer);
    assert!(allowed(&authorizer.handle(event()).await));
    app.revoke_in_store(&user, &token_id).await;
    assert!(!allowed(&authorizer.handle(event()).await));
}

#[tokio::test]
async fn a_cached_allow_never_outlives_the_tokens_expiry() {
    let app = TestApp::spawn().await;
    let (token, _, _) = issued(&app, "edge@example.com").await;
    let authorizer = Authorizer::new(app.tokens.clone(), Duration::from_secs(600));
    let event = || authorizer_event(Some(&token), Place::Bearer);
    app.clock.advance(TTL_SECONDS - 3);
    assert!(allowed(&authorizer.handle(event()).await));
    app.clock.advance(2);
    assert!(allowed(&authorizer.handle(event()).await));
    app.clock.advance(1);
    assert_eq!(
        denial(&authorizer.handle(event()).await),
        "Access token expired."
    );
}

#[tokio::test]
async fn events_that_are_not_request_authorizer_events_are_denied() {
    let app = TestApp::spawn().await;
    let authorizer = Authorizer::new(app.tokens.clone(), Duration::ZERO);
    for event in [
        json!({"unexpected": true}),
        json!("text"),
        json!({"headers": 5}),
    ] {
        let answer = authorizer.handle(event).await.unwrap();
        assert_eq!(answer["policyDocument"]["Statement"][0]["Effect"], "Deny");
    }
}
