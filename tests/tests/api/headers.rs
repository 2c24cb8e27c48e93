//! Header values that are not UTF-8 (Latin-1's é, byte 0xE9): API Gateway hands them on lossily
//! (U+FFFD), and each handler answers them as it answers any text it cannot use, never a 5xx.

use std::time::Duration;

use serde_json::json;
use tokengate::authorizer::{Authorizer, AuthorizerError};
use tokengate::handlers;
use tokengate_tests::{ApiRequest, TestApp, assert_problem, body_json, call};

/// `café` in Latin-1: not UTF-8.
const LATIN1: &[u8] = b"caf\xe9";

#[tokio::test]
async fn a_header_that_is_not_utf8_reaches_the_handlers_lossily_and_gets_their_4xx() {
    let app = TestApp::spawn().await;
    // A signup of `email` with `header` set to Latin-1 bytes.
    let signup = |email: &str, header: &str| {
        let request = ApiRequest::post("/auth/signup")
            .json(&json!({"email": email, "password": "correct horse"}))
            .header_bytes(header, LATIN1);
        call(handlers::signup, &app.accounts, request.build())
    };
    let sessions = |authorization: &[u8]| {
        let request =
            ApiRequest::get("/auth/sessions").header_bytes("authorization", authorization);
        call(handlers::sessions, &app.tokens, request.build())
    };

    // A user agent is kept as API Gateway passed it on.
    let response = signup("latin1@example.com", "user-agent").await;
    assert_eq!(response.status(), 201);
    let token = body_json(&response)["x-auth-token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut bearer = format!("Bearer {token}").into_bytes();
    let listed = sessions(&bearer).await;
    assert_eq!(
        body_json(&listed)["sessions"][0]["userAgent"],
        "caf\u{fffd}"
    );

    // An application name that is not one of its characters is a bad request.
    let response = signup("latin1-app@example.com", "x-client-id").await;
    assert_problem(
        &response,
        400,
        "X-Client-Id must be 1 to 64 characters of letters, digits, '.', '_' or '-'.",
    );

    // Credentials that cannot be read are none: the route's own 400 and 401.
    let response = call(
        handlers::login,
        &app.accounts,
        ApiRequest::post("/auth/login")
            .header_bytes("authorization", b"Basic \xe9")
            .build(),
    )
    .await;
    assert_eq!(
        response.status(),
        400,
        "{}",
        tokengate_tests::text(&response)
    );
    bearer.push(0xe9);
    let response = sessions(&bearer).await;
    assert_problem(&response, 401, "No authentication credentials provided.");
    let authorizer = Authorizer::new(app.tokens.clone(), Duration::ZERO);
    let answer = authorizer
        .handle(
            ApiRequest::get("/api/me")
                .header_bytes("x-auth-token", &bearer[7..])
                .authorizer_event(),
        )
        .await;
    assert!(
        matches!(answer, Err(AuthorizerError::NoCredentials)),
        "{answer:?}"
    );
}
