//! The API Gateway Lambda authorizer: HTTP APIs (payload 2.0, simple responses) and REST APIs
//! (REQUEST authorizers, IAM policy), told apart by the event itself. It fails closed: any
//! doubt, including a store fault, is a deny, never an error thrown back at API Gateway.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayCustomAuthorizerResponse, ApiGatewayV2CustomAuthorizerSimpleResponse,
    ApiGatewayV2CustomAuthorizerV2Request,
};
use lambda_http::aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use serde_json::{Value, json};

use crate::request::token_from;
use crate::tokens::{Tokens, Verification};

/// Most verified tokens kept in one warm container's cache.
const CACHE_CAPACITY: usize = 10_000;

/// An authorizer invocation, by API type.
#[derive(Debug)]
pub enum AuthorizerEvent {
    /// An HTTP API event, payload format 2.0.
    HttpApi(Box<ApiGatewayV2CustomAuthorizerV2Request>),
    /// A REST API REQUEST authorizer event.
    RestApi(Box<ApiGatewayCustomAuthorizerRequestTypeRequest>),
}

impl AuthorizerEvent {
    /// Tells the format from the event: 2.0 events carry `version` and `routeArn`, REST ones `methodArn`.
    pub fn parse(event: Value) -> Option<Self> {
        if event.get("version").and_then(Value::as_str) == Some("2.0") {
            serde_json::from_value(event)
                .ok()
                .map(|e| Self::HttpApi(Box::new(e)))
        } else if event.get("methodArn").is_some() {
            serde_json::from_value(event)
                .ok()
                .map(|e| Self::RestApi(Box::new(e)))
        } else {
            None
        }
    }

    fn token(&self) -> Option<String> {
        match self {
            Self::HttpApi(event) => token_from(&event.headers, |name| {
                event.query_string_parameters.get(name).map(String::as_str)
            }),
            Self::RestApi(event) => token_from(&event.headers, |name| {
                event.query_string_parameters.first(name)
            }),
        }
    }
}

/// Who a token that was let through belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The account id.
    pub user_id: String,
    /// The application the token was issued for.
    pub client_id: String,
    /// The token's expiry, Unix seconds.
    pub expire: u64,
}

impl Principal {
    fn context(&self) -> Value {
        json!({"userId": self.user_id, "clientId": self.client_id, "expire": self.expire})
    }
}

struct CachedAllow {
    principal: Principal,
    until: u64,
}

/// Decides on tokens, caching allows inside a warm container for a bounded window.
pub struct Authorizer {
    tokens: Tokens,
    cache_window: Duration,
    cache: Mutex<HashMap<String, CachedAllow>>,
}

impl Authorizer {
    /// An authorizer over `tokens` that trusts a verified token for `cache_window` at most
    /// (never past its `expire`); a zero window checks the store on every call.
    pub fn new(tokens: Tokens, cache_window: Duration) -> Self {
        Self {
            tokens,
            cache_window,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The response API Gateway expects for `event`; a deny for anything unrecognised.
    pub async fn handle(&self, event: Value) -> Value {
        let Some(event) = AuthorizerEvent::parse(event) else {
            tracing::warn!("authorizer event of unknown format: denied");
            return json!({"isAuthorized": false});
        };
        let principal = match event.token() {
            Some(token) => self.principal(&token).await,
            None => None,
        };
        tracing::info!(allowed = principal.is_some(), "authorizer decision");
        match event {
            AuthorizerEvent::HttpApi(_) => http_api_response(principal.as_ref()),
            AuthorizerEvent::RestApi(event) => {
                rest_api_response(principal.as_ref(), event.method_arn.as_deref())
            }
        }
    }

    /// The principal of `token` if it is valid now: from the cache, or from the store.
    pub async fn principal(&self, token: &str) -> Option<Principal> {
        let now = self.tokens.clock().now();
        if let Some(cached) = self.cached(token, now) {
            return Some(cached);
        }
        match self.tokens.verify(token).await {
            Ok(Verification::Valid { claims, session }) => {
                let principal = Principal {
                    user_id: claims.user.to_string(),
                    client_id: session.client_id,
                    expire: session.expire,
                };
                self.remember(token, &principal, now);
                Some(principal)
            }
            Ok(Verification::Expired | Verification::Invalid) => None,
            Err(error) => {
                tracing::error!(%error, "token store unavailable: denied");
                None
            }
        }
    }

    fn cached(&self, token: &str, now: u64) -> Option<Principal> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(token)
            .filter(|entry| now < entry.until)
            .map(|entry| entry.principal.clone())
    }

    fn remember(&self, token: &str, principal: &Principal, now: u64) {
        let until = now
            .saturating_add(self.cache_window.as_secs())
            .min(principal.expire);
        if until <= now {
            return;
        }
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        if cache.len() >= CACHE_CAPACITY {
            cache.retain(|_, entry| now < entry.until);
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
        }
        cache.insert(
            token.to_owned(),
            CachedAllow {
                principal: principal.clone(),
                until,
            },
        );
    }
}

fn http_api_response(principal: Option<&Principal>) -> Value {
    let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::<Value>::default();
    response.is_authorized = principal.is_some();
    response.context = principal.map_or_else(|| json!({}), Principal::context);
    serde_json::to_value(response).unwrap_or_else(|_| json!({"isAuthorized": false}))
}

/// `arn:aws:execute-api:region:account:api/stage/*`: every method and path of the stage, so a
/// cached allow for one route does not refuse the next.
fn whole_stage(method_arn: &str) -> Option<String> {
    let (prefix, path) = method_arn.split_once(":execute-api:")?;
    let mut parts = path.splitn(3, '/');
    let (api, stage) = (parts.next()?, parts.next()?);
    Some(format!("{prefix}:execute-api:{api}/{stage}/*"))
}

fn rest_api_response(principal: Option<&Principal>, method_arn: Option<&str>) -> Value {
    let resource = match (principal, method_arn.and_then(whole_stage)) {
        (Some(_), Some(stage)) => stage,
        _ => method_arn.unwrap_or("*").to_owned(),
    };
    let allowed = principal.is_some() && resource != "*";
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".to_owned()];
    statement.effect = if allowed {
        IamPolicyEffect::Allow
    } else {
        IamPolicyEffect::Deny
    };
    statement.resource = vec![resource];
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some("2012-10-17".to_owned());
    policy.statement = vec![statement];
    let mut response = ApiGatewayCustomAuthorizerResponse::<Value>::default();
    response.principal_id = Some(
        principal
            .filter(|_| allowed)
            .map_or_else(|| "anonymous".to_owned(), |p| p.user_id.clone()),
    );
    response.policy_document = policy;
    response.context = principal
        .filter(|_| allowed)
        .map_or_else(|| json!({}), Principal::context);
    serde_json::to_value(response).unwrap_or_else(|_| json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allow_covers_every_method_and_path_of_the_stage() {
        assert_eq!(
            whole_stage("arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/api/me")
                .as_deref(),
            Some("arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*")
        );
        assert_eq!(whole_stage("not-an-arn"), None);
    }

    #[test]
    fn unknown_events_are_not_parsed() {
        assert!(AuthorizerEvent::parse(json!({"hello": "world"})).is_none());
        assert!(AuthorizerEvent::parse(json!("text")).is_none());
    }
}
