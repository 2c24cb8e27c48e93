//! Account use-cases: signup, login, login-token and password change, with login throttling
//! and password-hash upgrades; password reset and email verification in [`recovery`].

pub mod recovery;

use crate::clock::SharedClock;
use crate::codes::CodePurpose;
use crate::credentials::{Credentials, Email, NewPassword, Password, SignupForm};
use crate::ids::UserId;
use crate::passwords::PasswordHasher;
use crate::problem::ApiError;
use crate::records::MailRequest;
use crate::records::Origin;
use crate::records::{Account, UserProfile};
use crate::retry::{Attempts, RaceLost};
use crate::store::{
    AccountCreation, GuessReservation, HashUpgrade, PasswordReplacement, Store, StoreError,
};
use crate::throttle::{LoginFailures, Reservation, ThrottlePolicy};
use crate::tokens::{Grantee, Handout, IssuedToken, Tokens};

/// How many times a use-case retries a write that lost a race with a concurrent one.
const RACE_ATTEMPTS: u32 = 4;

/// How many times a guess waits for a reservation that requests in flight hold (about 3.5 s in
/// all, within the functions' 10 s timeout): at most `LoginMaxFailures` passwords of one account
/// are checked at once, so a burst of correct logins waits its turn, each giving its reservation
/// back when done.
const GUESS_ATTEMPTS: u32 = 16;

/// Every account made by signup has this role.
pub const DEFAULT_ROLE: &str = "user";

/// Which token a successful login hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    /// A new one (login, password change).
    New,
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
    require_verified_email: bool,
}

