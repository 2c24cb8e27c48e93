//! Account use-cases: signup, login, login-token, logout-all and password change, with login
//! throttling and password-hash upgrades.

use aws_sdk_dynamodb::Client;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::credentials::{Credentials, Email, Password, SignupForm};
use crate::ids::UserId;
use crate::passwords::{HashError, PasswordHasher};
use crate::problem::ApiError;
use crate::store::{LoginFailures, NewAccount, StoreError, StoredAccount, UserProfile, UserStore};
use crate::throttle::ThrottlePolicy;
use crate::tokens::{IssuedToken, Tokens};

/// How many times a use-case retries a write that lost a race with a concurrent one.
const RACE_ATTEMPTS: u32 = 4;

/// Every account made by signup has this role.
pub const DEFAULT_ROLE: &str = "user";

/// Which token a successful login hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handout {
    /// A fresh one (login, password change).
    Fresh,
    /// The pair's unexpired current one, else a new one (login-token).
    CurrentOrNew,
}

/// Accounts and the tokens they log in to. One per cold start.
#[derive(Clone)]
pub struct Accounts {
    users: UserStore,
    hasher: PasswordHasher,
    tokens: Tokens,
    throttle: ThrottlePolicy,
}

impl Accounts {
    /// The account use-cases over `users`, hashing with `hasher`, issuing through `tokens`.
    pub fn new(
        users: UserStore,
        hasher: PasswordHasher,
        tokens: Tokens,
        throttle: ThrottlePolicy,
    ) -> Self {
        Self {
            users,
            hasher,
            tokens,
            throttle,
        }
    }

    /// Builds everything from `config` over one DynamoDB `client`.
    pub fn from_config(
        config: &Config,
        client: Client,
        clock: SharedClock,
    ) -> Result<Self, HashError> {
        Ok(Self::new(
            UserStore::new(client.clone(), &config.users_table),
            PasswordHasher::new(config.hash_params)?,
            Tokens::from_config(config, client, clock),
            config.throttle,
        ))
    }

    /// The password hasher (its evaluation count shows the work done per request).
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// The token use-cases.
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// Creates an account and its first token for `client_id`, all in one transaction.
    #[tracing::instrument(skip_all)]
    pub async fn signup(
        &self,
        form: SignupForm,
        client_id: &str,
    ) -> Result<(UserProfile, IssuedToken), ApiError> {
        let password_hash = self.hasher.hash(&form.credentials.password).await?;
        let account = NewAccount {
            profile: UserProfile {
                id: UserId::generate(),
                email: form.credentials.email.as_str().to_owned(),
                firstname: form.firstname,
                lastname: form.lastname,
                role: DEFAULT_ROLE.to_owned(),
                created_at: self.tokens.clock().now(),
            },
            password_hash,
            generation: 0,
            failures: LoginFailures::default(),
        };
        let mut attempt = 0;
        loop {
            let (token, items) =
                self.tokens
                    .fresh_token_items(account.profile.id, account.generation, client_id)?;
            match self.users.create(&account, items).await {
                Ok(()) => {
                    tracing::info!(user = %account.profile.id, "account created");
                    return Ok((account.profile, token));
                }
                Err(StoreError::ConditionFailed { index: 0 }) => return Err(ApiError::EmailTaken),
                Err(StoreError::Conflict) if attempt + 1 < RACE_ATTEMPTS => attempt += 1,
                Err(other) => return Err(other.into()),
            }
        }
    }

    /// The account these credentials prove, or [`ApiError::WrongCredentials`]: the same answer
    /// after the same argon2 work whether the email is unknown, the password wrong, or the
    /// account locked by throttling (then the real hash is not even tried).
    #[tracing::instrument(skip_all)]
    pub async fn authenticate(&self, credentials: &Credentials) -> Result<StoredAccount, ApiError> {
        let account = self.users.find_by_email(&credentials.email).await?;
        self.check_password(credentials.email.as_str(), account, &credentials.password)
            .await
    }

