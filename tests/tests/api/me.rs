use serde_json::json;
use tokengate::handlers;
use tokengate::profiles::Profiles;
use tokengate_tests::{ApiRequest, TTL_SECONDS, TestApp, assert_problem, body_json, call};

fn profiles(app: &TestApp) -> Profiles {
    app.profiles()
}

#[tokio::test]
async fn me_returns_the_user_named_by_the_authorizer() {
    let app = TestApp::spawn().await;
    let signup = app.sign_up("me@example.com", "correct horse").await;
    let user = signup["userObj"]["id"].as_str().unwrap();
    let request = ApiRequest::get("/api/me")
        .authorizer_context(json!({"userId": user, "clientId": "default", "expire": 1}))
        .build();
    let response = call(handlers::me, &profiles(&app), request).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        body_json(&response),
        json!({"success": true, "userObj": signup["userObj"]})
    );
}

#[tokio::test]
async fn without_an_authorizer_me_checks_the_token_itself() {
    let app = TestApp::spawn().await;
    let signup = app.sign_up("self@example.com", "correct horse").await;
    let token = signup["x-auth-token"].as_str().unwrap();
    let profiles = profiles(&app);
    let call = |request: ApiRequest| call(handlers::me, &profiles, request.build());

    let ok =
        call(ApiRequest::get("/api/me").header("Authorization", &format!("Bearer {token}"))).await;
    assert_eq!(body_json(&ok)["userObj"], signup["userObj"]);
    assert_problem(
        &call(ApiRequest::get("/api/me")).await,
        401,
        "No authentication credentials provided.",
    );
    assert_problem(
        &call(ApiRequest::get("/api/me").header("X-Auth-Token", "garbage")).await,
        401,
        "Invalid access token.",
    );

    app.clock.advance(TTL_SECONDS);
    let expired = call(ApiRequest::get("/api/me").query("x-auth-token", token)).await;
    assert_problem(&expired, 403, "Access token expired.");
    assert_eq!(
        body_json(&expired)["type"],
        "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.4"
    );
}
