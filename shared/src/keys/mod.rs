//! Where the key ring lives, and the ring a function holds: the key ring's IO part. Its domain
//! part (the ring, its keys and rotation rules, the token's wire form) is [`crate::keyring`].
//!
//! Deployed, the ring is a Secrets Manager secret ([`secret::RingSecret`]), read at cold start;
//! `make run` keeps it in a file under `.local/`. A function's [`Keys`] reads it again every
//! refresh window, and at once when a token names a key newer than its ring (a rotation it has
//! not seen yet), but such forced reloads happen at most once per window: a flood of made-up key
//! ids costs one reload, never one per request. A reload that fails keeps the ring it had.
//!
//! Configuration names the ring's [`KeyRingLocation`]; [`Keys::load`] connects to it and reads.

pub mod secret;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use aws_config::SdkConfig;

use crate::clock::SharedClock;
use crate::codes::{CodeCheck, CodePurpose, PresentedCode};
use crate::ids::{TokenId, UserId};
use crate::keyring::{AccessToken, KeyId, TokenClaims};
use crate::keyring::{Authentication, KeyRing, RingError};
use secret::RingSecret;

/// Why the key ring could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// The ring's document is not a usable ring.
    #[error(transparent)]
    Ring(#[from] RingError),
    /// The ring's file could not be read.
    #[error("the key ring file is unreadable: {0}")]
    File(#[from] std::io::Error),
    /// Secrets Manager could not be reached or refused the call.
    #[error("Secrets Manager call failed: {0}")]
    Unavailable(String),
    /// The secret holds binary data, not a ring document.
    #[error("the key ring secret holds no text")]
    NotText,
}

/// Where a deployment keeps its ring: `KEY_RING_SECRET_ID` or `KEY_RING_FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRingLocation {
    /// A Secrets Manager secret, by ARN or name.
    Secret(String),
    /// A local file (`make run`, tests).
    File(PathBuf),
}

/// A ring's location, connected: where [`Keys`] reads the ring again.
#[derive(Debug, Clone)]
enum Source {
    /// Secrets Manager.
    Secret(RingSecret),
    /// A file, written whole by `make rotate-key` (write and rename).
    File(PathBuf),
}

impl Source {
    /// The source at `location`, reaching Secrets Manager (if that is where it is) with `sdk`.
    fn at(location: &KeyRingLocation, sdk: &SdkConfig) -> Self {
        match location {
            KeyRingLocation::Secret(id) => Self::Secret(RingSecret::new(
                aws_sdk_secretsmanager::Client::new(sdk),
                id.clone(),
            )),
            KeyRingLocation::File(path) => Self::File(path.clone()),
        }
    }

    /// Reads the ring as it is now.
    async fn read(&self) -> Result<KeyRing, KeyStoreError> {
        match self {
            Self::Secret(secret) => Ok(secret.current().await?.ring),
            Self::File(path) => Ok(KeyRing::parse(&std::fs::read_to_string(path)?)?),
        }
    }
}

/// The ring a function holds, refreshed from its source. Cheap to clone (shared).
#[derive(Clone)]
pub struct Keys(Arc<Held>);

struct Held {
    source: Source,
    ring: ArcSwap<KeyRing>,
    refresh: u64,
    clock: SharedClock,
    /// When the ring was last read (or a read was last tried).
    read_at: AtomicU64,
    /// One more than when a token's newer key id last forced a read; 0 before any.
    forced_at: AtomicU64,
    reading: AtomicBool,
    reads: AtomicU64,
}

impl Keys {
    /// Reads the ring at `location` (a cold start fails without it), reaching Secrets Manager
    /// (if that is where it is) with `sdk`, and keeps it, reading it again every `refresh`.
    pub async fn load(
        location: &KeyRingLocation,
        sdk: &SdkConfig,
        refresh: Duration,
        clock: SharedClock,
    ) -> Result<Self, KeyStoreError> {
        let source = Source::at(location, sdk);
        let ring = source.read().await?;
        let now = clock.now();
        Ok(Self(Arc::new(Held {
            source,
            ring: ArcSwap::from_pointee(ring),
            refresh: refresh.as_secs().max(1),
            clock,
            read_at: AtomicU64::new(now),
            forced_at: AtomicU64::new(0),
            reading: AtomicBool::new(false),
            reads: AtomicU64::new(1),
        })))
    }

