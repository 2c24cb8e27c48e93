//! Every failure a client can see, and the one place that turns it into an RFC 9457
//! `application/problem+json` response.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::credentials::InputError;
use crate::passwords::HashError;
use crate::store::StoreError;

/// How a client should authenticate, named in a 401's `WWW-Authenticate` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthScheme {
    /// HTTP Basic with `email:password`.
    Basic,
    /// A bearer token.
    Bearer,
}

/// A failure of a request, as the client is told of it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed; the message says how, and never quotes a secret.
    #[error("{0}")]
    BadRequest(String),
    /// No credentials were sent.
    #[error("No authentication credentials provided.")]
    MissingCredentials(AuthScheme),
    /// The email is unknown or the password is wrong: deliberately indistinguishable.
    #[error("Wrong credentials.")]
    WrongCredentials,
    /// The token is malformed, forged, revoked or unknown.
    #[error("Invalid access token.")]
    InvalidToken,
    /// The token has expired.
    #[error("Access token expired.")]
    TokenExpired,
    /// The account's password was right, but its email is not verified and the deployment
    /// requires it (`REQUIRE_VERIFIED_EMAIL`).
    #[error("Email address not verified.")]
    EmailNotVerified,
    /// A one-time code that is garbled, forged, of the other purpose, used, expired, dead
    /// after too many wrong tries, or superseded by a newer one: one answer for all.
    #[error("Invalid or expired code.")]
    InvalidCode,
    /// The session named is not one of the caller's live sessions (or no session at all).
    #[error("Session not found.")]
    SessionNotFound,
    /// Signup with an email that already has an account.
    #[error("An account with this email already exists.")]
    EmailTaken,
    /// The account changed while the request was being handled (a concurrent password change).
    #[error("The account was changed by another request; retry.")]
    ConcurrentChange,
    /// The body is larger than the limit.
    #[error("Request body exceeds {0} bytes.")]
    BodyTooLarge(usize),
    /// A password could not be hashed: a fault of this service.
    #[error("An internal error occurred.")]
    Hashing(#[source] HashError),
    /// The store holds an item this code cannot read, or refused a request it built: a fault
    /// of this service that retrying will not mend.
    #[error("An internal error occurred.")]
    Store(#[source] StoreError),
    /// The store did not answer in time or at all.
    #[error("The service is temporarily unavailable; retry shortly.")]
    Unavailable(#[source] StoreError),
    /// The request kept losing races with concurrent ones on the same account; transient.
    #[error("The service is temporarily unavailable; retry shortly.")]
    RaceLost,
}

impl From<InputError> for ApiError {
    fn from(error: InputError) -> Self {
        match error {
            InputError::Malformed(detail) => Self::BadRequest(detail),
            InputError::NoAccountCanMatch => Self::WrongCredentials,
        }
    }
}

impl From<HashError> for ApiError {
    fn from(error: HashError) -> Self {
        Self::Hashing(error)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) => Self::Unavailable(error),
            StoreError::Conflict => Self::RaceLost,
            StoreError::Corrupt(_) | StoreError::Request(_) => Self::Store(error),
        }
    }
}

/// Seconds a client is asked to wait after a 503.
pub const RETRY_AFTER_SECONDS: u32 = 1;

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    detail: String,
}

impl ApiError {
    /// The HTTP status this failure maps to.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) | Self::InvalidCode => StatusCode::BAD_REQUEST,
            Self::MissingCredentials(_) | Self::WrongCredentials | Self::InvalidToken => {
                StatusCode::UNAUTHORIZED
            }
            Self::TokenExpired | Self::EmailNotVerified => StatusCode::FORBIDDEN,
            Self::SessionNotFound => StatusCode::NOT_FOUND,
            Self::EmailTaken | Self::ConcurrentChange => StatusCode::CONFLICT,
            Self::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Hashing(_) | Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable(_) | Self::RaceLost => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The problem+json response for this failure.
    pub fn into_response(self) -> Response<Body> {
        let status = self.status();
        match &self {
            Self::Unavailable(cause) => tracing::error!(error = %cause, "store unavailable"),
            Self::RaceLost => tracing::warn!("kept losing races with concurrent requests"),
            Self::Hashing(cause) => tracing::error!(error = %cause, "password hashing failed"),
            Self::Store(cause) => tracing::error!(error = %cause, "store fault"),
            _ => {}
        }
        let problem = Problem {
            kind: problem_type(status),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.to_string(),
        };
        let mut response = json_response(status, &problem);
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match self {
            Self::MissingCredentials(scheme) => {
                headers.insert(header::WWW_AUTHENTICATE, challenge(scheme));
            }
            Self::WrongCredentials => {
                headers.insert(header::WWW_AUTHENTICATE, challenge(AuthScheme::Basic));
            }
            Self::InvalidToken | Self::TokenExpired => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer realm="tokengate", error="invalid_token""#),
                );
            }
            Self::Unavailable(_) | Self::RaceLost => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
            }
            _ => {}
        }
        response
    }
}

