//! Token use-cases: issue, hand out again, verify, revoke.

pub mod format;
pub mod records;

use std::time::Duration;

pub use format::{AccessToken, SigningKey, TOKEN_LEN, TokenClaims};

use crate::clock::SharedClock;
use crate::credentials::Email;
use crate::ids::{TokenId, UserId};
use crate::problem::{ApiError, AuthScheme};
use crate::retry::Attempts;
use crate::store::{Store, StoreError, TokenIssue, TokenRevocation};
use records::{CurrentToken, NewToken, ReplaceCurrent, TokenRecord};

/// How many times login-token and logout re-read and retry when concurrent callers race them.
const ISSUE_ATTEMPTS: u32 = 8;

/// A token as handed to a client, with what the response tells about it.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The token entity's id.
    pub id: TokenId,
    /// Whose token it is.
    pub user: UserId,
    /// The secret itself.
    pub token: AccessToken,
    /// Expiry, Unix seconds.
    pub expire: u64,
}

/// What a presented token turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Authentic, recorded and unexpired.
    Valid {
        /// Whose token it is.
        claims: TokenClaims,
        /// Its record.
        record: TokenRecord,
    },
    /// Authentic and recorded, but past its `expire` (TTL deletion is lazy, so the item may linger).
    Expired,
    /// Malformed, forged, or unknown to the store (revoked, or deleted by TTL).
    Invalid,
}

/// What handing out a token came to, short of an error.
#[derive(Debug, Clone)]
pub enum Handout {
    /// The token the client gets.
    Token(IssuedToken),
    /// The account's session generation moved on since it was read: nothing was issued.
    GenerationMoved,
}

/// The session a token is issued into: the account's email and its session generation.
#[derive(Debug, Clone, Copy)]
pub struct Session<'a> {
    /// Whose session it is.
    pub user: UserId,
    /// The account's email, the key its generation is checked under.
    pub email: &'a Email,
    /// The generation read from the account; the token is recorded only while it still is.
    pub generation: u64,
}

/// Issues and checks tokens. One per cold start.
#[derive(Clone)]
pub struct Tokens {
    store: Store,
    key: SigningKey,
    ttl: Duration,
    clock: SharedClock,
}

impl Tokens {
    /// The token use-cases over `store`.
    pub fn new(store: Store, key: SigningKey, ttl: Duration, clock: SharedClock) -> Self {
        Self {
            store,
            key,
            ttl,
            clock,
        }
    }

