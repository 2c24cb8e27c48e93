use std::time::Duration;

use serde_json::{Value, json};
use tokengate::authorizer::Authorizer;
use tokengate_tests::{START, TTL_SECONDS, TestApp, test_config};

const ROUTE_ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/$default/GET/api/me";
const METHOD_ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/api/me";

/// A token's three places, as an HTTP API 2.0 authorizer event would carry them.
pub(crate) enum Place {
    Bearer,
    Header,
    Query,
}

pub(crate) fn http_api_event(token: Option<&str>, place: Place) -> Value {
    let mut event = json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": ROUTE_ARN,
        "identitySource": [],
        "routeKey": "GET /api/me",
        "rawPath": "/api/me",
        "rawQueryString": "",
        "headers": {"host": "abcdef123.execute-api.us-east-1.amazonaws.com", "user-agent": "curl/8"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "abcdef123", "domainName": "abcdef123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abcdef123",
            "http": {"method": "GET", "path": "/api/me", "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "curl/8"},
            "requestId": "req", "routeKey": "GET /api/me", "stage": "$default", "time": "01/Jan/2100:00:00:00 +0000", "timeEpoch": START * 1000
        }
    });
    if let Some(token) = token {
        match place {
            Place::Bearer => event["headers"]["authorization"] = json!(format!("Bearer {token}")),
            Place::Header => event["headers"]["x-auth-token"] = json!(token),
            Place::Query => {
                event["rawQueryString"] = json!(format!("x-auth-token={token}"));
                event["queryStringParameters"] = json!({"x-auth-token": token});
            }
        }
    }
    event
}

fn rest_api_event(token: Option<&str>) -> Value {
    let mut headers = json!({"Host": "abcdef123.execute-api.us-east-1.amazonaws.com"});
    if let Some(token) = token {
        headers["Authorization"] = json!(format!("Bearer {token}"));
    }
    json!({
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "resource": "/api/me",
        "path": "/api/me",
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {},
        "queryStringParameters": {},
        "multiValueQueryStringParameters": {},
        "pathParameters": {},
        "stageVariables": {},
        "requestContext": {"accountId": "123456789012", "apiId": "abcdef123", "stage": "prod", "requestId": "r", "httpMethod": "GET", "resourcePath": "/api/me", "path": "/prod/api/me", "identity": {"sourceIp": "192.0.2.1"}}
    })
}

/// Signs up and returns (token, user id, token id).
async fn issued(app: &TestApp, email: &str) -> (String, String, String) {
    let body = app.sign_up(email, "correct horse").await;
    let token = body["x-auth-token"].as_str().unwrap().to_owned();
    let user = body["userObj"]["id"].as_str().unwrap().to_owned();
    let claims = app.claims(&token).unwrap();
    (token, user, claims.token.to_string())
}

pub(crate) fn allowed_http(response: &Value) -> bool {
    response["isAuthorized"].as_bool().expect("simple response")
}

#[tokio::test]
async fn http_api_allows_a_valid_token_in_each_place_with_its_context() {
    let app = TestApp::spawn().await;
    let (token, user, _) = issued(&app, "authz@example.com").await;
    let authorizer = Authorizer::new(app.tokens.clone(), Duration::ZERO);
    for place in [Place::Bearer, Place::Header, Place::Query] {
        let response = authorizer.handle(http_api_event(Some(&token), place)).await;
        assert_eq!(
            response,
            json!({"isAuthorized": true, "context": {"userId": user, "clientId": "default", "expire": START + TTL_SECONDS}})
        );
    }
}

#[tokio::test]
async fn http_api_denies_missing_garbage_forged_and_expired_tokens() {
    let app = TestApp::spawn().await;
    let (token, _, _) = issued(&app, "deny@example.com").await;
    let authorizer = Authorizer::new(app.tokens.clone(), Duration::from_secs(10));
    assert!(!allowed_http(
        &authorizer.handle(http_api_event(None, Place::Bearer)).await
    ));
    assert!(!allowed_http(
        &authorizer
            .handle(http_api_event(Some("garbage"), Place::Header))
            .await
    ));
    let forged = tokengate::tokens::SigningKey::new(&[1; 32])
        .unwrap()
        .token_for(
            tokengate::tokens::KeyId(1),
            &tokengate::ids::UserId::generate(),
            &tokengate::ids::TokenId::generate(),
        );
    assert!(!allowed_http(
        &authorizer
            .handle(http_api_event(Some(forged.expose()), Place::Query))
            .await
    ));

    app.clock.advance(TTL_SECONDS);
    assert!(!allowed_http(
        &authorizer
            .handle(http_api_event(Some(&token), Place::Bearer))
            .await
    ));
    assert!(
        app.scan(&app.config.tokens_table)
            .await
            .iter()
            .any(|item| item["sk"].as_s().unwrap().starts_with("token#")),
        "denied although its item still exists (TTL deletion is lazy)"
    );
}

