//! What a client proves itself with: an email and a password, parsed rather than validated.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

/// Why what a client sent is not usable as credentials or a form; `problem.rs` maps it to HTTP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Malformed input; the message says how, and never quotes a secret.
    #[error("{0}")]
    Malformed(String),
    /// Well-formed credentials that no account can have (a user-id that is no email address, a
    /// password of a length no account accepts): indistinguishable from wrong credentials.
    #[error("Wrong credentials.")]
    NoAccountCanMatch,
}

/// An account's email: trimmed, lower-cased, syntactically valid, at most 254 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Longest address accepted (RFC 5321 path limit less the brackets).
    pub const MAX_LEN: usize = 254;

    /// Parses what a client sent; emails differing only in case or surrounding space are equal.
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let normalized = raw.trim().to_lowercase();
        if normalized.is_empty() {
            return Err(InputError::Malformed("email is required.".into()));
        }
        if normalized.len() > Self::MAX_LEN
            || !email_address::EmailAddress::is_valid(&normalized)
            || !normalized.contains('@')
        {
            return Err(InputError::Malformed(
                "email is not a valid email address.".into(),
            ));
        }
        Ok(Self(normalized))
    }

    /// An address as the store keeps it: normalized and validated when it was written, so it is
    /// taken as it is, not parsed again.
    pub(crate) fn from_stored(normalized: String) -> Self {
        Self(normalized)
    }

    /// The normalized address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as the client typed it, 8 to 1024 bytes. Never printed, never stored.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Shortest password accepted, in bytes.
    pub const MIN_LEN: usize = 8;
    /// Longest password accepted, in bytes (bounds the hashing work a request can ask for).
    pub const MAX_LEN: usize = 1024;

    /// Checks only the length: no composition rules (NIST SP 800-63B).
    pub fn parse(raw: String) -> Result<Self, InputError> {
        if raw.is_empty() {
            return Err(InputError::Malformed("password is required.".into()));
        }
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&raw.len()) {
            return Err(InputError::Malformed(format!(
                "password must be {} to {} bytes long.",
                Self::MIN_LEN,
                Self::MAX_LEN
            )));
        }
        Ok(Self(raw))
    }

    /// The password's bytes, for hashing only.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

/// An email and a password, as presented to log in.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Who claims to be logging in.
    pub email: Email,
    /// What they prove it with.
    pub password: Password,
}

impl Credentials {
    /// Parses an `Authorization: Basic` value: base64 of UTF-8 `email:password`, split at the
    /// first colon so that a password may contain colons. `Ok(None)` when the scheme is not Basic.
    ///
    /// A value that is not Basic syntax (not base64, not UTF-8, no colon) is a bad request. A
    /// well-formed one whose user-id is not an email address, or whose password is not 8 to 1024
    /// bytes, names credentials no account can have: [`InputError::NoAccountCanMatch`], as RFC 7617
    /// lets the user-id be any text and leaves judging it to the server.
    pub fn from_basic_header(value: &[u8]) -> Result<Option<Self>, InputError> {
        let value = std::str::from_utf8(value)
            .map_err(|_| InputError::Malformed("Authorization header is not valid text.".into()))?
            .trim();
        let Some((scheme, encoded)) = value.split_once(' ') else {
            return Ok(None);
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return Ok(None);
        }
        let malformed =
            |what: &str| InputError::Malformed(format!("Authorization Basic credentials {what}."));
        let decoded = STANDARD
            .decode(encoded.trim())
            .map_err(|_| malformed("are not valid base64"))?;
        let decoded = String::from_utf8(decoded).map_err(|_| malformed("are not valid UTF-8"))?;
        let (email, password) = decoded
            .split_once(':')
            .ok_or_else(|| malformed("must be email:password"))?;
        let wrong = |_| InputError::NoAccountCanMatch;
        Ok(Some(Self {
            email: Email::parse(email).map_err(wrong)?,
            password: Password::parse(password.to_owned()).map_err(wrong)?,
        }))
    }
}

