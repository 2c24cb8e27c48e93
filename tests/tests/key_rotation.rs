//! Signing keys that rotate without logging anyone out: the key ring in a real Secrets Manager
//! (moto's server, started by `make test`, which exports `AWS_ENDPOINT_URL_SECRETS_MANAGER`),
//! the rotation function's four steps called as Secrets Manager calls them, and the token
//! use-cases over DynamoDB Local reading that ring as a deployed function does.

use std::sync::Arc;

use aws_sdk_secretsmanager::Client as SecretsClient;
use futures::future::join_all;
use serde_json::json;
use tokengate::Accounts;
use tokengate::handlers;
use tokengate::ids::{TokenId, UserId, random_bytes};
use tokengate::keyring::{KeyId, KeyRing, SigningKey};
use tokengate::keys::secret::RingSecret;
use tokengate::keys::{KeyRingLocation, Keys};
use tokengate::lambda::{FromConfig, Parts};
use tokengate::rotation::{Rotation, RotationError, RotationStep};
use tokengate::store;
use tokengate::tokens::{Tokens, Verification};
use tokengate_tests::{ApiRequest, TestApp, body_json, call, load_keys, local_client, test_config};

const PASSWORD: &str = "correct horse";
const STEPS: [RotationStep; 4] = [
    RotationStep::Create,
    RotationStep::Set,
    RotationStep::Test,
    RotationStep::Finish,
];

async fn secrets_client() -> SecretsClient {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL_SECRETS_MANAGER").is_some(),
        "these tests need moto's Secrets Manager: run them with `make test`"
    );
    let sdk = store::sdk_config(std::time::Duration::from_secs(10), None)
        .await
        .expect("SDK configuration");
    SecretsClient::new(&sdk)
}

/// A rotation's request token, as Secrets Manager makes them (32 to 64 characters).
fn request_token() -> String {
    format!("{:032x}", u128::from_be_bytes(random_bytes::<16>()))
}

/// A new secret holding `value`, as the stack creates it; its ARN.
async fn new_secret(secrets: &SecretsClient, value: &str) -> String {
    let created = secrets
        .create_secret()
        .name(format!("tokengate-ring-{}", request_token()))
        .secret_string(value)
        .send()
        .await
        .expect("CreateSecret");
    created.arn().expect("an ARN").to_owned()
}

/// The stack's initial secret: one bare generated key, as before key rings.
fn bare_key() -> String {
    request_token() + &request_token()
}

/// A world whose functions read their ring from the secret `arn`.
async fn app_over(arn: &str) -> TestApp {
    let mut config = test_config();
    config.key_ring = KeyRingLocation::Secret(arn.to_owned());
    TestApp::with_client(local_client().await, config, true).await
}

/// The rotation function of `app`'s deployment, over the secret `arn`, on `app`'s clock.
fn rotation_of(app: &TestApp, secrets: &SecretsClient, arn: &str) -> Rotation {
    Rotation::new(
        RingSecret::new(secrets.clone(), arn),
        app.config.key_overlap().as_secs(),
        Arc::new(app.clock.clone()),
    )
}

async fn rotate(rotation: &Rotation, arn: &str) {
    let token = request_token();
    for step in STEPS {
        rotation
            .run(arn, step, &token)
            .await
            .expect("a rotation step");
    }
}

async fn current_ring(secrets: &SecretsClient, arn: &str) -> KeyRing {
    RingSecret::new(secrets.clone(), arn)
        .current()
        .await
        .expect("the current ring")
        .ring
}

