//! End to end over HTTP: the API as `make run` serves it, the local front in front of the
//! functions under `cargo lambda watch` (started by `make test`, which exports its address as
//! `TOKENGATE_API_URL`). The front's own behaviour is tests/tests/front.rs.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokengate_tests::{api_url, unique_email};

/// Sends `request` and returns its JSON body.
async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// Signs up a new account over HTTP and returns its body.
async fn sign_up(http: &reqwest::Client, base: &str) -> Value {
    let response = http
        .post(format!("{base}/auth/signup"))
        .json(&json!({"email": unique_email("e2e"), "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

/// The key ring file the API's functions read (`make test` exports `KEY_RING_FILE`).
fn key_ring_file() -> String {
    std::env::var("KEY_RING_FILE").expect("KEY_RING_FILE is unset: run the tests with `make test`")
}

/// Every key of the API's ring, as text.
fn key_ring_secrets() -> Vec<String> {
    let ring: Value = serde_json::from_str(&std::fs::read_to_string(key_ring_file()).unwrap())
        .expect("a key ring document");
    ring["keys"]
        .as_array()
        .expect("a ring's keys")
        .iter()
        .map(|key| key["secret"].as_str().unwrap().to_owned())
        .collect()
}

/// The key id a `tg2_` token names.
fn key_id(token: &str) -> u32 {
    use base64::Engine;
    let body = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.strip_prefix("tg2_").expect("a tg2_ token"))
        .unwrap();
    u32::from_be_bytes(body[..4].try_into().unwrap())
}

#[tokio::test]
async fn signup_then_login_token_then_verify_over_http() {
    let (base, http) = (api_url(), reqwest::Client::new());
    let email = unique_email("e2e");
    let password = "e2e pass:word \u{e9}";

    let signup = http
        .post(format!("{base}/auth/signup"))
        .json(
            &json!({"email": email, "password": password, "firstname": "End", "lastname": "ToEnd"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), StatusCode::CREATED);
    let signup: Value = signup.json().await.unwrap();
    assert_eq!(signup["userObj"]["name"], "End ToEnd");

    // As `curl -u email:password`.
    let issued = http
        .get(format!("{base}/api/login-token"))
        .basic_auth(&email, Some(password))
        .send()
        .await
        .unwrap();
    assert_eq!(issued.status(), StatusCode::OK);
    let issued: Value = issued.json().await.unwrap();
    let token = issued["data"][0]["token"].as_str().unwrap().to_owned();
    assert_eq!(
        token, signup["x-auth-token"],
        "the unexpired signup token is handed out again"
    );
    assert_eq!(issued["data"][0]["uid"], signup["userObj"]["id"]);

    let verified = json_of(http.get(format!("{base}/auth/verify")).bearer_auth(&token)).await;
    assert_eq!(verified["valid"], true);
    assert_eq!(verified["expire"], issued["data"][0]["expire"]);

    let login = http
        .post(format!("{base}/auth/login"))
        .json(&json!({"email": email.to_uppercase(), "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let login: Value = login.json().await.unwrap();
    assert_ne!(login["x-auth-token"], token);
    assert_eq!(login["userObj"]["id"], signup["userObj"]["id"]);

    let by_query = json_of(
        http.get(format!("{base}/auth/verify"))
            .query(&[("x-auth-token", login["x-auth-token"].as_str().unwrap())]),
    )
    .await;
    assert_eq!(by_query["valid"], true);
}

#[tokio::test]
async fn errors_over_http_are_problem_json() {
    let (base, http) = (api_url(), reqwest::Client::new());
    let missing = http
        .get(format!("{base}/api/login-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
    assert!(missing.headers().contains_key("www-authenticate"));
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["detail"], "No authentication credentials provided.");

    let wrong = http
        .get(format!("{base}/api/login-token"))
        .basic_auth(unique_email("e2e"), Some("whatever pass"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["detail"], "Wrong credentials.");

    let invalid = json_of(http.get(format!("{base}/auth/verify?authToken=nonsense"))).await;
    assert_eq!(invalid, json!({"success": true, "valid": false}));
}

#[tokio::test]
async fn password_change_logout_and_logout_all_over_http() {
    let (base, http) = (api_url(), reqwest::Client::new());
    let signup = sign_up(&http, &base).await;
    let email = signup["userObj"]["email"].as_str().unwrap();
    let first = signup["x-auth-token"].as_str().unwrap();
    let valid = |token: String| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            json_of(
                http.get(format!("{base}/auth/verify"))
                    .query(&[("authToken", token)]),
            )
            .await["valid"]
                == true
        }
    };

    let changed = http
        .post(format!("{base}/auth/password"))
        .header("X-Auth-Token", first)
        .json(&json!({"current_password": "correct horse", "new_password": "battery staple"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    let second: Value = changed.json().await.unwrap();
    let second = second["x-auth-token"].as_str().unwrap().to_owned();
    assert!(!valid(first.to_owned()).await);
    assert!(valid(second.clone()).await);

    let logout = http
        .post(format!("{base}/auth/logout"))
        .bearer_auth(&second)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::OK);
    assert!(!valid(second).await);

    let third = json_of(
        http.get(format!("{base}/api/login-token"))
            .basic_auth(email, Some("battery staple")),
    )
    .await["data"][0]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let everywhere = json_of(
        http.post(format!("{base}/auth/logout-all"))
            .bearer_auth(&third),
    )
    .await;
    assert_eq!(everywhere, json!({"success": true, "revoked": 1}));
    assert!(!valid(third).await);
}

#[tokio::test]
async fn sessions_are_listed_and_ended_one_by_one_over_http() {
    let (base, http) = (api_url(), reqwest::Client::new());
    let signup = sign_up(&http, &base).await;
    let email = signup["userObj"]["email"].as_str().unwrap().to_owned();
    let mut tokens = Vec::new();
    for (client, agent) in [("laptop", "Firefox/140.0"), ("phone", "okhttp/5.0")] {
        let login = json_of(
            http.post(format!("{base}/auth/login"))
                .header("X-Client-Id", client)
                .header("User-Agent", agent)
                .json(&json!({"email": email, "password": "correct horse"})),
        )
        .await;
        tokens.push(login["x-auth-token"].as_str().unwrap().to_owned());
    }
    let listed = json_of(
        http.get(format!("{base}/auth/sessions"))
            .bearer_auth(&tokens[0]),
    )
    .await;
    let sessions = listed["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 3, "{listed}");
    let by_client = |client: &str| {
        sessions
            .iter()
            .find(|session| session["clientId"] == client)
            .unwrap_or_else(|| panic!("no {client} session in {listed}"))
    };
    assert_eq!(by_client("laptop")["userAgent"], "Firefox/140.0");
    assert_eq!(by_client("laptop")["current"], true);
    assert_eq!(by_client("phone")["userAgent"], "okhttp/5.0");
    assert_eq!(by_client("phone")["current"], false);
    assert!(by_client("phone")["sourceIp"].is_string(), "{listed}");

    let phone = by_client("phone")["id"].as_str().unwrap();
    let ended = http
        .delete(format!("{base}/auth/sessions/{phone}"))
        .bearer_auth(&tokens[0])
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::OK);
    let verify = |token: &str| http.get(format!("{base}/auth/verify")).bearer_auth(token);
    assert_eq!(json_of(verify(&tokens[1])).await["valid"], false);
    assert_eq!(json_of(verify(&tokens[0])).await["valid"], true);
    let again = http
        .delete(format!("{base}/auth/sessions/{phone}"))
        .bearer_auth(&tokens[0])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn functions_logging_at_trace_write_no_secret_they_were_sent() {
    let (base, http) = (api_url(), reqwest::Client::new());
    let log_path = std::env::var("TOKENGATE_API_LOG")
        .expect("TOKENGATE_API_LOG is unset: run the tests with `make test`");
    let email = unique_email("e2e");
    let password = "trace-secret vermilion otter";
    let new_password = "trace-secret quarry falcon";

    let signup = http
        .post(format!("{base}/auth/signup"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), StatusCode::CREATED);
    let issued = http
        .get(format!("{base}/api/login-token"))
        .basic_auth(&email, Some(password))
        .send()
        .await
        .unwrap();
    assert_eq!(issued.status(), StatusCode::OK);
    let issued: Value = issued.json().await.unwrap();
    let token = issued["data"][0]["token"].as_str().unwrap().to_owned();
    let verified = json_of(http.get(format!("{base}/auth/verify")).bearer_auth(&token)).await;
    assert_eq!(verified["valid"], true);
    let changed = http
        .post(format!("{base}/auth/password"))
        .header("X-Auth-Token", &token)
        .json(&json!({"current_password": password, "new_password": new_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    let changed: Value = changed.json().await.unwrap();
    let fresh = changed["x-auth-token"].as_str().unwrap().to_owned();
    let wrong = http
        .post(format!("{base}/auth/login"))
        .basic_auth(&email, Some(password))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    use base64::Engine;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{email}:{password}"));
    // The functions write their lines as they go; give the last ones a moment to land.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let logged = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        logged.contains("account created") && logged.contains("password changed"),
        "the functions' own lines are in {log_path}"
    );
    for (what, secret) in [
        ("the password", password),
        ("the new password", new_password),
        ("the Basic credentials", basic.as_str()),
        ("the token", token.as_str()),
        ("the token's tag", &token[token.len() - 43..]),
        ("the new token", fresh.as_str()),
    ] {
        assert!(!logged.contains(secret), "{what} is in {log_path}");
    }
    for secret in key_ring_secrets() {
        assert!(!logged.contains(&secret), "a signing key is in {log_path}");
    }
}

#[tokio::test]
async fn make_rotate_key_brings_in_a_new_key_while_every_token_keeps_verifying() {
    let (base, http) = (api_url(), reqwest::Client::new());
    let signup = sign_up(&http, &base).await;
    let email = signup["userObj"]["email"].as_str().unwrap().to_owned();
    let before = signup["x-auth-token"].as_str().unwrap().to_owned();

    // What `make rotate-key` runs, on the ring the running functions read.
    let keyring = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/keyring");
    let rotated = std::process::Command::new(keyring)
        .args(["rotate", &key_ring_file()])
        .status()
        .expect("the keyring tool (cargo build --workspace builds it)");
    assert!(rotated.success());
    assert!(key_id(&before) < u32::MAX);

    // The functions read their ring again every KEY_RING_REFRESH_SECONDS (1 s under make test):
    // a login soon signs with a newer key than the signup's token names.
    let mut after = String::new();
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let login = json_of(
            http.post(format!("{base}/auth/login"))
                .json(&json!({"email": email, "password": "correct horse"})),
        )
        .await;
        after = login["x-auth-token"].as_str().unwrap().to_owned();
        if key_id(&after) > key_id(&before) {
            break;
        }
    }
    assert!(
        key_id(&after) > key_id(&before),
        "no login signed with the rotated key"
    );

    for token in [&before, &after] {
        let verified = json_of(
            http.get(format!("{base}/auth/verify"))
                .query(&[("authToken", token.as_str())]),
        )
        .await;
        assert_eq!(verified["valid"], true, "{verified}");
        let me = http
            .get(format!("{base}/api/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), StatusCode::OK);
    }
}

/// The code of the first message to `email` with `subject`, once the mailer (woken by the
/// outbox relay through cargo lambda's invoke API) has sent it.
async fn code_from_inbox(email: &str, subject: &str) -> String {
    for _ in 0..240 {
        if let Some(message) = tokengate_tests::inbox(email)
            .await
            .into_iter()
            .find(|message| message.subject == subject)
        {
            return message.code();
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    panic!("no {subject:?} message to {email} within a minute");
}

#[tokio::test]
async fn signup_sends_a_verification_message_and_its_code_verifies_over_http() {
    let (base, http) = (api_url(), reqwest::Client::new());
    let signup = sign_up(&http, &base).await;
    let email = signup["userObj"]["email"].as_str().unwrap().to_owned();
    assert_eq!(signup["userObj"]["emailVerified"], false);

    let code = code_from_inbox(&email, "Verify your email address").await;
    let verified = http
        .post(format!("{base}/auth/email/verify"))
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status(), StatusCode::OK);
    assert_eq!(
        verified.json::<Value>().await.unwrap(),
        json!({"success": true, "emailVerified": true})
    );
    let me = json_of(
        http.get(format!("{base}/api/me"))
            .bearer_auth(signup["x-auth-token"].as_str().unwrap()),
    )
    .await;
    assert_eq!(me["userObj"]["emailVerified"], true);
}

#[tokio::test]
async fn a_forgotten_password_is_reset_through_the_mailed_code_over_http() {
    let (base, http) = (api_url(), reqwest::Client::new());
    let signup = sign_up(&http, &base).await;
    let email = signup["userObj"]["email"].as_str().unwrap().to_owned();
    let old_token = signup["x-auth-token"].as_str().unwrap().to_owned();
    let login = |password: &'static str| {
        http.post(format!("{base}/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
    };
    // Someone else's guesses lock the account.
    for _ in 0..5 {
        assert_eq!(login("not the password").await.unwrap().status(), 401);
    }
    assert_eq!(login("correct horse").await.unwrap().status(), 401);

    let asked = http
        .post(format!("{base}/auth/password-reset"))
        .json(&json!({ "email": email }))
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let code = code_from_inbox(&email, "Reset your password").await;
    let confirmed = json_of(
        http.post(format!("{base}/auth/password-reset/confirm"))
            .json(&json!({"code": code, "new_password": "a new long passphrase"})),
    )
    .await;
    let fresh = confirmed["x-auth-token"].as_str().expect("a fresh token");

    assert_eq!(login("correct horse").await.unwrap().status(), 401);
    assert_eq!(
        login("a new long passphrase").await.unwrap().status(),
        200,
        "unlocked"
    );
    for (token, valid) in [(old_token.as_str(), false), (fresh, true)] {
        let verified = json_of(
            http.get(format!("{base}/auth/verify"))
                .query(&[("authToken", token)]),
        )
        .await;
        assert_eq!(verified["valid"], valid);
    }
}

#[tokio::test]
async fn a_protected_route_without_credentials_logs_no_error() {
    let (base, http) = (api_url(), reqwest::Client::new());
    let log_path = std::env::var("TOKENGATE_API_LOG")
        .expect("TOKENGATE_API_LOG is unset: run the tests with `make test`");
    let refused = http.get(format!("{base}/api/me")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("authorizer decision: no credentials"),
        "the authorizer says it, at info"
    );
    let errors: Vec<&str> = log
        .lines()
        .filter(|line| line.contains(r#""level":"ERROR""#) && line.contains("NoCredentials"))
        .collect();
    assert!(
        errors.is_empty(),
        "an ordinary refusal logged as an error: {errors:?}"
    );
}
