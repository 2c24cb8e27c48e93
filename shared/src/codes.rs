//! One-time codes: what a password-reset or email-verification message carries.
//!
//! A code is URL-safe base64 of `key id (4) | user id (16) | code id (16) | tag (16)`: the tag
//! is 128 bits of HMAC-SHA256, under the key ring's key `key id`, of the code's purpose and the
//! three ids. The code id comes from the CSPRNG, and the tag is derived from it, so the mailer
//! rebuilds the code from ids it reads and no item or stream record ever holds the code: a dump
//! of the tables cannot be turned into a working code without the key. The purpose is in the
//! tag, so a code of one purpose is refused by the other route.
//!
//! The records kept of a code and of the messages asked for are in [`crate::records`]; the
//! messages that carry a code, in [`crate::messages`].

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::ids::{CodeId, UserId};
use crate::keyring::{KeyId, KeyRing, SigningKey};

const CODE_DOMAIN: &[u8] = b"tokengate one-time code v1";

/// The one-time codes a ring's keys make and check. Here rather than in [`crate::keyring`], so
/// the ring knows nothing of codes: the format is this module's, the keys are the ring's.
impl KeyRing {
    /// The one-time code for `purpose` of `user`'s message `code`, made by key `key_id`, or
    /// `None` once the ring no longer holds that key.
    pub fn code_with(
        &self,
        key_id: KeyId,
        purpose: CodePurpose,
        user: &UserId,
        code: &CodeId,
    ) -> Option<OneTimeCode> {
        let key = self.key(key_id)?;
        Some(code_for(key, purpose, key_id, user, code))
    }

    /// Checks a presented code's tag for `purpose` under the key it names.
    pub fn check_code(&self, presented: &PresentedCode, purpose: CodePurpose) -> CodeCheck {
        let Some(key) = self.key(presented.key_id) else {
            return CodeCheck::Refused;
        };
        if tag_holds(key, purpose, presented) {
            CodeCheck::Authentic {
                user: presented.user,
                code_id: presented.code_id,
            }
        } else {
            CodeCheck::WrongTag {
                user: presented.user,
                code_id: presented.code_id,
            }
        }
    }
}

/// The one-time code for `purpose` of `user`'s message `code`, made by `key` as `key_id`.
fn code_for(
    key: &SigningKey,
    purpose: CodePurpose,
    key_id: KeyId,
    user: &UserId,
    code: &CodeId,
) -> OneTimeCode {
    let tag = key.mac(CODE_DOMAIN, &[&tag_input(purpose, key_id, user, code)]);
    OneTimeCode::assemble(key_id, user, code, &tag)
}

/// Whether `presented`'s 128-bit tag for `purpose` is `key`'s, in constant time.
fn tag_holds(key: &SigningKey, purpose: CodePurpose, presented: &PresentedCode) -> bool {
    let input = tag_input(
        purpose,
        presented.key_id,
        &presented.user,
        &presented.code_id,
    );
    key.verify_mac_prefix(CODE_DOMAIN, &[&input], &presented.tag)
}

/// What a code's tag covers: its purpose, the key id and both ids.
fn tag_input(purpose: CodePurpose, key_id: KeyId, user: &UserId, code: &CodeId) -> [u8; 37] {
    let mut input = [0u8; 37];
    input[0] = purpose.tag_byte();
    input[1..5].copy_from_slice(&key_id.0.to_be_bytes());
    input[5..21].copy_from_slice(user.as_bytes());
    input[21..].copy_from_slice(code.as_bytes());
    input
}

const BODY_LEN: usize = 4 + 16 + 16 + 16;
/// Length in characters of every code.
pub const CODE_LEN: usize = (BODY_LEN * 4).div_ceil(3);

/// What a code is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodePurpose {
    /// `POST /auth/password-reset/confirm`.
    PasswordReset,
    /// `POST /auth/email/verify`.
    EmailVerification,
}

impl CodePurpose {
    /// Its name in the tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "reset",
            Self::EmailVerification => "verify",
        }
    }

    /// The purpose named `name` in the tables.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "reset" => Some(Self::PasswordReset),
            "verify" => Some(Self::EmailVerification),
            _ => None,
        }
    }

    /// The byte the tag binds the purpose with.
    fn tag_byte(self) -> u8 {
        match self {
            Self::PasswordReset => 1,
            Self::EmailVerification => 2,
        }
    }
}

