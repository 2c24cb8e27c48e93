//! The Lambda events a REST API sends (payload format 1.0, proxy integration; REQUEST
//! authorizer), built from an HTTP request, and the function's answer read back.

use std::collections::HashMap;

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayCustomAuthorizerRequestTypeRequestContext,
    ApiGatewayCustomAuthorizerRequestTypeRequestIdentity, ApiGatewayProxyRequest,
    ApiGatewayProxyRequestContext, ApiGatewayProxyResponse, ApiGatewayRequestIdentity,
};
use aws_lambda_events::encodings::Body;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue, Method};
use query_map::QueryMap;
use serde_json::Value;

/// The account id, API id and stage every event names (the local API's, or a test's).
pub const ACCOUNT_ID: &str = "123456789012";
/// The API id in events and method ARNs.
pub const API_ID: &str = "local";
/// The stage name in events and method ARNs.
pub const STAGE: &str = "local";

/// An HTTP request as API Gateway receives it.
#[derive(Debug, Clone)]
pub struct IncomingRequest {
    /// Its method.
    pub method: Method,
    /// Its path, without the query.
    pub path: String,
    /// Its query, decoded, in order.
    pub query: Vec<(String, String)>,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Vec<u8>,
    /// The client's address.
    pub source_ip: String,
    /// A request id.
    pub request_id: String,
}

impl IncomingRequest {
    /// A request of `method` to `path` (`?query` included) with nothing else yet.
    pub fn new(method: Method, path_and_query: &str) -> Self {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        Self {
            method,
            path: path.to_owned(),
            query: form_urlencoded_pairs(query),
            headers: HeaderMap::new(),
            body: Vec::new(),
            source_ip: "127.0.0.1".to_owned(),
            request_id: "local-request".to_owned(),
        }
    }

    fn query_map(&self) -> QueryMap {
        let mut values: HashMap<String, Vec<String>> = HashMap::new();
        for (name, value) in &self.query {
            values.entry(name.clone()).or_default().push(value.clone());
        }
        QueryMap::from(values)
    }
}

/// Decodes `a=1&b=%20` into pairs (`+` is a space, as in forms and API Gateway).
fn form_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

/// `headers` as an event carries them: a value that is not UTF-8 (a byte 0xE9 of Latin-1, say)
/// decoded lossily, its invalid bytes U+FFFD, as API Gateway passes such a value on. An event's
/// headers are JSON strings, so a raw value would make the event unwritable.
fn event_headers(headers: &HeaderMap) -> HeaderMap {
    let mut text = headers.clone();
    for value in text.values_mut() {
        if std::str::from_utf8(value.as_bytes()).is_err() {
            let lossy = String::from_utf8_lossy(value.as_bytes()).into_owned();
            // U+FFFD's bytes are obs-text, which a header value may hold.
            if let Ok(lossy) = HeaderValue::try_from(lossy) {
                *value = lossy;
            }
        }
    }
    text
}

/// The method ARN of `method resource` on the local stage.
pub fn method_arn(method: &Method, path: &str) -> String {
    format!("arn:aws:execute-api:us-east-1:{ACCOUNT_ID}:{API_ID}/{STAGE}/{method}{path}")
}

/// The REQUEST authorizer event for `request` to the route `resource`.
pub fn authorizer_event(
    request: &IncomingRequest,
    resource: &str,
    path_parameters: &HashMap<String, String>,
) -> ApiGatewayCustomAuthorizerRequestTypeRequest {
    let mut identity = ApiGatewayCustomAuthorizerRequestTypeRequestIdentity::default();
    identity.source_ip = Some(request.source_ip.clone());
    let mut context = ApiGatewayCustomAuthorizerRequestTypeRequestContext::default();
    context.path = Some(format!("/{STAGE}{}", request.path));
    context.account_id = Some(ACCOUNT_ID.to_owned());
    context.stage = Some(STAGE.to_owned());
    context.request_id = Some(request.request_id.clone());
    context.identity = Some(identity);
    context.resource_path = Some(resource.to_owned());
    context.http_method = Some(request.method.clone());
    context.apiid = Some(API_ID.to_owned());
    let mut event = ApiGatewayCustomAuthorizerRequestTypeRequest::default();
    event.type_ = Some("REQUEST".to_owned());
    event.method_arn = Some(method_arn(&request.method, &request.path));
    event.resource = Some(resource.to_owned());
    event.path = Some(request.path.clone());
    event.http_method = Some(request.method.clone());
    event.headers = event_headers(&request.headers);
    event.multi_value_headers = event.headers.clone();
    event.query_string_parameters = request.query_map();
    event.multi_value_query_string_parameters = request.query_map();
    event.path_parameters = path_parameters.clone();
    event.request_context = context;
    event
}

