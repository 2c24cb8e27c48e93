//! One handler per route: read the request, run the use-case, write the response. Each answers
//! its response or the [`ApiError`] that [`crate::lambda`] turns into problem+json.

mod responses;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use crate::accounts::Accounts;
use crate::credentials::{
    PasswordChange, ResetConfirmation, SignupForm, code_from_json, login_credentials_from_json,
    reset_email_from_json,
};
use crate::problem::{ApiError, AuthScheme, json_response};
use crate::profiles::Profiles;
use crate::request;
use crate::tokens::{Tokens, Verification};
use responses::{
    Done, EmailVerified, LoginBody, LogoutBody, ProfileBody, SessionList, TokenList, VerifyBody,
};

/// What every handler answers.
pub type Answer = Result<Response<Body>, ApiError>;

/// The states the route handlers are served with, to call any route's handler by the name its
/// row of [`crate::routes`] gives: for tests that take every route of the table in turn (each
/// binary names its own handler, and links no other).
pub struct States<'a> {
    /// The account use-cases.
    pub accounts: &'a Accounts,
    /// The token use-cases.
    pub tokens: &'a Tokens,
    /// Profiles behind the authorizer.
    pub profiles: &'a Profiles,
}

/// Answers `request` with the handler a route's row names (`handlers::login`); `None` when no
/// handler here has that name.
pub async fn dispatch(handler: &str, states: &States<'_>, request: Request) -> Option<Answer> {
    let States {
        accounts,
        tokens,
        profiles,
    } = states;
    Some(match handler.strip_prefix("handlers::")? {
        "signup" => signup(accounts, request).await,
        "login" => login(accounts, request).await,
        "login_token" => login_token(accounts, request).await,
        "verify" => verify(tokens, request).await,
        "me" => me(profiles, request).await,
        "logout" => logout(tokens, request).await,
        "logout_all" => logout_all(tokens, request).await,
        "change_password" => change_password(accounts, request).await,
        "sessions" => sessions(tokens, request).await,
        "revoke_session" => revoke_session(tokens, request).await,
        "password_reset" => password_reset(accounts, request).await,
        "password_reset_confirm" => password_reset_confirm(accounts, request).await,
        "email_verify" => email_verify(accounts, request).await,
        "email_verification" => email_verification(accounts, request).await,
        _ => return None,
    })
}

/// `POST /auth/signup`: JSON `{email, password, firstname?, lastname?}` -> 201 with a token
/// (none when a verified email is required first); a verification message is sent.
pub async fn signup(accounts: &Accounts, request: Request) -> Answer {
    let origin = request::origin(&request)?;
    let form = SignupForm::from_json(request::body(&request)?)?;
    let (profile, token) = accounts.signup(form, &origin).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &LoginBody::new(&profile, token.as_ref()),
    ))
}

/// `POST /auth/login`: JSON `{email, password}` or `Authorization: Basic` -> 200 with a fresh token.
pub async fn login(accounts: &Accounts, request: Request) -> Answer {
    let origin = request::origin(&request)?;
    let body = request::body(&request)?;
    let credentials = match request::basic_credentials(request.headers())? {
        Some(credentials) => credentials,
        None if body.iter().all(u8::is_ascii_whitespace) => {
            return Err(ApiError::MissingCredentials(AuthScheme::Basic));
        }
        None => login_credentials_from_json(body)?,
    };
    let (profile, token) = accounts.login(&credentials, &origin).await?;
    Ok(json_response(
        StatusCode::OK,
        &LoginBody::new(&profile, Some(&token)),
    ))
}

/// `GET /api/login-token`: `Authorization: Basic` -> the caller's unexpired token, or a new one.
pub async fn login_token(accounts: &Accounts, request: Request) -> Answer {
    let origin = request::origin(&request)?;
    let credentials = request::basic_credentials(request.headers())?
        .ok_or(ApiError::MissingCredentials(AuthScheme::Basic))?;
    let token = accounts.login_token(&credentials, &origin).await?;
    Ok(json_response(StatusCode::OK, &TokenList::new(&token)))
}

