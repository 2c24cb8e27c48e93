//! Login throttling: a per-account failure counter in DynamoDB, driven by the test clock.

use lambda_http::{Body, Response};
use serde_json::json;
use tokengate::handlers;
use tokengate::throttle::ThrottlePolicy;
use tokengate_tests::{ApiRequest, TestApp, assert_problem, body_json, call, text};

const EMAIL: &str = "locked@example.com";
const PASSWORD: &str = "correct horse";
const POLICY: ThrottlePolicy = ThrottlePolicy::DEFAULT;

async fn login(app: &TestApp, password: &str) -> Response<Body> {
    call(
        handlers::login,
        &app.accounts,
        ApiRequest::post("/auth/login")
            .json(&json!({"email": EMAIL, "password": password}))
            .build(),
    )
    .await
}

async fn fail(app: &TestApp, times: u64) {
    for _ in 0..times {
        assert_problem(
            &login(app, "wrong password").await,
            401,
            "Wrong credentials.",
        );
    }
}

/// argon2 evaluations against real hashes and against the dummy hash so far.
fn work(app: &TestApp) -> (u64, u64) {
    let hasher = app.accounts.hasher();
    let dummy = hasher.dummy_evaluations();
    (hasher.evaluations() - dummy, dummy)
}

/// Asserts a locked account answers a correct password exactly as a wrong one, checking it
/// against the dummy hash only.
async fn assert_locked(app: &TestApp, wrong: &Response<Body>) {
    let (real, dummy) = work(app);
    let response = login(app, PASSWORD).await;
    assert_eq!(response.status(), wrong.status());
    assert_eq!(body_json(&response), body_json(wrong));
    assert_eq!(
        response.headers()["www-authenticate"],
        wrong.headers()["www-authenticate"]
    );
    assert_eq!(
        work(app),
        (real, dummy + 1),
        "one argon2 run, against the dummy hash"
    );
}

async fn assert_unlocked(app: &TestApp) {
    let response = login(app, PASSWORD).await;
    assert_eq!(response.status(), 200, "{}", text(&response));
}

#[tokio::test]
async fn five_failures_lock_the_account_and_it_answers_like_wrong_credentials() {
    let app = TestApp::spawn().await;
    app.sign_up(EMAIL, PASSWORD).await;
    fail(&app, POLICY.max_failures - 1).await;
    let wrong = login(&app, "wrong password").await;
    assert_problem(&wrong, 401, "Wrong credentials.");
    assert_locked(&app, &wrong).await;

    // login-token and a password change are locked out too.
    let via_basic = call(
        handlers::login_token,
        &app.accounts,
        ApiRequest::get("/api/login-token")
            .basic(EMAIL, PASSWORD)
            .build(),
    )
    .await;
    assert_eq!(body_json(&via_basic), body_json(&wrong));

    app.clock.advance(POLICY.lock - 1);
    assert_locked(&app, &wrong).await;
    app.clock.advance(1);
    assert_unlocked(&app).await;
}

#[tokio::test]
async fn unknown_email_wrong_password_and_lock_cost_the_same_argon2_work() {
    let app = TestApp::spawn().await;
    app.sign_up(EMAIL, PASSWORD).await;
    let start = work(&app);
    let unknown = call(
        handlers::login,
        &app.accounts,
        ApiRequest::post("/auth/login")
            .json(&json!({"email": "nobody@example.com", "password": PASSWORD}))
            .build(),
    )
    .await;
    let after_unknown = work(&app);
    let wrong = login(&app, "wrong password").await;
    let after_wrong = work(&app);
    assert_eq!(body_json(&unknown), body_json(&wrong));
    assert_eq!(unknown.status(), wrong.status());
    assert_eq!(after_unknown, (start.0, start.1 + 1));
    assert_eq!(after_wrong, (after_unknown.0 + 1, after_unknown.1));
}

#[tokio::test]
async fn failures_during_a_lock_do_not_extend_it() {
    let app = TestApp::spawn().await;
    app.sign_up(EMAIL, PASSWORD).await;
    fail(&app, POLICY.max_failures).await;
    let wrong = login(&app, "wrong password").await;
    for _ in 0..3 {
        app.clock.advance(POLICY.lock / 4);
        fail(&app, 5).await;
    }
    app.clock.advance(POLICY.lock - 3 * (POLICY.lock / 4) - 1);
    assert_locked(&app, &wrong).await;
    app.clock.advance(1);
    assert_unlocked(&app).await;
}

