//! The front itself: one request in, what the REST API would answer out. Functions run under
//! `cargo lambda watch` and are invoked through its Lambda invoke API, on its own port: the
//! front serves the template's routes only, so an invoke API path (`/2015-03-31/...`) is no
//! route here, as on API Gateway.

use std::collections::HashMap;

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerResponse;
use aws_lambda_events::iam::IamPolicyEffect;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use serde_json::Value;

use crate::events::{self, IncomingRequest};
use crate::gateway::{self, ResponseType};
use crate::template::{Api, Route};

/// The Lambda invoke API's path prefix.
pub const INVOKE_API_PREFIX: &str = "/2015-03-31/";

/// The largest request body API Gateway takes: 10 MB.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// An answer of the front.
#[derive(Debug)]
pub struct Answer {
    /// Its status.
    pub status: u16,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Bytes,
}

/// What an invoked function answered.
enum Invocation {
    /// Its result document.
    Returned(Vec<u8>),
    /// Its error message (`errorMessage`), or why it could not be invoked.
    Failed(String),
}

/// The REST API of template.yaml in front of the functions at `functions`.
pub struct Front {
    api: Api,
    functions: String,
    client: reqwest::Client,
}

impl Front {
    /// A front for `api` whose functions answer at `functions` (cargo lambda watch's invoke
    /// address, e.g. `http://127.0.0.1:9001`).
    pub fn new(api: Api, functions: &str) -> Self {
        Self {
            api,
            functions: functions.trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
        }
    }

    /// The API it serves.
    pub fn api(&self) -> &Api {
        &self.api
    }

    /// Answers `request` as the REST API would.
    pub async fn handle(&self, request: IncomingRequest) -> Answer {
        let path = resource_path(&request.path);
        let on_path: Vec<(&Route, HashMap<String, String>)> = self
            .api
            .routes
            .iter()
            .filter_map(|route| route.matches(path).map(|parameters| (route, parameters)))
            .collect();
        if request.method == Method::OPTIONS
            && !on_path.is_empty()
            && let Some(answer) = self.preflight()
        {
            return answer;
        }
        let Some((route, parameters)) = on_path
            .into_iter()
            .find(|(route, _)| route.method == request.method.as_str())
        else {
            return self.gateway(
                ResponseType::MissingAuthenticationToken,
                &HashMap::new(),
                &request,
            );
        };
        let mut context = None;
        if let Some(authorizer) = &route.authorizer {
            let event = events::authorizer_event(&request, &route.path, &parameters);
            let Ok(event) = serde_json::to_vec(&event) else {
                return self.unsendable(&request);
            };
            match self.invoke(authorizer, &event).await {
                Invocation::Failed(message) if message == "Unauthorized" => {
                    return self.gateway(ResponseType::Unauthorized, &HashMap::new(), &request);
                }
                Invocation::Failed(_) => {
                    return self.gateway(
                        ResponseType::AuthorizerFailure,
                        &HashMap::new(),
                        &request,
                    );
                }
                Invocation::Returned(answer) => {
                    let Ok(policy) =
                        serde_json::from_slice::<ApiGatewayCustomAuthorizerResponse>(&answer)
                    else {
                        return self.gateway(
                            ResponseType::AuthorizerFailure,
                            &HashMap::new(),
                            &request,
                        );
                    };
                    let fields = authorizer_fields(&policy);
                    let method_arn = events::method_arn(&request.method, &request.path);
                    if !allows(&policy, &method_arn) {
                        return self.gateway(ResponseType::AccessDenied, &fields, &request);
                    }
                    context = Some(fields);
                }
            }
        }
        let binary = self.api.every_body_binary();
        let event = events::proxy_event(&request, &route.path, &parameters, context, binary);
        let Ok(event) = serde_json::to_vec(&event) else {
            return self.unsendable(&request);
        };
        let Invocation::Returned(answer) = self.invoke(&route.function, &event).await else {
            return self.gateway(ResponseType::BadGateway, &HashMap::new(), &request);
        };
        match events::function_response(&answer) {
            Some(response) => Answer {
                status: response.status,
                headers: response.headers,
                body: response.body.into(),
            },
            None => self.gateway(ResponseType::BadGateway, &HashMap::new(), &request),
        }
    }

