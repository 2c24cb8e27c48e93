//! Lambda events as the REST API delivers them (payload 1.0 proxy events, every body
//! base64-encoded; REQUEST authorizer events), built by the local front's own event code.

use std::collections::HashMap;

use front::events::{self, IncomingRequest};
use lambda_http::http::{HeaderName, HeaderValue, Method};
use serde_json::Value;

fn request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> IncomingRequest {
    let method = Method::from_bytes(method.as_bytes()).expect("an HTTP method");
    let mut request = IncomingRequest::new(method, path);
    request
        .headers
        .insert("user-agent", HeaderValue::from_static("tokengate-bench"));
    for (name, value) in headers {
        request.headers.insert(
            HeaderName::try_from(*name).expect("a header name"),
            HeaderValue::try_from(*value).expect("a header value"),
        );
    }
    if let Some(body) = body {
        request.body = body.to_string().into_bytes();
    }
    request
}

/// A REST API proxy event for `method path` with `headers` and an optional JSON `body`.
pub fn http_request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Value {
    let request = request(method, path, headers, body);
    let event = events::proxy_event(&request, path, &HashMap::new(), None, true);
    serde_json::to_value(event).expect("an event serializes")
}

/// A REST API proxy event for `method path` that the authorizer let through as account `user`.
pub fn authorized_request(method: &str, path: &str, user: &str) -> Value {
    let request = request(method, path, &[], None);
    let context = HashMap::from([("userId".to_owned(), Value::from(user))]);
    let event = events::proxy_event(&request, path, &HashMap::new(), Some(context), true);
    serde_json::to_value(event).expect("an event serializes")
}

/// A REQUEST authorizer event for `GET /api/me` carrying `Authorization`.
pub fn authorizer_request(authorization: Option<&str>) -> Value {
    let headers: Vec<(&str, &str)> = authorization
        .map(|value| ("authorization", value))
        .into_iter()
        .collect();
    let request = request("GET", "/api/me", &headers, None);
    let event = events::authorizer_event(&request, "/api/me", &HashMap::new());
    serde_json::to_value(event).expect("an event serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::RequestExt;
    use serde_json::json;

    #[test]
    fn the_http_event_is_read_by_lambda_http() {
        let event = http_request(
            "POST",
            "/auth/login",
            &[("Authorization", "Bearer abc")],
            Some(&json!({"email": "a@b.c"})),
        );
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        assert_eq!(request.method(), "POST");
        assert!(request.uri().path().ends_with("/auth/login"));
        assert_eq!(request.headers()["authorization"], "Bearer abc");
        assert!(
            request
                .query_string_parameters_ref()
                .is_none_or(|query| query.is_empty())
        );
        assert!(
            matches!(request.body(), lambda_http::Body::Binary(bytes) if bytes.starts_with(b"{\"email\""))
        );
    }

    #[test]
    fn the_authorizer_event_is_a_rest_request_authorizer_event() {
        let event = authorizer_request(Some("Bearer abc"));
        assert_eq!(event["type"], "REQUEST");
        assert!(
            event["methodArn"]
                .as_str()
                .unwrap()
                .ends_with("/GET/api/me")
        );
        assert_eq!(event["headers"]["authorization"], "Bearer abc");
    }
}
