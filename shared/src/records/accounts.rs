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
    /// Whether a code sent to the email came back (accounts from before verification: no).
    pub email_verified: bool,
}

/// An account: its profile, the PHC string of its password hash and its session state.
#[derive(Debug, Clone)]
pub struct Account {
    /// The public part.
    pub profile: UserProfile,
    /// argon2id PHC string; the password itself is never stored.
    pub password_hash: String,
    /// Moves with every change of the password (never with a rehash of the same one); a token
    /// is only issued under a condition that it is still the version whose hash was checked.
    pub password_version: u64,
    /// Failed-login bookkeeping.
    pub failures: LoginFailures,
}