/// The proxy integration event for `request` to the route `resource`: the authorizer's
/// `context` (and `principalId`) in `requestContext.authorizer`; the body base64-encoded when
/// `binary` (as `BinaryMediaTypes: ['*/*']` makes every body) or when it is not UTF-8.
pub fn proxy_event(
    request: &IncomingRequest,
    resource: &str,
    path_parameters: &HashMap<String, String>,
    authorizer: Option<HashMap<String, Value>>,
    binary: bool,
) -> ApiGatewayProxyRequest {
    let headers = event_headers(&request.headers);
    let mut identity = ApiGatewayRequestIdentity::default();
    identity.source_ip = Some(request.source_ip.clone());
    identity.user_agent = headers
        .get(http::header::USER_AGENT)
        .map(|agent| String::from_utf8_lossy(agent.as_bytes()).into_owned());
    let mut context = ApiGatewayProxyRequestContext::default();
    context.account_id = Some(ACCOUNT_ID.to_owned());
    context.stage = Some(STAGE.to_owned());
    context.request_id = Some(request.request_id.clone());
    context.protocol = Some("HTTP/1.1".to_owned());
    context.identity = identity;
    context.resource_path = Some(resource.to_owned());
    context.path = Some(format!("/{STAGE}{}", request.path));
    context.http_method = request.method.clone();
    context.apiid = Some(API_ID.to_owned());
    if let Some(fields) = authorizer {
        context.authorizer.fields = fields;
    }
    let mut event = ApiGatewayProxyRequest::default();
    event.resource = Some(resource.to_owned());
    event.path = Some(request.path.clone());
    event.http_method = request.method.clone();
    event.multi_value_headers = headers.clone();
    event.headers = headers;
    event.query_string_parameters = request.query_map();
    event.multi_value_query_string_parameters = request.query_map();
    event.path_parameters = path_parameters.clone();
    event.request_context = context;
    if !request.body.is_empty() {
        match std::str::from_utf8(&request.body) {
            Ok(text) if !binary => event.body = Some(text.to_owned()),
            _ => {
                event.body = Some(STANDARD.encode(&request.body));
                event.is_base64_encoded = true;
            }
        }
    }
    event
}

/// A function's answer as HTTP parts.
#[derive(Debug)]
pub struct FunctionResponse {
    /// Its status.
    pub status: u16,
    /// Its headers, multi-value ones included.
    pub headers: HeaderMap,
    /// Its body, base64 decoded.
    pub body: Vec<u8>,
}

