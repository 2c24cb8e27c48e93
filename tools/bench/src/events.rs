//! Lambda events as API Gateway delivers them (HTTP API, payload format 2.0).

use serde_json::{Map, Value, json};

/// An HTTP API request event for `method path` with `headers` and an optional JSON `body`.
pub fn http_request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Value {
    let headers: Map<String, Value> = headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), Value::from(*value)))
        .collect();
    json!({
        "version": "2.0",
        "routeKey": format!("{method} {path}"),
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "bench.example.com",
            "domainPrefix": "bench",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "tokengate-bench"
            },
            "requestId": "bench",
            "routeKey": format!("{method} {path}"),
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1_767_225_600_000_u64
        },
        "body": body.map(Value::to_string),
        "isBase64Encoded": false
    })
}

/// An HTTP API (payload 2.0) authorizer event for `GET /api/me` carrying `Authorization`.
pub fn authorizer_request(authorization: Option<&str>) -> Value {
    let mut event = http_request("GET", "/api/me", &[], None);
    let fields = event.as_object_mut().expect("an event is an object");
    fields.insert("type".into(), "REQUEST".into());
    fields.insert(
        "routeArn".into(),
        "arn:aws:execute-api:us-east-1:123456789012:bench/$default/GET/api/me".into(),
    );
    fields.insert(
        "identitySource".into(),
        json!(authorization.into_iter().collect::<Vec<_>>()),
    );
    if let Some(authorization) = authorization {
        fields.insert("headers".into(), json!({ "authorization": authorization }));
    }
    fields.remove("body");
    fields.remove("isBase64Encoded");
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::RequestExt;
    use tokengate::authorizer::AuthorizerEvent;

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
        assert_eq!(request.uri().path(), "/auth/login");
        assert_eq!(request.headers()["authorization"], "Bearer abc");
        assert!(request.query_string_parameters_ref().is_none());
        assert!(matches!(request.body(), lambda_http::Body::Text(text) if text.contains("a@b.c")));
    }

    #[test]
    fn the_authorizer_event_is_an_http_api_event() {
        let event = authorizer_request(Some("Bearer abc"));
        assert!(matches!(
            AuthorizerEvent::parse(event),
            Some(AuthorizerEvent::HttpApi(_))
        ));
    }
}