impl Accounts {
    /// The account use-cases over `store`, hashing with `hasher`, issuing through `tokens`;
    /// when `require_verified_email`, an unverified account gets no token.
    pub fn new(
        store: Store,
        hasher: PasswordHasher,
        tokens: Tokens,
        throttle: ThrottlePolicy,
        require_verified_email: bool,
    ) -> Self {
        Self {
            store,
            hasher,
            tokens,
            throttle,
            require_verified_email,
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

    /// Creates an account, asks for its verification message and, unless a verified email is
    /// required first, issues its first token for `origin`: all in one transaction.
    #[tracing::instrument(skip_all)]
    pub async fn signup(
        &self,
        form: SignupForm,
        origin: &Origin,
    ) -> Result<(UserProfile, Option<IssuedToken>), ApiError> {
        let password_hash = self.hasher.hash(&form.credentials.password).await?;
        let account = Account {
            profile: UserProfile {
                id: UserId::generate(),
                email: form.credentials.email,
                firstname: form.firstname,
                lastname: form.lastname,
                role: DEFAULT_ROLE.to_owned(),
                created_at: self.clock().now(),
                email_verified: false,
            },
            password_hash,
            password_version: 0,
            failures: LoginFailures::default(),
        };
        let mut attempts = Attempts::new(RACE_ATTEMPTS);
        let token = loop {
            attempts.next_attempt().await?;
            let first = (!self.require_verified_email)
                .then(|| self.tokens.new_token(account.profile.id, 0, origin));
            let verification = MailRequest::new(
                CodePurpose::EmailVerification,
                account.profile.email.clone(),
                Some(account.profile.id),
                self.clock().now(),
            );
            match self
                .store
                .create_account(&account, first.as_ref(), &verification)
                .await
            {
                Ok(AccountCreation::Created) => match &first {
                    Some(first) => {
                        break Some(self.tokens.issued_token(first.user, first.current).await);
                    }
                    None => break None,
                },
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

    /// Checks `password` against `email`'s `account`. A guess is reserved in the store before
    /// the real hash is tried, so however many arrive at once at most the policy's number per
    /// window reach it; an unknown, locked or exhausted account costs the same argon2 run and
    /// store write as a wrong password, without touching the real hash.
    async fn check_password(
        &self,
        email: &Email,
        account: Option<Account>,
        password: &Password,
    ) -> Result<Account, ApiError> {
        let now = self.clock().now();
        let reserved = match &account {
            Some(account) => self.reserve_guess(account, now).await?,
            None => {
                self.store.record_nothing(email).await?;
                None
            }
        };
        let (Some(account), Some((count, window_start))) = (account, reserved) else {
            self.hasher.verify(None, password).await?;
            tracing::info!("login refused: wrong credentials or locked account");
            return Err(ApiError::WrongCredentials);
        };
        if !self
            .hasher
            .verify(Some(&account.password_hash), password)
            .await?
        {
            if self.throttle.locks_after(count) {
                let until = now.saturating_add(self.throttle.lock);
                self.store
                    .lock_account(&account.profile.email, window_start, now, until)
                    .await?;
                tracing::warn!(user = %account.profile.id, "account locked after repeated login failures");
            }
            tracing::info!("login refused: wrong credentials");
            return Err(ApiError::WrongCredentials);
        }
        if let Err(error) = self.store.clear_guesses(&account.profile.email).await {
            tracing::warn!(%error, "could not give back the reserved guesses");
        }
        self.upgrade_hash(&account, password).await;
        Ok(account)
    }

    /// Reserves one guess at `account`'s password: `Some((count, window start))` when it may be
    /// checked against the real hash, `None` when locked or the window's guesses are taken.
    async fn reserve_guess(
        &self,
        account: &Account,
        now: u64,
    ) -> Result<Option<(u64, u64)>, ApiError> {
        let email = &account.profile.email;
        let mut failures = account.failures;
        let mut attempts = Attempts::new(GUESS_ATTEMPTS);
        while attempts.next_attempt().await.is_ok() {
            let reservation = self.throttle.reservation(&failures, now);
            if reservation == Reservation::Locked {
                self.store.record_nothing(email).await?;
                return Ok(None);
            }
            let taken = matches!(reservation, Reservation::InWindow { .. })
                && failures.count >= self.throttle.max_failures;
            if !taken
                && let GuessReservation::Reserved {
                    count,
                    window_start,
                } = self
                    .store
                    .reserve_guess(email, reservation, now, self.throttle.max_failures)
                    .await?
            {
                return Ok(Some((count, window_start)));
            }
            // Every guess of the window is reserved by requests in flight (a correct password
            // gives its reservation back), or the bookkeeping moved: read again after a pause.
            match self.store.find_account(email).await? {
                Some(fresh) => failures = fresh.failures,
                None => return Ok(None),
            }
        }
        Ok(None)
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

    /// Refuses an account whose email is unverified when verification is required; asked only
    /// after its password was found right, so it tells nothing to whoever does not know it.
    fn require_verified(&self, account: &Account) -> Result<(), ApiError> {
        if self.require_verified_email && !account.profile.email_verified {
            tracing::info!(user = %account.profile.id, "login refused: email not verified");
            return Err(ApiError::EmailNotVerified);
        }
        Ok(())
    }

    /// Hands out a token for `account`, only while its password is still the one checked: a
    /// password changed in between answers [`ApiError::WrongCredentials`].
    async fn grant(
        &self,
        account: &Account,
        origin: &Origin,
        grant: Grant,
    ) -> Result<IssuedToken, ApiError> {
        let grantee = Grantee {
            user: account.profile.id,
            email: &account.profile.email,
            password_version: account.password_version,
        };
        let handout = match grant {
            Grant::New => self.tokens.issue(&grantee, origin).await?,
            Grant::CurrentOrNew => self.tokens.current_or_issue(&grantee, origin).await?,
        };
        match handout {
            Handout::Token(token) => Ok(token),
            Handout::PasswordChanged => {
                tracing::info!("login refused: the password changed while it was checked");
                Err(ApiError::WrongCredentials)
            }
        }
    }

    /// Logs in: a new token for `origin`'s application, which becomes the one login-token
    /// hands out.
    pub async fn login(
        &self,
        credentials: &Credentials,
        origin: &Origin,
    ) -> Result<(UserProfile, IssuedToken), ApiError> {
        let account = self.authenticate(credentials).await?;
        self.require_verified(&account)?;
        let token = self.grant(&account, origin, Grant::New).await?;
        Ok((account.profile, token))
    }

    /// The caller's live token for `origin`'s application, or a new one.
    pub async fn login_token(
        &self,
        credentials: &Credentials,
        origin: &Origin,
    ) -> Result<IssuedToken, ApiError> {
        let account = self.authenticate(credentials).await?;
        self.require_verified(&account)?;
        self.grant(&account, origin, Grant::CurrentOrNew).await
    }

    /// The account behind a valid presented token, and the application it was issued for.
    async fn account_of(&self, presented: Option<String>) -> Result<(Account, String), ApiError> {
        let (claims, session) = self.tokens.require_valid(presented).await?;
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
        Ok((account, session.client_id))
    }

    /// Changes the caller's password after checking the current one (throttled like a login),
    /// revokes every session in the same write, and returns a new token for the caller's
    /// application, asked for from `origin`.
    pub async fn change_password(
        &self,
        presented: Option<String>,
        current: &Password,
        new: &NewPassword,
        origin: &Origin,
    ) -> Result<(UserProfile, IssuedToken), ApiError> {
        let (account, client_id) = self.account_of(presented).await?;
        new.check_against(&account.profile.email)?;
        let email = account.profile.email.clone();
        let mut account = self.check_password(&email, Some(account), current).await?;
        let new_hash = self.hasher.hash(new.password()).await?;
        account.password_version = match self
            .store
            .replace_password(
                &email,
                &account.profile.id,
                account.password_version,
                &new_hash,
            )
            .await?
        {
            PasswordReplacement::Replaced { password_version } => password_version,
            PasswordReplacement::PasswordChanged => return Err(ApiError::ConcurrentChange),
        };
        tracing::info!(user = %account.profile.id, "password changed; every session revoked");
        let origin = Origin {
            client_id,
            ..origin.clone()
        };
        let token = self.grant(&account, &origin, Grant::New).await?;
        Ok((account.profile, token))
    }
}

impl From<RaceLost> for ApiError {
    fn from(_: RaceLost) -> Self {
        Self::RaceLost
    }
}
