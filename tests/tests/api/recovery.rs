//! Password reset and email verification: codes sent through the SES emulator `make test`
//! starts (read back from its `/store`), the outbox delivered by the mailer as its stream or
//! sweep does, DynamoDB Local under both.

use lambda_http::{Body, Response};
use serde_json::{Value, json};
use tokengate::handlers;
use tokengate_tests::{
    ApiRequest, TestApp, assert_problem, body_json, call, inbox, local_client, test_config, text,
};

const PASSWORD: &str = "correct horse";
const NEW_PASSWORD: &str = "battery staple horse";
const INVALID_CODE: &str = "Invalid or expired code.";

/// An address no other test (or run) uses: the emulator's inbox is shared.
fn address(label: &str) -> String {
    format!(
        "{label}-{}@example.com",
        tokengate::ids::TokenId::generate()
            .to_string()
            .to_lowercase()
            .replace(['-', '_'], "x")
    )
}

async fn login(app: &TestApp, email: &str, password: &str) -> Response<Body> {
    call(
        handlers::login,
        &app.accounts,
        ApiRequest::post("/auth/login")
            .json(&json!({"email": email, "password": password}))
            .build(),
    )
    .await
}

async fn ask_reset(app: &TestApp, email: &str) -> Response<Body> {
    call(
        handlers::password_reset,
        &app.accounts,
        ApiRequest::post("/auth/password-reset")
            .json(&json!({ "email": email }))
            .build(),
    )
    .await
}

async fn confirm(app: &TestApp, code: &str, password: &str) -> Response<Body> {
    call(
        handlers::password_reset_confirm,
        &app.accounts,
        ApiRequest::post("/auth/password-reset/confirm")
            .json(&json!({"code": code, "new_password": password}))
            .build(),
    )
    .await
}

async fn verify_email(app: &TestApp, code: &str) -> Response<Body> {
    call(
        handlers::email_verify,
        &app.accounts,
        ApiRequest::post("/auth/email/verify")
            .json(&json!({ "code": code }))
            .build(),
    )
    .await
}

/// The code of the newest message to `email` whose subject is `subject`.
async fn newest_code(email: &str, subject: &str) -> String {
    inbox(email)
        .await
        .iter()
        .rev()
        .find(|message| message.subject == subject)
        .unwrap_or_else(|| panic!("no {subject:?} message to {email}"))
        .code()
}

const RESET: &str = "Reset your password";
const VERIFY: &str = "Verify your email address";

