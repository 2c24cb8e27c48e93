//! Sessions and revocation: a password change evicts every login racing it, logout-all is one
//! write whatever the number of sessions, live sessions are capped, a user lists and ends them
//! one by one, and parallel guesses cannot outrun the lockout.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::future::join_all;
use lambda_http::{Body, Response};
use serde_json::{Value, json};
use tokengate::handlers;
use tokengate::lambda::FromConfig;
use tokengate::records::Origin;
use tokengate::tokens::{Grantee, Handout, Tokens};
use tokengate_tests::{
    ApiRequest, TestApp, assert_problem, body_json, call, local_client, test_config, text,
};

/// Logs in with `password` (login-token when `login_token`); the token, or the status refused.
async fn log_in(
    app: &TestApp,
    email: &str,
    password: &str,
    login_token: bool,
) -> Result<String, u16> {
    let response = if login_token {
        call(
            handlers::login_token,
            &app.accounts,
            ApiRequest::get("/api/login-token")
                .basic(email, password)
                .build(),
        )
        .await
    } else {
        call(
            handlers::login,
            &app.accounts,
            ApiRequest::post("/auth/login")
                .basic(email, password)
                .build(),
        )
        .await
    };
    let body = body_json(&response);
    match response.status().as_u16() {
        200 if login_token => Ok(body["data"][0]["token"].as_str().unwrap().to_owned()),
        200 => Ok(body["x-auth-token"].as_str().unwrap().to_owned()),
        status => Err(status),
    }
}

/// Changes the password with `token`; the response.
async fn change_password(app: &TestApp, token: &str, current: &str, new: &str) -> Response<Body> {
    call(
        handlers::change_password,
        &app.accounts,
        ApiRequest::post("/auth/password")
            .header("X-Auth-Token", token)
            .json(&json!({"current_password": current, "new_password": new}))
            .build(),
    )
    .await
}

/// A world whose lockout never gets in the way of a race (the racers' late guesses fail).
async fn racing_world() -> Arc<TestApp> {
    let mut config = test_config();
    config.throttle.max_failures = 1_000;
    Arc::new(TestApp::with_client(local_client().await, config, true).await)
}

