//! Key rotation: the four steps Secrets Manager's rotation calls, over the key ring's secret.
//!
//! 1. `createSecret`: the next ring (a fresh active key; the key that signed until now kept
//!    to verify; keys retired long enough ago dropped) is written as the version named by the
//!    rotation's request token, staged `AWSPENDING`.
//! 2. `setSecret`: nothing outside the secret holds the keys, so there is nothing to set; the
//!    pending version must exist.
//! 3. `testSecret`: the pending ring must be a successor of the current one (newer active key,
//!    today's signing key kept, its tokens verify). A failure stops the rotation with the
//!    current ring untouched.
//! 4. `finishSecret`: `AWSCURRENT` moves to the pending version; functions pick it up within
//!    their refresh window, or at once when they meet a token of the new key.
//!
//! Every step may be called again with the same token (Secrets Manager retries) and then does
//! nothing more.

use std::str::FromStr;

use crate::clock::SharedClock;
use crate::keyring::{RingError, SuccessorError};
use crate::keys::KeyStoreError;
use crate::keys::secret::RingSecret;

/// One of the four steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationStep {
    /// `createSecret`.
    Create,
    /// `setSecret`.
    Set,
    /// `testSecret`.
    Test,
    /// `finishSecret`.
    Finish,
}

impl FromStr for RotationStep {
    type Err = RotationError;

    fn from_str(step: &str) -> Result<Self, Self::Err> {
        match step {
            "createSecret" => Ok(Self::Create),
            "setSecret" => Ok(Self::Set),
            "testSecret" => Ok(Self::Test),
            "finishSecret" => Ok(Self::Finish),
            _ => Err(RotationError::UnknownStep),
        }
    }
}

/// Why a rotation step failed. Secrets Manager stops the rotation; the current ring stays.
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    /// Not one of the four step names.
    #[error("unknown rotation step")]
    UnknownStep,
    /// The event names another secret than the one this function rotates.
    #[error("the event names another secret than KEY_RING_SECRET_ID")]
    OtherSecret,
    /// The secret could not be read or written.
    #[error(transparent)]
    Secret(#[from] KeyStoreError),
    /// A ring could not be made.
    #[error(transparent)]
    Ring(#[from] RingError),
    /// The pending ring may not follow the current one.
    #[error("the pending key ring fails its test: {0}")]
    Test(#[from] SuccessorError),
    /// No version staged `AWSPENDING` under the rotation's token.
    #[error("no pending key ring under this rotation's token")]
    NoPendingVersion,
}

/// Rotates one key ring secret.
pub struct Rotation {
    secret: RingSecret,
    keep_retired_for: u64,
    clock: SharedClock,
}

impl Rotation {
    /// Rotation of `secret`, dropping a key `keep_retired_for` seconds after it stopped signing.
    pub fn new(secret: RingSecret, keep_retired_for: u64, clock: SharedClock) -> Self {
        Self {
            secret,
            keep_retired_for,
            clock,
        }
    }

    /// Runs `step` of the rotation whose request token is `token`, on the secret `secret_id`
    /// (as the event names it: the ARN or name this function was configured with).
    pub async fn run(
        &self,
        secret_id: &str,
        step: RotationStep,
        token: &str,
    ) -> Result<(), RotationError> {
        if secret_id != self.secret.id() {
            return Err(RotationError::OtherSecret);
        }
        match step {
            RotationStep::Create => self.create(token).await,
            RotationStep::Set => self.set(token).await,
            RotationStep::Test => self.test(token).await,
            RotationStep::Finish => self.finish(token).await,
        }
    }

    async fn create(&self, token: &str) -> Result<(), RotationError> {
        if self.secret.stages().await?.contains_key(token) {
            return Ok(());
        }
        let current = self.secret.current().await?;
        let next = current
            .ring
            .rotated(self.clock.now(), self.keep_retired_for)?;
        self.secret.put_pending(token, &next).await?;
        tracing::info!(active_key = %next.active_id(), "rotation: pending key ring written");
        Ok(())
    }

    async fn set(&self, token: &str) -> Result<(), RotationError> {
        if self.finished(token).await? {
            return Ok(());
        }
        self.secret
            .pending(token)
            .await?
            .map(|_| ())
            .ok_or(RotationError::NoPendingVersion)
    }

    async fn test(&self, token: &str) -> Result<(), RotationError> {
        if self.finished(token).await? {
            return Ok(());
        }
        let pending = self
            .secret
            .pending(token)
            .await?
            .ok_or(RotationError::NoPendingVersion)?;
        let current = self.secret.current().await?;
        pending.check_successor_of(&current.ring)?;
        Ok(())
    }

    async fn finish(&self, token: &str) -> Result<(), RotationError> {
        let stages = self.secret.stages().await?;
        let current = RingSecret::current_version(&stages);
        if current == Some(token) {
            return Ok(());
        }
        if !stages.contains_key(token) {
            return Err(RotationError::NoPendingVersion);
        }
        // The current ring may have moved since the test step (an emergency `revoke-all`): the
        // pending ring is promoted only if it still follows the ring that is current now.
        let pending = self
            .secret
            .pending(token)
            .await?
            .ok_or(RotationError::NoPendingVersion)?;
        pending.check_successor_of(&self.secret.current().await?.ring)?;
        self.secret.promote(token, current).await?;
        tracing::info!("rotation: the pending key ring is now current");
        Ok(())
    }

    /// Whether `token`'s version is already the current one (a step retried after finish).
    async fn finished(&self, token: &str) -> Result<bool, RotationError> {
        let stages = self.secret.stages().await?;
        Ok(RingSecret::current_version(&stages) == Some(token))
    }
}
