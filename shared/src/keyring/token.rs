//! The wire form of an access token, and the tags a signing key makes and checks for it.
//!
//! A token is `tg2_` followed by URL-safe base64 of `key id (4, big-endian) | user id (16) |
//! token id (16) | tag (32)`, where the tag is HMAC-SHA256, under the key the id names, of the
//! key id and both ids. The table stores only the two ids, so a dump of it cannot be turned into
//! a working token without the key, while the same token can still be handed out again
//! (login-token reuse) by recomputing its tag. A forged or garbled token is refused by the tag
//! check alone, before any store call.
//!
//! Tokens of the first form, `tg1_` and the same body without the key id, were signed by the one
//! key deployments had before key rings; they are checked under key id 1, the id that key keeps
//! in a ring ([`super`]), until that key is dropped.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::key::{KeyId, SigningKey};
use crate::ids::{TokenId, UserId};

const PREFIX: &str = "tg2_";
const BODY_LEN: usize = 4 + 16 + 16 + 32;
/// Length in characters of every token this version issues.
pub const TOKEN_LEN: usize = PREFIX.len() + (BODY_LEN * 4).div_ceil(3);
const DOMAIN: &[u8] = b"tokengate access token v2";

const LEGACY_PREFIX: &str = "tg1_";
const LEGACY_BODY_LEN: usize = 16 + 16 + 32;
/// The length of a first-form (`tg1_`) token's text.
pub const LEGACY_TOKEN_LEN: usize = LEGACY_PREFIX.len() + (LEGACY_BODY_LEN * 4).div_ceil(3);
const LEGACY_DOMAIN: &[u8] = b"tokengate access token v1";

/// The token tags a key makes and checks.
impl SigningKey {
    fn tag(&self, key_id: KeyId, user: &UserId, token: &TokenId) -> Hmac<Sha256> {
        self.mac_of(
            DOMAIN,
            &[&key_id.0.to_be_bytes(), user.as_bytes(), token.as_bytes()],
        )
    }

    fn legacy_tag(&self, user: &UserId, token: &TokenId) -> Hmac<Sha256> {
        self.mac_of(LEGACY_DOMAIN, &[user.as_bytes(), token.as_bytes()])
    }

    /// The token string for the pair (`user`, `token`), signed by this key as `key_id`.
    pub fn token_for(&self, key_id: KeyId, user: &UserId, token: &TokenId) -> AccessToken {
        let mut body = [0u8; BODY_LEN];
        body[..4].copy_from_slice(&key_id.0.to_be_bytes());
        body[4..20].copy_from_slice(user.as_bytes());
        body[20..36].copy_from_slice(token.as_bytes());
        body[36..].copy_from_slice(&self.tag(key_id, user, token).finalize().into_bytes());
        AccessToken(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(body)))
    }

    /// Checks `presented`'s tag under this key, in constant time, and returns whose it is.
    pub fn authenticate(&self, presented: &PresentedToken) -> Option<TokenClaims> {
        let PresentedToken {
            key_id,
            user,
            token,
            tag,
        } = presented;
        let mac = match key_id {
            Some(key_id) => self.tag(*key_id, user, token),
            None => self.legacy_tag(user, token),
        };
        mac.verify_slice(tag).ok()?;
        Some(TokenClaims {
            user: *user,
            token: *token,
        })
    }
}

/// A token's parts as presented, before its tag is checked: nothing here is trusted yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedToken {
    /// The key it claims to be signed by; `None` for the first form, signed by
    /// [`KeyId::LEGACY`].
    pub key_id: Option<KeyId>,
    user: UserId,
    token: TokenId,
    tag: [u8; 32],
}

impl PresentedToken {
    /// Splits `text` into its parts, or `None` when it has neither token form.
    pub fn parse(text: &str) -> Option<Self> {
        if let Some(encoded) = text.strip_prefix(PREFIX) {
            if text.len() != TOKEN_LEN {
                return None;
            }
            let mut body = [0u8; BODY_LEN];
            if URL_SAFE_NO_PAD.decode_slice(encoded, &mut body).ok()? != BODY_LEN {
                return None;
            }
            return Some(Self {
                key_id: Some(KeyId(u32::from_be_bytes(body[..4].try_into().ok()?))),
                user: UserId::from_bytes(body[4..20].try_into().ok()?),
                token: TokenId::from_bytes(body[20..36].try_into().ok()?),
                tag: body[36..].try_into().ok()?,
            });
        }
        let encoded = text.strip_prefix(LEGACY_PREFIX)?;
        if text.len() != LEGACY_TOKEN_LEN {
            return None;
        }
        let mut body = [0u8; LEGACY_BODY_LEN];
        if URL_SAFE_NO_PAD.decode_slice(encoded, &mut body).ok()? != LEGACY_BODY_LEN {
            return None;
        }
        Some(Self {
            key_id: None,
            user: UserId::from_bytes(body[..16].try_into().ok()?),
            token: TokenId::from_bytes(body[16..32].try_into().ok()?),
            tag: body[32..].try_into().ok()?,
        })
    }

