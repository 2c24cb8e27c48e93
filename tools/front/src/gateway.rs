//! Gateway Responses rendered as API Gateway renders them: the template's status, headers
//! (literals, or the request's own header values) and body, with `$context` references
//! substituted by plain text (no VTL logic, as API Gateway's Gateway Response templates).

use std::collections::HashMap;

use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use crate::template::{GatewayResponse, HeaderValueSource};

/// The Gateway Response types this front produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseType {
    /// The authorizer threw `Unauthorized` (no credentials).
    Unauthorized,
    /// The authorizer's policy denies the method.
    AccessDenied,
    /// No route has this path and method.
    MissingAuthenticationToken,
    /// The authorizer failed (an error other than `Unauthorized`, or no policy).
    AuthorizerFailure,
    /// The function failed or answered something that is not a proxy response.
    BadGateway,
    /// The request's body is over the API's 10 MB.
    RequestTooLarge,
    /// The request cannot be put into an event.
    BadRequestParameters,
}

impl ResponseType {
    /// The type's name in template.yaml's `GatewayResponses`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Unauthorized => "UNAUTHORIZED",
            Self::AccessDenied => "ACCESS_DENIED",
            Self::MissingAuthenticationToken => "MISSING_AUTHENTICATION_TOKEN",
            Self::AuthorizerFailure => "AUTHORIZER_FAILURE",
            Self::BadGateway => "BAD_GATEWAY",
            Self::RequestTooLarge => "REQUEST_TOO_LARGE",
            Self::BadRequestParameters => "BAD_REQUEST_PARAMETERS",
        }
    }

    /// API Gateway's status for the type when the template does not set one.
    pub fn default_status(self) -> u16 {
        match self {
            Self::Unauthorized => 401,
            Self::AccessDenied | Self::MissingAuthenticationToken => 403,
            Self::AuthorizerFailure => 500,
            Self::BadGateway => 502,
            Self::RequestTooLarge => 413,
            Self::BadRequestParameters => 400,
        }
    }

    /// `$context.error.message` of the type.
    pub fn message(self) -> &'static str {
        match self {
            Self::Unauthorized => "Unauthorized",
            Self::AccessDenied => {
                "User is not authorized to access this resource with an explicit deny"
            }
            Self::MissingAuthenticationToken => "Missing Authentication Token",
            Self::AuthorizerFailure | Self::BadGateway => "Internal server error",
            Self::RequestTooLarge => "Request Too Long",
            Self::BadRequestParameters => "Invalid request parameters",
        }
    }
}

/// A rendered response.
#[derive(Debug)]
pub struct Rendered {
    /// Its status.
    pub status: u16,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Vec<u8>,
}

/// Renders the response of `kind`: the template's own, else its DEFAULT_4XX/DEFAULT_5XX, else
/// API Gateway's built-in `{"message":...}`. `authorizer` is what the authorizer's answer put
/// in `$context.authorizer`; `request_headers` feed `method.request.header.*` values.
pub fn render(
    responses: &HashMap<String, GatewayResponse>,
    kind: ResponseType,
    authorizer: &HashMap<String, Value>,
    request_headers: &HeaderMap,
) -> Rendered {
    let status = kind.default_status();
    let fallback = if status < 500 {
        "DEFAULT_4XX"
    } else {
        "DEFAULT_5XX"
    };
    // The content type of the template's key (application/json) unless a header replaces it.
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let Some(response) = responses
        .get(kind.name())
        .or_else(|| responses.get(fallback))
    else {
        return Rendered {
            status,
            headers,
            body: serde_json::json!({ "message": kind.message() })
                .to_string()
                .into_bytes(),
        };
    };
    for (name, source) in &response.headers {
        let Ok(name) = HeaderName::try_from(name.as_str()) else {
            continue;
        };
        let value = match source {
            HeaderValueSource::Literal(text) => HeaderValue::try_from(text.as_str()).ok(),
            HeaderValueSource::RequestHeader(header) => {
                request_headers.get(header.as_str()).cloned()
            }
        };
        if let Some(value) = value {
            headers.insert(name, value);
        }
    }
    let body = response
        .body
        .as_deref()
        .map(|body| substitute(body, kind, authorizer))
        .unwrap_or_default();
    Rendered {
        // A DEFAULT_* response, or one without a StatusCode, keeps the case's own status.
        status: if responses.contains_key(kind.name()) {
            response.status.unwrap_or(status)
        } else {
            status
        },
        headers,
        body: body.into_bytes(),
    }
}

