//! DynamoDB: the client, the two tables' item layouts, and SDK errors turned into [`StoreError`].
//!
//! Users table (key `pk`): `email#<email>` holds the account and its password hash (the email
//! claim that makes addresses unique); `user#<id>` holds the public profile for lookups by id.
//! Tokens table (key `uid` + `sk`): `token#<id>` is one issued token, `current#<client>` points
//! at the token that login-token hands out again for that application. Both carry `expire`,
//! the table's TTL attribute.

mod error;
pub mod https;
mod item;
mod schema;
mod tokens;
mod users;

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
pub use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::TransactWriteItem;

use crate::config::ConfigError;

pub use error::StoreError;
pub use schema::create_tables;
pub use tokens::{CurrentToken, ReplaceCurrent, TokenRecord, TokenStore};
pub use users::{LoginFailures, NewAccount, StoredAccount, UserProfile, UserStore};

/// Builds the DynamoDB client once per cold start, with explicit timeouts (the SDK sets none).
///
/// Region, credentials and endpoint come from the environment variables Lambda sets (and
/// `AWS_ENDPOINT_URL_DYNAMODB`, which points it at DynamoDB Local); naming those providers
/// spares each cold start the SDK's default chains (profile files, SSO, an STS client).
/// TLS trusts Amazon Trust Services' roots, or `AWS_CA_BUNDLE`'s (see [`https`]); an unusable
/// bundle is a configuration error. `timeout` bounds a whole call, retries included.
pub async fn connect(timeout: Duration) -> Result<Client, ConfigError> {
    let roots = https::trusted_roots(std::env::var(https::CA_BUNDLE_VARIABLE).ok().as_deref())?;
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(timeout.min(Duration::from_secs(1)))
        .operation_attempt_timeout(timeout / 2)
        .operation_timeout(timeout)
        .build();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(EnvironmentVariableRegionProvider::new())
        .credentials_provider(EnvironmentVariableCredentialsProvider::new())
        .http_client(https::client(roots))
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .load()
        .await;
    Ok(Client::new(&config))
}

/// Writes `items` in one transaction: all or none ([`StoreError::from_transaction`] says which
/// condition failed).
async fn write_atomically(
    client: &Client,
    items: Vec<TransactWriteItem>,
) -> Result<(), StoreError> {
    client
        .transact_write_items()
        .set_transact_items(Some(items))
        .send()
        .await
        .map_err(StoreError::from_transaction)?;
    Ok(())
}
