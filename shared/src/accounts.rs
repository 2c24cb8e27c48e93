//! Account use-cases: signup, login, login-token.

use aws_sdk_dynamodb::Client;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::credentials::{Credentials, SignupForm};
use crate::ids::UserId;
use crate::passwords::{HashError, PasswordHasher};
use crate::problem::ApiError;
use crate::store::{NewAccount, StoreError, UserProfile, UserStore};
use crate::tokens::{IssuedToken, Tokens};

/// How many times signup retries a transaction that conflicted with a concurrent one.
const SIGNUP_ATTEMPTS: u32 = 4;

/// Every account made by signup has this role.
pub const DEFAULT_ROLE: &str = "user";

/// Accounts and the tokens they log in to. One per cold start.
#[derive(Clone)]
pub struct Accounts {
    users: UserStore,
    hasher: PasswordHasher,
    tokens: Tokens,
}

impl Accounts {
    /// The account use-cases over `users`, hashing with `hasher`, issuing through `tokens`.
    pub fn new(users: UserStore, hasher: PasswordHasher, tokens: Tokens) -> Self {
        Self {
            users,
            hasher,
            tokens,
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
        };
        let mut attempt = 0;
        loop {
            let (token, items) = self
                .tokens
                .fresh_token_items(account.profile.id, client_id)?;
            match self.users.create(&account, items).await {
                Ok(()) => {
                    tracing::info!(user = %account.profile.id, "account created");
                    return Ok((account.profile, token));
                }
                Err(StoreError::ConditionFailed { index: 0 }) => return Err(ApiError::EmailTaken),
                Err(StoreError::Conflict) if attempt + 1 < SIGNUP_ATTEMPTS => attempt += 1,
                Err(other) => return Err(other.into()),
            }
        }
    }

    /// The account these credentials prove, or [`ApiError::WrongCredentials`] after the same
    /// argon2 work whether the email is unknown or the password wrong.
    #[tracing::instrument(skip_all)]
    pub async fn authenticate(&self, credentials: &Credentials) -> Result<UserProfile, ApiError> {
        let account = self.users.find_by_email(&credentials.email).await?;
        let stored = account
            .as_ref()
            .map(|account| account.password_hash.as_str());
        if self.hasher.verify(stored, &credentials.password).await? {
            // `verify` answers true only for a stored hash, so the account is there.
            if let Some(account) = account {
                return Ok(account.profile);
            }
        }
        tracing::info!("login refused: wrong credentials");
        Err(ApiError::WrongCredentials)
    }

    /// Logs in: a fresh token for `client_id`, which becomes the one login-token hands out.
    pub async fn login(
        &self,
        credentials: &Credentials,
        client_id: &str,
    ) -> Result<(UserProfile, IssuedToken), ApiError> {
        let profile = self.authenticate(credentials).await?;
        let token = self.tokens.issue_fresh(profile.id, client_id).await?;
        Ok((profile, token))
    }

    /// The caller's unexpired token for `client_id`, or a new one.
    pub async fn login_token(
        &self,
        credentials: &Credentials,
        client_id: &str,
    ) -> Result<IssuedToken, ApiError> {
        let profile = self.authenticate(credentials).await?;
        Ok(self.tokens.current_or_issue(profile.id, client_id).await?)
    }
}