/// The JSON body of `POST /auth/signup`.
#[derive(Debug)]
pub struct SignupForm {
    /// The new account's credentials.
    pub credentials: Credentials,
    /// Optional given name.
    pub firstname: Option<String>,
    /// Optional family name.
    pub lastname: Option<String>,
}

#[derive(Deserialize)]
struct RawForm {
    email: Option<String>,
    password: Option<String>,
    firstname: Option<String>,
    lastname: Option<String>,
}

/// Parses a JSON object body; errors say where, never what (the body may hold a password).
fn parse_json_object<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, InputError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(InputError::Malformed(
            "Request body is empty; a JSON object is expected.".into(),
        ));
    }
    // serde's messages can quote the offending value (a password), so only its position is kept.
    serde_json::from_slice(body).map_err(|error| {
            InputError::Malformed(format!(
                "Request body must be a JSON object whose fields are strings (error at line {}, column {}).",
                error.line(),
                error.column()
            ))
        })
}

impl RawForm {
    fn parse(body: &[u8]) -> Result<Self, InputError> {
        parse_json_object(body)
    }

    fn credentials(&mut self) -> Result<Credentials, InputError> {
        let email = self.email.take().unwrap_or_default();
        let password = self.password.take().unwrap_or_default();
        Ok(Credentials {
            email: Email::parse(&email)?,
            password: Password::parse(password)?,
        })
    }
}

/// Longest first or last name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 100;

