//! Account use-cases: signup, login, login-token, logout-all and password change, with login
//! throttling and password-hash upgrades.

pub mod records;

use crate::clock::SharedClock;
use crate::credentials::{Credentials, Email, Password, SignupForm};
use crate::ids::UserId;
use crate::passwords::PasswordHasher;
use crate::problem::ApiError;
use crate::retry::{Attempts, RaceLost};
use crate::store::{
    AccountCreation, FailuresUpdate, HashUpgrade, PasswordReplacement, Store, StoreError,
};
use crate::throttle::{LoginFailures, ThrottlePolicy};
use crate::tokens::{Handout, IssuedToken, Session, Tokens};
use records::{Account, UserProfile};

/// How many times a use-case retries a write that lost a race with a concurrent one.
const RACE_ATTEMPTS: u32 = 4;

/// Every account made by signup has this role.
pub const DEFAULT_ROLE: &str = "user";

/// Which token a successful login hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    /// A fresh one (login, password change).
    Fresh,
    /// The pair's unexpired current one, else a new one (login-token).
    CurrentOrNew,
}

/// Accounts and the tokens they log in to. One per cold start.
#[derive(Clone)]
pub struct Accounts {
    store: Store,
    hasher: PasswordHasher,
    tokens: Tokens,
    throttle: ThrottlePolicy,
}

impl Accounts {
    /// The account use-cases over `store`, hashing with `hasher`, issuing through `tokens`.
    pub fn new(
        store: Store,
        hasher: PasswordHasher,
        tokens: Tokens,
        throttle: ThrottlePolicy,
    ) -> Self {
        Self {
            store,
            hasher,
            tokens,
            throttle,
        }
    }

    /// The password hasher (its evaluation count shows the work done per request).
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// The token use-cases.
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    fn clock(&self) -> &SharedClock {
        self.tokens.clock()
    }

    /// Creates an account and its first token for `client_id`, all in one transaction.
    #[tracing::instrument(skip_all)]
    pub async fn signup(
        &self,
        form: SignupForm,
        client_id: &str,
    ) -> Result<(UserProfile, IssuedToken), ApiError> {
        let password_hash = self.hasher.hash(&form.credentials.password).await?;
        let account = Account {
            profile: UserProfile {
                id: UserId::generate(),
                email: form.credentials.email,
                firstname: form.firstname,
                lastname: form.lastname,
                role: DEFAULT_ROLE.to_owned(),
                created_at: self.clock().now(),
            },
            password_hash,
            generation: 0,
            failures: LoginFailures::default(),
        };
        let session = session_of(&account);
        let mut attempts = Attempts::new(RACE_ATTEMPTS);
        let token = loop {
            attempts.next_attempt().await?;
            let first = self.tokens.fresh(&session, client_id);
            match self.store.create_account(&account, &first).await {
                Ok(AccountCreation::Created) => break self.tokens.hand_out(&first),
                Ok(AccountCreation::EmailTaken) => return Err(ApiError::EmailTaken),
                Err(StoreError::Conflict) => continue,
                Err(other) => return Err(other.into()),
            }
        };
        tracing::info!(user = %account.profile.id, "account created");
        Ok((account.profile, token))
    }

    /// The account these credentials prove, or [`ApiError::WrongCredentials`]: the same answer
    /// after the same argon2 work whether the email is unknown, the password wrong, or the
    /// account locked by throttling (then the real hash is not even tried).
    #[tracing::instrument(skip_all)]
    pub async fn authenticate(&self, credentials: &Credentials) -> Result<Account, ApiError> {
        let account = self.store.find_account(&credentials.email).await?;
        self.check_password(&credentials.email, account, &credentials.password)
            .await
    }

    /// Checks `password` against `email`'s `account`; an unknown or locked account costs the
    /// same argon2 run and store write as a wrong password, without touching the real hash.
    async fn check_password(
        &self,
        email: &Email,
        account: Option<Account>,
        password: &Password,
    ) -> Result<Account, ApiError> {
        let now = self.clock().now();
        let Some(account) =
            account.filter(|account| !self.throttle.is_locked(&account.failures, now))
        else {
            self.hasher.verify(None, password).await?;
            self.store.record_nothing(email).await?;
            tracing::info!("login refused: wrong credentials or locked account");
            return Err(ApiError::WrongCredentials);
        };
        if !self
            .hasher
            .verify(Some(&account.password_hash), password)
            .await?
        {
            self.count_failure(account, now).await?;
            tracing::info!("login refused: wrong credentials");
            return Err(ApiError::WrongCredentials);
        }
        if account.failures != LoginFailures::default() {
            let reset = self
                .store
                .record_failures(
                    &account.profile.email,
                    &account.failures,
                    &LoginFailures::default(),
                )
                .await;
            if let Err(error) = reset {
                tracing::warn!(%error, "could not reset the failure count");
            }
        }
        self.upgrade_hash(&account, password).await;
        Ok(account)
    }

    /// Counts one failure on `account`, re-reading it when a concurrent request counted first;
    /// gives up quietly once it is locked or after losing every race.
    async fn count_failure(&self, mut account: Account, now: u64) -> Result<(), ApiError> {
        let mut attempts = Attempts::new(RACE_ATTEMPTS);
        while attempts.next_attempt().await.is_ok() {
            let next = self.throttle.after_failure(&account.failures, now);
            let email = &account.profile.email;
            match self
                .store
                .record_failures(email, &account.failures, &next)
                .await?
            {
                FailuresUpdate::Recorded => {
                    if self.throttle.is_locked(&next, now) {
                        tracing::warn!(user = %account.profile.id, "account locked after repeated login failures");
                    }
                    return Ok(());
                }
                FailuresUpdate::Moved => match self.store.find_account(email).await? {
                    Some(fresh) if !self.throttle.is_locked(&fresh.failures, now) => {
                        account = fresh
                    }
                    _ => return Ok(()),
                },
            }
        }
        Ok(())
    }

