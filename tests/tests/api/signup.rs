use futures::future::join_all;
use serde_json::json;
use tokengate::handlers;
use tokengate_tests::{ApiRequest, START, TTL_SECONDS, TestApp, assert_problem, body_json, call};

#[tokio::test]
async fn signup_returns_201_with_a_working_token_and_the_user_object() {
    let app = TestApp::spawn().await;
    let request = ApiRequest::post("/auth/signup")
        .json(&json!({"email": " Ada@Example.COM ", "password": "correct horse", "firstname": "Ada", "lastname": "Lovelace"}))
        .build();
    let response = call(handlers::signup, &app.accounts, request).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = body_json(&response);
    assert_eq!(body["success"], true);
    assert_eq!(body["expire"], START + TTL_SECONDS);
    let user = &body["userObj"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["firstname"], "Ada");
    assert_eq!(user["lastname"], "Lovelace");
    assert_eq!(user["name"], "Ada Lovelace");
    assert_eq!(user["role"], "user");
    assert_eq!(user["createDate"], "2100-01-01T00:00:00Z");
    assert_eq!(user["id"].as_str().unwrap().len(), 22);

    let token = body["x-auth-token"].as_str().unwrap();
    let verified = call(
        handlers::verify,
        &app.tokens,
        ApiRequest::get("/auth/verify")
            .query("authToken", token)
            .build(),
    )
    .await;
    assert_eq!(
        body_json(&verified),
        json!({"success": true, "valid": true, "expire": START + TTL_SECONDS})
    );
}

#[tokio::test]
async fn signup_without_names_returns_nulls() {
    let app = TestApp::spawn().await;
    let body = app.sign_up("plain@example.com", "long enough").await;
    assert_eq!(body["userObj"]["firstname"], serde_json::Value::Null);
    assert_eq!(body["userObj"]["name"], serde_json::Value::Null);
}

#[tokio::test]
async fn a_second_signup_with_a_case_variant_of_the_email_is_409_and_changes_nothing() {
    let app = TestApp::spawn().await;
    app.sign_up("grace@example.com", "first password").await;
    let before = app.scan(&app.config.users_table).await;
    let response = call(
        handlers::signup,
        &app.accounts,
        ApiRequest::post("/auth/signup")
            .json(&json!({"email": "GRACE@example.com ", "password": "second password"}))
            .build(),
    )
    .await;
    assert_problem(&response, 409, "An account with this email already exists.");
    assert_eq!(app.scan(&app.config.users_table).await, before);
    assert_eq!(
        app.scan(&app.config.tokens_table).await.len(),
        3,
        "only the first signup's sessions, token and pointer"
    );
}

#[tokio::test]
async fn concurrent_signups_with_case_variants_create_exactly_one_account() {
    let app = TestApp::spawn().await;
    let variants = [
        "race@example.com",
        "RACE@example.com",
        "Race@Example.com",
        " race@EXAMPLE.com",
        "rAcE@example.COM",
    ];
    let responses = join_all((0..50).map(|i| {
        let request = ApiRequest::post("/auth/signup")
            .json(&json!({"email": variants[i % variants.len()], "password": format!("password {i}")}))
            .build();
        call(handlers::signup, &app.accounts, request)
    }))
    .await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 409).count(),
        49,
        "{statuses:?}"
    );
    // One email claim and one profile; one sessions item, one token and its pointer: no orphans
    // from the losers.
    assert_eq!(app.scan(&app.config.users_table).await.len(), 2);
    assert_eq!(app.scan(&app.config.tokens_table).await.len(), 3);
}

