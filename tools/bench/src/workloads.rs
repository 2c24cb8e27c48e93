//! What each function is sent: a first invocation it answers without any store or service call
//! (cold start), and a run of real invocations on its main path (peak memory while serving).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::deployment::{Deployment, PASSWORD};
use crate::events::{authorized_request, authorizer_request, http_request};
use crate::functions::RuntimeEmulator;
use tokengate::codes::CodePurpose;
use tokengate::ids::CodeId;
use tokengate::keyring::Authentication;
use tokengate::mailer::SWEEP_MIN_AGE_SECONDS;
use tokengate::routes::{self, Load};

/// Every function of the route table, in its order: `rotate-key` is last, since serving, it
/// rotates the bench's ring.
pub fn functions() -> impl Iterator<Item = &'static str> {
    routes::FUNCTIONS.iter().map(|function| function.name)
}

/// The function that rotates the key ring: it reads no ring at start-up, so it only runs with
/// the ring in Secrets Manager.
pub const ROTATION: &str = "rotate-key";

/// Whether `function` hashes or verifies passwords (argon2id) on its main path: its row says.
pub fn hashes_passwords(function: &str) -> bool {
    routes::function(function).is_some_and(|row| row.hashes_passwords)
}

/// Whether each request to `function` costs an argon2id evaluation, in the function or in the
/// login that gets it a token to consume, or a rotation step: those get fewer requests.
pub fn costs_a_hash(function: &str) -> bool {
    hashes_passwords(function)
        || matches!(
            workload(function),
            Some(
                Workload::Logout
                    | Workload::LogoutAll
                    | Workload::RevokeSession
                    | Workload::Rotation
            )
        )
}

/// What the bench sends a function on its main path. Every function of the route table has
/// one (a unit test holds it): a new function gets its workload, never a default one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// New accounts, one a request.
    Signup,
    /// The bench account's right password.
    Login,
    /// The bench account's Basic credentials.
    LoginToken,
    /// A fresh login's token each time, revoked.
    Logout,
    /// One of a fresh login's sessions, ended by id.
    RevokeSession,
    /// A fresh login's token each time, every session revoked.
    LogoutAll,
    /// Password changes back and forth.
    PasswordChange,
    /// Reset requests for the bench account.
    ResetRequest,
    /// Codes that pass the tag check but are no live code, of this purpose.
    DeadCode(CodePurpose),
    /// Scheduled sweeps of the outbox.
    Sweep,
    /// Whole rotations of the bench's ring.
    Rotation,
    /// The bench's live token, on a route that only reads it.
    LiveToken,
}

/// `function`'s workload: its row's, or one of the bench's own.
pub fn workload(function: &str) -> Option<Workload> {
    if routes::function(function)?.load == Load::LiveToken {
        return Some(Workload::LiveToken);
    }
    Some(match function {
        "signup" => Workload::Signup,
        "login" => Workload::Login,
        "login-token" => Workload::LoginToken,
        "logout" => Workload::Logout,
        "revoke-session" => Workload::RevokeSession,
        "logout-all" => Workload::LogoutAll,
        "password" => Workload::PasswordChange,
        "password-reset" => Workload::ResetRequest,
        "password-reset-confirm" => Workload::DeadCode(CodePurpose::PasswordReset),
        "email-verify" => Workload::DeadCode(CodePurpose::EmailVerification),
        "mailer" => Workload::Sweep,
        ROTATION => Workload::Rotation,
        _ => return None,
    })
}

/// What `function`'s invocations on its main path are, for the report.
pub fn requests_noun(function: &str) -> &'static str {
    match workload(function) {
        Some(Workload::Sweep) => "outbox sweeps",
        Some(Workload::Rotation) => "rotation steps",
        _ => "requests",
    }
}

/// What [`first_event`] sends `function`, for the report.
pub fn first_event_label(function: &str) -> &'static str {
    match function {
        "mailer" => "an empty stream batch",
        ROTATION => "another secret's rotation event",
        _ => "no credentials",
    }
}

/// `function`'s route from its row (an HTTP function's; the authorizer's requests name none).
/// A path parameter is a well-formed id the bench replaces where it needs a live one.
fn route(function: &str) -> (&'static str, String) {
    match routes::function(function).and_then(|row| row.route()) {
        Some(route) => (
            route.method,
            route.path.replace("{id}", "AAAAAAAAAAAAAAAAAAAAAA"),
        ),
        None => ("GET", "/".to_owned()),
    }
}

