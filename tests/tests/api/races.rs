//! logout-all racing login-token: no token of the session it ends survives it.

use std::sync::{Arc, Mutex};

use futures::future::join_all;
use tokengate::handlers;
use tokengate_tests::{ApiRequest, TestApp, body_json, call, text};

const EMAIL: &str = "race-all@example.com";
const PASSWORD: &str = "correct horse";

/// The account's session generation, as logout-all left it.
async fn session_generation(app: &TestApp) -> u64 {
    app.scan(&app.config.tokens_table)
        .await
        .iter()
        .filter(|item| item["sk"].as_s().is_ok_and(|key| key == "sessions"))
        .find_map(|item| item.get("generation"))
        .and_then(|value| value.as_n().ok())
        .and_then(|n| n.parse().ok())
        .expect("the account's generation")
}

/// The session generation recorded with `token`, if its record exists.
async fn token_generation(app: &TestApp, token: &str) -> Option<u64> {
    let claims = app.claims(token)?;
    let sk = format!("token#{}", claims.token);
    app.scan(&app.config.tokens_table)
        .await
        .iter()
        .find(|item| item["sk"].as_s().is_ok_and(|key| *key == sk))
        .and_then(|item| item.get("generation"))
        .and_then(|value| value.as_n().ok())
        .and_then(|n| n.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_logout_all_and_login_token_leave_no_token_from_before_it() {
    let app = Arc::new(TestApp::spawn().await);
    let signup = app.sign_up(EMAIL, PASSWORD).await;
    let mut token = signup["x-auth-token"].as_str().unwrap().to_owned();
    for round in 0..5u64 {
        // Tokens handed out by the login-token calls racing logout-all.
        let finished = Arc::new(Mutex::new(Vec::<String>::new()));
        let callers: Vec<_> = (0..12)
            .map(|i| {
                let (app, finished) = (app.clone(), finished.clone());
                tokio::spawn(async move {
                    let client = if i % 2 == 0 { "default" } else { "mobile" };
                    let response = call(
                        handlers::login_token,
                        &app.accounts,
                        ApiRequest::get("/api/login-token")
                            .basic(EMAIL, PASSWORD)
                            .header("X-Client-Id", client)
                            .build(),
                    )
                    .await;
                    assert_eq!(response.status(), 200, "{}", text(&response));
                    let handed = body_json(&response)["data"][0]["token"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                    finished.lock().unwrap().push(handed);
                })
            })
            .collect();
        let response = call(
            handlers::logout_all,
            &app.tokens,
            ApiRequest::post("/auth/logout-all")
                .header("X-Auth-Token", &token)
                .build(),
        )
        .await;
        assert_eq!(response.status(), 200, "round {round}: {}", text(&response));
        for caller in join_all(callers).await {
            caller.expect("login-token caller");
        }
        // Every token that still verifies must be of the session logout-all started; one of
        // the session it ended (read before logout-all, written after it) would have survived.
        let generation = session_generation(&app).await;
        assert_eq!(generation, round + 1);
        let handed_out: Vec<String> = finished.lock().unwrap().clone();
        assert_eq!(handed_out.len(), 12);
        for handed in &handed_out {
            if app.verifies(handed).await {
                assert_eq!(
                    token_generation(&app, handed).await,
                    Some(generation),
                    "round {round}: a token of the ended session survived logout-all"
                );
            }
        }
        // Whatever was handed out afterwards is a working token of the new session generation.
        let after = call(
            handlers::login_token,
            &app.accounts,
            ApiRequest::get("/api/login-token")
                .basic(EMAIL, PASSWORD)
                .build(),
        )
        .await;
        token = body_json(&after)["data"][0]["token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(app.verifies(&token).await, "round {round}");
    }
}
