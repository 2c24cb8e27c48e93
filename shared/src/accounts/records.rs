//! What an account is, as the use-cases and the store exchange it.

use crate::credentials::Email;
use crate::ids::UserId;
use crate::throttle::LoginFailures;

/// What anyone may know of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserProfile {
    /// The account's id.
    pub id: UserId,
    /// Its normalized email.
    pub email: Email,
    /// Given name, if any.
    pub firstname: Option<String>,
    /// Family name, if any.
    pub lastname: Option<String>,
    /// Role; every account made by signup is `user`.
    pub role: String,
    /// Creation time, Unix seconds.
    pub created_at: u64,
}

/// An account: its profile, the PHC string of its password hash and its session state.
#[derive(Debug, Clone)]
pub struct Account {
    /// The public part.
    pub profile: UserProfile,
    /// argon2id PHC string; the password itself is never stored.
    pub password_hash: String,
    /// Session generation: moved by logout-all and password change; tokens are only issued
    /// under a condition that it is still the generation the issuer read.
    pub generation: u64,
    /// Failed-login bookkeeping.
    pub failures: LoginFailures,
}