    /// How many times the ring has been read since cold start, the first read included.
    pub fn reads(&self) -> u64 {
        self.0.reads.load(Ordering::SeqCst)
    }

    /// The ring, read again first when the refresh window has passed since the last read.
    pub async fn ring(&self) -> Arc<KeyRing> {
        let now = self.0.clock.now();
        if now >= self.0.read_at.load(Ordering::SeqCst) + self.0.refresh {
            self.reread(now).await;
        }
        self.0.ring.load_full()
    }

    /// The token text for (`user`, `token`), signed by the active key.
    pub async fn token_for(&self, user: &UserId, token: &TokenId) -> AccessToken {
        self.ring().await.token_for(user, token)
    }

    /// Checks `text`'s tag: whose token it is, or `None` for a garbled or forged token or one
    /// whose key was dropped. A token naming a key newer than the ring reads the ring again
    /// first, unless a read was already forced within the refresh window.
    pub async fn authenticate(&self, text: &str) -> Option<TokenClaims> {
        let ring = match self.ring().await.authenticate(text) {
            Authentication::Authentic(claims) => return Some(claims),
            Authentication::Refused => return None,
            Authentication::NewerKey(key_id) => self.ring_knowing(key_id).await?,
        };
        match ring.authenticate(text) {
            Authentication::Authentic(claims) => Some(claims),
            Authentication::Refused | Authentication::NewerKey(_) => None,
        }
    }

    /// Checks a one-time code's tag for `purpose`, reading the ring again first (as
    /// [`Self::authenticate`] does) when it names a key newer than the ring.
    pub async fn check_code(&self, text: &str, purpose: CodePurpose) -> CodeCheck {
        let Some(presented) = PresentedCode::parse(text) else {
            return CodeCheck::Refused;
        };
        let mut ring = self.ring().await;
        if presented.key_id > ring.active_id() {
            match self.ring_knowing(presented.key_id).await {
                Some(fresh) => ring = fresh,
                None => return CodeCheck::Refused,
            }
        }
        ring.check_code(&presented, purpose)
    }

    /// The ring read again because a presented token or code names `key_id`, newer than the
    /// ring: `None` when a read was already forced within the refresh window.
    async fn ring_knowing(&self, key_id: KeyId) -> Option<Arc<KeyRing>> {
        let now = self.0.clock.now();
        let last = self.0.forced_at.load(Ordering::SeqCst);
        let due = last == 0 || now >= (last - 1) + self.0.refresh;
        // The window's forced read is spent only by a caller that does read: not while another
        // read is under way.
        let _reading = if due { self.start_reading() } else { None }?;
        if self
            .0
            .forced_at
            .compare_exchange(last, now + 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return None;
        }
        tracing::debug!(key = %key_id, "a newer key than the ring's: reading the ring again");
        self.read(now).await;
        Some(self.0.ring.load_full())
    }

    /// Reads the ring again, unless another caller is already reading it.
    async fn reread(&self, now: u64) {
        if let Some(_reading) = self.start_reading() {
            self.read(now).await;
        }
    }

    /// The right to read the ring, unless another caller holds it; given back on drop, so a
    /// read cut short (its future dropped) does not bar every later one.
    fn start_reading(&self) -> Option<ReadingFlag<'_>> {
        self.0
            .reading
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .ok()
            .map(|_| ReadingFlag(&self.0.reading))
    }

    /// Reads the ring from its source; the caller holds the right to read.
    async fn read(&self, now: u64) {
        self.0.reads.fetch_add(1, Ordering::SeqCst);
        match self.0.source.read().await {
            Ok(ring) => {
                if ring.active_id() != self.0.ring.load().active_id() {
                    tracing::info!(active_key = %ring.active_id(), "key ring changed");
                }
                self.0.ring.store(Arc::new(ring));
            }
            Err(error) => {
                tracing::warn!(%error, "reading the key ring failed; keeping the ring read before");
            }
        }
        self.0.read_at.store(now, Ordering::SeqCst);
    }
}

struct ReadingFlag<'a>(&'a AtomicBool);

impl Drop for ReadingFlag<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("ring", &self.0.ring.load())
            .field("refresh", &self.0.refresh)
            .finish_non_exhaustive()
    }
}