    async fn upgrade_hash(&self, account: &Account, password: &Password) {
        if !self.hasher.needs_upgrade(&account.password_hash) {
            return;
        }
        let hash = match self.hasher.hash(password).await {
            Ok(hash) => hash,
            Err(error) => {
                tracing::warn!(%error, "password hash upgrade skipped");
                return;
            }
        };
        let email = &account.profile.email;
        match self
            .store
            .upgrade_hash(email, &account.password_hash, &hash)
            .await
        {
            Ok(HashUpgrade::Upgraded) => {
                tracing::info!(user = %account.profile.id, "password hash upgraded")
            }
            Ok(HashUpgrade::HashChanged) => {
                tracing::info!("password hash upgrade skipped: the hash changed meanwhile")
            }
            Err(error) => tracing::warn!(%error, "password hash upgrade skipped"),
        }
    }

    /// Hands out a token for `account`, only while its session generation is the one read;
    /// a logout-all or password change in between makes it re-read and try again.
    async fn grant(
        &self,
        mut account: Account,
        client_id: &str,
        grant: Grant,
    ) -> Result<IssuedToken, ApiError> {
        let mut attempts = Attempts::new(RACE_ATTEMPTS);
        loop {
            attempts.next_attempt().await?;
            let session = session_of(&account);
            let handout = match grant {
                Grant::Fresh => self.tokens.issue_fresh(&session, client_id).await?,
                Grant::CurrentOrNew => self.tokens.current_or_issue(&session, client_id).await?,
            };
            match handout {
                Handout::Token(token) => return Ok(token),
                Handout::GenerationMoved => {
                    account = self
                        .store
                        .find_account(&account.profile.email)
                        .await?
                        .ok_or(ApiError::WrongCredentials)?;
                }
            }
        }
    }

    /// Logs in: a fresh token for `client_id`, which becomes the one login-token hands out.
    pub async fn login(
        &self,
        credentials: &Credentials,
        client_id: &str,
    ) -> Result<(UserProfile, IssuedToken), ApiError> {
        let account = self.authenticate(credentials).await?;
        let profile = account.profile.clone();
        let token = self.grant(account, client_id, Grant::Fresh).await?;
        Ok((profile, token))
    }

    /// The caller's unexpired token for `client_id`, or a new one.
    pub async fn login_token(
        &self,
        credentials: &Credentials,
        client_id: &str,
    ) -> Result<IssuedToken, ApiError> {
        let account = self.authenticate(credentials).await?;
        self.grant(account, client_id, Grant::CurrentOrNew).await
    }

    /// The account behind a valid presented token, and the application it was issued for.
    async fn account_of(&self, presented: Option<String>) -> Result<(Account, String), ApiError> {
        let (claims, record) = self.tokens.require_valid(presented).await?;
        let profile = self
            .store
            .find_profile(&claims.user)
            .await?
            .ok_or(ApiError::InvalidToken)?;
        let account = self
            .store
            .find_account(&profile.email)
            .await?
            .ok_or(ApiError::InvalidToken)?;
        Ok((account, record.client_id))
    }

    /// Revokes every token of the caller, in every application. No token issued before this
    /// call can be issued or handed out after it: the session generation moves first.
    pub async fn logout_all(&self, presented: Option<String>) -> Result<usize, ApiError> {
        let (account, _) = self.account_of(presented).await?;
        self.store.bump_generation(&account.profile.email).await?;
        let revoked = self.tokens.revoke_all(&account.profile.id).await?;
        tracing::info!(user = %account.profile.id, revoked, "logged out everywhere");
        Ok(revoked)
    }

    /// Changes the caller's password after checking the current one (throttled like a login),
    /// revokes every other token, and returns a fresh one for the caller's application.
    pub async fn change_password(
        &self,
        presented: Option<String>,
        current: &Password,
        new: &Password,
    ) -> Result<(UserProfile, IssuedToken), ApiError> {
        let (account, client_id) = self.account_of(presented).await?;
        let email = account.profile.email.clone();
        let mut account = self.check_password(&email, Some(account), current).await?;
        let new_hash = self.hasher.hash(new).await?;
        account.generation = match self
            .store
            .replace_password(&email, account.generation, &new_hash)
            .await?
        {
            PasswordReplacement::Replaced { generation } => generation,
            PasswordReplacement::GenerationMoved => return Err(ApiError::ConcurrentChange),
        };
        self.tokens.revoke_all(&account.profile.id).await?;
        tracing::info!(user = %account.profile.id, "password changed; other sessions revoked");
        let profile = account.profile.clone();
        let token = self.grant(account, &client_id, Grant::Fresh).await?;
        Ok((profile, token))
    }
}

/// The session tokens of `account` are issued into.
fn session_of(account: &Account) -> Session<'_> {
    Session {
        user: account.profile.id,
        email: &account.profile.email,
        generation: account.generation,
    }
}

impl From<RaceLost> for ApiError {
    fn from(_: RaceLost) -> Self {
        Self::RaceLost
    }
}
