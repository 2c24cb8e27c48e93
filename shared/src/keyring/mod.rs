//! A deployment's signing keys: the newest key signs, older keys only verify until dropped.
//!
//! A ring is kept as a JSON document (in Secrets Manager when deployed, in `.local/` by
//! `make run`): `{"keys":[{"id":2,"secret":"..."},{"id":1,"secret":"...","retiredAt":1700000000}]}`.
//! Exactly one key, the one with the largest id, has no `retiredAt`: it signs. A retired key
//! verifies the tokens it signed until a rotation drops it. A document that is one bare string
//! is the single key of a deployment from before key rings: it reads as the ring holding that
//! key alone, active, with [`KeyId::LEGACY`], so its `tg1_` tokens keep verifying.
//!
//! Nothing here prints a key: errors name key ids and never echo the document.
//!
//! The ring's domain part, no IO: its keys and their ids ([`SigningKey`], [`KeyId`]), the access
//! token the active key signs ([`AccessToken`], its wire form in `token.rs`), and the rotation
//! rules. Where a ring is read from and how a function holds it is [`crate::keys`]; the one-time
//! codes its keys make are [`crate::codes`].

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::ids::{TokenId, UserId, random_bytes};

mod key;
mod token;

pub use key::{KeyId, SigningKey};
pub use token::{AccessToken, LEGACY_TOKEN_LEN, PresentedToken, TOKEN_LEN, TokenClaims};

/// Why a document is not a usable key ring. Never holds any part of the document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RingError {
    /// Neither a ring document nor a bare key.
    #[error("the key ring is not a JSON key ring document")]
    Malformed,
    /// The document lists no key.
    #[error("the key ring holds no key")]
    Empty,
    /// A key is shorter than [`SigningKey::MIN_LEN`] bytes.
    #[error("key {0} is shorter than {min} bytes", min = SigningKey::MIN_LEN)]
    ShortKey(KeyId),
    /// Two keys share an id.
    #[error("key id {0} appears twice")]
    DuplicateId(KeyId),
    /// No key, or more than one, is unretired.
    #[error("the key ring must have exactly one active (unretired) key")]
    ActiveKeyCount,
    /// The active key is not the newest: ids must increase with every new key.
    #[error("the active key {0} is not the newest key")]
    ActiveNotNewest(KeyId),
    /// No larger key id is left.
    #[error("key ids are exhausted")]
    IdsExhausted,
}

/// Why a ring cannot follow the current one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SuccessorError {
    /// Its active key is not newer than the current ring's.
    #[error("the new active key {new} is not newer than the current active key {current}")]
    NotNewer {
        /// The proposed ring's active key.
        new: KeyId,
        /// The current ring's active key.
        current: KeyId,
    },
    /// It dropped the key that signs today, whose tokens would stop verifying.
    #[error("the new ring drops key {0}, which signs today's tokens")]
    DropsSigningKey(KeyId),
    /// A token it signs does not verify under it.
    #[error("a token signed by the new active key does not verify")]
    RoundTrip,
}

/// What a presented token's tag check came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authentication {
    /// Signed by a key of the ring.
    Authentic(TokenClaims),
    /// Names a key newer than any in the ring: a ring loaded before a rotation may not know it.
    NewerKey(KeyId),
    /// Garbled, forged, or signed by a key the ring no longer holds.
    Refused,
}

#[derive(Clone)]
struct RingKey {
    id: KeyId,
    secret: String,
    key: SigningKey,
    retired_at: Option<u64>,
}

/// The keys a function holds: the active one signs, every one verifies. Sorted newest first.
#[derive(Clone)]
pub struct KeyRing {
    keys: Vec<RingKey>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    keys: Vec<DocumentKey>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DocumentKey {
    id: u32,
    secret: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retired_at: Option<u64>,
}

/// Fresh key material: 256 bits from the CSPRNG, as URL-safe base64 text.
fn fresh_secret() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

impl KeyRing {
    /// A new ring of one fresh key, id 1.
    pub fn generate() -> Self {
        Self::from_keys(vec![(KeyId(1), fresh_secret(), None)]).expect("a fresh key is valid")
    }