/// A code's parts as presented, before its tag is checked: nothing here is trusted yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedCode {
    /// The key it claims to be made with.
    pub key_id: KeyId,
    /// The account it claims to be for.
    pub user: UserId,
    /// The message it claims to come from.
    pub code_id: CodeId,
    tag: [u8; 16],
}

impl PresentedCode {
    /// Splits `text` into its parts, or `None` when it is no code.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != CODE_LEN {
            return None;
        }
        let mut body = [0u8; BODY_LEN];
        if URL_SAFE_NO_PAD.decode_slice(text, &mut body).ok()? != BODY_LEN {
            return None;
        }
        Some(Self {
            key_id: KeyId(u32::from_be_bytes(body[..4].try_into().ok()?)),
            user: UserId::from_bytes(body[4..20].try_into().ok()?),
            code_id: CodeId::from_bytes(body[20..36].try_into().ok()?),
            tag: body[36..].try_into().ok()?,
        })
    }
}

/// A one-time code as a message carries it. Its `Debug` form never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeCode(String);

impl OneTimeCode {
    /// Joins the parts of a code whose tag was just computed.
    fn assemble(key_id: KeyId, user: &UserId, code_id: &CodeId, tag: &[u8]) -> Self {
        let mut body = [0u8; BODY_LEN];
        body[..4].copy_from_slice(&key_id.0.to_be_bytes());
        body[4..20].copy_from_slice(user.as_bytes());
        body[20..36].copy_from_slice(code_id.as_bytes());
        body[36..].copy_from_slice(&tag[..16]);
        Self(URL_SAFE_NO_PAD.encode(body))
    }

    /// The code text, for the message only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimeCode(..)")
    }
}

/// What a code's tag check came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// Made by the ring's key for this purpose: it names this account and message.
    Authentic {
        /// The account.
        user: UserId,
        /// The message, and the id of the code's record.
        code_id: CodeId,
    },
    /// Well-formed, but its tag is wrong: a wrong try at the code `code_id` of `user`.
    WrongTag {
        /// The account it names.
        user: UserId,
        /// The code id it names.
        code_id: CodeId,
    },
    /// Not a code at all, or made with a key the ring no longer holds.
    Refused,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A code's check as a function makes it: parsed, then checked under the key it names.
    fn check(ring: &KeyRing, text: &str, purpose: CodePurpose) -> CodeCheck {
        PresentedCode::parse(text).map_or(CodeCheck::Refused, |presented| {
            ring.check_code(&presented, purpose)
        })
    }

    #[test]
    fn a_code_checks_for_its_purpose_only_and_a_changed_character_is_a_wrong_tag() {
        let ring = KeyRing::generate();
        let (user, code_id) = (UserId::generate(), CodeId::generate());
        let code = ring
            .code_with(KeyId(1), CodePurpose::PasswordReset, &user, &code_id)
            .unwrap();
        assert_eq!(code.expose().len(), CODE_LEN);
        assert_eq!(
            check(&ring, code.expose(), CodePurpose::PasswordReset),
            CodeCheck::Authentic { user, code_id }
        );
        assert_eq!(
            check(&ring, code.expose(), CodePurpose::EmailVerification),
            CodeCheck::WrongTag { user, code_id }
        );
        let mut typo = code.expose().as_bytes().to_vec();
        // A character inside the tag, not the last one: that one also holds two padding bits, and
        // setting one makes the code malformed rather than wrong.
        let inside = typo.len() - 5;
        typo[inside] = if typo[inside] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            check(
                &ring,
                std::str::from_utf8(&typo).unwrap(),
                CodePurpose::PasswordReset
            ),
            CodeCheck::WrongTag { user, code_id }
        );
        assert_eq!(
            check(&ring, "garbage", CodePurpose::PasswordReset),
            CodeCheck::Refused
        );
        // Another ring (another deployment, or every key revoked) refuses it outright.
        let other = KeyRing::generate().revoked_all().unwrap();
        assert_eq!(
            check(&other, code.expose(), CodePurpose::PasswordReset),
            CodeCheck::Refused
        );
        assert!(
            other
                .code_with(KeyId(1), CodePurpose::PasswordReset, &user, &code_id)
                .is_none()
        );
    }
}
