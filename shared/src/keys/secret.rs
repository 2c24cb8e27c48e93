//! The key ring's secret in Secrets Manager, and the version stages a rotation moves.
//!
//! Functions read the version staged `AWSCURRENT`. A rotation writes the next ring as a version
//! staged `AWSPENDING` under the rotation's request token, then moves `AWSCURRENT` onto it.

use std::collections::HashMap;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, SdkError};

use super::KeyStoreError;
use crate::keyring::KeyRing;

const CURRENT: &str = "AWSCURRENT";
const PENDING: &str = "AWSPENDING";

/// One secret holding a key ring.
#[derive(Debug, Clone)]
pub struct RingSecret {
    client: Client,
    secret_id: String,
}

/// The version a ring was read from, with the ring.
#[derive(Debug, Clone)]
pub struct RingVersion {
    /// The secret version's id (a rotation's request token).
    pub version_id: String,
    /// The ring it holds.
    pub ring: KeyRing,
}

fn failed<E, R>(error: SdkError<E, R>) -> KeyStoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    KeyStoreError::Unavailable(DisplayErrorContext(error).to_string())
}

impl RingSecret {
    /// The secret `secret_id` (its ARN or name), reached through `client`.
    pub fn new(client: Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
        }
    }

    /// The secret's id as configured.
    pub fn id(&self) -> &str {
        &self.secret_id
    }

    /// The ring functions use now: the version staged `AWSCURRENT`.
    pub async fn current(&self) -> Result<RingVersion, KeyStoreError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_stage(CURRENT)
            .send()
            .await
            .map_err(failed)?;
        let text = output.secret_string().ok_or(KeyStoreError::NotText)?;
        Ok(RingVersion {
            version_id: output.version_id().unwrap_or_default().to_owned(),
            ring: KeyRing::parse(text)?,
        })
    }

    /// The ring written as version `version_id` and staged `AWSPENDING`, if there is one.
    pub async fn pending(&self, version_id: &str) -> Result<Option<KeyRing>, KeyStoreError> {
        let sent = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_id(version_id)
            .version_stage(PENDING)
            .send()
            .await;
        match sent {
            Ok(output) => {
                let text = output.secret_string().ok_or(KeyStoreError::NotText)?;
                Ok(Some(KeyRing::parse(text)?))
            }
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(error) => Err(failed(error)),
        }
    }

    /// The stages of every version, by version id.
    pub async fn stages(&self) -> Result<HashMap<String, Vec<String>>, KeyStoreError> {
        let output = self
            .client
            .describe_secret()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(failed)?;
        Ok(output.version_ids_to_stages().cloned().unwrap_or_default())
    }

    /// The version staged `AWSCURRENT`, from [`Self::stages`]' answer.
    pub fn current_version(stages: &HashMap<String, Vec<String>>) -> Option<&str> {
        stages
            .iter()
            .find(|(_, labels)| labels.iter().any(|label| label == CURRENT))
            .map(|(version, _)| version.as_str())
    }

    /// Writes `ring` as version `version_id`, staged `AWSPENDING`.
    pub async fn put_pending(&self, version_id: &str, ring: &KeyRing) -> Result<(), KeyStoreError> {
        self.client
            .put_secret_value()
            .secret_id(&self.secret_id)
            .client_request_token(version_id)
            .secret_string(ring.to_document())
            .version_stages(PENDING)
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }

    /// Moves `AWSCURRENT` from version `from` to version `to`, and takes `AWSPENDING` off `to`.
    pub async fn promote(&self, to: &str, from: Option<&str>) -> Result<(), KeyStoreError> {
        self.client
            .update_secret_version_stage()
            .secret_id(&self.secret_id)
            .version_stage(CURRENT)
            .move_to_version_id(to)
            .set_remove_from_version_id(from.map(str::to_owned))
            .send()
            .await
            .map_err(failed)?;
        self.client
            .update_secret_version_stage()
            .secret_id(&self.secret_id)
            .version_stage(PENDING)
            .remove_from_version_id(to)
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }
}