fn token_of(body: &Value) -> String {
    body["x-auth-token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn signup_sends_a_verification_message_whose_code_verifies_the_address_once() {
    let app = TestApp::spawn().await;
    let email = address("verify");
    let signup = app.sign_up(&email, PASSWORD).await;
    assert_eq!(signup["userObj"]["emailVerified"], false);
    assert!(
        inbox(&email).await.is_empty(),
        "nothing is sent on the request path"
    );

    app.deliver_mail().await;
    let messages = inbox(&email).await;
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(
        (message.from.as_str(), message.subject.as_str()),
        ("tokengate@example.com", VERIFY)
    );
    let code = message.code();
    assert_eq!(code.len(), tokengate::codes::CODE_LEN);
    assert!(message.html.contains(&code));
    assert!(!message.html.contains("<img"), "no tracking pixels");
    assert!(
        !message.text.contains("http"),
        "no link without EMAIL_VERIFY_URL"
    );

    let verified = verify_email(&app, &code).await;
    assert_eq!(verified.status(), 200, "{}", text(&verified));
    assert_eq!(
        body_json(&verified),
        json!({"success": true, "emailVerified": true})
    );
    let login = login(&app, &email, PASSWORD).await;
    assert_eq!(body_json(&login)["userObj"]["emailVerified"], true);
    assert_problem(&verify_email(&app, &code).await, 400, INVALID_CODE);
}

#[tokio::test]
async fn a_reset_sets_the_new_password_revokes_every_session_and_unlocks_the_account() {
    let app = TestApp::spawn().await;
    let email = address("reset");
    let old_token = token_of(&app.sign_up(&email, PASSWORD).await);
    for _ in 0..app.config.throttle.max_failures {
        assert_eq!(login(&app, &email, "wrong password").await.status(), 401);
    }
    assert_eq!(login(&app, &email, PASSWORD).await.status(), 401, "locked");

    let asked = ask_reset(&app, &email).await;
    assert_eq!(asked.status(), 202);
    assert_eq!(body_json(&asked), json!({"success": true}));
    app.deliver_mail().await;
    let message = inbox(&email)
        .await
        .into_iter()
        .find(|message| message.subject == RESET)
        .expect("a reset message");
    let code = message.code();
    assert!(
        message
            .text
            .contains(&format!("https://app.example.com/reset?code={code}")),
        "the link of PASSWORD_RESET_URL"
    );

    let confirmed = confirm(&app, &code, NEW_PASSWORD).await;
    assert_eq!(confirmed.status(), 200, "{}", text(&confirmed));
    let body = body_json(&confirmed);
    assert_eq!(body["userObj"]["emailVerified"], true);
    let fresh = token_of(&body);
    assert!(app.verifies(&fresh).await);
    assert!(
        !app.verifies(&old_token).await,
        "every earlier session is revoked"
    );
    assert_eq!(login(&app, &email, PASSWORD).await.status(), 401);
    assert_eq!(
        login(&app, &email, NEW_PASSWORD).await.status(),
        200,
        "unlocked"
    );
    assert_problem(
        &confirm(&app, &code, "another new password").await,
        400,
        INVALID_CODE,
    );
}

#[tokio::test]
async fn a_reset_request_answers_the_same_for_an_unknown_address_with_the_same_store_work() {
    let app = TestApp::spawn().await;
    let known = address("known");
    let unknown = address("unknown");
    app.sign_up(&known, PASSWORD).await;
    let (accounts, counter) = app.counted_accounts();
    let mut answers = Vec::new();
    for email in [&known, &unknown] {
        let before = counter.count();
        let response = call(
            handlers::password_reset,
            &accounts,
            ApiRequest::post("/auth/password-reset")
                .json(&json!({ "email": email }))
                .build(),
        )
        .await;
        answers.push((
            response.status(),
            response.headers().clone(),
            response.body().to_vec(),
            counter.count() - before,
        ));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].3, 1, "one store call: the outbox write");

    app.deliver_mail().await;
    assert_eq!(inbox(&unknown).await.len(), 0);
    assert_eq!(
        inbox(&known)
            .await
            .iter()
            .filter(|m| m.subject == RESET)
            .count(),
        1
    );
}

#[tokio::test]
async fn a_code_expires_and_dies_after_five_wrong_tries() {
    let app = TestApp::spawn().await;
    let email = address("tries");
    app.sign_up(&email, PASSWORD).await;
    ask_reset(&app, &email).await;
    app.deliver_mail().await;
    let code = newest_code(&email, RESET).await;
    let mut typo = code.clone().into_bytes();
    // A character inside the tag, not the last one: that one also holds two padding bits, and
    // setting one makes the code malformed rather than wrong.
    let inside = typo.len() - 5;
    typo[inside] = if typo[inside] == b'A' { b'B' } else { b'A' };
    let typo = String::from_utf8(typo).unwrap();
    for _ in 0..tokengate::records::MAX_WRONG_TRIES {
        assert_problem(&confirm(&app, &typo, NEW_PASSWORD).await, 400, INVALID_CODE);
    }
    assert_problem(&confirm(&app, &code, NEW_PASSWORD).await, 400, INVALID_CODE);
    assert_eq!(
        login(&app, &email, PASSWORD).await.status(),
        200,
        "nothing changed"
    );

    app.clock.advance(1);
    ask_reset(&app, &email).await;
    app.deliver_mail().await;
    let code = newest_code(&email, RESET).await;
    app.clock.advance(app.config.mail.reset.ttl);
    assert_problem(&confirm(&app, &code, NEW_PASSWORD).await, 400, INVALID_CODE);
    assert_eq!(
        login(&app, &email, PASSWORD).await.status(),
        200,
        "nothing changed"
    );
}

#[tokio::test]
async fn a_newer_code_kills_the_older_and_no_code_crosses_purposes_or_accounts() {
    let app = TestApp::spawn().await;
    let (email, other) = (address("newer"), address("other"));
    app.sign_up(&email, PASSWORD).await;
    app.sign_up(&other, PASSWORD).await;
    app.deliver_mail().await;
    let verification = newest_code(&email, VERIFY).await;
    ask_reset(&app, &email).await;
    app.deliver_mail().await;
    let older = newest_code(&email, RESET).await;
    app.clock.advance(1);
    ask_reset(&app, &email).await;
    app.deliver_mail().await;
    let newer = newest_code(&email, RESET).await;
    assert_ne!(older, newer);

    assert_problem(
        &confirm(&app, &older, NEW_PASSWORD).await,
        400,
        INVALID_CODE,
    );
    assert_problem(&verify_email(&app, &newer).await, 400, INVALID_CODE);
    assert_problem(
        &confirm(&app, &verification, NEW_PASSWORD).await,
        400,
        INVALID_CODE,
    );
    // Wrong tries at the other purpose counted nowhere: both codes still work.
    assert_eq!(verify_email(&app, &verification).await.status(), 200);
    assert_eq!(confirm(&app, &newer, NEW_PASSWORD).await.status(), 200);
    assert_eq!(
        login(&app, &other, PASSWORD).await.status(),
        200,
        "the other account is untouched"
    );
    assert_eq!(
        body_json(&login(&app, &other, PASSWORD).await)["userObj"]["emailVerified"],
        false
    );
}