#[tokio::test]
async fn a_successful_login_resets_the_count() {
    let app = TestApp::spawn().await;
    app.sign_up(EMAIL, PASSWORD).await;
    fail(&app, POLICY.max_failures - 1).await;
    assert_unlocked(&app).await;
    fail(&app, POLICY.max_failures - 1).await;
    assert_unlocked(&app).await;
}

#[tokio::test]
async fn failures_outside_the_window_do_not_add_up() {
    let app = TestApp::spawn().await;
    app.sign_up(EMAIL, PASSWORD).await;
    fail(&app, POLICY.max_failures - 1).await;
    app.clock.advance(POLICY.window);
    fail(&app, POLICY.max_failures - 1).await;
    assert_unlocked(&app).await;
}

#[tokio::test]
async fn a_lock_is_per_account_and_ends_with_a_fresh_count() {
    let app = TestApp::spawn().await;
    app.sign_up(EMAIL, PASSWORD).await;
    app.sign_up("neighbour@example.com", PASSWORD).await;
    fail(&app, POLICY.max_failures).await;
    let neighbour = call(
        handlers::login,
        &app.accounts,
        ApiRequest::post("/auth/login")
            .basic("neighbour@example.com", PASSWORD)
            .build(),
    )
    .await;
    assert_eq!(neighbour.status(), 200, "other accounts are not locked");

    app.clock.advance(POLICY.lock);
    // After the lock, one failure does not lock again at once.
    fail(&app, 1).await;
    assert_unlocked(&app).await;
}

#[tokio::test]
async fn wrong_current_passwords_in_a_password_change_count_as_failures() {
    let app = TestApp::spawn().await;
    let signup = app.sign_up(EMAIL, PASSWORD).await;
    let token = signup["x-auth-token"].as_str().unwrap();
    for _ in 0..POLICY.max_failures {
        let response = call(handlers::change_password,
            &app.accounts,
            ApiRequest::post("/auth/password")
                .header("X-Auth-Token", token)
                .json(&json!({"current_password": "wrong password", "new_password": "battery staple"}))
                .build(),
        )
        .await;
        assert_problem(&response, 401, "Wrong credentials.");
    }
    let wrong = login(&app, "wrong password").await;
    assert_locked(&app, &wrong).await;
}

/// Right after a successful login (the window's start is this second and its count 0),
/// concurrent wrong guesses still reach the real hash at most `max_failures` times: each must
/// not be reserved as the first of a new window (the race the guard on the read count stops).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_guesses_right_after_a_login_reach_the_real_hash_at_most_the_limit() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    app.sign_up(EMAIL, PASSWORD).await;
    assert_unlocked(&app).await;
    let (real_before, _) = work(&app);
    let guesses: Vec<_> = (0..12)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { login(&app, "wrong password").await.status() })
        })
        .collect();
    for guess in guesses {
        assert_eq!(guess.await.expect("a guess"), 401);
    }
    let real = work(&app).0 - real_before;
    assert!(
        real <= POLICY.max_failures,
        "{real} concurrent guesses reached the real hash (limit {})",
        POLICY.max_failures
    );
    // The window's guesses are spent: the account is locked, the right password refused.
    assert_eq!(login(&app, PASSWORD).await.status(), 401);
}

/// The store's own guard, with real concurrency: twelve reservations of the first guess of a
/// new window, all made from the same read (the state a success leaves: this second's window,
/// count 0), and only one is reserved; the others find the bookkeeping moved.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_concurrent_new_window_reservations_from_one_read_only_one_is_reserved() {
    use tokengate::credentials::Email;
    use tokengate::store::{GuessReservation, Store};
    let app = TestApp::spawn().await;
    app.sign_up(EMAIL, PASSWORD).await;
    assert_unlocked(&app).await;
    let store = Store::new(app.client.clone(), &app.config.tables());
    let email = Email::parse(EMAIL).unwrap();
    let now = tokengate_tests::START;
    let seen = store.find_account(&email).await.unwrap().unwrap().failures;
    let reservation = POLICY.reservation(&seen, now);
    assert!(
        matches!(
            reservation,
            tokengate::throttle::Reservation::NewWindow { .. }
        ),
        "{reservation:?}"
    );
    let attempts: Vec<_> = (0..12)
        .map(|_| {
            let (store, email) = (store.clone(), email.clone());
            tokio::spawn(async move {
                store
                    .reserve_guess(&email, reservation, now, POLICY.max_failures)
                    .await
                    .expect("the store answers")
            })
        })
        .collect();
    let mut reserved = 0;
    for attempt in attempts {
        if matches!(attempt.await.unwrap(), GuessReservation::Reserved { .. }) {
            reserved += 1;
        }
    }
    assert_eq!(reserved, 1, "reservations made from one read");
}
