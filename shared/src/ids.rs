//! Identifiers: 128 random bits from the operating system's CSPRNG, written as URL-safe base64.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Fills `bytes` from the operating system's CSPRNG.
///
/// # Panics
/// Only when the operating system has no randomness to give, which no request can cause and
/// no code path could recover from.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system CSPRNG is unavailable");
    bytes
}

macro_rules! random_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; 16]);

        impl $name {
            /// A fresh random identifier.
            pub fn generate() -> Self {
                Self(random_bytes())
            }

            /// The identifier's raw bytes.
            pub fn as_bytes(&self) -> &[u8; 16] {
                &self.0
            }

            /// Wraps raw bytes.
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(bytes)
            }

            /// Parses the 22-character URL-safe base64 form.
            pub fn parse(text: &str) -> Option<Self> {
                if text.len() != 22 {
                    return None;
                }
                let mut bytes = [0u8; 16];
                match URL_SAFE_NO_PAD.decode_slice(text, &mut bytes) {
                    Ok(16) => Some(Self(bytes)),
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }
    };
}

random_id!(
    /// Identifies a user account; public (it is returned as `userObj.id` and `uid`).
    UserId
);
random_id!(
    /// Identifies one issued token; public (it is returned as the token entity's `id`).
    TokenId
);
random_id!(
    /// Identifies one message to send and the one-time code it carries; a stream record and
    /// the tables hold it, never the code's secret.
    CodeId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_round_trips_through_its_text_form() {
        let id = UserId::generate();
        let text = id.to_string();
        assert_eq!(text.len(), 22);
        assert_eq!(UserId::parse(&text), Some(id));
    }

    #[test]
    fn two_generated_ids_differ() {
        assert_ne!(TokenId::generate(), TokenId::generate());
    }

    #[test]
    fn malformed_text_is_not_an_id() {
        assert_eq!(UserId::parse(""), None);
        assert_eq!(UserId::parse("short"), None);
        assert_eq!(UserId::parse("!!!!!!!!!!!!!!!!!!!!!!"), None);
        assert_eq!(UserId::parse(&"A".repeat(23)), None);
    }
}
