//! Logout, logout-all and password change, and what revocation means to verify and the
//! authorizer.

use std::time::Duration;

use serde_json::{Value, json};
use tokengate::authorizer::Authorizer;
use tokengate::handlers;
use tokengate::passwords::HashParams;
use tokengate_tests::{
    ApiRequest, START, TTL_SECONDS, TestApp, assert_problem, body_json, call, local_client, text,
};

use crate::authorizer::{Place, allowed, authorizer_event};

const PASSWORD: &str = "correct horse";

/// Logs `email` in for application `client` and returns the fresh token.
async fn log_in(app: &TestApp, email: &str, password: &str, client: &str) -> String {
    let response = call(
        handlers::login,
        &app.accounts,
        ApiRequest::post("/auth/login")
            .basic(email, password)
            .header("X-Client-Id", client)
            .build(),
    )
    .await;
    assert_eq!(response.status(), 200, "{}", text(&response));
    body_json(&response)["x-auth-token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The token login-token hands `email` for the default application.
async fn login_token(app: &TestApp, email: &str) -> String {
    app.login_token(email, PASSWORD).await["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `request` carrying `token` in one of the places a token may be sent.
fn with_token(request: ApiRequest, token: &str, place: usize) -> ApiRequest {
    match place {
        0 => request.header("Authorization", &format!("Bearer {token}")),
        1 => request.header("X-Auth-Token", token),
        2 => request.query("x-auth-token", token),
        _ => request.query("authToken", token),
    }
}

async fn logout(app: &TestApp, request: ApiRequest) -> lambda_http::Response<lambda_http::Body> {
    call(handlers::logout, &app.tokens, request.build()).await
}

async fn logout_all(app: &TestApp, token: &str) -> lambda_http::Response<lambda_http::Body> {
    call(
        handlers::logout_all,
        &app.tokens,
        ApiRequest::post("/auth/logout-all")
            .header("Authorization", &format!("Bearer {token}"))
            .build(),
    )
    .await
}

async fn change_password(
    app: &TestApp,
    token: &str,
    body: &Value,
) -> lambda_http::Response<lambda_http::Body> {
    call(
        handlers::change_password,
        &app.accounts,
        ApiRequest::post("/auth/password")
            .header("X-Auth-Token", token)
            .json(body)
            .build(),
    )
    .await
}

#[tokio::test]
async fn logout_revokes_the_token_it_is_sent_in_each_place_and_is_idempotent() {
    let app = TestApp::spawn().await;
    app.sign_up("bye@example.com", PASSWORD).await;
    for place in 0..4 {
        let token = login_token(&app, "bye@example.com").await;
        assert!(app.verifies(&token).await);
        let response = logout(
            &app,
            with_token(ApiRequest::post("/auth/logout"), &token, place),
        )
        .await;
        assert_eq!(response.status(), 200, "{}", text(&response));
        assert_eq!(body_json(&response), json!({"success": true}));
        assert!(!app.verifies(&token).await, "place {place}");

        let again = logout(
            &app,
            with_token(ApiRequest::post("/auth/logout"), &token, place),
        )
        .await;
        assert_eq!(again.status(), 200, "logging out twice is not an error");
        // login-token no longer hands out the revoked token.
        let next = login_token(&app, "bye@example.com").await;
        assert_ne!(next, token);
        assert!(app.verifies(&next).await);
    }
}

#[tokio::test]
async fn logout_only_revokes_the_token_it_is_sent() {
    let app = TestApp::spawn().await;
    app.sign_up("one@example.com", PASSWORD).await;
    let web = log_in(&app, "one@example.com", PASSWORD, "web").await;
    let mobile = log_in(&app, "one@example.com", PASSWORD, "mobile").await;
    let response = logout(
        &app,
        ApiRequest::post("/auth/logout").header("X-Auth-Token", &web),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(!app.verifies(&web).await);
    assert!(app.verifies(&mobile).await);
}

#[tokio::test]
async fn logout_without_a_token_or_with_a_forged_one_is_401_and_changes_nothing() {
    let app = TestApp::spawn().await;
    app.sign_up("keep@example.com", PASSWORD).await;
    let before = app.scan(&app.config.tokens_table).await;
    let missing = logout(&app, ApiRequest::post("/auth/logout")).await;
    assert_problem(&missing, 401, "No authentication credentials provided.");
    assert!(missing.headers().contains_key("www-authenticate"));

    let forged = tokengate_tests::forged_token();
    for token in [forged.as_str(), "garbage", "tg1_"] {
        let response = logout(
            &app,
            ApiRequest::post("/auth/logout").header("X-Auth-Token", token),
        )
        .await;
        assert_problem(&response, 401, "Invalid access token.");
    }
    assert_eq!(app.scan(&app.config.tokens_table).await, before);
}

#[tokio::test]
async fn logout_all_revokes_every_token_of_the_user_in_every_application() {
    let app = TestApp::spawn().await;
    let signup = app.sign_up("all@example.com", PASSWORD).await;
    let other = app.sign_up("bystander@example.com", PASSWORD).await;
    let mut tokens = vec![signup["x-auth-token"].as_str().unwrap().to_owned()];
    for client in ["web", "mobile", "cli"] {
        tokens.push(log_in(&app, "all@example.com", PASSWORD, client).await);
    }
    let response = logout_all(&app, &tokens[1]).await;
    assert_eq!(response.status(), 200, "{}", text(&response));
    assert_eq!(
        body_json(&response),
        json!({"success": true, "revoked": tokens.len()})
    );
    for token in &tokens {
        assert!(!app.verifies(token).await);
    }
    assert!(
        app.verifies(other["x-auth-token"].as_str().unwrap()).await,
        "other users keep their tokens"
    );
    // Logging in again works and the new token is good.
    let fresh = log_in(&app, "all@example.com", PASSWORD, "web").await;
    assert!(app.verifies(&fresh).await);
    let after = login_token(&app, "all@example.com").await;
    assert!(app.verifies(&after).await);
    assert!(!tokens.contains(&after));
}

#[tokio::test]
async fn logout_all_needs_a_valid_token() {
    let app = TestApp::spawn().await;
    let signup = app.sign_up("needs@example.com", PASSWORD).await;
    let token = signup["x-auth-token"].as_str().unwrap();
    let missing = call(
        handlers::logout_all,
        &app.tokens,
        ApiRequest::post("/auth/logout-all").build(),
    )
    .await;
    assert_problem(&missing, 401, "No authentication credentials provided.");
    assert_problem(
        &logout_all(&app, "tg1_garbage").await,
        401,
        "Invalid access token.",
    );

    app.clock.advance(TTL_SECONDS);
    assert_problem(&logout_all(&app, token).await, 403, "Access token expired.");
}

#[tokio::test]
async fn a_revoked_token_cannot_log_out_everywhere() {
    let app = TestApp::spawn().await;
    app.sign_up("revoked@example.com", PASSWORD).await;
    let kept = log_in(&app, "revoked@example.com", PASSWORD, "kept").await;
    let gone = log_in(&app, "revoked@example.com", PASSWORD, "gone").await;
    logout(
        &app,
        ApiRequest::post("/auth/logout").header("X-Auth-Token", &gone),
    )
    .await;
    assert_problem(&logout_all(&app, &gone).await, 401, "Invalid access token.");
    assert!(app.verifies(&kept).await);
}

#[tokio::test]
async fn a_password_change_revokes_every_other_token_and_returns_a_fresh_one() {
    let app = TestApp::spawn().await;
    let signup = app.sign_up("change@example.com", PASSWORD).await;
    let old_default = signup["x-auth-token"].as_str().unwrap().to_owned();
    let old_web = log_in(&app, "change@example.com", PASSWORD, "web").await;

    let response = change_password(
        &app,
        &old_web,
        &json!({"current_password": PASSWORD, "new_password": "battery staple"}),
    )
    .await;
    assert_eq!(response.status(), 200, "{}", text(&response));
    let body = body_json(&response);
    assert_eq!(body["success"], true);
    assert_eq!(body["userObj"]["id"], signup["userObj"]["id"]);
    assert_eq!(body["expire"], START + TTL_SECONDS);
    let fresh = body["x-auth-token"].as_str().unwrap();
    assert!(app.verifies(fresh).await);
    assert!(!app.verifies(&old_web).await);
    assert!(!app.verifies(&old_default).await);

    // The fresh token belongs to the caller's application.
    let claims = app.claims(fresh).unwrap();
    let pointer = app
        .scan(&app.config.tokens_table)
        .await
        .into_iter()
        .find(|item| item["sk"].as_s().unwrap() == "current#web")
        .expect("a current token for web");
    assert_eq!(
        pointer["token_id"].as_s().unwrap(),
        &claims.token.to_string()
    );

    let old = call(
        handlers::login,
        &app.accounts,
        ApiRequest::post("/auth/login")
            .basic("change@example.com", PASSWORD)
            .build(),
    )
    .await;
    assert_problem(&old, 401, "Wrong credentials.");
    log_in(&app, "change@example.com", "battery staple", "default").await;
}

#[tokio::test]
async fn a_wrong_current_password_is_401_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let signup = app.sign_up("wrong-current@example.com", PASSWORD).await;
    let token = signup["x-auth-token"].as_str().unwrap();
    let users = app.scan(&app.config.users_table).await;
    let response = change_password(
        &app,
        token,
        &json!({"current_password": "not the password", "new_password": "battery staple"}),
    )
    .await;
    assert_problem(&response, 401, "Wrong credentials.");
    assert!(app.verifies(token).await);
    let after = app.scan(&app.config.users_table).await;
    let hash = |items: &[std::collections::HashMap<String, _>]| {
        items
            .iter()
            .find_map(|item| item.get("password_hash").cloned())
    };
    assert_eq!(hash(&users), hash(&after), "the password is unchanged");
    log_in(&app, "wrong-current@example.com", PASSWORD, "default").await;
}

#[tokio::test]
async fn malformed_password_changes_are_4xx_and_change_nothing() {
    let app = TestApp::spawn().await;
    let signup = app.sign_up("bad-change@example.com", PASSWORD).await;
    let token = signup["x-auth-token"].as_str().unwrap();
    let users = app.scan(&app.config.users_table).await;
    let cases = [
        (
            json!({"new_password": "battery staple"}),
            "current_password: ",
        ),
        (
            json!({"current_password": PASSWORD, "new_password": "short"}),
            "new_password: ",
        ),
        (
            json!({"current_password": PASSWORD, "new_password": "x".repeat(1025)}),
            "new_password: ",
        ),
        (
            json!({"current_password": PASSWORD, "new_password": 12345678}),
            "Request body must be a JSON object",
        ),
        (json!([PASSWORD]), "Request body must be a JSON object"),
    ];
    for (body, detail) in cases {
        let response = change_password(&app, token, &body).await;
        assert_eq!(response.status(), 400, "{body}: {}", text(&response));
        let problem = body_json(&response);
        assert!(
            problem["detail"].as_str().unwrap().starts_with(detail),
            "{problem}"
        );
        assert!(
            !problem.to_string().contains(PASSWORD),
            "a problem never echoes a password"
        );
    }
    let unauthenticated = call(
        handlers::change_password,
        &app.accounts,
        ApiRequest::post("/auth/password")
            .json(&json!({"current_password": PASSWORD, "new_password": "battery staple"}))
            .build(),
    )
    .await;
    assert_problem(
        &unauthenticated,
        401,
        "No authentication credentials provided.",
    );
    assert_eq!(app.scan(&app.config.users_table).await, users);
    assert!(app.verifies(token).await);
}

#[tokio::test]
async fn the_authorizer_sees_a_logout_at_once_without_a_cache_and_within_its_window_with_one() {
    let app = TestApp::spawn().await;
    app.sign_up("gate@example.com", PASSWORD).await;
    let uncached = Authorizer::new(app.tokens.clone(), Duration::ZERO);
    let cached = Authorizer::new(app.tokens.clone(), Duration::from_secs(10));
    let token = log_in(&app, "gate@example.com", PASSWORD, "default").await;
    let event = || authorizer_event(Some(&token), Place::Bearer);
    assert!(allowed(&uncached.handle(event()).await));
    assert!(allowed(&cached.handle(event()).await));

    let response = logout(
        &app,
        ApiRequest::post("/auth/logout").header("Authorization", &format!("Bearer {token}")),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(!app.verifies(&token).await, "verify sees it at once");
    assert!(
        !allowed(&uncached.handle(event()).await),
        "AUTHORIZER_CACHE_SECONDS=0: at once"
    );
    app.clock.advance(9);
    assert!(
        allowed(&cached.handle(event()).await),
        "still inside the 10 s window"
    );
    app.clock.advance(1);
    assert!(
        !allowed(&cached.handle(event()).await),
        "the window is over"
    );
}

/// The password hash stored for the only account of `app`'s tables.
async fn stored_hash(app: &TestApp) -> String {
    app.scan(&app.config.users_table)
        .await
        .into_iter()
        .find_map(|item| item.get("password_hash").cloned())
        .expect("an account")
        .as_s()
        .expect("a string")
        .clone()
}

#[tokio::test]
async fn a_weaker_stored_hash_is_upgraded_at_the_next_successful_login() {
    let weak = TestApp::spawn().await;
    weak.sign_up("upgrade@example.com", PASSWORD).await;
    let before = stored_hash(&weak).await;
    assert!(before.contains("m=19456,t=2,p=1"), "{before}");

    let mut config = weak.config.clone();
    config.hash_params = HashParams {
        memory_kib: 24_576,
        iterations: 3,
        ..HashParams::OWASP_MINIMUM
    };
    let strong = TestApp::with_client(local_client().await, config, false).await;
    // A failed login changes nothing.
    let failed = call(
        handlers::login,
        &strong.accounts,
        ApiRequest::post("/auth/login")
            .basic("upgrade@example.com", "not the password")
            .build(),
    )
    .await;
    assert_eq!(failed.status(), 401);
    assert_eq!(stored_hash(&strong).await, before);

    log_in(&strong, "upgrade@example.com", PASSWORD, "default").await;
    let after = stored_hash(&strong).await;
    assert!(after.contains("m=24576,t=3,p=1"), "{after}");
    // Both hashers still accept the password; the strong one no longer upgrades.
    log_in(&strong, "upgrade@example.com", PASSWORD, "default").await;
    assert_eq!(stored_hash(&strong).await, after);
    log_in(&weak, "upgrade@example.com", PASSWORD, "default").await;
    assert_eq!(
        stored_hash(&weak).await,
        after,
        "a weaker configuration never downgrades"
    );
}