    /// Checks `password` against `email`'s `account`; an unknown or locked account costs the
    /// same argon2 run and store write as a wrong password, without touching the real hash.
    async fn check_password(
        &self,
        email: &str,
        account: Option<StoredAccount>,
        password: &Password,
    ) -> Result<StoredAccount, ApiError> {
        let now = self.tokens.clock().now();
        let Some(account) =
            account.filter(|account| !self.throttle.is_locked(&account.failures, now))
        else {
            self.hasher.verify(None, password).await?;
            self.users.record_nothing(email).await?;
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
                .users
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

    async fn count_failure(&self, mut account: StoredAccount, now: u64) -> Result<(), ApiError> {
        for _ in 0..RACE_ATTEMPTS {
            let next = self.throttle.after_failure(&account.failures, now);
            match self
                .users
                .record_failures(&account.profile.email, &account.failures, &next)
                .await
            {
                Ok(()) => {
                    if self.throttle.is_locked(&next, now) {
                        tracing::warn!(user = %account.profile.id, "account locked after repeated login failures");
                    }
                    return Ok(());
                }
                Err(StoreError::ConditionFailed { .. }) => {
                    let email = Email::parse(&account.profile.email)?;
                    match self.users.find_by_email(&email).await? {
                        Some(fresh) if !self.throttle.is_locked(&fresh.failures, now) => {
                            account = fresh
                        }
                        _ => return Ok(()),
                    }
                }
                Err(other) => return Err(other.into()),
            }
        }
        Ok(())
    }

    async fn upgrade_hash(&self, account: &StoredAccount, password: &Password) {
        if !self.hasher.needs_upgrade(&account.password_hash) {
            return;
        }
        let upgraded = match self.hasher.hash(password).await {
            Ok(hash) => {
                self.users
                    .upgrade_hash(&account.profile.email, &account.password_hash, &hash)
                    .await
            }
            Err(error) => Err(StoreError::Unavailable(error.to_string())),
        };
        match upgraded {
            Ok(()) => tracing::info!(user = %account.profile.id, "password hash upgraded"),
            Err(error) => tracing::warn!(%error, "password hash upgrade skipped"),
        }
    }

    /// Hands out a token for `account`, only while its session generation is the one read;
    /// a logout-all or password change in between makes it re-read and try again.
    async fn hand_out(
        &self,
        mut account: StoredAccount,
        client_id: &str,
        handout: Handout,
    ) -> Result<IssuedToken, ApiError> {
        for _ in 0..RACE_ATTEMPTS {
            let guard = [self
                .users
                .generation_check(&account.profile.email, account.generation)?];
            let (user, generation) = (account.profile.id, account.generation);
            let issued = match handout {
                Handout::Fresh => {
                    self.tokens
                        .issue_fresh(user, generation, client_id, &guard)
                        .await
                }
                Handout::CurrentOrNew => {
                    self.tokens
                        .current_or_issue(user, generation, client_id, &guard)
                        .await
                }
            };
            match issued {
                Err(StoreError::ConditionFailed { index }) if index >= 2 => {
                    let email = Email::parse(&account.profile.email)?;
                    account = self
                        .users
                        .find_by_email(&email)
                        .await?
                        .ok_or(ApiError::WrongCredentials)?;
                }
                other => return Ok(other?),
            }
        }
        Err(StoreError::Conflict.into())
    }

    /// Logs in: a fresh token for `client_id`, which becomes the one login-token hands out.
    pub async fn login(
        &self,
        credentials: &Credentials,
        client_id: &str,
    ) -> Result<(UserProfile, IssuedToken), ApiError> {
        let account = self.authenticate(credentials).await?;
        let profile = account.profile.clone();
        let token = self.hand_out(account, client_id, Handout::Fresh).await?;
        Ok((profile, token))
    }

    /// The caller's unexpired token for `client_id`, or a new one.
    pub async fn login_token(
        &self,
        credentials: &Credentials,
        client_id: &str,
    ) -> Result<IssuedToken, ApiError> {
        let account = self.authenticate(credentials).await?;
        self.hand_out(account, client_id, Handout::CurrentOrNew)
            .await
    }

    /// The account behind a valid presented token.
    async fn account_of(
        &self,
        presented: Option<String>,
    ) -> Result<(StoredAccount, String), ApiError> {
        let (claims, record) = self.tokens.require_valid(presented).await?;
        let profile = self
            .users
            .find_by_id(&claims.user)
            .await?
            .ok_or(ApiError::InvalidToken)?;
        let email = Email::parse(&profile.email)?;
        let account = self
            .users
            .find_by_email(&email)
            .await?
            .ok_or(ApiError::InvalidToken)?;
        Ok((account, record.client_id))
    }

    /// Revokes every token of the caller, in every application. No token issued before this
    /// call can be issued or handed out after it: the session generation moves first.
    pub async fn logout_all(&self, presented: Option<String>) -> Result<usize, ApiError> {
        let (account, _) = self.account_of(presented).await?;
        self.users.bump_generation(&account.profile.email).await?;
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
            .users
            .change_password(&account.profile.email, account.generation, &new_hash)
            .await
        {
            Err(StoreError::ConditionFailed { .. }) => return Err(ApiError::ConcurrentChange),
            other => other?,
        };
        self.tokens.revoke_all(&account.profile.id).await?;
        tracing::info!(user = %account.profile.id, "password changed; other sessions revoked");
        let profile = account.profile.clone();
        let token = self.hand_out(account, &client_id, Handout::Fresh).await?;
        Ok((profile, token))
    }
}