    /// The clock every expiry is judged by.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    fn handed_out(&self, user: UserId, current: CurrentToken) -> IssuedToken {
        IssuedToken {
            id: current.token,
            user,
            token: self.key.token_for(&user, &current.token),
            expire: current.expire,
        }
    }

    /// A fresh token of `session` for `client_id`, not yet recorded.
    pub fn fresh(&self, session: &Session<'_>, client_id: &str) -> NewToken {
        let now = self.clock.now();
        NewToken {
            user: session.user,
            current: CurrentToken {
                token: TokenId::generate(),
                expire: now.saturating_add(self.ttl.as_secs()),
            },
            client_id: client_id.to_owned(),
            issued_at: now,
            generation: session.generation,
        }
    }

    /// The token a client gets for the recorded `token`.
    pub fn hand_out(&self, token: &NewToken) -> IssuedToken {
        self.handed_out(token.user, token.current)
    }

    /// Issues a fresh token of `session` for `client_id` and makes it the pair's current one,
    /// provided the session's generation still holds.
    pub async fn issue_fresh(
        &self,
        session: &Session<'_>,
        client_id: &str,
    ) -> Result<Handout, ApiError> {
        let token = self.fresh(session, client_id);
        let mut attempts = Attempts::new(ISSUE_ATTEMPTS);
        loop {
            attempts.next_attempt().await?;
            match self
                .store
                .issue_token(&token, ReplaceCurrent::Always, session.email)
                .await
            {
                Ok(TokenIssue::Issued) => return Ok(Handout::Token(self.hand_out(&token))),
                Ok(TokenIssue::GenerationMoved) => return Ok(Handout::GenerationMoved),
                // Nothing conditions the pointer of a fresh token: only a collision of
                // concurrent transactions lands here.
                Ok(TokenIssue::PointerMoved) | Err(StoreError::Conflict) => continue,
                Err(other) => return Err(other.into()),
            }
        }
    }

    /// The pair's current token while it is unexpired, otherwise a new one of `session`.
    /// Concurrent callers all get the same token: the pointer to it is replaced only under a
    /// condition on what each caller saw, and a caller that loses the race reads the winner's.
    pub async fn current_or_issue(
        &self,
        session: &Session<'_>,
        client_id: &str,
    ) -> Result<Handout, ApiError> {
        let user = session.user;
        let mut attempts = Attempts::new(ISSUE_ATTEMPTS);
        loop {
            attempts.next_attempt().await?;
            let seen = self.store.current_token(&user, client_id).await?;
            if let Some(current) = seen
                && current.expire > self.clock.now()
            {
                return Ok(Handout::Token(self.handed_out(user, current)));
            }
            let token = self.fresh(session, client_id);
            let replace = seen.map_or(ReplaceCurrent::IfAbsent, |old| {
                ReplaceCurrent::IfStill(old.token)
            });
            match self.store.issue_token(&token, replace, session.email).await {
                Ok(TokenIssue::Issued) => return Ok(Handout::Token(self.hand_out(&token))),
                Ok(TokenIssue::GenerationMoved) => return Ok(Handout::GenerationMoved),
                // Another caller replaced the pointer first: read the winner's token.
                Ok(TokenIssue::PointerMoved) | Err(StoreError::Conflict) => continue,
                Err(other) => return Err(other.into()),
            }
        }
    }

    /// The claims and record of `presented` if it is valid now; otherwise the error a route
    /// that requires a token answers with (401 absent or invalid, 403 expired).
    pub async fn require_valid(
        &self,
        presented: Option<String>,
    ) -> Result<(TokenClaims, TokenRecord), ApiError> {
        let presented = presented.ok_or(ApiError::MissingCredentials(AuthScheme::Bearer))?;
        match self.verify(&presented).await? {
            Verification::Valid { claims, record } => Ok((claims, record)),
            Verification::Expired => Err(ApiError::TokenExpired),
            Verification::Invalid => Err(ApiError::InvalidToken),
        }
    }

    /// Revokes `presented` (logout): it stops verifying at once. Idempotent for an authentic
    /// token, expired or already revoked; a forged or garbled one is [`ApiError::InvalidToken`].
    pub async fn revoke(&self, presented: Option<String>) -> Result<(), ApiError> {
        let presented = presented.ok_or(ApiError::MissingCredentials(AuthScheme::Bearer))?;
        let claims = self
            .key
            .authenticate(&presented)
            .ok_or(ApiError::InvalidToken)?;
        let mut attempts = Attempts::new(ISSUE_ATTEMPTS);
        loop {
            attempts.next_attempt().await?;
            match self.store.revoke_token(&claims.user, &claims.token).await {
                Ok(TokenRevocation::Revoked | TokenRevocation::NotFound) => return Ok(()),
                // The pair's pointer moved meanwhile: read again.
                Ok(TokenRevocation::PointerMoved) | Err(StoreError::Conflict) => continue,
                Err(other) => return Err(other.into()),
            }
        }
    }

    /// Revokes every token of `user`; returns how many there were.
    pub async fn revoke_all(&self, user: &UserId) -> Result<usize, StoreError> {
        self.store.revoke_all_tokens(user).await
    }

    /// Checks a presented token: its tag first (no store call for garbage or forgeries), then
    /// its record, then its expiry against the clock.
    pub async fn verify(&self, presented: &str) -> Result<Verification, StoreError> {
        let Some(claims) = self.key.authenticate(presented) else {
            return Ok(Verification::Invalid);
        };
        let Some(record) = self.store.find_token(&claims.user, &claims.token).await? else {
            return Ok(Verification::Invalid);
        };
        if record.expire <= self.clock.now() {
            return Ok(Verification::Expired);
        }
        Ok(Verification::Valid { claims, record })
    }
}
