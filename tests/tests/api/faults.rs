use std::time::{Duration, Instant};

use serde_json::json;
use tokengate::handlers;
use tokengate::store::{self, Client};
use tokengate_tests::{
    ApiRequest, TestApp, assert_problem, body_json, call, local_client, test_config,
};

/// A client of a DynamoDB that is not there: `endpoint` refuses or never answers.
async fn client_of(endpoint: &str, timeout: Duration) -> Client {
    let healthy = store::connect(timeout, None).await.expect("client");
    Client::from_conf(healthy.config().to_builder().endpoint_url(endpoint).build())
}

async fn assert_every_route_is_503(app: &TestApp, limit: Duration) {
    let token = app.key_ring().token_for(
        &tokengate::ids::UserId::generate(),
        &tokengate::ids::TokenId::generate(),
    );
    let code = |purpose| {
        app.key_ring()
            .code_with(
                tokengate::keyring::KeyId(1),
                purpose,
                &tokengate::ids::UserId::generate(),
                &tokengate::ids::CodeId::generate(),
            )
            .unwrap()
            .expose()
            .to_owned()
    };
    let reset_code = code(tokengate::codes::CodePurpose::PasswordReset);
    let verification_code = code(tokengate::codes::CodePurpose::EmailVerification);
    let started = Instant::now();
    let responses = [
        call(
            handlers::password_reset,
            &app.accounts,
            ApiRequest::post("/auth/password-reset")
                .json(&json!({"email": "down@example.com"}))
                .build(),
        )
        .await,
        call(
            handlers::password_reset_confirm,
            &app.accounts,
            ApiRequest::post("/auth/password-reset/confirm")
                .json(&json!({"code": reset_code, "new_password": "battery staple"}))
                .build(),
        )
        .await,
        call(
            handlers::email_verify,
            &app.accounts,
            ApiRequest::post("/auth/email/verify")
                .json(&json!({ "code": verification_code }))
                .build(),
        )
        .await,
        call(
            handlers::email_verification,
            &app.accounts,
            ApiRequest::post("/auth/email/verification")
                .header("X-Auth-Token", token.expose())
                .build(),
        )
        .await,
        call(
            handlers::signup,
            &app.accounts,
            ApiRequest::post("/auth/signup")
                .json(&json!({"email": "down@example.com", "password": "correct horse"}))
                .build(),
        )
        .await,
        call(
            handlers::login,
            &app.accounts,
            ApiRequest::post("/auth/login")
                .basic("down@example.com", "correct horse")
                .build(),
        )
        .await,
        call(
            handlers::login_token,
            &app.accounts,
            ApiRequest::get("/api/login-token")
                .basic("down@example.com", "correct horse")
                .build(),
        )
        .await,
        call(
            handlers::verify,
            &app.tokens,
            ApiRequest::get("/auth/verify")
                .header("X-Auth-Token", token.expose())
                .build(),
        )
        .await,
        call(
            handlers::me,
            &app.profiles(),
            ApiRequest::get("/api/me")
                .authorizer_context(
                    json!({"userId": tokengate::ids::UserId::generate().to_string()}),
                )
                .build(),
        )
        .await,
        call(
            handlers::logout,
            &app.tokens,
            ApiRequest::post("/auth/logout")
                .header("X-Auth-Token", token.expose())
                .build(),
        )
        .await,
        call(
            handlers::logout_all,
            &app.tokens,
            ApiRequest::post("/auth/logout-all")
                .header("X-Auth-Token", token.expose())
                .build(),
        )
        .await,
        call(
            handlers::change_password,
            &app.accounts,
            ApiRequest::post("/auth/password")
                .header("X-Auth-Token", token.expose())
                .json(
                    &json!({"current_password": "correct horse", "new_password": "battery staple"}),
                )
                .build(),
        )
        .await,
    ];
    for response in &responses {
        assert_problem(
            response,
            503,
            "The service is temporarily unavailable; retry shortly.",
        );
        assert_eq!(response.headers()["retry-after"], "1");
    }
    assert!(started.elapsed() < limit, "took {:?}", started.elapsed());
}

#[tokio::test]
async fn every_route_answers_503_when_dynamodb_refuses_connections() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = client_of(
        &format!("http://127.0.0.1:{port}"),
        Duration::from_millis(500),
    )
    .await;
    let app = TestApp::with_client(client, test_config(), false).await;
    assert_every_route_is_503(&app, Duration::from_secs(20)).await;
}

#[tokio::test]
async fn every_route_answers_503_when_dynamodb_never_answers() {
    // Accepts connections and never replies: only the SDK timeouts end the calls.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let client = client_of(
        &format!("http://127.0.0.1:{port}"),
        Duration::from_millis(400),
    )
    .await;
    let app = TestApp::with_client(client, test_config(), false).await;
    assert_every_route_is_503(&app, Duration::from_secs(20)).await;
    silent.abort();
}

#[tokio::test]
async fn a_signup_that_hit_an_outage_left_nothing_behind() {
    let healthy = TestApp::spawn().await;
    let down = TestApp::with_client(
        client_of("http://127.0.0.1:9", Duration::from_millis(300)).await,
        healthy.config.clone(),
        false,
    )
    .await;
    let response = call(
        handlers::signup,
        &down.accounts,
        ApiRequest::post("/auth/signup")
            .json(&json!({"email": "half@example.com", "password": "correct horse"}))
            .build(),
    )
    .await;
    assert_eq!(response.status(), 503);
    assert!(healthy.scan(&healthy.config.users_table).await.is_empty());
    assert!(healthy.scan(&healthy.config.tokens_table).await.is_empty());
    // And once DynamoDB is back, the same signup succeeds.
    assert_eq!(
        healthy.sign_up("half@example.com", "correct horse").await["userObj"]["email"],
        "half@example.com"
    );
}

#[tokio::test]
async fn garbage_tokens_are_refused_without_asking_the_store() {
    let client = client_of("http://127.0.0.1:9", Duration::from_millis(300)).await;
    let app = TestApp::with_client(client, test_config(), false).await;
    let response = call(
        handlers::verify,
        &app.tokens,
        ApiRequest::get("/auth/verify")
            .query("authToken", "tg1_forged")
            .build(),
    )
    .await;
    // An unreachable store would have made this a 503.
    assert_eq!(
        body_json(&response),
        json!({"success": true, "valid": false})
    );
    let _ = local_client;
}

#[tokio::test]
async fn an_item_the_store_cannot_read_is_a_500_not_a_503() {
    let app = TestApp::spawn().await;
    app.sign_up("mangled@example.com", "correct horse").await;
    // Something outside this code mangled the account: its password hash is now a number.
    app.client
        .update_item()
        .table_name(&app.config.users_table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("email#mangled@example.com".into()),
        )
        .update_expression("SET password_hash = :n")
        .expression_attribute_values(":n", aws_sdk_dynamodb::types::AttributeValue::N("7".into()))
        .send()
        .await
        .expect("mangle the item");
    let response = call(
        handlers::login,
        &app.accounts,
        ApiRequest::post("/auth/login")
            .basic("mangled@example.com", "correct horse")
            .build(),
    )
    .await;
    // Our fault, and retrying will not mend it: no Retry-After, and no internals in the body.
    assert_problem(&response, 500, "An internal error occurred.");
    assert!(!response.headers().contains_key("retry-after"));
    assert!(!tokengate_tests::text(&response).contains("password_hash"));
}
