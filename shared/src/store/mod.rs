//! DynamoDB: the client, the two tables' item layouts, and the conversions between items and
//! the use-cases' records. Every method answers with a named outcome or a [`StoreError`]; no SDK
//! type and no position in a transaction leaves this module.
//!
//! Users table (key `pk`): `email#<email>` holds the account and its password hash (the email
//! claim that makes addresses unique); `user#<id>` holds the public profile for lookups by id.
//! Tokens table (key `uid` + `sk`): `sessions` maps the account's live token ids to their
//! expiry (the one item that says whether a token is valid), `token#<id>` records where one
//! token was issued, `current#<client>` points at the token that login-token hands out again
//! for that application. The last two carry `expire`, the table's TTL attribute.

mod counter;
mod error;
pub mod https;
mod item;
mod mail;
mod schema;
mod tokens;
mod transaction;
mod users;

use std::time::Duration;

use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
pub use aws_sdk_dynamodb::Client;

pub use counter::RequestCounter;
pub use error::StoreError;
pub use https::CaBundleError;
pub use mail::{CodeWrite, Redemption};
pub use schema::create_tables;
pub use tokens::{SessionRevocation, TokenIssue};
pub use users::{AccountCreation, GuessReservation, HashUpgrade, PasswordReplacement};

/// The AWS SDK configuration every client of a function shares (DynamoDB, and Secrets Manager
/// where the key ring lives), built once per cold start with explicit timeouts (the SDK sets
/// none).
///
/// Region, credentials and endpoint come from the environment variables Lambda sets (and
/// `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_SECRETS_MANAGER`, which point it at local
/// stand-ins); naming those providers spares each cold start the SDK's default chains (profile
/// files, SSO, an STS client). TLS trusts Amazon Trust Services' roots, or those of the PEM file
/// `ca_bundle` (see [`https`]); an unusable bundle is an error. `timeout` bounds a whole call,
/// retries included.
pub async fn sdk_config(
    timeout: Duration,
    ca_bundle: Option<&str>,
) -> Result<SdkConfig, CaBundleError> {
    let roots = https::trusted_roots(ca_bundle)?;
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(timeout.min(Duration::from_secs(1)))
        .operation_attempt_timeout(timeout / 2)
        .operation_timeout(timeout)
        .build();
    Ok(aws_config::defaults(BehaviorVersion::latest())
        .region(EnvironmentVariableRegionProvider::new())
        .credentials_provider(EnvironmentVariableCredentialsProvider::new())
        .http_client(https::client(roots))
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .load()
        .await)
}

/// The DynamoDB client over [`sdk_config`].
pub async fn connect(timeout: Duration, ca_bundle: Option<&str>) -> Result<Client, CaBundleError> {
    Ok(Client::new(&sdk_config(timeout, ca_bundle).await?))
}

/// The names of the three tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    /// Accounts (`USERS_TABLE`).
    pub users: String,
    /// Tokens, sessions and one-time codes (`TOKENS_TABLE`).
    pub tokens: String,
    /// Messages to send (`OUTBOX_TABLE`).
    pub outbox: String,
}

/// The tables over one client: the accounts (`users.rs`), the tokens (`tokens.rs`), the
/// outbox and the one-time codes (`mail.rs`).
#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    users_table: String,
    tokens_table: String,
    outbox_table: String,
}

impl Store {
    /// The store over the tables `names`.
    pub fn new(client: Client, names: &TableNames) -> Self {
        Self {
            client,
            users_table: names.users.clone(),
            tokens_table: names.tokens.clone(),
            outbox_table: names.outbox.clone(),
        }
    }
}
