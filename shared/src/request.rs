//! Reading what a client sent: body, application id, credentials and tokens.

use lambda_http::http::HeaderMap;
use lambda_http::{Body, Request, RequestExt};

use crate::credentials::Credentials;
use crate::problem::ApiError;

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

/// Credentials from `Authorization: Basic`, if the request carries that scheme.
pub fn basic_credentials(headers: &HeaderMap) -> Result<Option<Credentials>, ApiError> {
    match headers.get(lambda_http::http::header::AUTHORIZATION) {
        Some(value) => Credentials::from_basic_header(value.as_bytes()),
        None => Ok(None),
    }
}

/// The token a request presents, from the first of: `Authorization: Bearer`, the
/// `X-Auth-Token` header, the `x-auth-token` query parameter, the `authToken` query parameter.
pub fn presented_token(request: &Request) -> Option<String> {
    let headers = request.headers();
    let bearer = headers
        .get(lambda_http::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let header = || {
        headers
            .get("x-auth-token")
            .and_then(|value| value.to_str().ok())
            .map(|token| token.trim().to_owned())
    };
    let query = || {
        let parameters = request.query_string_parameters_ref()?;
        parameters
            .first("x-auth-token")
            .or_else(|| parameters.first("authToken"))
            .map(|token| token.trim().to_owned())
    };
    bearer
        .or_else(header)
        .or_else(query)
        .filter(|token| !token.is_empty())
}