/// A first invocation that `function` answers at once, without DynamoDB, Secrets Manager, SES or
/// argon2: a request with no credentials and no body (a 4xx; a deny for the authorizer), a
/// stream batch with no records (the mailer), another secret's rotation event (refused).
pub fn first_event(function: &str) -> Value {
    if function == "mailer" {
        return json!({ "Records": [] });
    }
    if function == ROTATION {
        return json!({
            "Step": "createSecret",
            "SecretId": "another-secret",
            "ClientRequestToken": "bench-first-event",
        });
    }
    if function == "authorizer" {
        // No token at all is the authorizer's error answer; a garbled one its deny.
        return authorizer_request(Some("Bearer garbled"));
    }
    let (method, path) = route(function);
    http_request(method, &path, &[], None)
}

/// Whether `answer` is the one [`first_event`] asks of `function`.
pub fn is_first_answer(function: &str, answer: &Value) -> bool {
    match function {
        "mailer" => answer["batchItemFailures"]
            .as_array()
            .is_some_and(Vec::is_empty),
        ROTATION => answer["errorMessage"]
            .as_str()
            .is_some_and(|message| message.contains("another secret than KEY_RING_SECRET_ID")),
        _ => is_refusal(answer),
    }
}

/// Whether `answer` is a refusal: a 4xx, or an authorizer's deny.
fn is_refusal(answer: &Value) -> bool {
    effect(answer) == Some("Deny")
        || answer["statusCode"]
            .as_u64()
            .is_some_and(|status| (400..500).contains(&status))
}

/// `function`'s request with the bearer `token` (of `deployment`'s ring): verify and the
/// authorizer read it; `me` gets what the authorizer would have put in its request context.
pub fn with_token(function: &str, token: &str, deployment: &Deployment) -> Value {
    let bearer = format!("Bearer {token}");
    if function == "authorizer" {
        return authorizer_request(Some(&bearer));
    }
    let (method, path) = route(function);
    if routes::function(function)
        .and_then(|row| row.route())
        .is_some_and(|route| route.guarded)
    {
        let Authentication::Authentic(claims) = deployment.ring.authenticate(token) else {
            panic!("the bench's token does not authenticate");
        };
        return authorized_request(method, &path, &claims.user.to_string());
    }
    http_request(method, &path, &[("Authorization", &bearer)], None)
}

/// Whether `answer` lets a valid token through (HTTP 200, or an authorizer allow).
pub fn is_success(answer: &Value) -> bool {
    effect(answer) == Some("Allow")
        || answer["statusCode"]
            .as_u64()
            .is_some_and(|status| (200..300).contains(&status))
}

/// The effect of an authorizer answer's policy, if it is one.
fn effect(answer: &Value) -> Option<&str> {
    answer["policyDocument"]["Statement"][0]["Effect"].as_str()
}

fn body_of(answer: &Value) -> Value {
    answer["body"]
        .as_str()
        .and_then(|body| serde_json::from_str(body).ok())
        .unwrap_or(Value::Null)
}

async fn expect_success(
    emulator: &RuntimeEmulator,
    function: &str,
    event: &Value,
) -> Result<Value, String> {
    let answer = emulator.invoke(function, event).await?;
    if is_success(&answer) {
        Ok(answer)
    } else {
        Err(format!("{function} refused a valid request: {answer}"))
    }
}

