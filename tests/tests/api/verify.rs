use serde_json::json;
use tokengate::handlers;
use tokengate::ids::{TokenId, UserId};
use tokengate::keyring::KeyId;
use tokengate_tests::{ApiRequest, START, TTL_SECONDS, TestApp, assert_problem, body_json, call};

async fn verify(app: &TestApp, request: ApiRequest) -> serde_json::Value {
    let response = call(handlers::verify, &app.tokens, request.build()).await;
    assert_eq!(response.status(), 200);
    body_json(&response)
}

fn valid() -> serde_json::Value {
    json!({"success": true, "valid": true, "expire": START + TTL_SECONDS})
}

fn invalid() -> serde_json::Value {
    json!({"success": true, "valid": false})
}

#[tokio::test]
async fn a_token_is_accepted_in_each_of_its_four_places() {
    let app = TestApp::spawn().await;
    let token = app.sign_up("places@example.com", "correct horse").await["x-auth-token"]
        .as_str()
        .unwrap()
        .to_owned();
    let base = || ApiRequest::get("/auth/verify");
    assert_eq!(
        verify(
            &app,
            base().header("Authorization", &format!("Bearer {token}"))
        )
        .await,
        valid()
    );
    assert_eq!(
        verify(
            &app,
            base().header("Authorization", &format!("bearer  {token}"))
        )
        .await,
        valid()
    );
    assert_eq!(
        verify(&app, base().header("X-Auth-Token", &token)).await,
        valid()
    );
    assert_eq!(
        verify(&app, base().query("x-auth-token", &token)).await,
        valid()
    );
    assert_eq!(
        verify(&app, base().query("authToken", &token)).await,
        valid()
    );
}

#[tokio::test]
async fn an_expired_token_is_invalid_even_while_its_item_remains() {
    let app = TestApp::spawn().await;
    let token = app.sign_up("old@example.com", "correct horse").await["x-auth-token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.clock.advance(TTL_SECONDS - 1);
    assert_eq!(
        verify(
            &app,
            ApiRequest::get("/auth/verify").header("X-Auth-Token", &token)
        )
        .await,
        valid()
    );
    app.clock.advance(1);
    assert_eq!(
        verify(
            &app,
            ApiRequest::get("/auth/verify").header("X-Auth-Token", &token)
        )
        .await,
        invalid()
    );
    let items = app.scan(&app.config.tokens_table).await;
    assert!(
        items
            .iter()
            .any(|item| item["sk"].as_s().unwrap().starts_with("token#")),
        "the item is still there: TTL deletion is lazy"
    );
}

#[tokio::test]
async fn garbage_forged_and_unknown_tokens_are_invalid() {
    let app = TestApp::spawn().await;
    let token = app.sign_up("forge@example.com", "correct horse").await["x-auth-token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut tampered = token.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let other_key = tokengate::keyring::SigningKey::new(&[7; 32]).unwrap();
    let unknown = app
        .key_ring()
        .token_for(&UserId::generate(), &TokenId::generate());
    let candidates = [
        "garbage".to_owned(),
        String::from_utf8(tampered).unwrap(),
        other_key
            .token_for(KeyId(1), &UserId::generate(), &TokenId::generate())
            .expose()
            .to_owned(),
        unknown.expose().to_owned(),
        "x".repeat(4000),
    ];
    for candidate in candidates {
        assert_eq!(
            verify(
                &app,
                ApiRequest::get("/auth/verify").query("authToken", &candidate)
            )
            .await,
            invalid()
        );
    }
}

#[tokio::test]
async fn verify_without_a_token_is_401_with_a_bearer_challenge() {
    let app = TestApp::spawn().await;
    let response = call(
        handlers::verify,
        &app.tokens,
        ApiRequest::get("/auth/verify").build(),
    )
    .await;
    assert_problem(&response, 401, "No authentication credentials provided.");
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let blank = call(
        handlers::verify,
        &app.tokens,
        ApiRequest::get("/auth/verify")
            .query("authToken", "  ")
            .build(),
    )
    .await;
    assert_eq!(blank.status(), 401);
}

#[tokio::test]
async fn a_rest_api_event_is_served_the_same_way() {
    let app = TestApp::spawn().await;
    let token = app.sign_up("rest@example.com", "correct horse").await["x-auth-token"]
        .as_str()
        .unwrap()
        .to_owned();
    let event = json!({
        "resource": "/auth/verify",
        "path": "/auth/verify",
        "httpMethod": "GET",
        "headers": {"Host": "abc.execute-api.us-east-1.amazonaws.com"},
        "multiValueHeaders": {"Host": ["abc.execute-api.us-east-1.amazonaws.com"]},
        "queryStringParameters": {"x-auth-token": token},
        "multiValueQueryStringParameters": {"x-auth-token": [token]},
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc", "httpMethod": "GET",
            "path": "/prod/auth/verify", "stage": "prod", "requestId": "r1",
            "resourceId": "x", "resourcePath": "/auth/verify", "identity": {"sourceIp": "192.0.2.1"}
        },
        "body": null,
        "isBase64Encoded": false
    });
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    let response = call(handlers::verify, &app.tokens, request).await;
    assert_eq!(body_json(&response), valid());
}