/// Logs `email` in through `accounts` (one function's state) and returns the fresh token.
async fn log_in(accounts: &Accounts, email: &str) -> String {
    let response = call(
        handlers::login,
        accounts,
        ApiRequest::post("/auth/login")
            .json(&json!({"email": email, "password": PASSWORD}))
            .build(),
    )
    .await;
    assert_eq!(response.status(), 200);
    body_json(&response)["x-auth-token"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn key_id_of(token: &str) -> KeyId {
    tokengate::keyring::PresentedToken::parse(token)
        .expect("a token")
        .signer()
}

/// A token with a made-up key `id`, signed with a key nobody holds.
fn made_up(id: u32) -> String {
    SigningKey::new(&random_bytes::<32>())
        .unwrap()
        .token_for(KeyId(id), &UserId::generate(), &TokenId::generate())
        .expose()
        .to_owned()
}

/// The runbook's emergency ring (`keyring revoke-all -`), put as the current version of `arn`.
async fn put_emergency_ring(secrets: &SecretsClient, arn: &str) -> KeyRing {
    let emergency = current_ring(secrets, arn).await.revoked_all().unwrap();
    secrets
        .put_secret_value()
        .secret_id(arn)
        .secret_string(emergency.to_document())
        .send()
        .await
        .expect("PutSecretValue");
    emergency
}

fn is_valid(verification: &Verification) -> bool {
    matches!(verification, Verification::Valid { .. })
}

#[tokio::test]
async fn tokens_of_the_previous_key_verify_after_a_rotation_and_are_refused_without_a_store_read_once_it_is_dropped()
 {
    let secrets = secrets_client().await;
    let arn = new_secret(&secrets, &bare_key()).await;
    let app = app_over(&arn).await;
    let email = "rotated@example.com";
    let old = app.sign_up(email, PASSWORD).await["x-auth-token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(key_id_of(&old), KeyId::LEGACY);

    let rotation = rotation_of(&app, &secrets, &arn);
    rotate(&rotation, &arn).await;
    assert_eq!(
        current_ring(&secrets, &arn).await.key_ids(),
        vec![KeyId(2), KeyId(1)]
    );

    // Within its refresh window a function keeps the ring it read; then it reads the new one.
    assert_eq!(key_id_of(&log_in(&app.accounts, email).await), KeyId(1));
    app.clock.advance(app.config.key_refresh.as_secs());
    let new = log_in(&app.accounts, email).await;
    assert_eq!(key_id_of(&new), KeyId(2));
    assert!(is_valid(&app.tokens.verify(&old).await.unwrap()));
    assert!(is_valid(&app.tokens.verify(&new).await.unwrap()));

    // A rotation once the overlap has passed since key 1 stopped signing drops it.
    app.clock.advance(app.config.key_overlap().as_secs());
    rotate(&rotation, &arn).await;
    assert_eq!(
        current_ring(&secrets, &arn).await.key_ids(),
        vec![KeyId(3), KeyId(2)]
    );
    app.clock.advance(app.config.key_refresh.as_secs());
    let (tokens, counter) = app.counted_tokens();
    for refused in [old.clone(), made_up(0), made_up(1), made_up(2), made_up(3)] {
        assert_eq!(
            tokens.verify(&refused).await.unwrap(),
            Verification::Invalid
        );
    }
    assert_eq!(counter.count(), 0, "refusing by key id read the store");
    let newest = log_in(&app.accounts, email).await;
    assert_eq!(key_id_of(&newest), KeyId(3));
    assert!(is_valid(&tokens.verify(&newest).await.unwrap()));
    assert_eq!(counter.count(), 1, "a valid token is one store read");
}

#[tokio::test]
async fn every_step_can_be_retried_and_does_its_work_once() {
    let secrets = secrets_client().await;
    let arn = new_secret(&secrets, &bare_key()).await;
    let app = app_over(&arn).await;
    let rotation = rotation_of(&app, &secrets, &arn);
    let ring_secret = RingSecret::new(secrets.clone(), &arn);
    let token = request_token();

    rotation
        .run(&arn, RotationStep::Create, &token)
        .await
        .unwrap();
    let pending = ring_secret.pending(&token).await.unwrap().unwrap();
    rotation
        .run(&arn, RotationStep::Create, &token)
        .await
        .unwrap();
    let again = ring_secret.pending(&token).await.unwrap().unwrap();
    assert_eq!(
        again.to_document(),
        pending.to_document(),
        "a retried create made another key"
    );
    assert_eq!(pending.key_ids(), vec![KeyId(2), KeyId(1)]);

    for step in [
        RotationStep::Set,
        RotationStep::Set,
        RotationStep::Test,
        RotationStep::Test,
    ] {
        rotation.run(&arn, step, &token).await.unwrap();
    }
    assert_eq!(current_ring(&secrets, &arn).await.active_id(), KeyId(1));
    for step in STEPS.into_iter().rev().chain(STEPS) {
        // finish twice, then every step again after the rotation is done: nothing changes.
        rotation.run(&arn, step, &token).await.unwrap();
    }
    let current = ring_secret.current().await.unwrap();
    assert_eq!(current.version_id, token);
    assert_eq!(current.ring.to_document(), pending.to_document());
    let stages = ring_secret.stages().await.unwrap();
    assert_eq!(stages[&token], vec!["AWSCURRENT".to_owned()]);
    assert!(
        stages.values().flatten().all(|stage| stage != "AWSPENDING"),
        "{stages:?}"
    );

    // The next rotation builds on it, and an event for another secret is refused.
    rotate(&rotation, &arn).await;
    assert_eq!(current_ring(&secrets, &arn).await.active_id(), KeyId(3));
    assert!(matches!(
        rotation
            .run(
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:other",
                RotationStep::Create,
                &request_token()
            )
            .await,
        Err(RotationError::OtherSecret)
    ));
}

#[tokio::test]
async fn a_failed_test_step_leaves_the_active_key_signing() {
    let secrets = secrets_client().await;
    let arn = new_secret(&secrets, &bare_key()).await;
    let app = app_over(&arn).await;
    let email = "tested@example.com";
    let before = app.sign_up(email, PASSWORD).await["x-auth-token"]
        .as_str()
        .unwrap()
        .to_owned();
    let rotation = rotation_of(&app, &secrets, &arn);
    let ring_secret = RingSecret::new(secrets.clone(), &arn);
    let current = ring_secret.current().await.unwrap();

    // Pending versions no rotation should promote: an unrelated ring, and no ring at all (one
    // at a time: a stage labels one version).
    let unrelated = KeyRing::generate().rotated(0, 1).unwrap().to_document();
    let garbage = "{\"keys\": \"not a ring\"}".to_owned();
    for (document, refusal) in [
        (unrelated, "DropsSigningKey(KeyId(1))"),
        (garbage, "Ring(Malformed)"),
    ] {
        let token = request_token();
        secrets
            .put_secret_value()
            .secret_id(&arn)
            .client_request_token(&token)
            .secret_string(&document)
            .version_stages("AWSPENDING")
            .send()
            .await
            .expect("PutSecretValue");
        let tested = rotation.run(&arn, RotationStep::Test, &token).await;
        let error = format!("{:?}", tested.expect_err("the test step must fail"));
        assert!(error.contains(refusal), "{error}");
    }

    let after = ring_secret.current().await.unwrap();
    assert_eq!(after.version_id, current.version_id);
    assert_eq!(after.ring.to_document(), current.ring.to_document());
    app.clock.advance(app.config.key_refresh.as_secs());
    assert_eq!(key_id_of(&log_in(&app.accounts, email).await), KeyId(1));
    assert!(is_valid(&app.tokens.verify(&before).await.unwrap()));
}

#[tokio::test]
async fn a_function_meeting_a_newer_key_reads_its_ring_once_and_a_flood_of_made_up_ids_costs_one_read_per_window()
 {
    let secrets = secrets_client().await;
    let arn = new_secret(&secrets, &bare_key()).await;
    let app = app_over(&arn).await;
    let email = "newer@example.com";
    app.sign_up(email, PASSWORD).await;
    // A second function, warm since before the rotation.
    let warm_keys = load_keys(&app.config, &app.clock).await;
    let warm = tokens_over(&app, warm_keys.clone());

    rotate(&rotation_of(&app, &secrets, &arn), &arn).await;
    // A function started after it signs with the new key.
    let cold_keys = load_keys(&app.config, &app.clock).await;
    let cold = Accounts::from_config(&app.config, &parts_over(&app, cold_keys)).unwrap();
    let new = log_in(&cold, email).await;
    assert_eq!(key_id_of(&new), KeyId(2));

    assert_eq!(warm_keys.reads(), 1);
    assert!(is_valid(&warm.verify(&new).await.unwrap()));
    assert_eq!(warm_keys.reads(), 2, "meeting key 2 reads the ring once");
    assert!(is_valid(&warm.verify(&new).await.unwrap()));
    assert_eq!(warm_keys.reads(), 2);

    // A flood of made-up newer key ids, at once, on a function that has not read for any yet.
    let flooded_keys = load_keys(&app.config, &app.clock).await;
    let flooded = tokens_over(&app, flooded_keys.clone());
    let flood: Vec<String> = (3..203).map(made_up).collect();
    let verdicts = join_all(flood.iter().map(|token| flooded.verify(token))).await;
    assert!(
        verdicts
            .iter()
            .all(|verdict| matches!(verdict, Ok(Verification::Invalid)))
    );
    assert_eq!(
        flooded_keys.reads(),
        2,
        "the flood forced one read in its window"
    );
    for token in &flood {
        assert_eq!(flooded.verify(token).await.unwrap(), Verification::Invalid);
    }
    assert_eq!(flooded_keys.reads(), 2);

    // The next window: the scheduled read, and at most one more forced read.
    app.clock.advance(app.config.key_refresh.as_secs());
    for token in &flood {
        assert_eq!(flooded.verify(token).await.unwrap(), Verification::Invalid);
    }
    assert_eq!(flooded_keys.reads(), 4);
}

#[tokio::test]
async fn an_emergency_ring_put_between_test_and_finish_is_not_undone_by_the_finish() {
    let secrets = secrets_client().await;
    let arn = new_secret(&secrets, &bare_key()).await;
    let app = app_over(&arn).await;
    let rotation = rotation_of(&app, &secrets, &arn);
    let token = request_token();
    for step in &STEPS[..3] {
        rotation
            .run(&arn, *step, &token)
            .await
            .expect("a rotation step");
    }
    let emergency = put_emergency_ring(&secrets, &arn).await;
    let finished = rotation.run(&arn, RotationStep::Finish, &token).await;
    assert!(
        matches!(finished, Err(RotationError::Test(_))),
        "{finished:?}"
    );
    assert_eq!(
        current_ring(&secrets, &arn).await.to_document(),
        emergency.to_document(),
        "the emergency ring stays current"
    );
}

#[tokio::test]
async fn revoking_every_key_after_a_leak_refuses_every_earlier_token() {
    let secrets = secrets_client().await;
    let arn = new_secret(&secrets, &bare_key()).await;
    let app = app_over(&arn).await;
    let email = "leaked@example.com";
    let leaked = app.sign_up(email, PASSWORD).await["x-auth-token"]
        .as_str()
        .unwrap()
        .to_owned();

    // The runbook's emergency ring, put as the current version.
    put_emergency_ring(&secrets, &arn).await;
    app.clock.advance(app.config.key_refresh.as_secs());

    let (tokens, counter) = app.counted_tokens();
    assert_eq!(tokens.verify(&leaked).await.unwrap(), Verification::Invalid);
    assert_eq!(counter.count(), 0);
    let fresh = log_in(&app.accounts, email).await;
    assert_eq!(key_id_of(&fresh), KeyId(2));
    assert!(is_valid(&tokens.verify(&fresh).await.unwrap()));
}

#[tokio::test]
async fn login_token_hands_out_the_same_session_after_a_rotation_and_both_texts_verify() {
    let secrets = secrets_client().await;
    let arn = new_secret(&secrets, &bare_key()).await;
    let app = app_over(&arn).await;
    let email = "reused@example.com";
    app.sign_up(email, PASSWORD).await;
    let before = app.login_token(email, PASSWORD).await;

    rotate(&rotation_of(&app, &secrets, &arn), &arn).await;
    app.clock.advance(app.config.key_refresh.as_secs());
    let after = app.login_token(email, PASSWORD).await;

    // The same session, the same expiry; its text is now signed by the new key.
    assert_eq!(after["id"], before["id"]);
    assert_eq!(after["expire"], before["expire"]);
    let (old_text, new_text) = (
        before["token"].as_str().unwrap(),
        after["token"].as_str().unwrap(),
    );
    assert_ne!(old_text, new_text);
    assert_eq!(
        (key_id_of(old_text), key_id_of(new_text)),
        (KeyId(1), KeyId(2))
    );
    for text in [old_text, new_text] {
        match app.tokens.verify(text).await.unwrap() {
            Verification::Valid { claims, .. } => {
                assert_eq!(claims.token.to_string(), before["id"].as_str().unwrap());
            }
            other => panic!("{other:?}"),
        }
    }
}

fn parts_over(app: &TestApp, keys: Keys) -> Parts {
    Parts {
        keys,
        ..app.parts.clone()
    }
}

fn tokens_over(app: &TestApp, keys: Keys) -> Tokens {
    Tokens::from_config(&app.config, &parts_over(app, keys)).unwrap()
}
