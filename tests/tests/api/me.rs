use serde_json::json;
use tokengate::handlers;
use tokengate::profiles::Profiles;
use tokengate_tests::{ApiRequest, TestApp, assert_problem, body_json, call};

fn profiles(app: &TestApp) -> Profiles {
    app.profiles()
}

#[tokio::test]
async fn me_returns_the_user_named_by_the_authorizer() {
    let app = TestApp::spawn().await;
    let signup = app.sign_up("me@example.com", "correct horse").await;
    let user = signup["userObj"]["id"].as_str().unwrap();
    let request = ApiRequest::get("/api/me")
        .authorizer_context(
            json!({"userId": user, "clientId": "default", "expire": 1, "principalId": user}),
        )
        .build();
    let response = call(handlers::me, &profiles(&app), request).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        body_json(&response),
        json!({"success": true, "userObj": signup["userObj"]})
    );
}

#[tokio::test]
async fn me_trusts_only_the_authorizer_and_never_checks_a_token_itself() {
    let app = TestApp::spawn().await;
    let signup = app.sign_up("self@example.com", "correct horse").await;
    let token = signup["x-auth-token"].as_str().unwrap();
    let profiles = profiles(&app);
    let call = |request: ApiRequest| call(handlers::me, &profiles, request.build());

    // Reached without an authorizer (a misrouted deployment): refused, valid token or not.
    let unvouched =
        call(ApiRequest::get("/api/me").header("Authorization", &format!("Bearer {token}"))).await;
    assert_problem(&unvouched, 401, "No authentication credentials provided.");
    assert_problem(
        &call(ApiRequest::get("/api/me")).await,
        401,
        "No authentication credentials provided.",
    );
    // A context naming no account of ours (or a deleted one) is not a caller.
    let stranger = tokengate::ids::UserId::generate().to_string();
    for user in ["not-an-id", stranger.as_str()] {
        let response =
            call(ApiRequest::get("/api/me").authorizer_context(json!({"userId": user}))).await;
        assert_problem(&response, 401, "Invalid access token.");
    }
}