#[tokio::test]
async fn malformed_signups_are_400_and_write_nothing() {
    let app = TestApp::spawn().await;
    let cases: Vec<(ApiRequest, &str)> = vec![
        (ApiRequest::post("/auth/signup").text("{not json"), "Request body must be a JSON object whose fields are strings (error at line 1, column 2)."),
        (ApiRequest::post("/auth/signup"), "Request body is empty; a JSON object is expected."),
        (ApiRequest::post("/auth/signup").json(&json!({"password": "long enough"})), "email is required."),
        (ApiRequest::post("/auth/signup").json(&json!({"email": "not-an-email", "password": "long enough"})), "email must be a plain address such as name@example.com: no display name, no quoted local part, no IP-literal domain, and a domain of at least two labels."),
        (ApiRequest::post("/auth/signup").json(&json!({"email": "a@example.com"})), "password is required."),
        (ApiRequest::post("/auth/signup").json(&json!({"email": "a@example.com", "password": "short"})), "password must be at least 8 characters long."),
        (ApiRequest::post("/auth/signup").json(&json!({"email": "a@example.com", "password": "\u{1f511}\u{1f512}"})), "password must be at least 8 characters long."),
        (ApiRequest::post("/auth/signup").json(&json!({"email": "a@example.com", "password": "password1"})), "password is too common: it is on a list of passwords attackers try first."),
        (ApiRequest::post("/auth/signup").json(&json!({"email": "longenough@example.com", "password": "LongEnough"})), "password must not be the account's email address or its part before the @."),
        (ApiRequest::post("/auth/signup").json(&json!({"email": "a@example.com", "password": "x".repeat(1025)})), "password must be at most 1024 bytes long."),
        (ApiRequest::post("/auth/signup").json(&json!({"email": "a@example.com", "password": "long enough", "firstname": "x".repeat(101)})), "firstname must be at most 100 characters."),
        (ApiRequest::post("/auth/signup").json(&json!({"email": "a@example.com", "password": "long enough"})).header("x-client-id", "no spaces allowed"), "X-Client-Id must be 1 to 64 characters of letters, digits, '.', '_' or '-'."),
        (ApiRequest::post("/auth/signup").bytes(&[0xff, 0xfe, 0x00]), "Request body must be a JSON object whose fields are strings (error at line 1, column 1)."),
    ];
    for (request, detail) in cases {
        let response = call(handlers::signup, &app.accounts, request.build()).await;
        assert_problem(&response, 400, detail);
    }
    assert!(app.scan(&app.config.users_table).await.is_empty());
    assert!(app.scan(&app.config.tokens_table).await.is_empty());
}

#[tokio::test]
async fn a_body_over_16_kib_is_413() {
    let app = TestApp::spawn().await;
    let padding = "x".repeat(16 * 1024);
    let request = ApiRequest::post("/auth/signup")
        .json(&json!({"email": "big@example.com", "password": "long enough", "firstname": padding}))
        .build();
    let response = call(handlers::signup, &app.accounts, request).await;
    assert_problem(&response, 413, "Request body exceeds 16384 bytes.");
    assert!(app.scan(&app.config.users_table).await.is_empty());
}

#[tokio::test]
async fn the_stored_password_is_an_argon2id_hash_with_owasp_parameters() {
    let app = TestApp::spawn().await;
    app.sign_up("hash@example.com", "my secret password").await;
    let items = app.scan(&app.config.users_table).await;
    let hashes: Vec<&str> = items
        .iter()
        .filter_map(|item| item.get("password_hash")?.as_s().ok().map(String::as_str))
        .collect();
    assert_eq!(hashes.len(), 1, "only the email claim holds the hash");
    assert!(
        hashes[0].starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{}",
        hashes[0]
    );
}

/// Addresses the first parser accepted (display names, quoted local parts, IP-literal and
/// single-label domains) that would show or route to someone else's address.
fn impersonations() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let name = "[A-Za-z][A-Za-z ]{0,12}";
    prop_oneof![
        name.prop_map(|name| format!("{name} <victim@example.com>")),
        name.prop_map(|name| format!("victim@example.com <{}@evil.test>", name.replace(' ', ""))),
        Just("\"victim\"@example.com".to_owned()),
        (0u8..=255, 0u8..=255).prop_map(|(a, b)| format!("victim@[10.0.{a}.{b}]")),
        "[a-z]{1,10}".prop_map(|host| format!("victim@{host}")),
    ]
}

#[test]
fn no_address_the_old_parser_took_and_the_new_one_refuses_reaches_an_account() {
    use proptest::test_runner::{Config, TestRunner};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let app = runtime.block_on(async {
        let app = TestApp::spawn().await;
        app.sign_up("victim@example.com", "correct horse").await;
        app
    });
    let mut runner = TestRunner::new(Config {
        cases: 64,
        ..Config::default()
    });
    runner
        .run(&impersonations(), |raw| {
            let old_parser = raw.trim().to_lowercase();
            proptest::prop_assume!(email_address::EmailAddress::is_valid(&old_parser));
            runtime.block_on(async {
                let signup = call(
                    handlers::signup,
                    &app.accounts,
                    ApiRequest::post("/auth/signup")
                        .json(&json!({"email": raw, "password": "correct horse"}))
                        .build(),
                )
                .await;
                assert_eq!(signup.status(), 400, "{raw:?} was taken at signup");
                for login in [
                    ApiRequest::post("/auth/login").basic(&raw, "correct horse"),
                    ApiRequest::post("/auth/login")
                        .json(&json!({"email": raw, "password": "correct horse"})),
                ] {
                    let response = call(handlers::login, &app.accounts, login.build()).await;
                    assert_problem(&response, 401, "Wrong credentials.");
                }
            });
            Ok(())
        })
        .unwrap();
    // Only the victim's own account exists.
    assert_eq!(runtime.block_on(app.scan(&app.config.users_table)).len(), 2);
}
