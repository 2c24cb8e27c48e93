//! Password hashing with argon2id, off the async threads, with equal work for unknown accounts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};

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
    memory: Arc<Mutex<Vec<Block>>>,
    evaluations: Arc<AtomicU64>,
    dummy_evaluations: Arc<AtomicU64>,
}

/// Length of the argon2 output in the PHC strings this crate writes.
const OUTPUT_LEN: usize = Params::DEFAULT_OUTPUT_LEN;

/// The raw argon2 output of `password` under `salt` with `argon2`, written into `out`.
///
/// The working memory (m KiB) is kept in `memory` between evaluations instead of allocated per
/// call: with glibc, a fresh 19 MiB allocation per evaluation left holes that grew the heap by
/// that much per login, to hundreds of MiB. A concurrent evaluation, which Lambda never runs
/// (one request at a time per instance), gets memory of its own.
fn evaluate(
    argon2: &Argon2<'_>,
    memory: &Mutex<Vec<Block>>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> argon2::Result<()> {
    let blocks = argon2.params().block_count();
    match memory.try_lock() {
        Ok(mut kept) => {
            if kept.len() < blocks {
                kept.resize(blocks, Block::new());
            }
            argon2.hash_password_into_with_memory(password, salt, out, &mut kept[..blocks])
        }
        Err(_) => argon2.hash_password_into(password, salt, out),
    }
}

/// The argon2id PHC string for `output` computed with `params` under `salt`.
fn phc_string(params: &Params, salt: &SaltString, output: &[u8]) -> Result<String, HashError> {
    let error = |error: argon2::password_hash::Error| HashError::Params(error.to_string());
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(error)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(output).map_err(error)?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `stored`, recomputed with the algorithm, version
/// and parameters `stored` names; the outputs are compared in constant time.
fn matches(memory: &Mutex<Vec<Block>>, stored: &str, password: &[u8]) -> bool {
    let Ok(hash) = PasswordHash::new(stored) else {
        tracing::error!("stored password hash is not a PHC string");
        return false;
    };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let algorithm = Algorithm::try_from(hash.algorithm);
    let version = hash.version.map(Version::try_from).transpose();
    let (Ok(algorithm), Ok(version), Ok(params)) = (algorithm, version, Params::try_from(&hash))
    else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version.unwrap_or_default(), params);
    let mut output = vec![0u8; expected.len()];
    evaluate(&argon2, memory, password, salt, &mut output).is_ok()
        && Output::new(&output).is_ok_and(|computed| computed == expected)
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
        // The dummy hash needs the configured cost, not a real password: a random output under
        // a random salt costs a full evaluation to check and matches nothing, without the
        // evaluation at every cold start that hashing a random password took.
        let dummy_hash = phc_string(
            &params,
            &SaltString::generate(&mut OsRng),
            &crate::ids::random_bytes::<OUTPUT_LEN>(),
        )?;
        Ok(Self {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            params: configured,
            dummy_hash: dummy_hash.into(),
            memory: Arc::default(),
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
        let (argon2, memory, password) =
            (self.argon2.clone(), self.memory.clone(), password.clone());
        self.evaluations.fetch_add(1, Ordering::SeqCst);
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            let mut salt_bytes = [0u8; 64];
            let salt_bytes = salt
                .decode_b64(&mut salt_bytes)
                .map_err(|error| HashError::Params(error.to_string()))?;
            let mut output = [0u8; OUTPUT_LEN];
            evaluate(&argon2, &memory, password.expose(), salt_bytes, &mut output)
                .map_err(|error| HashError::Params(error.to_string()))?;
            phc_string(argon2.params(), &salt, &output)
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
        let (memory, password) = (self.memory.clone(), password.clone());
        self.evaluations.fetch_add(1, Ordering::SeqCst);
        let matched =
            tokio::task::spawn_blocking(move || matches(&memory, &phc, password.expose()))
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
    async fn hashes_agree_with_the_argon2_crate_both_ways() {
        use argon2::{PasswordHasher as _, PasswordVerifier as _};
        let hasher = PasswordHasher::new(HashParams::OWASP_MINIMUM).unwrap();
        let reference = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(19_456, 2, 1, None).unwrap(),
        );
        let ours = hasher.hash(&password("same either way")).await.unwrap();
        assert!(
            reference
                .verify_password(b"same either way", &PasswordHash::new(&ours).unwrap())
                .is_ok()
        );
        let theirs = reference
            .hash_password(b"same either way", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        for (text, expected) in [("same either way", true), ("same either wax", false)] {
            let verified = hasher.verify(Some(&theirs), &password(text)).await;
            assert_eq!(verified.unwrap(), expected, "{text}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_evaluations_each_get_memory_and_the_right_answer() {
        let hasher = PasswordHasher::new(HashParams::OWASP_MINIMUM).unwrap();
        let hash = hasher.hash(&password("in parallel")).await.unwrap();
        let checks = ["in parallel", "in paralle1", "in parallel", "in paralle1"].map(|text| {
            let (hasher, hash) = (hasher.clone(), hash.clone());
            tokio::spawn(async move { hasher.verify(Some(&hash), &password(text)).await })
        });
        let mut answers = Vec::new();
        for check in checks {
            answers.push(check.await.unwrap().unwrap());
        }
        assert_eq!(answers, [true, false, true, false]);
    }

    #[test]
    fn the_dummy_hash_has_the_configured_cost() {
        let hasher = PasswordHasher::new(HashParams::OWASP_MINIMUM).unwrap();
        assert!(
            hasher
                .dummy_hash
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            hasher.dummy_hash
        );
        assert!(!hasher.needs_upgrade(&hasher.dummy_hash));
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