    /// The answer of the API's CORS setting to an OPTIONS request (SAM's mock integration).
    fn preflight(&self) -> Option<Answer> {
        let cors = self.api.cors.as_ref()?;
        let mut headers = HeaderMap::new();
        let mut put = |name: &'static str, value: &str| {
            if let Ok(value) = HeaderValue::try_from(value) {
                headers.insert(name, value);
            }
        };
        put("access-control-allow-origin", &cors.allow_origin);
        put("access-control-allow-methods", &cors.allow_methods);
        put("access-control-allow-headers", &cors.allow_headers);
        if let Some(max_age) = &cors.max_age {
            put("access-control-max-age", max_age);
        }
        put("content-type", "application/json");
        Some(Answer {
            status: 200,
            headers,
            body: Bytes::new(),
        })
    }

    /// The API's answer to a request whose body is over [`MAX_BODY_BYTES`] (REST's
    /// REQUEST_TOO_LARGE, which the template's DEFAULT_4XX renders).
    pub fn too_large(&self, request: &IncomingRequest) -> Answer {
        self.gateway(ResponseType::RequestTooLarge, &HashMap::new(), request)
    }

    /// The answer to a request no event can carry: never an invocation with an empty event.
    fn unsendable(&self, request: &IncomingRequest) -> Answer {
        self.gateway(ResponseType::BadRequestParameters, &HashMap::new(), request)
    }

    fn gateway(
        &self,
        kind: ResponseType,
        context: &HashMap<String, Value>,
        request: &IncomingRequest,
    ) -> Answer {
        let rendered =
            gateway::render(&self.api.gateway_responses, kind, context, &request.headers);
        Answer {
            status: rendered.status,
            headers: rendered.headers,
            body: rendered.body.into(),
        }
    }

    /// Invokes `function` with `event` through the invoke API.
    async fn invoke(&self, function: &str, event: &[u8]) -> Invocation {
        let url = format!(
            "{}{INVOKE_API_PREFIX}functions/{function}/invocations",
            self.functions
        );
        let response = match self.client.post(url).body(event.to_vec()).send().await {
            Ok(response) => response,
            Err(error) => return Invocation::Failed(format!("invoke failed: {error}")),
        };
        let status = response.status();
        let failed = response.headers().contains_key("x-amz-function-error");
        let Ok(body) = response.bytes().await else {
            return Invocation::Failed("invoke answer unreadable".into());
        };
        let error = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|answer| {
                answer
                    .get("errorMessage")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
        match error {
            Some(message) if failed || !status.is_success() || is_error_document(&body) => {
                Invocation::Failed(message)
            }
            _ if !status.is_success() => Invocation::Failed(format!("invoke answered {status}")),
            _ => Invocation::Returned(body.to_vec()),
        }
    }
}

/// The resource path `path` is routed as: without one trailing slash (`/auth/login/` is
/// `/auth/login`), as a REST API routes it. Percent-encoded characters stay encoded (REST does
/// not decode them to route: `/auth/%6cogin` is no route).
fn resource_path(path: &str) -> &str {
    match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    }
}

/// An error document of the Lambda runtime: `errorType` and `errorMessage` and nothing else.
fn is_error_document(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Map<String, Value>>(body).is_ok_and(|fields| {
        fields.contains_key("errorType")
            && fields
                .keys()
                .all(|key| key.starts_with("error") || key == "stackTrace")
    })
}

/// `$context.authorizer` after an authorizer answer: its context values and `principalId`.
fn authorizer_fields(policy: &ApiGatewayCustomAuthorizerResponse) -> HashMap<String, Value> {
    let mut fields: HashMap<String, Value> = match &policy.context {
        Value::Object(context) => context.clone().into_iter().collect(),
        _ => HashMap::new(),
    };
    if let Some(principal) = &policy.principal_id {
        fields.insert("principalId".to_owned(), Value::from(principal.as_str()));
    }
    fields
}

/// Whether `policy` allows invoking `method_arn`: an Allow statement covers it and no Deny does.
fn allows(policy: &ApiGatewayCustomAuthorizerResponse, method_arn: &str) -> bool {
    let covers = |effect: IamPolicyEffect| {
        policy.policy_document.statement.iter().any(|statement| {
            statement.effect == effect
                && statement
                    .action
                    .iter()
                    .any(|action| glob(action, "execute-api:Invoke"))
                && statement
                    .resource
                    .iter()
                    .any(|resource| glob(resource, method_arn))
        })
    };
    covers(IamPolicyEffect::Allow) && !covers(IamPolicyEffect::Deny)
}