    /// Reads a ring document, or a bare key (the single key of a deployment before rings).
    pub fn parse(text: &str) -> Result<Self, RingError> {
        let text = text.trim();
        if !text.starts_with('{') {
            if text.is_empty() || text.contains(char::is_whitespace) || text.starts_with('[') {
                return Err(RingError::Malformed);
            }
            return Self::from_keys(vec![(KeyId::LEGACY, text.to_owned(), None)]);
        }
        let document: Document = serde_json::from_str(text).map_err(|_| RingError::Malformed)?;
        Self::from_keys(
            document
                .keys
                .into_iter()
                .map(|key| (KeyId(key.id), key.secret, key.retired_at))
                .collect(),
        )
    }

    fn from_keys(mut keys: Vec<(KeyId, String, Option<u64>)>) -> Result<Self, RingError> {
        keys.sort_by_key(|(id, ..)| std::cmp::Reverse(*id));
        if keys.is_empty() {
            return Err(RingError::Empty);
        }
        if let Some(pair) = keys.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err(RingError::DuplicateId(pair[0].0));
        }
        let active: Vec<KeyId> = keys
            .iter()
            .filter(|(.., retired_at)| retired_at.is_none())
            .map(|(id, ..)| *id)
            .collect();
        match active.as_slice() {
            [only] if *only == keys[0].0 => {}
            [only] => return Err(RingError::ActiveNotNewest(*only)),
            _ => return Err(RingError::ActiveKeyCount),
        }
        let keys = keys
            .into_iter()
            .map(|(id, secret, retired_at)| {
                let key = SigningKey::new(secret.as_bytes()).ok_or(RingError::ShortKey(id))?;
                Ok(RingKey {
                    id,
                    secret,
                    key,
                    retired_at,
                })
            })
            .collect::<Result<_, RingError>>()?;
        Ok(Self { keys })
    }

    /// The ring as its JSON document. It holds every key: write it only to the ring's store.
    pub fn to_document(&self) -> String {
        let document = Document {
            keys: self
                .keys
                .iter()
                .map(|key| DocumentKey {
                    id: key.id.0,
                    secret: key.secret.clone(),
                    retired_at: key.retired_at,
                })
                .collect(),
        };
        serde_json::to_string(&document).expect("a ring document serialises")
    }

    /// The id of the key that signs: the newest.
    pub fn active_id(&self) -> KeyId {
        self.keys[0].id
    }

    /// Every key id the ring holds, newest first.
    pub fn key_ids(&self) -> Vec<KeyId> {
        self.keys.iter().map(|key| key.id).collect()
    }

    fn ring_key(&self, id: KeyId) -> Option<&RingKey> {
        self.keys.iter().find(|key| key.id == id)
    }

    /// The key `id`, while the ring holds it.
    pub fn key(&self, id: KeyId) -> Option<&SigningKey> {
        self.ring_key(id).map(|key| &key.key)
    }

    /// When the key `id` stopped signing, if the ring holds it retired.
    pub fn retired_at(&self, id: KeyId) -> Option<u64> {
        self.ring_key(id).and_then(|key| key.retired_at)
    }

    /// The token text for (`user`, `token`), signed by the active key.
    pub fn token_for(&self, user: &UserId, token: &TokenId) -> AccessToken {
        let active = &self.keys[0];
        active.key.token_for(active.id, user, token)
    }

    /// Checks `text`'s form and tag under the key it names. No store call is needed for any
    /// answer: an unknown key id older than the active one was dropped and is refused outright.
    pub fn authenticate(&self, text: &str) -> Authentication {
        let Some(presented) = PresentedToken::parse(text) else {
            return Authentication::Refused;
        };
        let signer = presented.signer();
        if signer > self.active_id() {
            return Authentication::NewerKey(signer);
        }
        let Some(key) = self.key(signer) else {
            return Authentication::Refused;
        };
        match key.authenticate(&presented) {
            Some(claims) => Authentication::Authentic(claims),
            None => Authentication::Refused,
        }
    }