#[tokio::test]
async fn rest_api_allow_covers_the_whole_stage_and_deny_names_the_method() {
    let app = TestApp::spawn().await;
    let (token, user, _) = issued(&app, "rest-authz@example.com").await;
    let authorizer = Authorizer::new(app.tokens.clone(), Duration::ZERO);

    let allow = authorizer.handle(rest_api_event(Some(&token))).await;
    assert_eq!(allow["principalId"], user);
    let statement = &allow["policyDocument"]["Statement"][0];
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(statement["Action"], json!(["execute-api:Invoke"]));
    assert_eq!(
        statement["Resource"],
        json!(["arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/*"])
    );
    assert_eq!(
        allow["context"],
        json!({"userId": user, "clientId": "default", "expire": START + TTL_SECONDS})
    );

    for event in [rest_api_event(None), rest_api_event(Some("tg1_nope"))] {
        let deny = authorizer.handle(event).await;
        assert_eq!(deny["policyDocument"]["Statement"][0]["Effect"], "Deny");
        assert_eq!(
            deny["policyDocument"]["Statement"][0]["Resource"],
            json!([METHOD_ARN])
        );
        assert_eq!(deny["principalId"], "anonymous");
    }
}

#[tokio::test]
async fn a_store_fault_is_a_deny_not_an_error() {
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
    assert!(!allowed_http(
        &authorizer
            .handle(http_api_event(Some(&token), Place::Bearer))
            .await
    ));
    let deny = authorizer.handle(rest_api_event(Some(&token))).await;
    assert_eq!(deny["policyDocument"]["Statement"][0]["Effect"], "Deny");
    let _ = test_config;
}

#[tokio::test]
async fn a_cached_allow_outlives_revocation_only_within_the_window() {
    let app = TestApp::spawn().await;
    let (token, user, token_id) = issued(&app, "cache@example.com").await;
    let authorizer = Authorizer::new(app.tokens.clone(), Duration::from_secs(10));
    assert!(allowed_http(
        &authorizer
            .handle(http_api_event(Some(&token), Place::Bearer))
            .await
    ));

    app.revoke_in_store(&user, &token_id).await;
    app.clock.advance(9);
    assert!(
        allowed_http(
            &authorizer
                .handle(http_api_event(Some(&token), Place::Bearer))
                .await
        ),
        "cached"
    );
    app.clock.advance(1);
    assert!(
        !allowed_http(
            &authorizer
                .handle(http_api_event(Some(&token), Place::Bearer))
                .await
        ),
        "window over"
    );
}

#[tokio::test]
async fn with_caching_off_revocation_is_seen_at_once() {
    let app = TestApp::spawn().await;
    let (token, user, token_id) = issued(&app, "nocache@example.com").await;
    let authorizer = Authorizer::new(app.tokens.clone(), Duration::ZERO);
    assert!(allowed_http(
        &authorizer
            .handle(http_api_event(Some(&token), Place::Bearer))
            .await
    ));
    app.revoke_in_store(&user, &token_id).await;
    assert!(!allowed_http(
        &authorizer
            .handle(http_api_event(Some(&token), Place::Bearer))
            .await
    ));
}

#[tokio::test]
async fn a_cached_allow_never_outlives_the_tokens_expiry() {
    let app = TestApp::spawn().await;
    let (token, _, _) = issued(&app, "edge@example.com").await;
    let authorizer = Authorizer::new(app.tokens.clone(), Duration::from_secs(600));
    app.clock.advance(TTL_SECONDS - 3);
    assert!(allowed_http(
        &authorizer
            .handle(http_api_event(Some(&token), Place::Bearer))
            .await
    ));
    app.clock.advance(2);
    assert!(allowed_http(
        &authorizer
            .handle(http_api_event(Some(&token), Place::Bearer))
            .await
    ));
    app.clock.advance(1);
    assert!(!allowed_http(
        &authorizer
            .handle(http_api_event(Some(&token), Place::Bearer))
            .await
    ));
}

#[tokio::test]
async fn unknown_events_are_denied() {
    let app = TestApp::spawn().await;
    let authorizer = Authorizer::new(app.tokens.clone(), Duration::ZERO);
    assert_eq!(
        authorizer.handle(json!({"unexpected": true})).await,
        json!({"isAuthorized": false})
    );
}
