//! Configuration read once per cold start from the environment; it fails fast on bad values.

use std::time::Duration;

use crate::codes::CodePurpose;
use crate::cors::AllowedOrigins;
use crate::keys::KeyRingLocation;
use crate::passwords::HashParams;
use crate::records::CodePolicy;
use crate::records::{DEFAULT_MAX_SESSIONS, MAX_SESSIONS_LIMIT};
use crate::store::TableNames;
use crate::store::https::CA_BUNDLE_VARIABLE;
use crate::throttle::ThrottlePolicy;

/// Why the environment could not be turned into a [`Config`].
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    /// A variable is set to something unusable.
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid {
        /// The variable's name.
        name: &'static str,
        /// What is wrong with it (never its value: some hold secrets).
        reason: String,
    },
}

/// Everything a function needs to know about its deployment.
#[derive(Clone)]
pub struct Config {
    /// DynamoDB table of accounts (`USERS_TABLE`).
    pub users_table: String,
    /// DynamoDB table of issued tokens (`TOKENS_TABLE`).
    pub tokens_table: String,
    /// DynamoDB table of messages to send (`OUTBOX_TABLE`).
    pub outbox_table: String,
    /// Mail: sender, links, code lifetimes and limits.
    pub mail: MailSettings,
    /// Whether login and login-token refuse an account whose email is not verified
    /// (`REQUIRE_VERIFIED_EMAIL`, default `false`).
    pub require_verified_email: bool,
    /// How long an issued token lives (`TOKEN_TTL_SECONDS`, default 86400).
    pub token_ttl: Duration,
    /// Where the signing keys are: the Secrets Manager secret `KEY_RING_SECRET_ID` (deployed),
    /// or the file `KEY_RING_FILE` (`make run`, tests); exactly one of the two. Never the keys.
    pub key_ring: KeyRingLocation,
    /// How often a function reads its key ring again (`KEY_RING_REFRESH_SECONDS`, default 300).
    pub key_refresh: Duration,
    /// argon2id cost (`ARGON2_MEMORY_KIB`, `ARGON2_ITERATIONS`, `ARGON2_PARALLELISM`).
    pub hash_params: HashParams,
    /// How long the authorizer may trust a verified token without asking the store again
    /// (`AUTHORIZER_CACHE_SECONDS`, default 10; 0 disables the cache).
    pub authorizer_cache: Duration,
    /// Login throttling (`LOGIN_MAX_FAILURES`, `LOGIN_FAILURE_WINDOW_SECONDS`, `LOGIN_LOCK_SECONDS`).
    pub throttle: ThrottlePolicy,
    /// Upper bound on one DynamoDB call, retries included (`DYNAMODB_TIMEOUT_MS`, default 3000).
    pub store_timeout: Duration,
    /// Most live sessions per account; one more revokes the soonest-expiring
    /// (`MAX_SESSIONS_PER_ACCOUNT`, default 100, 1..=3000).
    pub max_sessions: usize,
    /// A PEM file of roots to trust instead of Amazon Trust Services' (`AWS_CA_BUNDLE`).
    pub ca_bundle: Option<String>,
    /// Origins browsers may call from (`CORS_ALLOWED_ORIGINS`, default `*`).
    pub cors: AllowedOrigins,
}

/// What the mailer needs, and how long codes live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// The sender address (`MAIL_FROM`; the stack's `SenderEmail`). The mailer refuses to start
    /// without one.
    pub from: String,
    /// Link template of reset messages, `{code}` replaced (`PASSWORD_RESET_URL`, default none).
    pub reset_url: String,
    /// Link template of verification messages (`EMAIL_VERIFY_URL`, default none).
    pub verify_url: String,
    /// Reset codes: `RESET_CODE_TTL_SECONDS` (900) and `RESET_MAX_PER_HOUR` (3 messages per
    /// account per hour).
    pub reset: CodePolicy,
    /// Verification codes: `VERIFY_CODE_TTL_SECONDS` (86400), and the same hourly limit.
    pub verification: CodePolicy,
    /// Tries of one message against the mail service before it is left to the next delivery
    /// (`MAIL_SEND_ATTEMPTS`, default 3).
    pub send_attempts: u32,
}

impl MailSettings {
    /// The limits of `purpose`'s codes.
    pub fn policy(&self, purpose: CodePurpose) -> CodePolicy {
        match purpose {
            CodePurpose::PasswordReset => self.reset,
            CodePurpose::EmailVerification => self.verification,
        }
    }

    /// The link template of `purpose`'s messages (empty: none).
    pub fn link_template(&self, purpose: CodePurpose) -> &str {
        match purpose {
            CodePurpose::PasswordReset => &self.reset_url,
            CodePurpose::EmailVerification => &self.verify_url,
        }
    }
}

/// Margin added to a retired key's overlap, for clocks and a rotation's own duration.
const KEY_OVERLAP_MARGIN: Duration = Duration::from_secs(3_600);