fn challenge(scheme: AuthScheme) -> HeaderValue {
    HeaderValue::from_static(match scheme {
        AuthScheme::Basic => r#"Basic realm="tokengate", charset="UTF-8""#,
        AuthScheme::Bearer => r#"Bearer realm="tokengate""#,
    })
}

/// The problem `type` URI: the HTTP/1.1 status definitions the API documents already use.
fn problem_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.1",
        401 => "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.2",
        403 => "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.4",
        404 => "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.5",
        409 => "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.10",
        413 => "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.14",
        500 => "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.5.1",
        503 => "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.5.4",
        _ => "about:blank",
    }
}

/// A JSON response with the given status.
pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    // Serializing plain structs of strings and numbers cannot fail.
    let text = serde_json::to_string(body).unwrap_or_default();
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(response: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(response.body().as_ref()).unwrap()
    }

    #[test]
    fn wrong_credentials_is_the_documented_401() {
        let response = ApiError::WrongCredentials.into_response();
        assert_eq!(response.status(), 401);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
        assert_eq!(
            body(&response),
            serde_json::json!({
                "type": "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.2",
                "title": "Unauthorized",
                "status": 401,
                "detail": "Wrong credentials."
            })
        );
    }

    #[test]
    fn missing_bearer_credentials_challenge_for_a_bearer_token() {
        let response = ApiError::MissingCredentials(AuthScheme::Bearer).into_response();
        assert_eq!(response.status(), 401);
        assert!(
            response.headers()[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        assert_eq!(
            body(&response)["detail"],
            "No authentication credentials provided."
        );
    }

    #[test]
    fn expired_token_is_the_documented_403() {
        let response = ApiError::TokenExpired.into_response();
        assert_eq!(response.status(), 403);
        assert_eq!(
            body(&response)["type"],
            "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.4"
        );
        assert_eq!(body(&response)["title"], "Forbidden");
        assert_eq!(body(&response)["detail"], "Access token expired.");
    }

    #[test]
    fn unavailable_store_is_a_503_with_retry_after_and_no_internals() {
        let response =
            ApiError::from(StoreError::Unavailable("secret internals".into())).into_response();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert!(!String::from_utf8_lossy(response.body().as_ref()).contains("secret internals"));
    }

    #[test]
    fn a_lost_race_is_a_503_with_retry_after() {
        for error in [ApiError::RaceLost, ApiError::from(StoreError::Conflict)] {
            let response = error.into_response();
            assert_eq!(response.status(), 503);
            assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        }
    }

    #[test]
    fn an_unreadable_item_and_a_hashing_failure_are_500s_without_retry_after() {
        for error in [
            ApiError::from(StoreError::Corrupt("secret internals")),
            ApiError::from(StoreError::Request("secret internals")),
            ApiError::from(HashError::Task),
        ] {
            let response = error.into_response();
            assert_eq!(response.status(), 500);
            assert!(!response.headers().contains_key(header::RETRY_AFTER));
            assert!(
                !String::from_utf8_lossy(response.body().as_ref()).contains("secret internals")
            );
        }
    }

    #[test]
    fn input_errors_are_400s_or_wrong_credentials() {
        let malformed = ApiError::from(InputError::Malformed("email is required.".into()));
        assert_eq!(malformed.status(), 400);
        assert_eq!(malformed.to_string(), "email is required.");
        assert!(matches!(
            ApiError::from(InputError::NoAccountCanMatch),
            ApiError::WrongCredentials
        ));
    }
}
