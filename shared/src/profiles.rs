//! The caller's own profile: the use-case behind the sample protected route `GET /api/me`.

use crate::accounts::records::UserProfile;
use crate::ids::UserId;
use crate::problem::ApiError;
use crate::store::Store;
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
    store: Store,
    tokens: Tokens,
}

impl Profiles {
    /// The use-case over `store`, checking unvouched tokens with `tokens`.
    pub fn new(store: Store, tokens: Tokens) -> Self {
        Self { store, tokens }
    }

    /// The caller's profile. A caller no authorizer vouched for is checked here, so the route
    /// stays protected even where it is reached without the authorizer.
    pub async fn of(&self, caller: Caller) -> Result<UserProfile, ApiError> {
        let user = match caller {
            Caller::Authorized(user) => UserId::parse(&user).ok_or(ApiError::InvalidToken)?,
            Caller::Presenting(token) => self.tokens.require_valid(token).await?.0.user,
        };
        self.store
            .find_profile(&user)
            .await?
            .ok_or(ApiError::InvalidToken)
    }
}
