//! Password hashing with argon2id, off the async threads, with equal work for unknown accounts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use argon2::password_hash::SaltString;
use argon2::password_hash::rand_core::OsRng;
use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier, Version,
};

use crate::credentials::Password;

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB (`m`).
    pub memory_kib: u32,
    /// Passes over memory (`t`).
    pub iterations: u32,
    /// Lanes (`p`).
    pub parallelism: u32,
}

impl HashParams {
    /// OWASP's recommended floor for argon2id: m=19456 KiB, t=2, p=1.
    pub const OWASP_MINIMUM: Self = Self {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };
}

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The parameters are outside what argon2 accepts.
    #[error("invalid argon2 parameters: {0}")]
    Params(String),
    /// The hashing task did not finish (the runtime is shutting down).
    #[error("password hashing task failed")]
    Task,
}

/// Hashes and verifies passwords. Cheap to clone; one per cold start.
#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    params: HashParams,
    dummy_hash: Arc<str>,
    evaluations: Arc<AtomicU64>,
    dummy_evaluations: Arc<AtomicU64>,
}

impl PasswordHasher {
    /// A hasher with `params`; computes, once, the dummy hash that unknown accounts are
    /// checked against so that they cost the same work as a wrong password.
    pub fn new(params: HashParams) -> Result<Self, HashError> {
        let configured = params;
        let params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|error| HashError::Params(error.to_string()))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let dummy_password = crate::ids::random_bytes::<32>();
        let dummy_hash = argon2
            .hash_password(&dummy_password, &SaltString::generate(&mut OsRng))
            .map_err(|error| HashError::Params(error.to_string()))?
            .to_string();
        Ok(Self {
            argon2,
            params: configured,
            dummy_hash: dummy_hash.into(),
            evaluations: Arc::default(),
            dummy_evaluations: Arc::default(),
        })
    }

    /// How many argon2 evaluations this hasher has run for requests (the dummy hash excluded).
    pub fn evaluations(&self) -> u64 {
        self.evaluations.load(Ordering::SeqCst)
    }

    /// Whether `stored` was made with another algorithm or with any parameter weaker than the
    /// configured ones, so it should be re-hashed at the next successful login.
    pub fn needs_upgrade(&self, stored: &str) -> bool {
        let Ok(hash) = PasswordHash::new(stored) else {
            return false;
        };
        let Ok(params) = Params::try_from(&hash) else {
            return false;
        };
        hash.algorithm != Algorithm::Argon2id.ident()
            || params.m_cost() < self.params.memory_kib
            || params.t_cost() < self.params.iterations
            || params.p_cost() < self.params.parallelism
    }

    /// How many of [`Self::evaluations`] were against the dummy hash (unknown or locked account).
    pub fn dummy_evaluations(&self) -> u64 {
        self.dummy_evaluations.load(Ordering::SeqCst)
    }

    /// The PHC string of `password` under a fresh random salt.
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let (argon2, password) = (self.argon2.clone(), password.clone());
        self.evaluations.fetch_add(1, Ordering::SeqCst);
        tokio::task::spawn_blocking(move || {
            argon2
                .hash_password(password.expose(), &SaltString::generate(&mut OsRng))
                .map(|hash| hash.to_string())
                .map_err(|error| HashError::Params(error.to_string()))
        })
        .await
        .map_err(|_| HashError::Task)?
    }

    /// Whether `password` matches `stored`; with no stored hash (unknown account) it checks
    /// against the dummy hash and answers false, after the same work.
    pub async fn verify(
        &self,
        stored: Option<&str>,
        password: &Password,
    ) -> Result<bool, HashError> {
        let known = stored.is_some();
        if !known {
            self.dummy_evaluations.fetch_add(1, Ordering::SeqCst);
        }
        let phc: Arc<str> = stored.map_or_else(|| self.dummy_hash.clone(), Arc::from);
        let (argon2, password) = (self.argon2.clone(), password.clone());
        self.evaluations.fetch_add(1, Ordering::SeqCst);
        let matched = tokio::task::spawn_blocking(move || match PasswordHash::new(&phc) {
            Ok(hash) => argon2.verify_password(password.expose(), &hash).is_ok(),
            Err(_) => {
                tracing::error!("stored password hash is not a PHC string");
                false
            }
        })
        .await
        .map_err(|_| HashError::Task)?;
        Ok(known && matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(text: &str) -> Password {
        Password::parse(text.into()).unwrap()
    }

    #[tokio::test]
    async fn a_hash_is_an_argon2id_phc_string_with_the_configured_cost() {
        let hasher = PasswordHasher::new(HashParams::OWASP_MINIMUM).unwrap();
        let hash = hasher.hash(&password("correct horse")).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(!hash.contains("correct horse"));
    }

    #[tokio::test]
    async fn the_right_password_verifies_and_a_wrong_one_does_not() {
        let hasher = PasswordHasher::new(HashParams::OWASP_MINIMUM).unwrap();
        let hash = hasher.hash(&password("correct horse")).await.unwrap();
        assert!(
            hasher
                .verify(Some(&hash), &password("correct horse"))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(Some(&hash), &password("correct hors3"))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn salts_differ_between_hashes_of_one_password() {
        let hasher = PasswordHasher::new(HashParams::OWASP_MINIMUM).unwrap();
        let first = hasher.hash(&password("same password")).await.unwrap();
        let second = hasher.hash(&password("same password")).await.unwrap();
        assert_ne!(first, second);
    }

    #[tokio::test]
    async fn an_unknown_account_costs_one_evaluation_and_never_verifies() {
        let hasher = PasswordHasher::new(HashParams::OWASP_MINIMUM).unwrap();
        let before = hasher.evaluations();
        assert!(
            !hasher
                .verify(None, &password("anything at all"))
                .await
                .unwrap()
        );
        assert_eq!(hasher.evaluations(), before + 1);
    }

    #[tokio::test]
    async fn only_weaker_hashes_need_an_upgrade() {
        let stronger = HashParams {
            memory_kib: 32_768,
            ..HashParams::OWASP_MINIMUM
        };
        let weak = PasswordHasher::new(HashParams::OWASP_MINIMUM).unwrap();
        let strong = PasswordHasher::new(stronger).unwrap();
        let weak_hash = weak.hash(&password("upgrade me")).await.unwrap();
        let strong_hash = strong.hash(&password("upgrade me")).await.unwrap();
        assert!(strong.needs_upgrade(&weak_hash));
        assert!(!strong.needs_upgrade(&strong_hash));
        assert!(!weak.needs_upgrade(&strong_hash), "never downgrade");
        assert!(!weak.needs_upgrade("not a phc string"));
    }

    #[tokio::test]
    async fn a_hash_made_with_other_parameters_still_verifies() {
        let stronger = HashParams {
            iterations: 3,
            ..HashParams::OWASP_MINIMUM
        };
        let hash = PasswordHasher::new(stronger)
            .unwrap()
            .hash(&password("long enough"))
            .await
            .unwrap();
        let hasher = PasswordHasher::new(HashParams::OWASP_MINIMUM).unwrap();
        assert!(
            hasher
                .verify(Some(&hash), &password("long enough"))
                .await
                .unwrap()
        );
    }
}
