//! What the store keeps of issued tokens, as the use-cases and the store exchange it.

use crate::ids::{TokenId, UserId};

/// What the table knows of one issued token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The application the token was issued for.
    pub client_id: String,
    /// When it stops being valid, Unix seconds (also the TTL attribute).
    pub expire: u64,
}

/// The token login-token hands out again for one (application, user) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrentToken {
    /// The token's id.
    pub token: TokenId,
    /// Its expiry, Unix seconds.
    pub expire: u64,
}

/// A token about to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    /// Whose token it is.
    pub user: UserId,
    /// Its id and expiry.
    pub current: CurrentToken,
    /// The application it is issued for.
    pub client_id: String,
    /// When it was issued, Unix seconds.
    pub issued_at: u64,
    /// The account's session generation it belongs to.
    pub generation: u64,
}

/// When recording a token may replace the pair's current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplaceCurrent {
    /// Always (login and signup hand out a fresh token).
    Always,
    /// Only when the pair has no current token.
    IfAbsent,
    /// Only when the current token is still this (expired) one.
    IfStill(TokenId),
}