impl Config {
    /// How long a key that stopped signing must still verify before a rotation drops it: the
    /// longest life of a token or a one-time code made with it, plus the longest a function keeps a ring before reading it
    /// again, plus an hour's margin. No token loses its key before it expires.
    pub fn key_overlap(&self) -> Duration {
        let longest = self
            .token_ttl
            .max(Duration::from_secs(self.mail.verification.ttl))
            .max(Duration::from_secs(self.mail.reset.ttl));
        longest + self.key_refresh + KEY_OVERLAP_MARGIN
    }

    /// The three tables' names.
    pub fn tables(&self) -> TableNames {
        TableNames {
            users: self.users_table.clone(),
            tokens: self.tokens_table.clone(),
            outbox: self.outbox_table.clone(),
        }
    }

    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, which maps a variable name to its value.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            lookup(name)
                .filter(|value| !value.trim().is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        let number = |name: &'static str, default: u64, range: std::ops::RangeInclusive<u64>| {
            let Some(text) = lookup(name) else {
                return Ok(default);
            };
            let value: u64 = text.trim().parse().map_err(|_| ConfigError::Invalid {
                name,
                reason: "not a whole number".into(),
            })?;
            if range.contains(&value) {
                Ok(value)
            } else {
                Err(ConfigError::Invalid {
                    name,
                    reason: format!("must be within {}..={}", range.start(), range.end()),
                })
            }
        };

        let optional = |name: &'static str| lookup(name).filter(|value| !value.trim().is_empty());
        let key_ring = match (optional("KEY_RING_SECRET_ID"), optional("KEY_RING_FILE")) {
            (Some(secret), None) => KeyRingLocation::Secret(secret.trim().to_owned()),
            (None, Some(file)) => KeyRingLocation::File(file.trim().into()),
            (None, None) => return Err(ConfigError::Missing("KEY_RING_SECRET_ID")),
            (Some(_), Some(_)) => {
                return Err(ConfigError::Invalid {
                    name: "KEY_RING_FILE",
                    reason: "set only one of KEY_RING_SECRET_ID and KEY_RING_FILE".into(),
                });
            }
        };