    /// The ring after one rotation at `now`: a fresh key signs, the key that signed until now
    /// only verifies, and every key that stopped signing at least `keep_retired_for` seconds ago
    /// is dropped (so `keep_retired_for` must cover the longest token lifetime plus the longest
    /// time a function may keep an older ring).
    pub fn rotated(&self, now: u64, keep_retired_for: u64) -> Result<Self, RingError> {
        let next = self.next_id()?;
        let mut keys = vec![(next, fresh_secret(), None)];
        for key in &self.keys {
            let retired_at = key.retired_at.unwrap_or(now);
            if retired_at.saturating_add(keep_retired_for) > now {
                keys.push((key.id, key.secret.clone(), Some(retired_at)));
            }
        }
        Self::from_keys(keys)
    }

    /// A ring of one fresh key, newer than every key of this ring, which all go: for a key that
    /// leaked. Every token signed so far stops verifying once functions load it.
    pub fn revoked_all(&self) -> Result<Self, RingError> {
        Self::from_keys(vec![(self.next_id()?, fresh_secret(), None)])
    }

    fn next_id(&self) -> Result<KeyId, RingError> {
        let newest = self.active_id().0;
        newest
            .checked_add(1)
            .map(KeyId)
            .ok_or(RingError::IdsExhausted)
    }

