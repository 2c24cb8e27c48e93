//! Token use-cases: issue a session, hand the current one out again, verify, list and revoke
//! sessions.

use std::time::Duration;

use crate::clock::SharedClock;
use crate::credentials::Email;
use crate::ids::{TokenId, UserId};
use crate::keyring::{AccessToken, TokenClaims};
use crate::keys::Keys;
use crate::problem::{ApiError, AuthScheme};
use crate::records::{CurrentToken, Live, NewToken, Origin, ReplaceCurrent, Sessions, TokenRecord};
use crate::retry::Attempts;
use crate::store::{SessionRevocation, Store, StoreError, TokenIssue};

/// How many times issuing re-reads and retries when concurrent requests race it.
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
    /// Authentic, live and unexpired.
    Valid {
        /// Whose token it is.
        claims: TokenClaims,
        /// Its expiry and application, as the account's sessions have them.
        session: Live,
    },
    /// Authentic and live, but past its expiry.
    Expired,
    /// Malformed, forged, revoked or unknown.
    Invalid,
}

/// What handing out a token came to, short of an error.
#[derive(Debug, Clone)]
pub enum Handout {
    /// The token the client gets.
    Token(IssuedToken),
    /// The password whose hash was checked is no longer the account's: nothing was issued.
    PasswordChanged,
}

/// Whom a token is issued to: the account, and the password version that was checked.
#[derive(Debug, Clone, Copy)]
pub struct Grantee<'a> {
    /// The account.
    pub user: UserId,
    /// Its email, the key its password version is checked under.
    pub email: &'a Email,
    /// The version of the password whose hash was checked; the token is recorded only while
    /// it still is the account's.
    pub password_version: u64,
}

/// One of the caller's sessions, as `GET /auth/sessions` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    /// The session's token id.
    pub id: TokenId,
    /// Where and when it was issued.
    pub record: TokenRecord,
    /// Its expiry, Unix seconds.
    pub expire: u64,
    /// Whether it is the token the listing was asked with.
    pub current: bool,
}

/// Issues and checks tokens. One per cold start.
#[derive(Clone)]
pub struct Tokens {
    store: Store,
    keys: Keys,
    ttl: Duration,
    max_sessions: usize,
    clock: SharedClock,
}

impl Tokens {
    /// The token use-cases over `store`: tokens live `ttl`, at most `max_sessions` per account.
    pub fn new(
        store: Store,
        keys: Keys,
        ttl: Duration,
        max_sessions: usize,
        clock: SharedClock,
    ) -> Self {
        Self {
            store,
            keys,
            ttl,
            max_sessions,
            clock,
        }
    }

    /// The clock every expiry is judged by.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The signing keys.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The token a client gets for `user`'s recorded token `current`, its text signed by the
    /// active key: a session handed out again after a rotation keeps its id and expiry, and
    /// gets the new key's text (its old text verifies too until the old key is dropped).
    pub async fn issued_token(&self, user: UserId, current: CurrentToken) -> IssuedToken {
        IssuedToken {
            id: current.token,
            user,
            token: self.keys.token_for(&user, &current.token).await,
            expire: current.expire,
        }
    }

    /// A new token for `user` in sessions generation `generation`, asked for from `origin`,
    /// not yet recorded.
    pub fn new_token(&self, user: UserId, generation: u64, origin: &Origin) -> NewToken {
        let now = self.clock.now();
        NewToken {
            user,
            current: CurrentToken {
                token: TokenId::generate(),
                expire: now.saturating_add(self.ttl.as_secs()),
            },
            issued_at: now,
            origin: origin.clone(),
            generation,
        }
    }

    /// Issues a new session: a new token to `grantee`, made the current one of `origin`'s
    /// application; past the cap, the soonest-expiring session is revoked in the same write.
    pub async fn issue(&self, grantee: &Grantee<'_>, origin: &Origin) -> Result<Handout, ApiError> {
        self.issue_or_reuse(grantee, origin, false).await
    }

    /// The current token of `origin`'s application while it is live, otherwise a new one
    /// issued as [`Self::issue`] does (login-token's hand-out). Concurrent callers all get the same token: the
    /// pointer to it is replaced only under a condition on what each caller saw, and a caller
    /// that loses the race reads the winner's.
    pub async fn current_or_issue(
        &self,
        grantee: &Grantee<'_>,
        origin: &Origin,
    ) -> Result<Handout, ApiError> {
        self.issue_or_reuse(grantee, origin, true).await
    }