        let minimum = HashParams::OWASP_MINIMUM;
        Ok(Self {
            users_table: required("USERS_TABLE")?,
            tokens_table: required("TOKENS_TABLE")?,
            outbox_table: required("OUTBOX_TABLE")?,
            mail: MailSettings {
                from: lookup("MAIL_FROM").unwrap_or_default().trim().to_owned(),
                reset_url: lookup("PASSWORD_RESET_URL").unwrap_or_default(),
                verify_url: lookup("EMAIL_VERIFY_URL").unwrap_or_default(),
                reset: CodePolicy {
                    ttl: number("RESET_CODE_TTL_SECONDS", 900, 60..=86_400)?,
                    max_per_hour: number("RESET_MAX_PER_HOUR", 3, 1..=100)?,
                    max_per_day: number("MAIL_MAX_PER_DAY", 10, 1..=1_000)?,
                },
                verification: CodePolicy {
                    ttl: number("VERIFY_CODE_TTL_SECONDS", 86_400, 60..=604_800)?,
                    max_per_hour: number("RESET_MAX_PER_HOUR", 3, 1..=100)?,
                    max_per_day: number("MAIL_MAX_PER_DAY", 10, 1..=1_000)?,
                },
                send_attempts: number("MAIL_SEND_ATTEMPTS", 3, 1..=10)? as u32,
            },
            require_verified_email: match lookup("REQUIRE_VERIFIED_EMAIL")
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
                .as_str()
            {
                "" | "false" => false,
                "true" => true,
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "REQUIRE_VERIFIED_EMAIL",
                        reason: "must be true or false".into(),
                    });
                }
            },
            token_ttl: Duration::from_secs(number("TOKEN_TTL_SECONDS", 86_400, 60..=31_536_000)?),
            key_ring,
            key_refresh: Duration::from_secs(number("KEY_RING_REFRESH_SECONDS", 300, 1..=3_600)?),
            hash_params: HashParams {
                memory_kib: number(
                    "ARGON2_MEMORY_KIB",
                    minimum.memory_kib.into(),
                    u64::from(minimum.memory_kib)..=1_048_576,
                )? as u32,
                iterations: number(
                    "ARGON2_ITERATIONS",
                    minimum.iterations.into(),
                    u64::from(minimum.iterations)..=64,
                )? as u32,
                parallelism: number(
                    "ARGON2_PARALLELISM",
                    minimum.parallelism.into(),
                    u64::from(minimum.parallelism)..=16,
                )? as u32,
            },
            throttle: ThrottlePolicy {
                max_failures: number(
                    "LOGIN_MAX_FAILURES",
                    ThrottlePolicy::DEFAULT.max_failures,
                    1..=1_000,
                )?,
                window: number(
                    "LOGIN_FAILURE_WINDOW_SECONDS",
                    ThrottlePolicy::DEFAULT.window,
                    1..=86_400,
                )?,
                lock: number(
                    "LOGIN_LOCK_SECONDS",
                    ThrottlePolicy::DEFAULT.lock,
                    1..=86_400,
                )?,
            },
            authorizer_cache: Duration::from_secs(number(
                "AUTHORIZER_CACHE_SECONDS",
                10,
                0..=3_600,
            )?),
            store_timeout: Duration::from_millis(number(
                "DYNAMODB_TIMEOUT_MS",
                3_000,
                100..=60_000,
            )?),
            max_sessions: number(
                "MAX_SESSIONS_PER_ACCOUNT",
                DEFAULT_MAX_SESSIONS as u64,
                1..=MAX_SESSIONS_LIMIT as u64,
            )? as usize,
            ca_bundle: lookup(CA_BUNDLE_VARIABLE).filter(|path| !path.trim().is_empty()),
            cors: AllowedOrigins::parse(&lookup("CORS_ALLOWED_ORIGINS").unwrap_or_default()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const RING: (&str, &str) = ("KEY_RING_FILE", ".local/keyring.json");

    #[test]
    fn defaults_apply_when_only_the_required_variables_are_set() {
        let config = Config::from_lookup(lookup(&[
            ("USERS_TABLE", "users"),
            ("TOKENS_TABLE", "tokens"),
            ("OUTBOX_TABLE", "outbox"),
            RING,
        ]))
        .unwrap();
        assert_eq!(config.token_ttl, Duration::from_secs(86_400));
        assert_eq!(config.hash_params, HashParams::OWASP_MINIMUM);
        assert_eq!(config.store_timeout, Duration::from_millis(3_000));
        assert_eq!(config.authorizer_cache, Duration::from_secs(10));
        assert_eq!(config.throttle, ThrottlePolicy::DEFAULT);
    }

    #[test]
    fn a_missing_table_name_is_reported_by_name() {
        let error = Config::from_lookup(lookup(&[
            RING,
            ("TOKENS_TABLE", "t"),
            ("OUTBOX_TABLE", "o"),
        ]))
        .err()
        .unwrap();
        assert!(matches!(error, ConfigError::Missing("USERS_TABLE")));
    }

    #[test]
    fn the_key_ring_is_in_exactly_one_place_and_never_in_the_environment() {
        let with = |pairs: &[(&str, &str)]| {
            let mut all = vec![
                ("USERS_TABLE", "users"),
                ("TOKENS_TABLE", "tokens"),
                ("OUTBOX_TABLE", "outbox"),
            ];
            all.extend_from_slice(pairs);
            Config::from_lookup(lookup(&all))
        };
        let secret = with(&[(
            "KEY_RING_SECRET_ID",
            "arn:aws:secretsmanager:eu-west-1:1:secret:k",
        )]);
        assert_eq!(
            secret.unwrap().key_ring,
            KeyRingLocation::Secret("arn:aws:secretsmanager:eu-west-1:1:secret:k".into())
        );
        assert!(matches!(
            with(&[]),
            Err(ConfigError::Missing("KEY_RING_SECRET_ID"))
        ));
        assert!(matches!(
            with(&[RING, ("KEY_RING_SECRET_ID", "k")]),
            Err(ConfigError::Invalid { .. })
        ));
        let config = with(&[RING]).unwrap();
        assert_eq!(config.key_refresh, Duration::from_secs(300));
        assert_eq!(
            config.key_overlap(),
            Duration::from_secs(86_400 + 300 + 3_600)
        );
    }

    #[test]
    fn the_session_cap_stops_where_one_sessions_item_still_fits() {
        let with_cap = |cap: &str| {
            Config::from_lookup(lookup(&[
                ("USERS_TABLE", "users"),
                ("TOKENS_TABLE", "tokens"),
                ("OUTBOX_TABLE", "outbox"),
                RING,
                ("MAX_SESSIONS_PER_ACCOUNT", cap),
            ]))
        };
        assert_eq!(with_cap("3000").unwrap().max_sessions, MAX_SESSIONS_LIMIT);
        for refused in ["0", "3001", "10000"] {
            assert!(matches!(
                with_cap(refused),
                Err(ConfigError::Invalid {
                    name: "MAX_SESSIONS_PER_ACCOUNT",
                    ..
                })
            ));
        }
    }

    #[test]
    fn argon2_parameters_weaker_than_owasp_are_refused() {
        let error = Config::from_lookup(lookup(&[
            ("USERS_TABLE", "users"),
            ("TOKENS_TABLE", "tokens"),
            ("OUTBOX_TABLE", "outbox"),
            RING,
            ("ARGON2_MEMORY_KIB", "4096"),
        ]))
        .err()
        .unwrap();
        assert!(matches!(
            error,
            ConfigError::Invalid {
                name: "ARGON2_MEMORY_KIB",
                ..
            }
        ));
    }
}