    /// Whether this ring may replace `current` in a rotation: its active key is newer, it still
    /// verifies every token `current`'s active key signed, and its own tokens verify.
    pub fn check_successor_of(&self, current: &KeyRing) -> Result<(), SuccessorError> {
        let (new, current_active) = (self.active_id(), current.active_id());
        if new <= current_active {
            return Err(SuccessorError::NotNewer {
                new,
                current: current_active,
            });
        }
        let kept = self
            .ring_key(current_active)
            .ok_or(SuccessorError::DropsSigningKey(current_active))?;
        if kept.secret != current.keys[0].secret {
            return Err(SuccessorError::DropsSigningKey(current_active));
        }
        let (user, token) = (UserId::generate(), TokenId::generate());
        let claims = TokenClaims { user, token };
        let ours = self.token_for(&user, &token);
        let theirs = current.token_for(&user, &token);
        if self.authenticate(ours.expose()) != Authentication::Authentic(claims)
            || self.authenticate(theirs.expose()) != Authentication::Authentic(claims)
        {
            return Err(SuccessorError::RoundTrip);
        }
        Ok(())
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for key in &self.keys {
            match key.retired_at {
                None => list.entry(&format_args!("{} active", key.id)),
                Some(at) => list.entry(&format_args!("{} retired at {at}", key.id)),
            };
        }
        list.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400;
    const KEEP: u64 = DAY + 300 + 3_600;

    fn token(ring: &KeyRing) -> (String, TokenClaims) {
        let (user, token) = (UserId::generate(), TokenId::generate());
        let text = ring.token_for(&user, &token).expose().to_owned();
        (text, TokenClaims { user, token })
    }

    #[test]
    fn a_bare_key_reads_as_the_legacy_key_alone_and_a_document_round_trips() {
        let legacy = KeyRing::parse("0123456789abcdef0123456789abcdefXYZ\n").unwrap();
        assert_eq!(legacy.key_ids(), vec![KeyId::LEGACY]);
        let rotated = legacy.rotated(1_000, KEEP).unwrap();
        let again = KeyRing::parse(&rotated.to_document()).unwrap();
        assert_eq!(again.key_ids(), vec![KeyId(2), KeyId(1)]);
        assert_eq!(again.retired_at(KeyId(1)), Some(1_000));
        assert_eq!(again.to_document(), rotated.to_document());
    }

    #[test]
    fn tokens_of_the_previous_key_verify_after_a_rotation_until_it_is_dropped() {
        let ring = KeyRing::generate();
        let (old, claims) = token(&ring);
        let rotated = ring.rotated(10 * DAY, KEEP).unwrap();
        assert_eq!(rotated.active_id(), KeyId(2));
        assert_eq!(
            rotated.authenticate(&old),
            Authentication::Authentic(claims)
        );
        let (new, new_claims) = token(&rotated);
        assert!(new.starts_with("tg2_"));
        assert_eq!(
            rotated.authenticate(&new),
            Authentication::Authentic(new_claims)
        );

        // A rotation before the overlap ends keeps key 1; the first one after it drops it.
        let kept = rotated.rotated(10 * DAY + KEEP - 1, KEEP).unwrap();
        assert_eq!(kept.key_ids(), vec![KeyId(3), KeyId(2), KeyId(1)]);
        assert_eq!(kept.authenticate(&old), Authentication::Authentic(claims));
        let dropped = kept.rotated(10 * DAY + KEEP, KEEP).unwrap();
        assert_eq!(dropped.key_ids(), vec![KeyId(4), KeyId(3), KeyId(2)]);
        assert_eq!(dropped.authenticate(&old), Authentication::Refused);
        assert_eq!(
            dropped.authenticate(&new),
            Authentication::Authentic(new_claims)
        );
    }

    #[test]
    fn a_key_id_newer_than_the_ring_is_reported_and_a_tampered_one_fails_the_tag() {
        let ring = KeyRing::generate();
        let newer = ring.rotated(DAY, KEEP).unwrap();
        let (text, _) = token(&newer);
        assert_eq!(ring.authenticate(&text), Authentication::NewerKey(KeyId(2)));

        // The same token relabelled with key 1, which the ring holds, fails key 1's tag.
        let mut presented = PresentedToken::parse(&text).unwrap();
        presented.key_id = Some(KeyId(1));
        let ring_key = &ring.keys[0].key;
        assert_eq!(ring_key.authenticate(&presented), None);
    }

    #[test]
    fn every_key_goes_when_all_are_revoked() {
        let ring = KeyRing::generate().rotated(DAY, KEEP).unwrap();
        let (text, _) = token(&ring);
        let revoked = ring.revoked_all().unwrap();
        assert_eq!(revoked.key_ids(), vec![KeyId(3)]);
        assert_eq!(revoked.authenticate(&text), Authentication::Refused);
        assert!(revoked.check_successor_of(&ring).is_err());
    }

    #[test]
    fn a_successor_must_be_newer_and_keep_todays_signing_key() {
        let ring = KeyRing::generate();
        let next = ring.rotated(DAY, KEEP).unwrap();
        assert_eq!(next.check_successor_of(&ring), Ok(()));
        assert_eq!(
            ring.check_successor_of(&next),
            Err(SuccessorError::NotNewer {
                new: KeyId(1),
                current: KeyId(2)
            })
        );
        let impostor = KeyRing::generate().rotated(DAY, KEEP).unwrap();
        assert_eq!(
            impostor.check_successor_of(&ring),
            Err(SuccessorError::DropsSigningKey(KeyId(1)))
        );
    }

    #[test]
    fn broken_documents_are_refused_without_echoing_them() {
        let secret = "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t";
        let cases = [
            ("", RingError::Malformed),
            ("two words", RingError::Malformed),
            ("{\"keys\":[]}", RingError::Empty),
            (
                "{\"keys\":[{\"id\":1,\"secret\":\"short\"}]}",
                RingError::ShortKey(KeyId(1)),
            ),
            (
                &*format!("{{\"keys\":[{{\"id\":1,\"secret\":\"{secret}\",\"retiredAt\":5}}]}}"),
                RingError::ActiveKeyCount,
            ),
            (
                &*format!(
                    "{{\"keys\":[{{\"id\":1,\"secret\":\"{secret}\"}},{{\"id\":2,\"secret\":\"{secret}\",\"retiredAt\":5}}]}}"
                ),
                RingError::ActiveNotNewest(KeyId(1)),
            ),
            (
                &*format!(
                    "{{\"keys\":[{{\"id\":1,\"secret\":\"{secret}\"}},{{\"id\":1,\"secret\":\"{secret}\"}}]}}"
                ),
                RingError::DuplicateId(KeyId(1)),
            ),
            (
                &*format!("{{\"keys\":[{{\"id\":\"{secret}\",\"secret\":1}}]}}"),
                RingError::Malformed,
            ),
        ];
        for (document, expected) in cases {
            let error = KeyRing::parse(document).err().unwrap();
            assert_eq!(error, expected, "{document}");
            assert!(!error.to_string().contains("s3cr3t"));
        }
    }

    #[test]
    fn the_debug_form_shows_ids_and_never_a_key() {
        let ring = KeyRing::parse("0123456789abcdef0123456789abcdef-secret").unwrap();
        let ring = ring.rotated(7, KEEP).unwrap();
        let shown = format!("{ring:?}");
        assert_eq!(shown, "[2 active, 1 retired at 7]");
    }
}