/// Sends `function` (started against `emulator`) `invocations` real requests on its main path.
pub async fn serve(
    function: &str,
    emulator: &RuntimeEmulator,
    deployment: &Deployment,
    invocations: usize,
) -> Result<(), String> {
    let (method, path) = route(function);
    let path = path.as_str();
    let Some(workload) = workload(function) else {
        return Err(format!("{function} has no workload (workloads::workload)"));
    };
    let login_body = json!({ "email": deployment.email, "password": PASSWORD });
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{PASSWORD}", deployment.email))
    );
    match workload {
        Workload::Signup => {
            for n in 0..invocations {
                let email = format!("signup-{n}-{}", deployment.email);
                let body = json!({ "email": email, "password": PASSWORD, "firstname": "Bench" });
                let event = http_request(method, path, &[], Some(&body));
                expect_success(emulator, function, &event).await?;
            }
        }
        Workload::Login => {
            let event = http_request(method, path, &[], Some(&login_body));
            for _ in 0..invocations {
                expect_success(emulator, function, &event).await?;
            }
        }
        Workload::LoginToken => {
            let event = http_request(method, path, &[("Authorization", &basic)], None);
            for _ in 0..invocations {
                expect_success(emulator, function, &event).await?;
            }
        }
        Workload::Logout => {
            for _ in 0..invocations {
                let token = deployment.login(&deployment.email).await?;
                expect_success(
                    emulator,
                    function,
                    &with_token(function, &token, deployment),
                )
                .await?;
            }
        }
        Workload::RevokeSession => {
            for _ in 0..invocations {
                let token = deployment.login(&deployment.email).await?;
                let Authentication::Authentic(claims) = deployment.ring.authenticate(&token) else {
                    return Err("a login token that does not authenticate".into());
                };
                let id = claims.token;
                let bearer = format!("Bearer {token}");
                let path = format!("/auth/sessions/{id}");
                let event = http_request(method, &path, &[("Authorization", &bearer)], None);
                expect_success(emulator, function, &event).await?;
            }
        }
        Workload::LogoutAll => {
            let (email, _) = deployment.extra_account("logout-all").await?;
            for _ in 0..invocations {
                let token = deployment.login(&email).await?;
                expect_success(
                    emulator,
                    function,
                    &with_token(function, &token, deployment),
                )
                .await?;
            }
        }
        Workload::PasswordChange => {
            let (_, mut token) = deployment.extra_account("password").await?;
            let passwords = [PASSWORD, "another horse battery staple"];
            for n in 0..invocations {
                let body = json!({
                    "current_password": passwords[n % 2],
                    "new_password": passwords[(n + 1) % 2],
                });
                let bearer = format!("Bearer {token}");
                let event = http_request(method, path, &[("Authorization", &bearer)], Some(&body));
                let answer = expect_success(emulator, function, &event).await?;
                token = body_of(&answer)["x-auth-token"]
                    .as_str()
                    .ok_or("the password change answered no token")?
                    .to_owned();
            }
        }
        Workload::ResetRequest => {
            let body = json!({ "email": deployment.email });
            let event = http_request(method, path, &[], Some(&body));
            for _ in 0..invocations {
                expect_success(emulator, function, &event).await?;
            }
        }
        // Codes that pass the tag check but are no live code: the read path (the tag, one
        // GetItem of the code record) up to the documented 400; a live code's transaction and
        // (for a reset) argon2 hash are measured in the password functions' rows.
        Workload::DeadCode(purpose) => {
            for _ in 0..invocations {
                let code = deployment
                    .ring
                    .code_with(
                        deployment.ring.active_id(),
                        purpose,
                        &deployment.claims.user,
                        &CodeId::generate(),
                    )
                    .ok_or("no code from the active key")?;
                let body =
                    json!({ "code": code.expose(), "new_password": "a new bench passphrase" });
                let event = http_request(method, path, &[], Some(&body));
                let answer = emulator.invoke(function, &event).await?;
                if answer["statusCode"] != 400 {
                    return Err(format!("{function} answered {answer}"));
                }
            }
        }
        // Scheduled sweeps of the outbox (a scan for unfinished items over a minute old): the
        // first ones send, through the SES emulator, what the bench's signups and reset requests
        // queued before; every one must leave nothing undelivered.
        Workload::Sweep => {
            // Everything queued so far is due once this much older (a short BENCH_QUICK run
            // would otherwise find nothing due yet).
            tokio::time::sleep(Duration::from_secs(SWEEP_MIN_AGE_SECONDS + 1)).await;
            let event = json!({ "sweep": true });
            let mut sent = 0;
            for _ in 0..invocations {
                let answer = emulator.invoke(function, &event).await?;
                match (answer["finished"].as_u64(), answer["left"].as_u64()) {
                    (Some(finished), Some(0)) => sent += finished,
                    _ => return Err(format!("{function} answered {answer}")),
                }
            }
            if sent == 0 {
                return Err("the mailer's sweeps found no message to send".into());
            }
        }
        // Whole rotations of the bench's ring in Secrets Manager, four steps each.
        Workload::Rotation => {
            let steps = ["createSecret", "setSecret", "testSecret", "finishSecret"];
            for n in 0..invocations {
                let event = json!({
                    "Step": steps[n % steps.len()],
                    "SecretId": deployment.secret_arn,
                    "ClientRequestToken": format!("bench-rotation-{:032}", n / steps.len()),
                });
                let answer = emulator.invoke(function, &event).await?;
                if !answer.is_null() {
                    return Err(format!("{function} answered {answer}"));
                }
            }
        }
        Workload::LiveToken => {
            let event = with_token(function, &deployment.token, deployment);
            for _ in 0..invocations {
                expect_success(emulator, function, &event).await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_of_the_route_table_has_a_workload() {
        for function in functions() {
            assert!(workload(function).is_some(), "{function} has no workload");
        }
    }

    #[test]
    fn the_rotation_runs_last() {
        assert_eq!(functions().last(), Some(ROTATION));
    }
}
