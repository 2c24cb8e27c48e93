//! Secrets at rest and in logs. Its own test binary: it installs the process-wide subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;
use tokengate::handlers;
use tokengate_tests::{ApiRequest, TestApp, body_json, call};

#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn flatten(value: &AttributeValue, into: &mut String) {
    match value {
        AttributeValue::S(text) | AttributeValue::N(text) => into.push_str(text),
        AttributeValue::M(map) => map.values().for_each(|v| flatten(v, into)),
        AttributeValue::L(list) => list.iter().for_each(|v| flatten(v, into)),
        other => into.push_str(&format!("{other:?}")),
    }
    into.push('\n');
}

#[tokio::test]
async fn neither_the_tables_nor_the_logs_hold_a_password_or_a_token() {
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber_for(move || writer.clone());
    tracing::subscriber::set_global_default(subscriber)
        .expect("the only subscriber of this binary");

    let app = TestApp::spawn().await;
    let password = "Tr0ub4dor&3-secret";
    let mut tokens = vec![
        app.sign_up("secret@example.com", password).await["x-auth-token"]
            .as_str()
            .unwrap()
            .to_owned(),
    ];
    let login = call(
        handlers::login,
        &app.accounts,
        ApiRequest::post("/auth/login")
            .json(&json!({"email": "secret@example.com", "password": password}))
            .build(),
    )
    .await;
    tokens.push(
        body_json(&login)["x-auth-token"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    let minted = call(
        handlers::login_token,
        &app.accounts,
        ApiRequest::get("/api/login-token")
            .basic("secret@example.com", password)
            .header("X-Client-Id", "cli")
            .build(),
    )
    .await;
    tokens.push(
        body_json(&minted)["data"][0]["token"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    let wrong = call(
        handlers::login,
        &app.accounts,
        ApiRequest::post("/auth/login")
            .basic("secret@example.com", "not-the-Tr0ub4dor")
            .build(),
    )
    .await;
    assert_eq!(wrong.status(), 401);
    call(
        handlers::verify,
        &app.tokens,
        ApiRequest::get("/auth/verify")
            .header("Authorization", &format!("Bearer {}", tokens[0]))
            .build(),
    )
    .await;

    // The lifecycle: a password change, a logout, a logout everywhere, and a lock-out.
    let new_password = "N3w-Correct-Secret";
    let changed = call(
        handlers::change_password,
        &app.accounts,
        ApiRequest::post("/auth/password")
            .header("X-Auth-Token", &tokens[1])
            .json(&json!({"current_password": password, "new_password": new_password}))
            .build(),
    )
    .await;
    assert_eq!(changed.status(), 200);
    tokens.push(
        body_json(&changed)["x-auth-token"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    let logout = call(
        handlers::logout,
        &app.tokens,
        ApiRequest::post("/auth/logout")
            .query("x-auth-token", &tokens[3])
            .build(),
    )
    .await;
    assert_eq!(logout.status(), 200);
    let again = call(
        handlers::login,
        &app.accounts,
        ApiRequest::post("/auth/login")
            .basic("secret@example.com", new_password)
            .build(),
    )
    .await;
    tokens.push(
        body_json(&again)["x-auth-token"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    let everywhere = call(
        handlers::logout_all,
        &app.tokens,
        ApiRequest::post("/auth/logout-all")
            .header("Authorization", &format!("Bearer {}", tokens[4]))
            .build(),
    )
    .await;
    assert_eq!(everywhere.status(), 200);
    for _ in 0..6 {
        call(
            handlers::login,
            &app.accounts,
            ApiRequest::post("/auth/login")
                .json(&json!({"email": "secret@example.com", "password": password}))
                .build(),
        )
        .await;
    }

    let mut dump = String::new();
    for table in [&app.config.users_table, &app.config.tokens_table] {
        for item in app.scan(table).await {
            item.values().for_each(|value| flatten(value, &mut dump));
        }
    }
    // A rotation, read by the functions: the ring's keys pass through the code that logs it.
    let ring = app.rotate_keys();
    app.clock.advance(app.config.key_refresh.as_secs());
    assert!(app.keys().authenticate(&tokens[0]).await.is_some());
    let key_secrets: Vec<String> = serde_json::from_str::<serde_json::Value>(&ring.to_document())
        .unwrap()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["secret"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(key_secrets.len(), 2);

    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    for event in [
        "key ring changed",
        "account created",
        "logged out everywhere",
        "account locked after repeated login failures",
    ] {
        assert!(logged.contains(event), "{event:?} was logged: {logged}");
    }
    for haystack in [&dump, &logged] {
        assert!(!haystack.contains(password) && !haystack.contains("Tr0ub4dor"));
        assert!(!haystack.contains(new_password) && !haystack.contains("N3w-Correct"));
        for key in &key_secrets {
            assert!(
                !haystack.contains(key.as_str()),
                "a signing key is stored or logged"
            );
        }
        for token in &tokens {
            // Neither the whole token nor its secret tail (the tag).
            assert!(!haystack.contains(token.as_str()));
            assert!(!haystack.contains(&token[token.len() - 43..]));
        }
    }
}

fn tracing_subscriber_for(
    make_writer: impl Fn() -> CapturedLogs + Send + Sync + 'static,
) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_current_span(true)
        .with_writer(make_writer)
        .finish()
}