    /// [`Self::issue`], or with `reuse_current` [`Self::current_or_issue`]: re-reads and
    /// retries while concurrent requests race it.
    async fn issue_or_reuse(
        &self,
        grantee: &Grantee<'_>,
        origin: &Origin,
        reuse_current: bool,
    ) -> Result<Handout, ApiError> {
        let user = grantee.user;
        let mut attempts = Attempts::new(ISSUE_ATTEMPTS);
        loop {
            attempts.next_attempt().await?;
            let seen = self.store.sessions(&user).await?;
            let now = self.clock.now();
            let replace = if reuse_current {
                match self.store.current_token(&user, &origin.client_id).await? {
                    Some(current) if seen.is_live(&current.token, now) => {
                        return Ok(Handout::Token(self.issued_token(user, current).await));
                    }
                    Some(stale) => ReplaceCurrent::IfStill(stale.token),
                    None => ReplaceCurrent::IfAbsent,
                }
            } else {
                ReplaceCurrent::Always
            };
            let token = self.new_token(user, seen.generation, origin);
            let next = seen.with(&token.current, &origin.client_id, now, self.max_sessions);
            match self
                .store
                .issue_token(
                    &token,
                    replace,
                    &seen,
                    &next,
                    grantee.email,
                    grantee.password_version,
                )
                .await
            {
                Ok(TokenIssue::Issued) => {
                    return Ok(Handout::Token(self.issued_token(user, token.current).await));
                }
                Ok(TokenIssue::PasswordChanged) => return Ok(Handout::PasswordChanged),
                // Another request changed the sessions or the pointer first: read again.
                Ok(TokenIssue::SessionsMoved | TokenIssue::PointerMoved)
                | Err(StoreError::Conflict) => continue,
                Err(other) => return Err(other.into()),
            }
        }
    }

    /// The claims and session of `presented` if it is valid now; otherwise the error a route
    /// that requires a token answers with (401 absent or invalid, 403 expired).
    pub async fn require_valid(
        &self,
        presented: Option<String>,
    ) -> Result<(TokenClaims, Live), ApiError> {
        let presented = presented.ok_or(ApiError::MissingCredentials(AuthScheme::Bearer))?;
        match self.verify(&presented).await? {
            Verification::Valid { claims, session } => Ok((claims, session)),
            Verification::Expired => Err(ApiError::TokenExpired),
            Verification::Invalid => Err(ApiError::InvalidToken),
        }
    }

    /// Revokes `presented` (logout): it stops verifying at once. Idempotent for an authentic
    /// token, expired or already revoked; a forged or garbled one is [`ApiError::InvalidToken`].
    pub async fn revoke(&self, presented: Option<String>) -> Result<(), ApiError> {
        let presented = presented.ok_or(ApiError::MissingCredentials(AuthScheme::Bearer))?;
        let claims = self
            .keys
            .authenticate(&presented)
            .await
            .ok_or(ApiError::InvalidToken)?;
        self.store
            .revoke_session(&claims.user, &claims.token)
            .await?;
        Ok(())
    }

    /// Revokes the caller's session `id` (the presented token's own included); an id that is
    /// not one of the caller's live sessions is [`ApiError::SessionNotFound`].
    pub async fn revoke_session(
        &self,
        presented: Option<String>,
        id: &str,
    ) -> Result<(), ApiError> {
        let (claims, _) = self.require_valid(presented).await?;
        let id = TokenId::parse(id).ok_or(ApiError::SessionNotFound)?;
        match self.store.revoke_session(&claims.user, &id).await? {
            SessionRevocation::Revoked => {
                tracing::info!(user = %claims.user, "session revoked");
                Ok(())
            }
            SessionRevocation::NotLive => Err(ApiError::SessionNotFound),
        }
    }

    /// Revokes every session of the caller, in every application, in one write; returns how
    /// many were live.
    pub async fn revoke_all(&self, presented: Option<String>) -> Result<usize, ApiError> {
        let (claims, _) = self.require_valid(presented).await?;
        let revoked = self
            .store
            .revoke_all_sessions(&claims.user)
            .await?
            .live_count(self.clock.now());
        tracing::info!(user = %claims.user, revoked, "logged out everywhere");
        Ok(revoked)
    }

    /// The caller's live sessions, newest first.
    pub async fn sessions(&self, presented: Option<String>) -> Result<Vec<SessionView>, ApiError> {
        let (claims, _) = self.require_valid(presented).await?;
        let now = self.clock.now();
        let sessions: Sessions = self.store.sessions(&claims.user).await?;
        let live: Vec<TokenId> = sessions
            .live
            .iter()
            .filter(|(_, session)| session.expire > now)
            .map(|(id, _)| *id)
            .collect();
        let mut records = self.store.token_records(&claims.user, &live).await?;
        let mut views: Vec<SessionView> = live
            .into_iter()
            .filter_map(|id| {
                let record = records.remove(&id)?;
                Some(SessionView {
                    id,
                    expire: sessions.live[&id].expire,
                    current: id == claims.token,
                    record,
                })
            })
            .collect();
        views.sort_by(|a, b| {
            (b.record.issued_at, b.expire, b.id).cmp(&(a.record.issued_at, a.expire, a.id))
        });
        Ok(views)
    }

    /// Checks a presented token: its tag first (no store call for garbage or forgeries), then
    /// whether it is live in its account's sessions (one read), then its expiry.
    pub async fn verify(&self, presented: &str) -> Result<Verification, StoreError> {
        let Some(claims) = self.keys.authenticate(presented).await else {
            return Ok(Verification::Invalid);
        };
        let Some(session) = self.store.live_session(&claims.user, &claims.token).await? else {
            return Ok(Verification::Invalid);
        };
        if session.expire <= self.clock.now() {
            return Ok(Verification::Expired);
        }
        Ok(Verification::Valid { claims, session })
    }
}