/// Reads a proxy integration answer; `None` when it is not one (API Gateway's 502).
pub fn function_response(answer: &[u8]) -> Option<FunctionResponse> {
    let response: ApiGatewayProxyResponse = serde_json::from_slice(answer).ok()?;
    let status = u16::try_from(response.status_code)
        .ok()
        .filter(|status| (100..600).contains(status))?;
    let mut headers = response.headers;
    for (name, value) in &response.multi_value_headers {
        if !headers
            .get_all(name)
            .iter()
            .any(|existing| existing == value)
        {
            headers.append(name, value.clone());
        }
    }
    let body = match response.body {
        None | Some(Body::Empty) => Vec::new(),
        Some(Body::Text(text)) if response.is_base64_encoded => STANDARD.decode(text).ok()?,
        Some(Body::Text(text)) => text.into_bytes(),
        Some(Body::Binary(bytes)) => bytes,
        Some(_) => Vec::new(),
    };
    Some(FunctionResponse {
        status,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> IncomingRequest {
        let mut request = IncomingRequest::new(
            Method::POST,
            "/auth/sessions/abc?x-auth-token=a%2Bb&flag&v=1+2",
        );
        request
            .headers
            .insert("x-auth-token", "tok".parse().unwrap());
        request
    }

    #[test]
    fn the_query_is_decoded_as_api_gateway_decodes_it() {
        assert_eq!(
            request().query,
            vec![
                ("x-auth-token".into(), "a+b".into()),
                ("flag".into(), String::new()),
                ("v".into(), "1 2".into())
            ]
        );
    }

    #[test]
    fn a_binary_api_sends_every_body_base64_and_a_text_one_only_non_utf8_bodies() {
        let mut request = request();
        request.body = b"{\"a\":1}".to_vec();
        let text = proxy_event(&request, "/r", &HashMap::new(), None, false);
        assert_eq!(
            (text.body.as_deref(), text.is_base64_encoded),
            (Some("{\"a\":1}"), false)
        );
        let binary = proxy_event(&request, "/r", &HashMap::new(), None, true);
        assert_eq!(
            (binary.body.as_deref(), binary.is_base64_encoded),
            (Some("eyJhIjoxfQ=="), true)
        );
        request.body = vec![0xff, 0xfe];
        let invalid = proxy_event(&request, "/r", &HashMap::new(), None, false);
        assert_eq!(
            (invalid.body.as_deref(), invalid.is_base64_encoded),
            (Some("//4="), true)
        );
    }

    #[test]
    fn a_header_that_is_not_utf8_reaches_both_events_lossily_and_they_serialize() {
        let mut request = request();
        let raw = HeaderValue::from_bytes(b"caf\xe9").unwrap();
        request.headers.insert("x-client-id", raw.clone());
        request.headers.insert(http::header::USER_AGENT, raw);
        request
            .headers
            .insert("x-name", HeaderValue::from_str("café").unwrap());
        let proxy = serde_json::to_value(proxy_event(&request, "/r", &HashMap::new(), None, true))
            .expect("the proxy event serializes");
        let authorizer = serde_json::to_value(authorizer_event(&request, "/r", &HashMap::new()))
            .expect("the authorizer event serializes");
        for event in [&proxy, &authorizer] {
            assert_eq!(event["headers"]["x-client-id"], "caf\u{fffd}");
            assert_eq!(event["multiValueHeaders"]["x-client-id"][0], "caf\u{fffd}");
            assert_eq!(event["headers"]["x-name"], "café", "UTF-8 passes as it is");
            assert_eq!(event["headers"]["x-auth-token"], "tok");
        }
        assert_eq!(
            proxy["requestContext"]["identity"]["userAgent"],
            "caf\u{fffd}"
        );
    }

    #[test]
    fn the_authorizer_context_lands_where_functions_read_it() {
        let context = HashMap::from([("userId".to_owned(), Value::from("u1"))]);
        let event = proxy_event(
            &request(),
            "/auth/sessions/{id}",
            &HashMap::new(),
            Some(context),
            true,
        );
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["requestContext"]["authorizer"]["userId"], "u1");
        assert_eq!(json["httpMethod"], "POST");
        assert_eq!(json["resource"], "/auth/sessions/{id}");
        assert_eq!(json["queryStringParameters"]["x-auth-token"], "a+b");
    }

    #[test]
    fn a_base64_answer_is_decoded_and_garbage_is_no_answer() {
        let answer = br#"{"statusCode":201,"headers":{"content-type":"application/json"},"multiValueHeaders":{"vary":["Origin"]},"body":"eyJhIjoxfQ==","isBase64Encoded":true}"#;
        let response = function_response(answer).unwrap();
        assert_eq!(response.status, 201);
        assert_eq!(response.body, b"{\"a\":1}");
        assert_eq!(response.headers["vary"], "Origin");
        assert!(function_response(b"{\"errorMessage\":\"boom\"}").is_none());
        assert!(function_response(b"not json").is_none());
    }
}