/// The reset codes mailed to `email` so far, oldest first.
async fn reset_codes(email: &str) -> Vec<String> {
    inbox(email)
        .await
        .iter()
        .filter(|message| message.subject == RESET)
        .map(|message| message.code())
        .collect()
}

#[tokio::test]
async fn requests_past_the_hourly_limit_send_the_live_code_again_and_cannot_lock_the_owner_out() {
    let app = TestApp::spawn().await;
    let email = address("limit");
    app.sign_up(&email, PASSWORD).await;
    let limit = app.config.mail.reset.max_per_hour;
    // Someone else spends the hour's new codes on the owner's address.
    for _ in 0..limit {
        app.clock.advance(1);
        assert_eq!(ask_reset(&app, &email).await.status(), 202);
        app.deliver_mail().await;
    }
    let spent = reset_codes(&email).await;
    assert_eq!(spent.len() as u64, limit);
    // The owner's request, answered the same, still brings a working code: the live one.
    app.clock.advance(1);
    assert_eq!(ask_reset(&app, &email).await.status(), 202);
    app.deliver_mail().await;
    let codes = reset_codes(&email).await;
    assert_eq!(
        codes.len() as u64,
        limit + 1,
        "a message past the hour's limit"
    );
    assert_eq!(
        codes.last(),
        spent.last(),
        "the live code again, no new one"
    );
    assert_eq!(
        confirm(&app, codes.last().unwrap(), NEW_PASSWORD)
            .await
            .status(),
        200
    );
    app.clock.advance(tokengate::records::MAIL_WINDOW_SECONDS);
    ask_reset(&app, &email).await;
    app.deliver_mail().await;
    let fresh = reset_codes(&email).await;
    assert_eq!(fresh.len() as u64, limit + 2, "a new hour, a new message");
    assert!(!codes.contains(fresh.last().unwrap()), "with a new code");
}

#[tokio::test]
async fn an_account_gets_at_most_the_days_messages_codes_sent_again_included() {
    let app = TestApp::spawn().await;
    let email = address("daily");
    app.sign_up(&email, PASSWORD).await;
    let day = app.config.mail.reset.max_per_day;
    for _ in 0..day + 5 {
        app.clock.advance(60);
        assert_eq!(ask_reset(&app, &email).await.status(), 202);
        app.deliver_mail().await;
    }
    assert_eq!(reset_codes(&email).await.len() as u64, day);
    // Hours later, still the same day: nothing more.
    app.clock
        .advance(3 * tokengate::records::MAIL_WINDOW_SECONDS);
    ask_reset(&app, &email).await;
    app.deliver_mail().await;
    assert_eq!(reset_codes(&email).await.len() as u64, day);
    app.clock.advance(tokengate::records::MAIL_DAY_SECONDS);
    ask_reset(&app, &email).await;
    app.deliver_mail().await;
    assert_eq!(reset_codes(&email).await.len() as u64, day + 1, "a new day");
}