fn parse_name(field: &str, raw: Option<String>) -> Result<Option<String>, InputError> {
    let Some(raw) = raw else { return Ok(None) };
    let name = raw.trim();
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(InputError::Malformed(format!(
            "{field} must be at most {MAX_NAME_CHARS} characters."
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(InputError::Malformed(format!(
            "{field} must not contain control characters."
        )));
    }
    Ok((!name.is_empty()).then(|| name.to_owned()))
}

impl SignupForm {
    /// Parses the signup body.
    pub fn from_json(body: &[u8]) -> Result<Self, InputError> {
        let mut raw = RawForm::parse(body)?;
        Ok(Self {
            credentials: raw.credentials()?,
            firstname: parse_name("firstname", raw.firstname.take())?,
            lastname: parse_name("lastname", raw.lastname.take())?,
        })
    }
}

/// The JSON body of `POST /auth/password`.
#[derive(Debug)]
pub struct PasswordChange {
    /// The password the caller has now.
    pub current: Password,
    /// The one it wants.
    pub new: Password,
}

#[derive(Deserialize)]
struct RawPasswordChange {
    current_password: Option<String>,
    new_password: Option<String>,
}

impl PasswordChange {
    /// Parses `{current_password, new_password}`.
    pub fn from_json(body: &[u8]) -> Result<Self, InputError> {
        let raw: RawPasswordChange = parse_json_object(body)?;
        let field = |value: Option<String>, name: &str| {
            Password::parse(value.unwrap_or_default())
                .map_err(|error| InputError::Malformed(format!("{name}: {error}")))
        };
        Ok(Self {
            current: field(raw.current_password, "current_password")?,
            new: field(raw.new_password, "new_password")?,
        })
    }
}

/// Parses the JSON body of `POST /auth/login`: `{email, password}`.
pub fn login_credentials_from_json(body: &[u8]) -> Result<Credentials, InputError> {
    RawForm::parse(body)?.credentials()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(raw: &str) -> Vec<u8> {
        format!("Basic {}", STANDARD.encode(raw)).into_bytes()
    }

    #[test]
    fn email_is_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  John.Doe@Example.COM ").unwrap().as_str(),
            "john.doe@example.com"
        );
    }

    #[test]
    fn malformed_emails_are_bad_requests() {
        for raw in [
            "",
            "   ",
            "no-at-sign",
            "@example.com",
            "a@",
            "a b@example.com",
        ] {
            assert!(
                matches!(Email::parse(raw), Err(InputError::Malformed(_))),
                "{raw:?}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn password_length_is_bounded_in_bytes() {
        assert!(Password::parse("1234567".into()).is_err());
        assert!(Password::parse("12345678".into()).is_ok());
        assert!(Password::parse("x".repeat(1024)).is_ok());
        assert!(Password::parse("x".repeat(1025)).is_err());
        // Four characters, eight bytes.
        assert!(Password::parse("\u{e9}\u{e9}\u{e9}\u{e9}".into()).is_ok());
    }

    #[test]
    fn basic_header_splits_at_the_first_colon() {
        let credentials = Credentials::from_basic_header(&basic("a@b.co:pass:word:\u{fc}ber"))
            .unwrap()
            .unwrap();
        assert_eq!(credentials.email.as_str(), "a@b.co");
        assert_eq!(
            credentials.password.expose(),
            "pass:word:\u{fc}ber".as_bytes()
        );
    }

    #[test]
    fn basic_scheme_is_case_insensitive_and_other_schemes_are_not_basic() {
        assert!(
            Credentials::from_basic_header(
                format!("bAsIc {}", STANDARD.encode("a@b.co:password")).as_bytes()
            )
            .unwrap()
            .is_some()
        );
        assert!(
            Credentials::from_basic_header(b"Bearer abc")
                .unwrap()
                .is_none()
        );
        assert!(Credentials::from_basic_header(b"Basic").unwrap().is_none());
    }

    #[test]
    fn malformed_basic_headers_are_bad_requests() {
        let no_colon = basic("a@b.copassword");
        let not_utf8 = format!("Basic {}", STANDARD.encode([0xff, 0xfe, b':', b'x'])).into_bytes();
        for header in [b"Basic !!!".to_vec(), no_colon, not_utf8, vec![0xff, 0x20]] {
            assert!(
                matches!(
                    Credentials::from_basic_header(&header),
                    Err(InputError::Malformed(_))
                ),
                "{header:?}"
            );
        }
    }

    #[test]
    fn well_formed_basic_credentials_no_account_can_have_are_wrong_credentials() {
        for raw in [
            "not-an-email:correct horse",
            "a@b.co:short",
            ":correct horse",
        ] {
            assert!(
                matches!(
                    Credentials::from_basic_header(&basic(raw)),
                    Err(InputError::NoAccountCanMatch)
                ),
                "{raw:?}"
            );
        }
        let long = format!("a@b.co:{}", "x".repeat(1025));
        assert!(matches!(
            Credentials::from_basic_header(&basic(&long)),
            Err(InputError::NoAccountCanMatch)
        ));
    }

    #[test]
    fn the_debug_form_never_shows_the_password() {
        let credentials = Credentials::from_basic_header(&basic("a@b.co:hunter2hunter2")).unwrap();
        assert!(!format!("{credentials:?}").contains("hunter2"));
    }

    #[test]
    fn signup_form_parses_optional_names() {
        let form = SignupForm::from_json(
            br#"{"email":"A@b.co","password":"password1","firstname":" Ada ","lastname":""}"#,
        )
        .unwrap();
        assert_eq!(form.credentials.email.as_str(), "a@b.co");
        assert_eq!(form.firstname.as_deref(), Some("Ada"));
        assert_eq!(form.lastname, None);
    }

    #[test]
    fn json_errors_do_not_quote_the_body() {
        let Err(InputError::Malformed(detail)) =
            SignupForm::from_json(br#"{"email":"a@b.co","password":12345678901}"#)
        else {
            panic!("expected a bad request");
        };
        assert!(!detail.contains("12345678901"), "{detail}");
        for body in [&b""[..], b"[]", b"{", b"null", br#"{"email":"a@b.co"}"#] {
            assert!(SignupForm::from_json(body).is_err(), "{body:?}");
        }
    }
}