/// `$context.authorizer.<key>`, `$context.error.message`, `$context.error.messageString`
/// (quoted) and `$context.error.responseType` replaced; any other reference kept as written.
fn substitute(template: &str, kind: ResponseType, authorizer: &HashMap<String, Value>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("$context.") {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let end = after[1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
            .map_or(after.len(), |end| end + 1);
        let reference = after[..end].trim_end_matches('.');
        let name = &reference["$context.".len()..];
        let value = match name {
            "error.message" => Some(kind.message().to_owned()),
            "error.messageString" => Some(Value::from(kind.message()).to_string()),
            "error.responseType" => Some(kind.name().to_owned()),
            _ => name.strip_prefix("authorizer.").and_then(|key| {
                authorizer.get(key).map(|value| match value {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                })
            }),
        };
        out.push_str(value.as_deref().unwrap_or(reference));
        rest = &after[reference.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn responses() -> HashMap<String, GatewayResponse> {
        HashMap::from([
            (
                "ACCESS_DENIED".to_owned(),
                GatewayResponse {
                    status: Some(403),
                    headers: vec![
                        ("Content-Type".into(), HeaderValueSource::Literal("application/problem+json".into())),
                        ("Access-Control-Allow-Origin".into(), HeaderValueSource::RequestHeader("Origin".into())),
                    ],
                    body: Some(r#"{"detail":"$context.authorizer.detail","kind":"$context.error.responseType","other":"$context.identity.sourceIp"}"#.into()),
                },
            ),
            (
                "DEFAULT_5XX".to_owned(),
                GatewayResponse { status: Some(599), headers: vec![], body: Some(r#"{"message":$context.error.messageString}"#.into()) },
            ),
        ])
    }

    #[test]
    fn a_template_renders_the_authorizer_context_and_request_headers() {
        let mut request = HeaderMap::new();
        request.insert("origin", HeaderValue::from_static("https://app.example"));
        let context = HashMap::from([("detail".to_owned(), Value::from("Access token expired."))]);
        let rendered = render(&responses(), ResponseType::AccessDenied, &context, &request);
        assert_eq!(rendered.status, 403);
        assert_eq!(rendered.headers["content-type"], "application/problem+json");
        assert_eq!(
            rendered.headers["access-control-allow-origin"],
            "https://app.example"
        );
        assert_eq!(
            String::from_utf8(rendered.body).unwrap(),
            r#"{"detail":"Access token expired.","kind":"ACCESS_DENIED","other":"$context.identity.sourceIp"}"#
        );
    }

    #[test]
    fn a_type_without_its_own_template_takes_the_default_one_with_its_own_status() {
        let rendered = render(
            &responses(),
            ResponseType::BadGateway,
            &HashMap::new(),
            &HeaderMap::new(),
        );
        assert_eq!(rendered.status, 502);
        assert_eq!(
            String::from_utf8(rendered.body).unwrap(),
            r#"{"message":"Internal server error"}"#
        );
        let builtin = render(
            &HashMap::new(),
            ResponseType::MissingAuthenticationToken,
            &HashMap::new(),
            &HeaderMap::new(),
        );
        assert_eq!(builtin.status, 403);
        assert_eq!(
            String::from_utf8(builtin.body).unwrap(),
            r#"{"message":"Missing Authentication Token"}"#
        );
    }
}
