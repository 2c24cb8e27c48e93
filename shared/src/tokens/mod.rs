//! Token use-cases: issue, hand out again, verify.

mod format;

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::TransactWriteItem;

pub use format::{AccessToken, SigningKey, TOKEN_LEN, TokenClaims};

use crate::clock::SharedClock;
use crate::config::Config;
use crate::ids::{TokenId, UserId};
use crate::problem::{ApiError, AuthScheme};
use crate::store::{CurrentToken, ReplaceCurrent, StoreError, TokenRecord, TokenStore};

/// How many times login-token re-reads and retries when concurrent callers race it.
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

/// Issues and checks tokens. One per cold start.
#[derive(Clone)]
pub struct Tokens {
    store: TokenStore,
    key: SigningKey,
    ttl: Duration,
    clock: SharedClock,
}

impl Tokens {
    /// The token use-cases over `store`.
    pub fn new(store: TokenStore, key: SigningKey, ttl: Duration, clock: SharedClock) -> Self {
        Self {
            store,
            key,
            ttl,
            clock,
        }
    }

    /// Builds the token use-cases from `config` over one DynamoDB `client`.
    pub fn from_config(config: &Config, client: Client, clock: SharedClock) -> Self {
        Self::new(
            TokenStore::new(client, &config.tokens_table),
            config.signing_key.clone(),
            config.token_ttl,
            clock,
        )
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

    fn fresh(&self) -> (CurrentToken, u64) {
        let now = self.clock.now();
        let current = CurrentToken {
            token: TokenId::generate(),
            expire: now.saturating_add(self.ttl.as_secs()),
        };
        (current, now)
    }

    /// A fresh token for (`user`, `client_id`) of session `generation` and the transaction items that record it as the
    /// pair's current token; for a caller that writes more in the same transaction (signup).
    pub fn fresh_token_items(
        &self,
        user: UserId,
        generation: u64,
        client_id: &str,
    ) -> Result<(IssuedToken, Vec<TransactWriteItem>), StoreError> {
        let (current, now) = self.fresh();
        let items = self.store.issue_items(
            &user,
            generation,
            client_id,
            current,
            now,
            ReplaceCurrent::Always,
        )?;
        Ok((self.handed_out(user, current), items))
    }

    /// Issues a fresh token for (`user`, `client_id`) of session `generation` and makes it the pair's current one,
    /// provided `guards` hold ([`StoreError::ConditionFailed`] with index 2 and up if not).
    pub async fn issue_fresh(
        &self,
        user: UserId,
        generation: u64,
        client_id: &str,
        guards: &[TransactWriteItem],
    ) -> Result<IssuedToken, StoreError> {
        let (current, now) = self.fresh();
        self.store
            .issue(
                &user,
                generation,
                client_id,
                current,
                now,
                ReplaceCurrent::Always,
                guards,
            )
            .await?;
        Ok(self.handed_out(user, current))
    }

    /// The pair's current token while it is unexpired, otherwise a new one. Concurrent callers
    /// all get the same token: the pointer to it is replaced only under a condition on what
    /// each caller saw, and a caller that loses the race reads the winner's token.
    /// A new token is only issued while `guards` hold ([`StoreError::ConditionFailed`] with
    /// index 2 and up if not).
    pub async fn current_or_issue(
        &self,
        user: UserId,
        generation: u64,
        client_id: &str,
        guards: &[TransactWriteItem],
    ) -> Result<IssuedToken, StoreError> {
        for attempt in 0..ISSUE_ATTEMPTS {
            let seen = self.store.current(&user, client_id).await?;
            if let Some(current) = seen
                && current.expire > self.clock.now()
            {
                return Ok(self.handed_out(user, current));
            }
            let (fresh, now) = self.fresh();
            let replace = seen.map_or(ReplaceCurrent::IfAbsent, |old| {
                ReplaceCurrent::IfStill(old.token)
            });
            match self
                .store
                .issue(&user, generation, client_id, fresh, now, replace, guards)
                .await
            {
                Ok(()) => return Ok(self.handed_out(user, fresh)),
                Err(StoreError::ConditionFailed { index: 0 | 1 } | StoreError::Conflict) => {
                    let jitter = u64::from(crate::ids::random_bytes::<1>()[0] % 16);
                    tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt) + jitter))
                        .await;
                }
                Err(other) => return Err(other),
            }
        }
        Err(StoreError::Unavailable(
            "login-token kept losing races for one pair".into(),
        ))
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
        for _ in 0..ISSUE_ATTEMPTS {
            match self.store.revoke(&claims.user, &claims.token).await {
                Ok(_) => return Ok(()),
                // The pair's pointer moved meanwhile: read again.
                Err(StoreError::ConditionFailed { .. } | StoreError::Conflict) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(StoreError::Unavailable("logout kept losing races".into()).into())
    }

    /// Revokes every token of `user`; returns how many there were.
    pub async fn revoke_all(&self, user: &UserId) -> Result<usize, StoreError> {
        self.store.revoke_all(user).await
    }

    /// Checks a presented token: its tag first (no store call for garbage or forgeries), then
    /// its record, then its expiry against the clock.
    pub async fn verify(&self, presented: &str) -> Result<Verification, StoreError> {
        let Some(claims) = self.key.authenticate(presented) else {
            return Ok(Verification::Invalid);
        };
        let Some(record) = self.store.find(&claims.user, &claims.token).await? else {
            return Ok(Verification::Invalid);
        };
        if record.expire <= self.clock.now() {
            return Ok(Verification::Expired);
        }
        Ok(Verification::Valid { claims, record })
    }
}
