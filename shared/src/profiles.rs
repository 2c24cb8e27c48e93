//! The caller's own profile: the use-case behind the sample protected route `GET /api/me`.

use crate::ids::UserId;
use crate::problem::ApiError;
use crate::records::UserProfile;
use crate::store::Store;

/// Reads profiles for callers the authorizer vouched for. One per cold start; no password
/// hasher, no key ring use.
#[derive(Clone)]
pub struct Profiles {
    store: Store,
}

impl Profiles {
    /// The use-case over `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// The profile of `user`, the account id the authorizer put in the request context; an
    /// account deleted since its token was checked reads as an invalid token.
    pub async fn of(&self, user: &str) -> Result<UserProfile, ApiError> {
        let user = UserId::parse(user).ok_or(ApiError::InvalidToken)?;
        self.store
            .find_profile(&user)
            .await?
            .ok_or(ApiError::InvalidToken)
    }
}
