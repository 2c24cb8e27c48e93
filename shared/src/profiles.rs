//! The caller's own profile: the use-case behind the sample protected route `GET /api/me`.

use aws_sdk_dynamodb::Client;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::ids::UserId;
use crate::problem::ApiError;
use crate::store::{UserProfile, UserStore};
use crate::tokens::Tokens;

/// Who made a request, as far as this function can tell.
#[derive(Debug, Clone)]
pub enum Caller {
    /// Named by the authorizer in the request context (API Gateway vouches for it).
    Authorized(String),
    /// Not vouched for: only the token it presented, if any (no authorizer ran, e.g. locally).
    Presenting(Option<String>),
}

/// Reads profiles for callers. One per cold start; no password hasher.
#[derive(Clone)]
pub struct Profiles {
    users: UserStore,
    tokens: Tokens,
}

impl Profiles {
    /// The use-case over `users`, checking unvouched tokens with `tokens`.
    pub fn new(users: UserStore, tokens: Tokens) -> Self {
        Self { users, tokens }
    }

    /// Builds it from `config` over one DynamoDB `client`.
    pub fn from_config(config: &Config, client: Client, clock: SharedClock) -> Self {
        Self::new(
            UserStore::new(client.clone(), &config.users_table),
            Tokens::from_config(config, client, clock),
        )
    }

    /// The caller's profile. A caller no authorizer vouched for is checked here, so the route
    /// stays protected even where it is reached without the authorizer.
    pub async fn of(&self, caller: Caller) -> Result<UserProfile, ApiError> {
        let user = match caller {
            Caller::Authorized(user) => UserId::parse(&user).ok_or(ApiError::InvalidToken)?,
            Caller::Presenting(token) => self.tokens.require_valid(token).await?.0.user,
        };
        self.users
            .find_by_id(&user)
            .await?
            .ok_or(ApiError::InvalidToken)
    }
}
