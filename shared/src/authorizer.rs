//! The API Gateway Lambda authorizer of the REST API (a REQUEST authorizer, IAM policy answers).
//! It fails closed: a missing token is API Gateway's `Unauthorized` error (its 401 response), an
//! expired or refused token a deny whose context names why (the 403 response renders that
//! `detail`), a store fault an error (the 503 response); nothing it doubts is ever allowed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayCustomAuthorizerResponse,
};
use lambda_http::aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use serde_json::{Value, json};

use crate::problem::ApiError;
use crate::request::token_from;
use crate::tokens::{Tokens, Verification};

/// Most verified tokens kept in one warm container's cache.
const CACHE_CAPACITY: usize = 10_000;

/// Why the authorizer answers an error instead of a policy.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizerError {
    /// No token in any accepted place. API Gateway answers its UNAUTHORIZED response (401) for
    /// exactly this message, and for nothing else.
    #[error("Unauthorized")]
    NoCredentials,
    /// The token store could not be asked: API Gateway answers its AUTHORIZER_FAILURE response.
    #[error("token store unavailable")]
    Unavailable,
}

/// What the authorizer decided about a presented token.
#[derive(Debug)]
pub enum Decision {
    /// The token is live: its principal.
    Allow(Principal),
    /// Refused: [`ApiError::TokenExpired`] or [`ApiError::InvalidToken`], whose text becomes the
    /// deny's `detail`.
    Deny(ApiError),
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

    /// The policy API Gateway expects for a REQUEST authorizer `event`, or the error it turns
    /// into its 401 (no token) or failure (store fault) response. An event that is not a
    /// REQUEST authorizer event is denied.
    pub async fn handle(&self, event: Value) -> Result<Value, AuthorizerError> {
        let Ok(event) =
            serde_json::from_value::<ApiGatewayCustomAuthorizerRequestTypeRequest>(event)
        else {
            tracing::warn!("authorizer event of unknown format: denied");
            return Ok(policy(&Decision::Deny(ApiError::InvalidToken), None));
        };
        let token = token_from(&event.headers, |name| {
            event.query_string_parameters.first(name)
        })
        .ok_or(AuthorizerError::NoCredentials)
        .inspect_err(|_| tracing::info!("authorizer decision: no credentials"))?;
        let decision = self.decide(&token).await?;
        tracing::info!(
            allowed = matches!(decision, Decision::Allow(_)),
            "authorizer decision"
        );
        Ok(policy(&decision, event.method_arn.as_deref()))
    }

    /// The decision on `token` now: from the cache, or from the store.
    pub async fn decide(&self, token: &str) -> Result<Decision, AuthorizerError> {
        let now = self.tokens.clock().now();
        if let Some(cached) = self.cached(token, now) {
            return Ok(Decision::Allow(cached));
        }
        match self.tokens.verify(token).await {
            Ok(Verification::Valid { claims, session }) => {
                let principal = Principal {
                    user_id: claims.user.to_string(),
                    client_id: session.client_id,
                    expire: session.expire,
                };
                self.remember(token, &principal, now);
                Ok(Decision::Allow(principal))
            }
            Ok(Verification::Expired) => Ok(Decision::Deny(ApiError::TokenExpired)),
            Ok(Verification::Invalid) => Ok(Decision::Deny(ApiError::InvalidToken)),
            Err(error) => {
                tracing::error!(%error, "token store unavailable: no decision");
                Err(AuthorizerError::Unavailable)
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

/// `arn:aws:execute-api:region:account:api/stage/*`: every method and path of the stage, so a
/// cached allow for one route does not refuse the next.
fn whole_stage(method_arn: &str) -> Option<String> {
    let (prefix, path) = method_arn.split_once(":execute-api:")?;
    let mut parts = path.splitn(3, '/');
    let (api, stage) = (parts.next()?, parts.next()?);
    Some(format!("{prefix}:execute-api:{api}/{stage}/*"))
}

/// The IAM policy answer: an allow covers the whole stage (so a cached allow for one route does
/// not refuse the next) with the principal as context; a deny names the method, its context the
/// `detail` API Gateway's ACCESS_DENIED response shows.
fn policy(decision: &Decision, method_arn: Option<&str>) -> Value {
    let allowed_stage = match decision {
        Decision::Allow(_) => method_arn.and_then(whole_stage),
        Decision::Deny(_) => None,
    };
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".to_owned()];
    statement.effect = if allowed_stage.is_some() {
        IamPolicyEffect::Allow
    } else {
        IamPolicyEffect::Deny
    };
    let (principal_id, context) = match (decision, &allowed_stage) {
        (Decision::Allow(principal), Some(_)) => (principal.user_id.clone(), principal.context()),
        (Decision::Deny(refusal), _) => (
            "anonymous".to_owned(),
            json!({"detail": refusal.to_string()}),
        ),
        (Decision::Allow(_), None) => (
            "anonymous".to_owned(),
            json!({"detail": ApiError::InvalidToken.to_string()}),
        ),
    };
    statement.resource =
        vec![allowed_stage.unwrap_or_else(|| method_arn.unwrap_or("*").to_owned())];
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some("2012-10-17".to_owned());
    policy.statement = vec![statement];
    let mut response = ApiGatewayCustomAuthorizerResponse::<Value>::default();
    response.principal_id = Some(principal_id);
    response.policy_document = policy;
    response.context = context;
    // A struct of strings and a JSON value: serializing it cannot fail.
    serde_json::to_value(response).unwrap_or_default()
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
}
