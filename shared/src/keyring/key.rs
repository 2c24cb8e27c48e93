//! A signing key and the id that names it within a key ring.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Names a signing key within a key ring. Ids only increase: a newer key has a larger id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub u32);

impl KeyId {
    /// The id of the key that signed `tg1_` tokens, the one key of a deployment before rings.
    pub const LEGACY: Self = Self(1);
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A secret that authenticates tokens and one-time codes. Its `Debug` form never shows the
/// key.
#[derive(Clone)]
pub struct SigningKey(Hmac<Sha256>);

impl SigningKey {
    /// The shortest key accepted, in bytes.
    pub const MIN_LEN: usize = 32;

    /// Wraps `bytes` as a key, or `None` when shorter than [`Self::MIN_LEN`].
    pub fn new(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < Self::MIN_LEN {
            return None;
        }
        Hmac::<Sha256>::new_from_slice(bytes).ok().map(Self)
    }

    /// HMAC-SHA256 under this key, fed `domain` then `parts`, not yet finalized.
    pub(super) fn mac_of(&self, domain: &[u8], parts: &[&[u8]]) -> Hmac<Sha256> {
        let mut mac = self.0.clone();
        mac.update(domain);
        for part in parts {
            mac.update(part);
        }
        mac
    }

    /// HMAC-SHA256 under this key of `domain` then `parts`, for other things than tokens that
    /// the key authenticates (one-time codes).
    pub fn mac(&self, domain: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        self.mac_of(domain, parts).finalize().into_bytes().into()
    }

    /// Whether `tag` is the leading bytes of [`Self::mac`] of the same input, in constant time.
    pub fn verify_mac_prefix(&self, domain: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
        self.mac_of(domain, parts)
            .verify_truncated_left(tag)
            .is_ok()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(..)")
    }
}