/// IAM's wildcard match: `*` any run of characters, `?` any one.
fn glob(pattern: &str, text: &str) -> bool {
    let (pattern, text): (Vec<char>, Vec<char>) =
        (pattern.chars().collect(), text.chars().collect());
    let (mut p, mut t, mut star, mut mark) = (0, 0, None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(star) = star {
            p = star + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailing_slash_routes_as_without_it_and_nothing_else_is_rewritten() {
        assert_eq!(resource_path("/auth/login/"), "/auth/login");
        assert_eq!(resource_path("/auth/login"), "/auth/login");
        assert_eq!(resource_path("/auth/sessions/abc/"), "/auth/sessions/abc");
        assert_eq!(resource_path("/"), "/");
        assert_eq!(resource_path("/auth/login//"), "/auth/login/");
        assert_eq!(resource_path("/auth/%6cogin"), "/auth/%6cogin");
    }

    #[test]
    fn iam_wildcards_match_as_api_gateway_matches_them() {
        let arn = "arn:aws:execute-api:us-east-1:123456789012:local/local/GET/api/me";
        assert!(glob(
            "arn:aws:execute-api:us-east-1:123456789012:local/local/*",
            arn
        ));
        assert!(glob(arn, arn));
        assert!(glob("*", arn));
        assert!(glob("arn:aws:execute-api:*:*:local/local/GET/api/m?", arn));
        assert!(!glob(
            "arn:aws:execute-api:us-east-1:123456789012:local/local/POST/*",
            arn
        ));
        assert!(!glob(
            "arn:aws:execute-api:us-east-1:123456789012:other/local/*",
            arn
        ));
    }

    /// The front of template.yaml's own API, its functions nowhere.
    fn front() -> Front {
        let template = include_str!("../../../template.yaml");
        let api = Api::from_template(template, &HashMap::new()).expect("template.yaml's API");
        Front::new(api, "http://127.0.0.1:9")
    }

    #[tokio::test]
    async fn the_invoke_api_is_no_route_of_the_api_port() {
        for path in [
            "/2015-03-31/functions/me/invocations",
            "/2015-03-31/functions/authorizer/invocations",
            "/2015-03-31/../.rt/login/2018-06-01/runtime/invocation/next",
        ] {
            let mut request = IncomingRequest::new(Method::POST, path);
            request
                .headers
                .insert("origin", HeaderValue::from_static("https://evil.example"));
            let answer = front().handle(request).await;
            assert_eq!(answer.status, 404, "{path}");
            assert_eq!(answer.headers["content-type"], "application/problem+json");
            assert_ne!(
                answer.headers["access-control-allow-origin"],
                "https://evil.example"
            );
            assert!(
                !answer
                    .headers
                    .contains_key("access-control-allow-credentials")
            );
            let body: Value = serde_json::from_slice(&answer.body).unwrap();
            // The template's MISSING_AUTHENTICATION_TOKEN answer, as for any unknown route.
            assert_eq!(
                (body["status"].as_u64(), body["title"].as_str()),
                (Some(404), Some("Not Found"))
            );
        }
    }

    fn policy(statements: Value) -> ApiGatewayCustomAuthorizerResponse {
        serde_json::from_value(serde_json::json!({
            "principalId": "u1",
            "policyDocument": {"Version": "2012-10-17", "Statement": statements},
            "context": {"detail": "Access token expired."}
        }))
        .unwrap()
    }

    #[test]
    fn a_deny_wins_over_an_allow_and_no_statement_allows_nothing() {
        let arn = "arn:aws:execute-api:us-east-1:123456789012:local/local/GET/api/me";
        let allow = serde_json::json!({"Effect": "Allow", "Action": ["execute-api:Invoke"], "Resource": ["arn:aws:execute-api:us-east-1:123456789012:local/local/*"]});
        let deny = serde_json::json!({"Effect": "Deny", "Action": ["execute-api:Invoke"], "Resource": [arn]});
        assert!(allows(&policy(serde_json::json!([allow.clone()])), arn));
        assert!(!allows(
            &policy(serde_json::json!([allow, deny.clone()])),
            arn
        ));
        assert!(!allows(&policy(serde_json::json!([deny])), arn));
        assert!(!allows(&policy(serde_json::json!([])), arn));
        let fields = authorizer_fields(&policy(serde_json::json!([])));
        assert_eq!(fields["principalId"], "u1");
        assert_eq!(fields["detail"], "Access token expired.");
    }
}