#[tokio::test]
async fn with_the_mail_service_down_the_request_succeeds_and_the_message_follows() {
    let app = TestApp::spawn().await;
    let email = address("outage");
    app.sign_up(&email, PASSWORD).await;
    app.deliver_mail().await;
    assert_eq!(ask_reset(&app, &email).await.status(), 202);

    // Nothing listens on port 9 here: every send fails as a transient outage.
    let down = app.mailer_via(Some("http://127.0.0.1:9")).await;
    let sweep = down.sweep(0).await.unwrap();
    assert_eq!((sweep.finished, sweep.left), (0, 1));
    assert_eq!(down.permanent_failures(), 0);
    assert!(inbox(&email).await.iter().all(|m| m.subject != RESET));

    app.deliver_mail().await;
    let code = newest_code(&email, RESET).await;
    assert_eq!(confirm(&app, &code, NEW_PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn a_verified_email_can_be_required_before_any_token() {
    let mut config = test_config();
    config.require_verified_email = true;
    let app = TestApp::with_client(local_client().await, config, true).await;
    let email = address("required");
    let signup = call(
        handlers::signup,
        &app.accounts,
        ApiRequest::post("/auth/signup")
            .json(&json!({"email": email, "password": PASSWORD}))
            .build(),
    )
    .await;
    assert_eq!(signup.status(), 201);
    let body = body_json(&signup);
    assert!(body.get("x-auth-token").is_none(), "{body}");
    assert_eq!(body["userObj"]["emailVerified"], false);

    assert_problem(
        &login(&app, &email, PASSWORD).await,
        403,
        "Email address not verified.",
    );
    assert_problem(
        &login(&app, &email, "wrong password").await,
        401,
        "Wrong credentials.",
    );
    let login_token = call(
        handlers::login_token,
        &app.accounts,
        ApiRequest::get("/api/login-token")
            .basic(&email, PASSWORD)
            .build(),
    )
    .await;
    assert_problem(&login_token, 403, "Email address not verified.");

    app.deliver_mail().await;
    let code = newest_code(&email, VERIFY).await;
    assert_eq!(verify_email(&app, &code).await.status(), 200);
    assert_eq!(login(&app, &email, PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn a_new_verification_message_can_be_asked_for_with_a_token() {
    let app = TestApp::spawn().await;
    let email = address("again");
    let token = token_of(&app.sign_up(&email, PASSWORD).await);
    app.deliver_mail().await;
    let first = newest_code(&email, VERIFY).await;

    let ask = |token: Option<String>| {
        let mut request = ApiRequest::post("/auth/email/verification");
        if let Some(token) = token {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        call(handlers::email_verification, &app.accounts, request.build())
    };
    assert_problem(
        &ask(None).await,
        401,
        "No authentication credentials provided.",
    );
    app.clock.advance(1);
    let asked = ask(Some(token.clone())).await;
    assert_eq!(asked.status(), 202, "{}", text(&asked));
    app.deliver_mail().await;
    let second = newest_code(&email, VERIFY).await;
    assert_ne!(first, second);
    assert_problem(&verify_email(&app, &first).await, 400, INVALID_CODE);
    assert_eq!(verify_email(&app, &second).await.status(), 200);

    // Verified: a further request is answered, and nothing is sent.
    ask(Some(token)).await;
    app.deliver_mail().await;
    assert_eq!(inbox(&email).await.len(), 2);
}

#[tokio::test]
async fn malformed_bodies_are_400_and_change_nothing() {
    let app = TestApp::spawn().await;
    for (route, body) in [
        ("reset", json!({})),
        ("reset", json!({"email": "not an address"})),
        ("confirm", json!({"code": "x"})),
        ("confirm", json!({"new_password": NEW_PASSWORD})),
        (
            "confirm",
            json!({"code": "x".repeat(300), "new_password": NEW_PASSWORD}),
        ),
        ("verify", json!({"code": ""})),
    ] {
        let request = ApiRequest::post("/auth/x").json(&body).build();
        let response = match route {
            "reset" => call(handlers::password_reset, &app.accounts, request).await,
            "confirm" => call(handlers::password_reset_confirm, &app.accounts, request).await,
            _ => call(handlers::email_verify, &app.accounts, request).await,
        };
        assert_eq!(
            response.status(),
            400,
            "{route} {body}: {}",
            text(&response)
        );
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
    assert!(app.scan(&app.config.outbox_table).await.is_empty());
}

/// The outbox items of `purpose` (`reset` or `verify`), with their outcome once finished.
async fn outbox(app: &TestApp, purpose: &str) -> Vec<(String, Option<String>)> {
    app.scan(&app.config.outbox_table)
        .await
        .into_iter()
        .filter(|item| item["purpose"].as_s().is_ok_and(|p| p == purpose))
        .map(|item| {
            (
                item["id"].as_s().unwrap().clone(),
                item.get("outcome").and_then(|o| o.as_s().ok()).cloned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_message_the_mail_service_refuses_for_good_is_counted_finished_and_not_retried() {
    let app = TestApp::spawn().await;
    let email = address("refused");
    app.sign_up(&email, PASSWORD).await;
    app.deliver_mail().await;
    assert_eq!(ask_reset(&app, &email).await.status(), 202);

    // SES answers 400 to a message without a sender: a refusal for good, not an outage.
    let refusing = app.mailer_sending(None, "");
    let sweep = refusing.sweep(0).await.unwrap();
    assert_eq!((sweep.finished, sweep.left), (1, 0));
    assert_eq!(refusing.permanent_failures(), 1);
    assert_eq!(outbox(&app, "reset").await[0].1.as_deref(), Some("failed"));
    app.deliver_mail().await;
    assert!(
        inbox(&email).await.iter().all(|m| m.subject != RESET),
        "a failed message is not sent again"
    );
}

#[tokio::test]
async fn a_stream_record_the_mailer_could_not_deliver_is_reported_for_the_stream_to_retry() {
    let app = TestApp::spawn().await;
    let email = address("stream");
    app.sign_up(&email, PASSWORD).await;
    app.deliver_mail().await;
    ask_reset(&app, &email).await;
    let (id, _) = outbox(&app, "reset").await.remove(0);
    // As the event source mapping delivers it: keys only, INSERTs (a REMOVE is skipped).
    let event = json!({"Records": [
        {"eventID": "1", "eventName": "REMOVE", "awsRegion": "local",
         "dynamodb": {"Keys": {"id": {"S": "gone"}}, "SequenceNumber": "41", "SizeBytes": 12}},
        {"eventID": "2", "eventName": "INSERT", "awsRegion": "local",
         "dynamodb": {"Keys": {"id": {"S": id}}, "SequenceNumber": "42", "SizeBytes": 44}},
    ]});

    let down = app.mailer_via(Some("http://127.0.0.1:9")).await;
    let answer = tokengate::lambda::mail(&down, event.clone()).await.unwrap();
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": "42"}]})
    );
    assert!(inbox(&email).await.iter().all(|m| m.subject != RESET));

    let up = app.mailer_via(None).await;
    for _ in 0..2 {
        let answer = tokengate::lambda::mail(&up, event.clone()).await.unwrap();
        assert_eq!(answer, json!({"batchItemFailures": []}));
    }
    let resets = inbox(&email)
        .await
        .into_iter()
        .filter(|m| m.subject == RESET)
        .count();
    assert_eq!(
        resets, 1,
        "a redelivered record of a finished item sends nothing more"
    );
}

#[tokio::test]
async fn a_late_redelivery_never_revives_a_used_code_and_a_used_code_keeps_counting_the_hour() {
    let app = TestApp::spawn().await;
    let email = address("replay");
    app.sign_up(&email, PASSWORD).await;
    app.deliver_mail().await;
    ask_reset(&app, &email).await;
    let item = app
        .scan(&app.config.outbox_table)
        .await
        .into_iter()
        .find(|item| item["purpose"].as_s().is_ok_and(|p| p == "reset"))
        .unwrap();
    // The outbox item as the mailer reads it, to deliver it again as a stream retry or a
    // sweep would after a crash between sending and marking it finished.
    let request = tokengate::records::MailRequest {
        id: tokengate::ids::CodeId::parse(item["id"].as_s().unwrap()).unwrap(),
        purpose: tokengate::codes::CodePurpose::PasswordReset,
        email: tokengate::credentials::Email::parse(&email).unwrap(),
        user: None,
        requested_at: item["requested_at"].as_n().unwrap().parse().unwrap(),
    };
    app.deliver_mail().await;
    let code = newest_code(&email, RESET).await;
    assert_eq!(confirm(&app, &code, NEW_PASSWORD).await.status(), 200);

    let mailer = app.mailer_via(None).await;
    for advance in [0, app.config.mail.reset.ttl] {
        app.clock.advance(advance);
        let outcome = mailer.deliver_request(&request).await.unwrap();
        assert_eq!(outcome, tokengate::records::MailOutcome::Expired);
        assert_problem(
            &confirm(&app, &code, "yet another passphrase").await,
            400,
            INVALID_CODE,
        );
    }
    let resets = inbox(&email)
        .await
        .into_iter()
        .filter(|m| m.subject == RESET)
        .count();
    assert_eq!(resets, 1, "the used code is never sent again");

    // The hour's count outlives the used code: two more new codes (the first was sent at the
    // start of the hour), then the live one of those again, never the used one.
    for _ in 0..3 {
        app.clock.advance(1);
        ask_reset(&app, &email).await;
        app.deliver_mail().await;
    }
    let codes = reset_codes(&email).await;
    assert_eq!(codes.len() as u64, app.config.mail.reset.max_per_hour + 1);
    assert_eq!(codes[codes.len() - 1], codes[codes.len() - 2]);
    assert!(
        !codes[1..].contains(&code),
        "the used code is never sent again"
    );
}
