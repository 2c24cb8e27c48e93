//! One handler per route: read the request, run the use-case, write the response.
//! Each returns a finished response; failures become problem+json in [`crate::problem`].

mod responses;

use lambda_http::http::StatusCode;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

use crate::accounts::Accounts;
use crate::credentials::{PasswordChange, SignupForm, login_credentials_from_json};
use crate::problem::{ApiError, AuthScheme, json_response};
use crate::profiles::{Caller, Profiles};
use crate::request;
use crate::tokens::{Tokens, Verification};
use responses::{LoginBody, LogoutBody, ProfileBody, TokenList, VerifyBody};

fn respond(result: Result<Response<Body>, ApiError>) -> Response<Body> {
    result.unwrap_or_else(ApiError::into_response)
}

/// `POST /auth/signup`: JSON `{email, password, firstname?, lastname?}` -> 201 with a token.
pub async fn signup(accounts: &Accounts, request: Request) -> Response<Body> {
    respond(
        async {
            let client_id = request::client_id(request.headers())?;
            let form = SignupForm::from_json(request::body(&request)?)?;
            let (profile, token) = accounts.signup(form, &client_id).await?;
            Ok(json_response(
                StatusCode::CREATED,
                &LoginBody::new(&profile, &token),
            ))
        }
        .await,
    )
}

/// `POST /auth/login`: JSON `{email, password}` or `Authorization: Basic` -> 200 with a fresh token.
pub async fn login(accounts: &Accounts, request: Request) -> Response<Body> {
    respond(
        async {
            let client_id = request::client_id(request.headers())?;
            let body = request::body(&request)?;
            let credentials = match request::basic_credentials(request.headers())? {
                Some(credentials) => credentials,
                None if body.iter().all(u8::is_ascii_whitespace) => {
                    return Err(ApiError::MissingCredentials(AuthScheme::Basic));
                }
                None => login_credentials_from_json(body)?,
            };
            let (profile, token) = accounts.login(&credentials, &client_id).await?;
            Ok(json_response(
                StatusCode::OK,
                &LoginBody::new(&profile, &token),
            ))
        }
        .await,
    )
}

/// `GET /api/login-token`: `Authorization: Basic` -> the caller's unexpired token, or a new one.
pub async fn login_token(accounts: &Accounts, request: Request) -> Response<Body> {
    respond(
        async {
            let client_id = request::client_id(request.headers())?;
            let credentials = request::basic_credentials(request.headers())?
                .ok_or(ApiError::MissingCredentials(AuthScheme::Basic))?;
            let token = accounts.login_token(&credentials, &client_id).await?;
            Ok(json_response(StatusCode::OK, &TokenList::new(&token)))
        }
        .await,
    )
}

/// `GET /auth/verify`: a token in any accepted place -> `{"success":true,"valid":...}`.
pub async fn verify(tokens: &Tokens, request: Request) -> Response<Body> {
    respond(
        async {
            let presented = request::presented_token(&request)
                .ok_or(ApiError::MissingCredentials(AuthScheme::Bearer))?;
            let body = match tokens.verify(&presented).await? {
                Verification::Valid { record, .. } => VerifyBody::valid(record.expire),
                Verification::Expired | Verification::Invalid => VerifyBody::invalid(),
            };
            Ok(json_response(StatusCode::OK, &body))
        }
        .await,
    )
}

/// `GET /api/me`: the caller's user object; the sample route behind the authorizer.
pub async fn me(profiles: &Profiles, request: Request) -> Response<Body> {
    respond(
        async {
            let profile = profiles.of(caller(&request)).await?;
            Ok(json_response(StatusCode::OK, &ProfileBody::new(&profile)))
        }
        .await,
    )
}

/// The caller as the authorizer named it in the request context, else the token it presents.
fn caller(request: &Request) -> Caller {
    let fields = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .map(|authorizer| &authorizer.fields),
        Some(RequestContext::ApiGatewayV1(context)) => Some(&context.authorizer.fields),
        _ => None,
    };
    match fields
        .and_then(|fields| fields.get("userId"))
        .and_then(|user| user.as_str())
    {
        Some(user) => Caller::Authorized(user.to_owned()),
        None => Caller::Presenting(request::presented_token(request)),
    }
}

/// `POST /auth/logout`: revokes the presented token; it stops verifying at once.
pub async fn logout(tokens: &Tokens, request: Request) -> Response<Body> {
    respond(
        async {
            tokens.revoke(request::presented_token(&request)).await?;
            Ok(json_response(StatusCode::OK, &LogoutBody::new(None)))
        }
        .await,
    )
}

/// `POST /auth/logout-all`: revokes every token of the caller, in every application.
pub async fn logout_all(accounts: &Accounts, request: Request) -> Response<Body> {
    respond(
        async {
            let revoked = accounts
                .logout_all(request::presented_token(&request))
                .await?;
            Ok(json_response(
                StatusCode::OK,
                &LogoutBody::new(Some(revoked)),
            ))
        }
        .await,
    )
}

/// `POST /auth/password`: `{current_password, new_password}` with a valid token -> a fresh
/// token; every other token of the caller is revoked.
pub async fn change_password(accounts: &Accounts, request: Request) -> Response<Body> {
    respond(
        async {
            let presented = request::presented_token(&request);
            let change = PasswordChange::from_json(request::body(&request)?)?;
            let (profile, token) = accounts
                .change_password(presented, &change.current, &change.new)
                .await?;
            Ok(json_response(
                StatusCode::OK,
                &LoginBody::new(&profile, &token),
            ))
        }
        .await,
    )
}
