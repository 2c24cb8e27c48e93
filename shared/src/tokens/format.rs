//! The wire form of an access token and the key that authenticates it.
//!
//! A token is `tg1_` followed by URL-safe base64 of `user id (16) | token id (16) | tag (32)`,
//! where the tag is HMAC-SHA256 under the deployment's signing key. The table stores only the
//! two ids, so a dump of it cannot be turned into a working token without the key, while the
//! same token can still be handed out again (login-token reuse) by recomputing its tag.
//! A forged or garbled token is refused by the tag check alone, before any store call.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::ids::{TokenId, UserId};

const PREFIX: &str = "tg1_";
const BODY_LEN: usize = 16 + 16 + 32;
/// Length in characters of every token this version issues.
pub const TOKEN_LEN: usize = PREFIX.len() + (BODY_LEN * 4).div_ceil(3);
const DOMAIN: &[u8] = b"tokengate access token v1";

/// The secret that authenticates tokens. Its `Debug` form never shows the key.
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

    fn tag(&self, user: &UserId, token: &TokenId) -> Hmac<Sha256> {
        let mut mac = self.0.clone();
        mac.update(DOMAIN);
        mac.update(user.as_bytes());
        mac.update(token.as_bytes());
        mac
    }

    /// The token string for the pair (`user`, `token`).
    pub fn token_for(&self, user: &UserId, token: &TokenId) -> AccessToken {
        let mut body = [0u8; BODY_LEN];
        body[..16].copy_from_slice(user.as_bytes());
        body[16..32].copy_from_slice(token.as_bytes());
        body[32..].copy_from_slice(&self.tag(user, token).finalize().into_bytes());
        AccessToken(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(body)))
    }

    /// Checks a presented token's form and tag, in constant time, and returns whose it is.
    pub fn authenticate(&self, presented: &str) -> Option<TokenClaims> {
        let encoded = presented.strip_prefix(PREFIX)?;
        if presented.len() != TOKEN_LEN {
            return None;
        }
        let mut body = [0u8; BODY_LEN];
        if URL_SAFE_NO_PAD.decode_slice(encoded, &mut body).ok()? != BODY_LEN {
            return None;
        }
        let user = UserId::from_bytes(body[..16].try_into().ok()?);
        let token = TokenId::from_bytes(body[16..32].try_into().ok()?);
        self.tag(&user, &token).verify_slice(&body[32..]).ok()?;
        Some(TokenClaims { user, token })
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

/// What an authentic token says: which token of which user it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenClaims {
    /// The account the token was issued to.
    pub user: UserId,
    /// The issued token's id, the key of its record.
    pub token: TokenId,
}

/// A bearer token as handed to a client. Its `Debug` form never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// The token text, for the response body only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SigningKey {
        SigningKey::new(&[byte; 32]).unwrap()
    }

    #[test]
    fn an_issued_token_authenticates_to_its_ids() {
        let (user, token) = (UserId::generate(), TokenId::generate());
        let text = key(1).token_for(&user, &token);
        assert_eq!(text.expose().len(), TOKEN_LEN);
        assert_eq!(
            key(1).authenticate(text.expose()),
            Some(TokenClaims { user, token })
        );
    }

    #[test]
    fn tokens_are_url_safe_and_fit_in_256_bytes() {
        let text = key(1).token_for(&UserId::generate(), &TokenId::generate());
        assert!(text.expose().len() <= 256);
        assert!(
            text.expose()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }

    #[test]
    fn a_token_under_another_key_is_refused() {
        let text = key(1).token_for(&UserId::generate(), &TokenId::generate());
        assert_eq!(key(2).authenticate(text.expose()), None);
    }

    #[test]
    fn any_single_character_change_is_refused() {
        let signer = key(7);
        let text = signer.token_for(&UserId::generate(), &TokenId::generate());
        let original = text.expose().as_bytes().to_vec();
        for position in PREFIX.len()..original.len() {
            let mut changed = original.clone();
            changed[position] = if changed[position] == b'A' {
                b'B'
            } else {
                b'A'
            };
            let changed = String::from_utf8(changed).unwrap();
            assert_eq!(signer.authenticate(&changed), None, "position {position}");
        }
    }

    #[test]
    fn garbage_is_refused() {
        let signer = key(3);
        for garbage in [
            "",
            "tg1_",
            "Bearer x",
            "32997522-0c9f-4336-80fb-fef717e28248",
            "tg1_\u{e9}",
        ] {
            assert_eq!(signer.authenticate(garbage), None);
        }
        assert_eq!(
            signer.authenticate(&format!("tg1_{}", "A".repeat(86))),
            None
        );
    }

    #[test]
    fn a_short_key_is_refused_and_never_printed() {
        assert!(SigningKey::new(&[0; 31]).is_none());
        assert_eq!(format!("{:?}", key(9)), "SigningKey(..)");
        let text = key(9).token_for(&UserId::generate(), &TokenId::generate());
        assert_eq!(format!("{text:?}"), "AccessToken(..)");
    }
}
