//! Reading what a client sent: body, application id, credentials and tokens.

use lambda_http::http::HeaderMap;
use lambda_http::{Body, Request, RequestExt};

use lambda_http::request::RequestContext;

use crate::credentials::Credentials;
use crate::problem::ApiError;
use crate::records::Origin;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Application id used when a request names none.
pub const DEFAULT_CLIENT_ID: &str = "default";

/// Longest `X-Client-Id` accepted.
pub const MAX_CLIENT_ID_LEN: usize = 64;

/// The request body's bytes, refused over [`MAX_BODY_BYTES`].
pub fn body(request: &Request) -> Result<&[u8], ApiError> {
    let bytes: &[u8] = match request.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::BodyTooLarge(MAX_BODY_BYTES));
    }
    Ok(bytes)
}

/// The application named by `X-Client-Id` (default `default`): 1 to 64 of `A-Z a-z 0-9 . _ -`.
pub fn client_id(headers: &HeaderMap) -> Result<String, ApiError> {
    let Some(value) = headers.get("x-client-id") else {
        return Ok(DEFAULT_CLIENT_ID.to_owned());
    };
    let valid = |id: &str| {
        (1..=MAX_CLIENT_ID_LEN).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    match value.to_str().map(str::trim) {
        Ok(id) if valid(id) => Ok(id.to_owned()),
        _ => Err(ApiError::BadRequest(format!(
            "X-Client-Id must be 1 to {MAX_CLIENT_ID_LEN} characters of letters, digits, '.', '_' or '-'."
        ))),
    }
}

/// Longest `User-Agent` kept with a session, in characters.
pub const MAX_USER_AGENT_CHARS: usize = 256;

/// Where `request` came from: its application (see [`client_id`]), its `User-Agent` (at most
/// [`MAX_USER_AGENT_CHARS`], control characters dropped) and the source IP API Gateway saw.
pub fn origin(request: &Request) -> Result<Origin, ApiError> {
    let user_agent = request
        .headers()
        .get(lambda_http::http::header::USER_AGENT)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .map(|agent| {
            agent
                .chars()
                .filter(|c| !c.is_control())
                .take(MAX_USER_AGENT_CHARS)
                .collect::<String>()
        })
        .filter(|agent| !agent.trim().is_empty());
    let source_ip = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.clone(),
        Some(RequestContext::ApiGatewayV1(context)) => context.identity.source_ip.clone(),
        _ => None,
    };
    Ok(Origin {
        client_id: client_id(request.headers())?,
        user_agent,
        source_ip,
    })
}

/// Credentials from `Authorization: Basic`, if the request carries that scheme.
pub fn basic_credentials(headers: &HeaderMap) -> Result<Option<Credentials>, ApiError> {
    match headers.get(lambda_http::http::header::AUTHORIZATION) {
        Some(value) => Ok(Credentials::from_basic_header(value.as_bytes())?),
        None => Ok(None),
    }
}

/// The account id the authorizer vouched for: `userId` of the request context API Gateway
/// filled from the authorizer's answer. `None` where no authorizer ran: a route that needs a
/// caller refuses then, never falls back to checking a token itself.
pub fn authorized_user(request: &Request) -> Option<&str> {
    request
        .request_context_ref()?
        .authorizer()?
        .fields
        .get("userId")?
        .as_str()
}

/// The token a request presents; see [`token_from`].
pub fn presented_token(request: &Request) -> Option<String> {
    let query = request.query_string_parameters_ref();
    token_from(request.headers(), |name| query?.first(name))
}

/// The token presented in `headers` or the query (looked up through `query`), from the first
/// of: `Authorization: Bearer`, the `X-Auth-Token` header, the `x-auth-token` query parameter,
/// the `authToken` query parameter. Blank values count as absent.
pub fn token_from<'a>(
    headers: &'a HeaderMap,
    query: impl Fn(&str) -> Option<&'a str>,
) -> Option<String> {
    let present = |value: &'a str| Some(value.trim()).filter(|token| !token.is_empty());
    let bearer = headers
        .get(lambda_http::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .and_then(|(_, token)| present(token));
    let header = || {
        headers
            .get("x-auth-token")
            .and_then(|value| value.to_str().ok())
            .and_then(present)
    };
    bearer
        .or_else(header)
        .or_else(|| query("x-auth-token").and_then(present))
        .or_else(|| query("authToken").and_then(present))
        .map(str::to_owned)
}

/// The path parameter `name` of the route (`{name}` in its path); read from the raw path's
/// last segment when the event carries no path parameters (as `cargo lambda watch` may not).
pub fn path_parameter(request: &Request, name: &str) -> Option<String> {
    request
        .path_parameters_ref()
        .and_then(|parameters| parameters.first(name))
        .map(str::to_owned)
        .or_else(|| {
            request
                .raw_http_path()
                .rsplit('/')
                .next()
                .filter(|segment| !segment.is_empty())
                .map(str::to_owned)
        })
}