    /// The key id that must check it: the named one, or [`KeyId::LEGACY`] for the first form.
    pub fn signer(&self) -> KeyId {
        self.key_id.unwrap_or(KeyId::LEGACY)
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

    fn check(signer: &SigningKey, text: &str) -> Option<TokenClaims> {
        signer.authenticate(&PresentedToken::parse(text)?)
    }

    /// A token of the first form, as deployments before key rings issued them.
    fn legacy_token(signer: &SigningKey, user: &UserId, token: &TokenId) -> String {
        let mut body = [0u8; LEGACY_BODY_LEN];
        body[..16].copy_from_slice(user.as_bytes());
        body[16..32].copy_from_slice(token.as_bytes());
        body[32..].copy_from_slice(&signer.legacy_tag(user, token).finalize().into_bytes());
        format!("{LEGACY_PREFIX}{}", URL_SAFE_NO_PAD.encode(body))
    }

    #[test]
    fn an_issued_token_authenticates_to_its_ids_and_names_its_key() {
        let (user, token) = (UserId::generate(), TokenId::generate());
        let text = key(1).token_for(KeyId(7), &user, &token);
        assert_eq!(text.expose().len(), TOKEN_LEN);
        let presented = PresentedToken::parse(text.expose()).unwrap();
        assert_eq!(presented.key_id, Some(KeyId(7)));
        assert_eq!(
            key(1).authenticate(&presented),
            Some(TokenClaims { user, token })
        );
    }

    #[test]
    fn tokens_are_url_safe_and_fit_in_256_bytes() {
        let text = key(1).token_for(KeyId(u32::MAX), &UserId::generate(), &TokenId::generate());
        assert!(text.expose().len() <= 256);
        assert!(
            text.expose()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }

    #[test]
    fn a_token_under_another_key_is_refused() {
        let text = key(1).token_for(KeyId(1), &UserId::generate(), &TokenId::generate());
        assert_eq!(check(&key(2), text.expose()), None);
    }

    #[test]
    fn a_changed_key_id_fails_the_tag_even_under_the_same_key() {
        let (user, token) = (UserId::generate(), TokenId::generate());
        let text = key(1).token_for(KeyId(2), &user, &token);
        let mut presented = PresentedToken::parse(text.expose()).unwrap();
        presented.key_id = Some(KeyId(3));
        assert_eq!(key(1).authenticate(&presented), None);
        presented.key_id = None;
        assert_eq!(key(1).authenticate(&presented), None);
    }

    #[test]
    fn any_single_character_change_is_refused() {
        let signer = key(7);
        let text = signer.token_for(KeyId(1), &UserId::generate(), &TokenId::generate());
        let original = text.expose().as_bytes().to_vec();
        for position in PREFIX.len()..original.len() {
            let mut changed = original.clone();
            changed[position] = if changed[position] == b'A' {
                b'B'
            } else {
                b'A'
            };
            let changed = String::from_utf8(changed).unwrap();
            assert_eq!(check(&signer, &changed), None, "position {position}");
        }
    }

    #[test]
    fn a_first_form_token_checks_under_the_legacy_key_id() {
        let (user, token) = (UserId::generate(), TokenId::generate());
        let text = legacy_token(&key(4), &user, &token);
        let presented = PresentedToken::parse(&text).unwrap();
        assert_eq!(
            (presented.key_id, presented.signer()),
            (None, KeyId::LEGACY)
        );
        assert_eq!(
            key(4).authenticate(&presented),
            Some(TokenClaims { user, token })
        );
        assert_eq!(key(5).authenticate(&presented), None);
    }

    #[test]
    fn garbage_is_refused() {
        for garbage in [
            "",
            "tg1_",
            "tg2_",
            "Bearer x",
            "32997522-0c9f-4336-80fb-fef717e28248",
            "tg2_\u{e9}",
        ] {
            assert_eq!(PresentedToken::parse(garbage), None);
        }
        for forged in [
            format!("tg1_{}", "A".repeat(86)),
            format!("tg2_{}", "A".repeat(91)),
        ] {
            assert_eq!(check(&key(3), &forged), None);
        }
    }

    #[test]
    fn a_short_key_is_refused_and_never_printed() {
        assert!(SigningKey::new(&[0; 31]).is_none());
        assert_eq!(format!("{:?}", key(9)), "SigningKey(..)");
        let text = key(9).token_for(KeyId(1), &UserId::generate(), &TokenId::generate());
        assert_eq!(format!("{text:?}"), "AccessToken(..)");
    }
}