/// `GET /auth/verify`: a token in any accepted place -> `{"success":true,"valid":...}`.
pub async fn verify(tokens: &Tokens, request: Request) -> Answer {
    let presented = request::presented_token(&request)
        .ok_or(ApiError::MissingCredentials(AuthScheme::Bearer))?;
    let body = match tokens.verify(&presented).await? {
        Verification::Valid { session, .. } => VerifyBody::valid(session.expire),
        Verification::Expired | Verification::Invalid => VerifyBody::invalid(),
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET /api/me`: the caller's user object; the sample route behind the authorizer, which
/// trusts the request context the authorizer filled and checks no token itself.
pub async fn me(profiles: &Profiles, request: Request) -> Answer {
    let user = request::authorized_user(&request)
        .ok_or(ApiError::MissingCredentials(AuthScheme::Bearer))?;
    let profile = profiles.of(user).await?;
    Ok(json_response(StatusCode::OK, &ProfileBody::new(&profile)))
}

/// `POST /auth/logout`: revokes the presented token; it stops verifying at once.
pub async fn logout(tokens: &Tokens, request: Request) -> Answer {
    tokens.revoke(request::presented_token(&request)).await?;
    Ok(json_response(StatusCode::OK, &LogoutBody::new(None)))
}

/// `POST /auth/logout-all`: revokes every token of the caller, in every application, in one
/// write.
pub async fn logout_all(tokens: &Tokens, request: Request) -> Answer {
    let revoked = tokens
        .revoke_all(request::presented_token(&request))
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &LogoutBody::new(Some(revoked)),
    ))
}

/// `POST /auth/password`: `{current_password, new_password}` with a valid token -> a fresh
/// token; every other token of the caller is revoked.
pub async fn change_password(accounts: &Accounts, request: Request) -> Answer {
    let presented = request::presented_token(&request);
    let origin = request::origin(&request)?;
    let change = PasswordChange::from_json(request::body(&request)?)?;
    let (profile, token) = accounts
        .change_password(presented, &change.current, &change.new, &origin)
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &LoginBody::new(&profile, Some(&token)),
    ))
}

/// `GET /auth/sessions`: the caller's live sessions, newest first.
pub async fn sessions(tokens: &Tokens, request: Request) -> Answer {
    let sessions = tokens.sessions(request::presented_token(&request)).await?;
    Ok(json_response(StatusCode::OK, &SessionList::new(&sessions)))
}

/// `DELETE /auth/sessions/{id}`: revokes one of the caller's sessions.
pub async fn revoke_session(tokens: &Tokens, request: Request) -> Answer {
    let id = request::path_parameter(&request, "id").unwrap_or_default();
    tokens
        .revoke_session(request::presented_token(&request), &id)
        .await?;
    Ok(json_response(StatusCode::OK, &LogoutBody::new(None)))
}

/// `POST /auth/password-reset`: `{email}` -> 202 `{"success":true}`, whether or not the email
/// has an account (one outbox write either way); the mailer sends the code.
pub async fn password_reset(accounts: &Accounts, request: Request) -> Answer {
    let email = reset_email_from_json(request::body(&request)?)?;
    accounts.request_password_reset(email).await?;
    Ok(json_response(StatusCode::ACCEPTED, &Done::new()))
}

/// `POST /auth/password-reset/confirm`: `{code, new_password}` -> 200, the login body with a
/// fresh token; every other session is revoked and any login lock cleared.
pub async fn password_reset_confirm(accounts: &Accounts, request: Request) -> Answer {
    let origin = request::origin(&request)?;
    let form = ResetConfirmation::from_json(request::body(&request)?)?;
    let (profile, token) = accounts
        .confirm_password_reset(&form.code, &form.new_password, &origin)
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &LoginBody::new(&profile, Some(&token)),
    ))
}

/// `POST /auth/email/verify`: `{code}` -> 200 `{"success":true,"emailVerified":true}`.
pub async fn email_verify(accounts: &Accounts, request: Request) -> Answer {
    let code = code_from_json(request::body(&request)?)?;
    accounts.verify_email(&code).await?;
    Ok(json_response(StatusCode::OK, &EmailVerified::new()))
}

/// `POST /auth/email/verification`: a valid token -> 202; a new verification message is sent.
pub async fn email_verification(accounts: &Accounts, request: Request) -> Answer {
    accounts
        .request_email_verification(request::presented_token(&request))
        .await?;
    Ok(json_response(StatusCode::ACCEPTED, &Done::new()))
}
