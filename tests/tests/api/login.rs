use serde_json::json;
use tokengate::handlers;
use tokengate_tests::{ApiRequest, TestApp, assert_problem, body_json, call, text};

#[tokio::test]
async fn login_with_json_returns_a_fresh_token_and_the_user_object() {
    let app = TestApp::spawn().await;
    let signup = app.sign_up("ada@example.com", "correct horse").await;
    let response = call(
        handlers::login,
        &app.accounts,
        ApiRequest::post("/auth/login")
            .json(&json!({"email": "ADA@example.com", "password": "correct horse"}))
            .build(),
    )
    .await;
    assert_eq!(response.status(), 200, "{}", text(&response));
    let body = body_json(&response);
    assert_eq!(body["success"], true);
    assert_eq!(body["userObj"], signup["userObj"]);
    assert_ne!(
        body["x-auth-token"], signup["x-auth-token"],
        "login issues a fresh token"
    );
}

#[tokio::test]
async fn login_with_basic_credentials_works_too() {
    let app = TestApp::spawn().await;
    app.sign_up("basic@example.com", "pass:with:colons \u{fc}")
        .await;
    let response = call(
        handlers::login,
        &app.accounts,
        ApiRequest::post("/auth/login")
            .basic("basic@example.com", "pass:with:colons \u{fc}")
            .build(),
    )
    .await;
    assert_eq!(response.status(), 200, "{}", text(&response));
    assert_eq!(
        body_json(&response)["userObj"]["email"],
        "basic@example.com"
    );
}

#[tokio::test]
async fn login_without_credentials_is_401_with_a_challenge() {
    let app = TestApp::spawn().await;
    let response = call(
        handlers::login,
        &app.accounts,
        ApiRequest::post("/auth/login").build(),
    )
    .await;
    assert_problem(&response, 401, "No authentication credentials provided.");
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer_after_the_same_work() {
    let app = TestApp::spawn().await;
    app.sign_up("known@example.com", "right password").await;
    let attempt = |email: &str| {
        ApiRequest::post("/auth/login")
            .json(&json!({"email": email, "password": "wrong password"}))
            .build()
    };

    let before = app.accounts.hasher().evaluations();
    let wrong_password = call(handlers::login, &app.accounts, attempt("known@example.com")).await;
    let after_wrong = app.accounts.hasher().evaluations();
    let unknown_email = call(
        handlers::login,
        &app.accounts,
        attempt("nobody@example.com"),
    )
    .await;
    let after_unknown = app.accounts.hasher().evaluations();

    assert_problem(&wrong_password, 401, "Wrong credentials.");
    assert_eq!(wrong_password.status(), unknown_email.status());
    assert_eq!(
        wrong_password.body().as_ref(),
        unknown_email.body().as_ref()
    );
    assert_eq!(wrong_password.headers(), unknown_email.headers());
    assert_eq!(
        after_wrong - before,
        1,
        "one argon2 evaluation for a wrong password"
    );
    assert_eq!(
        after_unknown - after_wrong,
        1,
        "one argon2 evaluation for an unknown email"
    );
}

#[tokio::test]
async fn login_with_a_malformed_body_is_400() {
    let app = TestApp::spawn().await;
    let response = call(
        handlers::login,
        &app.accounts,
        ApiRequest::post("/auth/login").text("[1,2]").build(),
    )
    .await;
    assert_eq!(response.status(), 400);
    let response = call(
        handlers::login,
        &app.accounts,
        ApiRequest::post("/auth/login")
            .json(&json!({"email": "x@example.com", "password": "1234567"}))
            .build(),
    )
    .await;
    assert_problem(&response, 400, "password must be 8 to 1024 bytes long.");
}