/// Three clients log in with `old` in a loop (login-token when `login_token`) while the main
/// task changes `old` to `new` with `token` (and, when `second_change` holds, another request
/// changes it too, with a token of its own). After the change returns, no token the loops got
/// verifies. Returns a valid token under `new` for the next round.
async fn race_round(
    app: &Arc<TestApp>,
    round: usize,
    (old, new): (&str, &str),
    token: String,
    login_token: bool,
    second_change: bool,
) -> String {
    const EMAIL: &str = "racer@example.com";
    let changed = Arc::new(AtomicBool::new(false));
    let loops: Vec<_> = (0..3)
        .map(|_| {
            let (app, changed, old) = (app.clone(), changed.clone(), old.to_owned());
            tokio::spawn(async move {
                let mut got = Vec::new();
                // Until the change has returned and the old password stopped working.
                for _ in 0..200 {
                    match log_in(&app, EMAIL, &old, login_token).await {
                        Ok(token) => got.push(token),
                        Err(401) if changed.load(Ordering::SeqCst) => break,
                        Err(401) => {}
                        Err(status) => panic!("login answered {status}"),
                    }
                }
                got
            })
        })
        .collect();
    let rival = if second_change {
        // A second session of the account, changing the password at the same time.
        let other = log_in(app, EMAIL, old, false)
            .await
            .expect("a second session");
        let (app, old, new) = (app.clone(), old.to_owned(), format!("{new} too"));
        Some(tokio::spawn(async move {
            change_password(&app, &other, &old, &new).await
        }))
    } else {
        None
    };
    tokio::time::sleep(Duration::from_millis(5)).await;
    let response = change_password(app, &token, old, new).await;
    changed.store(true, Ordering::SeqCst);
    let mut got: Vec<String> = join_all(loops)
        .await
        .into_iter()
        .flat_map(|handed| handed.expect("login loop"))
        .collect();
    let mut winners = Vec::new();
    for answer in [Some(response)]
        .into_iter()
        .chain([match rival {
            Some(rival) => Some(rival.await.expect("rival change")),
            None => None,
        }])
        .flatten()
    {
        match answer.status().as_u16() {
            200 => winners.push(
                body_json(&answer)["x-auth-token"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ),
            // The change that lost: its password check or its write came second.
            401 | 409 => {}
            status => panic!(
                "round {round}: password change answered {status}: {}",
                text(&answer)
            ),
        }
    }
    assert_eq!(winners.len(), 1, "round {round}: exactly one change wins");
    got.retain(|token| !winners.contains(token));
    for token in &got {
        assert!(
            !app.verifies(token).await,
            "round {round}: a token issued under the old password verifies after the change"
        );
    }
    let winner = winners.pop().unwrap();
    assert!(
        app.verifies(&winner).await,
        "round {round}: the change's own token"
    );
    winner
}

/// Runs 20 rounds of [`race_round`].
async fn twenty_rounds(login_token: bool, second_change: bool) {
    let app = racing_world().await;
    let mut token = app.sign_up("racer@example.com", "password 0").await["x-auth-token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut password = "password 0".to_owned();
    for round in 0..20 {
        let new = format!("password {}", round + 1);
        token = race_round(
            &app,
            round,
            (&password, &new),
            token,
            login_token,
            second_change,
        )
        .await;
        // Whichever change won, its token names the password now in force.
        password = if second_change
            && log_in(&app, "racer@example.com", &new, false)
                .await
                .is_err()
        {
            format!("{new} too")
        } else {
            new
        };
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_password_change_evicts_every_login_racing_it() {
    twenty_rounds(false, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_password_change_evicts_every_login_token_racing_it() {
    twenty_rounds(true, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_racing_password_changes_only_the_winners_token_survives() {
    twenty_rounds(false, true).await;
}

/// `count` sessions of a new account, issued through the token use-cases (no argon2); returns
/// the account's first token and every token.
async fn account_with_sessions(
    app: &TestApp,
    tokens: &Tokens,
    email: &str,
    count: usize,
) -> Vec<String> {
    let signup = app.sign_up(email, "correct horse").await;
    let user = tokengate::ids::UserId::parse(signup["userObj"]["id"].as_str().unwrap()).unwrap();
    let email = tokengate::credentials::Email::parse(email).unwrap();
    let grantee = Grantee {
        user,
        email: &email,
        password_version: 0,
    };
    let mut issued = vec![signup["x-auth-token"].as_str().unwrap().to_owned()];
    for i in 1..count {
        let origin = Origin {
            client_id: format!("app-{}", i % 7),
            ..Origin::default()
        };
        match tokens.issue(&grantee, &origin).await.expect("issue") {
            Handout::Token(token) => issued.push(token.token.expose().to_owned()),
            Handout::PasswordChanged => panic!("the password did not change"),
        }
    }
    issued
}

/// Logs out everywhere with `token`; the answer's `revoked` and how long it took.
async fn logout_all(tokens: &Tokens, token: &str) -> (u64, Duration) {
    let started = Instant::now();
    let response = call(
        handlers::logout_all,
        tokens,
        ApiRequest::post("/auth/logout-all")
            .header("X-Auth-Token", token)
            .build(),
    )
    .await;
    let took = started.elapsed();
    assert_eq!(response.status(), 200, "{}", text(&response));
    (body_json(&response)["revoked"].as_u64().unwrap(), took)
}

/// The version of `user`'s sessions item: it moves once per write.
async fn sessions_version(app: &TestApp, user: &str) -> u64 {
    app.scan(&app.config.tokens_table)
        .await
        .iter()
        .find(|item| {
            item["uid"].as_s().is_ok_and(|uid| uid == user)
                && item["sk"].as_s().is_ok_and(|sk| sk == "sessions")
        })
        .and_then(|item| item["version"].as_n().ok()?.parse().ok())
        .expect("a sessions item")
}

#[tokio::test]
async fn logout_all_revokes_two_thousand_sessions_in_one_write() {
    let mut config = test_config();
    config.max_sessions = 10_000;
    let app = TestApp::with_client(local_client().await, config, true).await;
    let tokens = Tokens::from_config(&app.config, &app.parts).unwrap();
    let few = account_with_sessions(&app, &tokens, "few@example.com", 10).await;
    let many = account_with_sessions(&app, &tokens, "many@example.com", 2_000).await;
    let user_of = |token: &str| app.claims(token).unwrap().user.to_string();
    let before = sessions_version(&app, &user_of(&many[0])).await;

    let (revoked_few, took_few) = logout_all(&tokens, &few[0]).await;
    let (revoked_many, took_many) = logout_all(&tokens, &many[0]).await;
    println!("logout-all: 10 sessions in {took_few:?}, 2000 sessions in {took_many:?}");
    assert_eq!((revoked_few, revoked_many), (10, 2_000));
    assert_eq!(
        sessions_version(&app, &user_of(&many[0])).await,
        before + 1,
        "one write to the sessions item"
    );
    for token in few.iter().chain(&many) {
        assert!(!app.verifies(token).await, "a session survived logout-all");
    }
}

#[tokio::test]
async fn past_the_cap_only_the_newest_hundred_sessions_verify() {
    let app = TestApp::spawn().await;
    let mut issued = vec![
        app.sign_up("capped@example.com", "correct horse").await["x-auth-token"]
            .as_str()
            .unwrap()
            .to_owned(),
    ];
    for _ in 1..120 {
        app.clock.advance(1);
        issued.push(
            log_in(&app, "capped@example.com", "correct horse", false)
                .await
                .unwrap(),
        );
    }
    let (evicted, kept) = issued.split_at(20);
    for token in evicted {
        assert!(!app.verifies(token).await, "an evicted session verifies");
    }
    for token in kept {
        assert!(
            app.verifies(token).await,
            "one of the newest 100 sessions was revoked"
        );
    }
}

/// Lists the sessions with `token`; the response.
async fn list(app: &TestApp, token: &str) -> Response<Body> {
    call(
        handlers::sessions,
        &app.tokens,
        ApiRequest::get("/auth/sessions")
            .header("Authorization", &format!("Bearer {token}"))
            .build(),
    )
    .await
}

/// Revokes session `id` with `token`; the response.
async fn revoke(app: &TestApp, token: &str, id: &str) -> Response<Body> {
    call(
        handlers::revoke_session,
        &app.tokens,
        ApiRequest::delete(&format!("/auth/sessions/{id}"))
            .header("X-Auth-Token", token)
            .path_parameter("id", id)
            .build(),
    )
    .await
}

async fn login_from(app: &TestApp, email: &str, client: &str, agent: &str) -> String {
    let response = call(
        handlers::login,
        &app.accounts,
        ApiRequest::post("/auth/login")
            .basic(email, "correct horse")
            .header("X-Client-Id", client)
            .header("User-Agent", agent)
            .build(),
    )
    .await;
    assert_eq!(response.status(), 200, "{}", text(&response));
    body_json(&response)["x-auth-token"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn id_of(app: &TestApp, token: &str) -> String {
    app.claims(token).unwrap().token.to_string()
}

#[tokio::test]
async fn a_user_sees_each_session_and_ends_one() {
    let app = TestApp::spawn().await;
    let first = app.sign_up("owner@example.com", "correct horse").await["x-auth-token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.clock.advance(1);
    let laptop = login_from(&app, "owner@example.com", "laptop", "Firefox/140.0").await;
    app.clock.advance(1);
    let phone = login_from(&app, "owner@example.com", "phone", "okhttp/5.0").await;

    let listed = list(&app, &laptop).await;
    assert_eq!(listed.status(), 200, "{}", text(&listed));
    let sessions = body_json(&listed)["sessions"].as_array().unwrap().clone();
    let ids: Vec<&str> = sessions.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            id_of(&app, &phone),
            id_of(&app, &laptop),
            id_of(&app, &first)
        ]
    );
    assert_eq!(sessions[0]["clientId"], "phone");
    assert_eq!(sessions[0]["userAgent"], "okhttp/5.0");
    assert_eq!(sessions[0]["sourceIp"], "192.0.2.1");
    assert_eq!(sessions[0]["current"], false);
    assert_eq!(sessions[1]["clientId"], "laptop");
    assert_eq!(sessions[1]["userAgent"], "Firefox/140.0");
    assert_eq!(sessions[1]["current"], true);
    assert_eq!(sessions[2]["clientId"], "default");
    assert!(sessions[0]["createdAt"].as_u64() > sessions[1]["createdAt"].as_u64());
    let text_of_listing = text(&listed);
    for token in [&first, &laptop, &phone] {
        assert!(
            !text_of_listing.contains(token.as_str()),
            "a token in the listing"
        );
    }

    let ended = revoke(&app, &laptop, &id_of(&app, &phone)).await;
    assert_eq!(ended.status(), 200, "{}", text(&ended));
    assert_eq!(body_json(&ended), json!({"success": true}));
    assert!(!app.verifies(&phone).await);
    assert!(app.verifies(&laptop).await && app.verifies(&first).await);
    assert_eq!(
        body_json(&list(&app, &first).await)["sessions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Ending it again, or ending what is no session, is the same 404.
    for id in [
        id_of(&app, &phone),
        "AAAAAAAAAAAAAAAAAAAAAA".into(),
        "not-an-id".into(),
    ] {
        assert_problem(&revoke(&app, &laptop, &id).await, 404, "Session not found.");
    }
    // The presented token may end itself.
    assert_eq!(
        revoke(&app, &laptop, &id_of(&app, &laptop)).await.status(),
        200
    );
    assert!(!app.verifies(&laptop).await);
}

#[tokio::test]
async fn another_accounts_session_is_not_found_and_stays_live() {
    let app = TestApp::spawn().await;
    let mine = app.sign_up("mine@example.com", "correct horse").await["x-auth-token"]
        .as_str()
        .unwrap()
        .to_owned();
    let theirs = app.sign_up("theirs@example.com", "correct horse").await["x-auth-token"]
        .as_str()
        .unwrap()
        .to_owned();
    let unknown = revoke(&app, &mine, "AAAAAAAAAAAAAAAAAAAAAA").await;
    let response = revoke(&app, &mine, &id_of(&app, &theirs)).await;
    assert_problem(&response, 404, "Session not found.");
    assert_eq!(body_json(&response), body_json(&unknown));
    assert!(app.verifies(&theirs).await && app.verifies(&mine).await);
    // Without a valid token the id is never looked at.
    assert_problem(
        &revoke(&app, "tg1_forged", &id_of(&app, &theirs)).await,
        401,
        "Invalid access token.",
    );
    assert_problem(
        &list(&app, "tg1_forged").await,
        401,
        "Invalid access token.",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_wrong_guesses_reach_the_real_hash_at_most_the_limit() {
    let app = Arc::new(TestApp::spawn().await);
    app.sign_up("guessed@example.com", "correct horse").await;
    let hasher = app.accounts.hasher();
    let (real_before, dummy_before) = (
        hasher.evaluations() - hasher.dummy_evaluations(),
        hasher.dummy_evaluations(),
    );
    let guesses: Vec<_> = (0..50)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                log_in(
                    &app,
                    "guessed@example.com",
                    &format!("wrong guess {i}"),
                    false,
                )
                .await
            })
        })
        .collect();
    for guess in join_all(guesses).await {
        assert_eq!(guess.expect("guess"), Err(401));
    }
    let real = hasher.evaluations() - hasher.dummy_evaluations() - real_before;
    let dummy = hasher.dummy_evaluations() - dummy_before;
    let limit = app.config.throttle.max_failures;
    assert!(
        real <= limit,
        "{real} guesses reached the real hash (limit {limit})"
    );
    assert_eq!(real + dummy, 50, "every guess costs one argon2 run");
    // And the account is locked now: the right password is refused too.
    assert_eq!(
        log_in(&app, "guessed@example.com", "correct horse", false).await,
        Err(401)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_correct_logins_all_succeed() {
    let app = Arc::new(TestApp::spawn().await);
    app.sign_up("busy@example.com", "correct horse").await;
    let logins: Vec<_> = (0..12)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(
                async move { log_in(&app, "busy@example.com", "correct horse", false).await },
            )
        })
        .collect();
    for login in join_all(logins).await {
        let token: Value = json!(login.expect("login").expect("a token"));
        assert!(app.verifies(token.as_str().unwrap()).await);
    }
}

/// At the cap, sessions that expire in the same second (logins within one second) are evicted
/// in the order they were issued: 120 logins leave exactly the newest 100.
#[tokio::test]
async fn at_the_cap_the_first_issued_of_one_expiry_second_go_first() {
    let app = TestApp::spawn().await;
    app.sign_up("capped@example.com", "correct horse").await;
    let mut tokens = Vec::new();
    for _ in 0..120 {
        tokens.push(
            log_in(&app, "capped@example.com", "correct horse", false)
                .await
                .expect("a login"),
        );
    }
    let cap = tokengate::records::DEFAULT_MAX_SESSIONS;
    for (n, token) in tokens.iter().enumerate() {
        let verified = call(
            handlers::verify,
            &app.tokens,
            ApiRequest::get("/auth/verify")
                .header("Authorization", &format!("Bearer {token}"))
                .build(),
        )
        .await;
        let valid = body_json(&verified)["valid"] == true;
        assert_eq!(
            valid,
            n >= tokens.len() - cap,
            "login {n} of {}",
            tokens.len()
        );
    }
}
