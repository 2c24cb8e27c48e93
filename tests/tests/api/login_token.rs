use std::collections::HashSet;

use futures::future::join_all;
use tokengate::handlers;
use tokengate_tests::{
    ApiRequest, START, TTL_SECONDS, TestApp, assert_problem, body_json, call, text,
};

async fn login_token(app: &TestApp, request: ApiRequest) -> serde_json::Value {
    let response = call(handlers::login_token, &app.accounts, request.build()).await;
    assert_eq!(response.status(), 200, "{}", text(&response));
    assert_eq!(response.headers()["content-type"], "application/json");
    body_json(&response)
}

fn entity(body: &serde_json::Value) -> &serde_json::Value {
    let data = body["data"].as_array().expect("data is a list");
    assert_eq!(data.len(), 1);
    &data[0]
}

#[tokio::test]
async fn login_token_returns_the_documented_entity() {
    let app = TestApp::spawn().await;
    let signup = app.sign_up("lt@example.com", "correct horse").await;
    let body = login_token(
        &app,
        ApiRequest::get("/api/login-token").basic("lt@example.com", "correct horse"),
    )
    .await;
    let token = entity(&body);
    assert_eq!(token["type"], "access_token");
    assert_eq!(token["uid"], signup["userObj"]["id"]);
    assert_eq!(token["expire"], START + TTL_SECONDS);
    assert_eq!(token["id"].as_str().unwrap().len(), 22);
    let keys: HashSet<&str> = token
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        HashSet::from(["id", "token", "type", "uid", "expire"])
    );
}

#[tokio::test]
async fn an_unexpired_token_is_handed_out_again_and_a_new_one_after_expiry() {
    let app = TestApp::spawn().await;
    let signup = app.sign_up("reuse@example.com", "correct horse").await;
    let call = || ApiRequest::get("/api/login-token").basic("reuse@example.com", "correct horse");

    let first = login_token(&app, call()).await;
    assert_eq!(
        entity(&first)["token"],
        signup["x-auth-token"],
        "signup's token is the current one"
    );
    app.clock.advance(TTL_SECONDS - 1);
    let second = login_token(&app, call()).await;
    assert_eq!(entity(&second), entity(&first));

    app.clock.advance(1);
    let renewed = login_token(&app, call()).await;
    assert_ne!(entity(&renewed)["token"], entity(&first)["token"]);
    assert_eq!(entity(&renewed)["expire"], START + 2 * TTL_SECONDS);
    let again = login_token(&app, call()).await;
    assert_eq!(entity(&again), entity(&renewed));
}

#[tokio::test]
async fn tokens_are_reused_per_application() {
    let app = TestApp::spawn().await;
    app.sign_up("apps@example.com", "correct horse").await;
    let call = |client: &str| {
        ApiRequest::get("/api/login-token")
            .basic("apps@example.com", "correct horse")
            .header("X-Client-Id", client)
    };
    let mobile = login_token(&app, call("mobile")).await;
    let web = login_token(&app, call("web.app-1")).await;
    assert_ne!(entity(&mobile)["token"], entity(&web)["token"]);
    assert_eq!(
        entity(&login_token(&app, call("mobile")).await),
        entity(&mobile)
    );
    assert_eq!(
        entity(&login_token(&app, call("web.app-1")).await),
        entity(&web)
    );
}

#[tokio::test]
async fn fifty_concurrent_calls_for_one_user_get_one_token() {
    let app = TestApp::spawn().await;
    app.sign_up("burst@example.com", "correct horse").await;
    let bodies = join_all((0..50).map(|_| {
        login_token(
            &app,
            ApiRequest::get("/api/login-token")
                .basic("burst@example.com", "correct horse")
                .header("X-Client-Id", "burst"),
        )
    }))
    .await;
    let tokens: HashSet<String> = bodies
        .iter()
        .map(|body| entity(body)["token"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    let items = app.scan(&app.config.tokens_table).await;
    // The sessions item, signup's token and pointer for `default`, plus exactly one token and
    // pointer for `burst`.
    assert_eq!(items.len(), 5, "{items:?}");
}

#[tokio::test]
async fn a_password_with_colons_and_non_ascii_text_works_through_basic() {
    let app = TestApp::spawn().await;
    let password = "p\u{e4}ss:w\u{f6}rd:\u{1f511}:";
    app.sign_up("colon@example.com", password).await;
    login_token(
        &app,
        ApiRequest::get("/api/login-token").basic("colon@example.com", password),
    )
    .await;
}

#[tokio::test]
async fn missing_wrong_and_malformed_credentials_are_refused_clearly() {
    let app = TestApp::spawn().await;
    app.sign_up("who@example.com", "correct horse").await;
    let call = |request: ApiRequest| call(handlers::login_token, &app.accounts, request.build());

    let missing = call(ApiRequest::get("/api/login-token")).await;
    assert_problem(&missing, 401, "No authentication credentials provided.");
    assert!(
        missing.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic realm=")
    );
    let bearer_only =
        call(ApiRequest::get("/api/login-token").header("Authorization", "Bearer abc")).await;
    assert_problem(&bearer_only, 401, "No authentication credentials provided.");

    assert_problem(
        &call(ApiRequest::get("/api/login-token").basic("who@example.com", "wrong horse")).await,
        401,
        "Wrong credentials.",
    );
    assert_problem(
        &call(ApiRequest::get("/api/login-token").basic("nobody@example.com", "correct horse"))
            .await,
        401,
        "Wrong credentials.",
    );

    use base64::Engine;
    let encode = |bytes: &[u8]| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        )
    };
    let malformed = [
        (
            encode(b"who@example.comcorrect horse"),
            "Authorization Basic credentials must be email:password.",
        ),
        (
            "Basic %%%".to_owned(),
            "Authorization Basic credentials are not valid base64.",
        ),
    ];
    for (header, detail) in malformed {
        let response =
            call(ApiRequest::get("/api/login-token").header("Authorization", &header)).await;
        assert_problem(&response, 400, detail);
    }
    // Well-formed Basic credentials that no account can have: wrong, not malformed (RFC 7617),
    // bytes that are not UTF-8 included.
    for raw in [
        &b"not-an-email:correct horse"[..],
        b"who@example.com:short",
        &[b'w', b'@', b'x', b':', 0xff, 0xfe],
        b"victim@localhost:correct horse",
        b"victim@example.com <a@evil.test>:correct horse",
    ] {
        let response =
            call(ApiRequest::get("/api/login-token").header("Authorization", &encode(raw))).await;
        assert_problem(&response, 401, "Wrong credentials.");
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic realm=")
        );
    }
}
