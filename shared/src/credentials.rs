//! What a client proves itself with: an email and a password, parsed rather than validated.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use unicode_normalization::UnicodeNormalization;

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

/// An account's email: a bare addr-spec (no display name, no quoted local part, no domain
/// literal, a domain of two or more labels), normalized, at most 254 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Longest address accepted (RFC 5321 path limit less the brackets).
    pub const MAX_LEN: usize = 254;

    /// What a refused address is told.
    const RULE: &'static str = "email must be a plain address such as name@example.com: no \
        display name, no quoted local part, no IP-literal domain, and a domain of at least two \
        labels.";

    /// Parses what a client sent. Normalizes in this order: trim, Unicode NFC, lower-case, the
    /// domain to its ASCII (IDNA) form; so addresses that differ only in case, surrounding
    /// space, normalization form or the IDN spelling of their domain are equal. Unicode local
    /// parts stay allowed.
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(InputError::Malformed("email is required.".into()));
        }
        let refused = || InputError::Malformed(Self::RULE.into());
        // Lower-casing can leave text that is no longer NFC: normalize once more after it.
        let lowered: String = trimmed
            .nfc()
            .collect::<String>()
            .to_lowercase()
            .nfc()
            .collect();
        let (local, domain) = lowered.rsplit_once('@').ok_or_else(refused)?;
        if local.is_empty() || local.starts_with('"') {
            return Err(refused());
        }
        let domain = idna::domain_to_ascii(domain).map_err(|_| refused())?;
        let address = format!("{local}@{domain}");
        let options = email_address::Options::default()
            .without_display_text()
            .without_domain_literal()
            .with_required_tld();
        if address.len() > Self::MAX_LEN
            || email_address::EmailAddress::parse_with_options(&address, options).is_err()
        {
            return Err(refused());
        }
        Ok(Self(address))
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

/// A password chosen for an account (signup, change, reset): NIST SP 800-63B's rules for
/// memorized secrets on top of [`Password`]'s bounds. Never printed, never stored.
#[derive(Clone, Debug)]
pub struct NewPassword(Password);

impl NewPassword {
    /// Fewest characters, counted as Unicode code points after NFKC normalization.
    pub const MIN_CHARS: usize = 8;

    /// At least [`Self::MIN_CHARS`] characters, at most [`Password::MAX_LEN`] bytes, and not
    /// on the list of commonly used or breached passwords ([`crate::common_passwords`]).
    /// The detail of a refusal names the rule, never the password.
    pub fn parse(raw: String) -> Result<Self, InputError> {
        if raw.is_empty() {
            return Err(InputError::Malformed("password is required.".into()));
        }
        if raw.len() > Password::MAX_LEN {
            return Err(InputError::Malformed(format!(
                "password must be at most {} bytes long.",
                Password::MAX_LEN
            )));
        }
        let normalized: String = raw.nfkc().collect();
        if normalized.chars().count() < Self::MIN_CHARS {
            return Err(InputError::Malformed(format!(
                "password must be at least {} characters long.",
                Self::MIN_CHARS
            )));
        }
        let common = crate::common_passwords::contains;
        if common(&raw) || common(&normalized) || common(&normalized.to_lowercase()) {
            return Err(InputError::Malformed(
                "password is too common: it is on a list of passwords attackers try first.".into(),
            ));
        }
        Ok(Self(Password(raw)))
    }

    /// Refuses a password that is `email`, in any spelling, or its local part.
    pub fn check_against(&self, email: &Email) -> Result<(), InputError> {
        let typed = String::from_utf8_lossy(self.0.expose());
        let lowered: String = typed.nfkc().collect::<String>().to_lowercase();
        let local = email
            .as_str()
            .rsplit_once('@')
            .map_or("", |(local, _)| local);
        if Email::parse(&typed).is_ok_and(|same| same == *email) || lowered.trim() == local {
            return Err(InputError::Malformed(
                "password must not be the account's email address or its part before the @.".into(),
            ));
        }
        Ok(())
    }

    /// The password, for hashing.
    pub fn password(&self) -> &Password {
        &self.0
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
    /// A value that is not Basic syntax (not base64, no colon) is a bad request. A well-formed
    /// one whose bytes are not UTF-8, whose user-id is not an email address, or whose password
    /// is not one an account can have names credentials no account can have:
    /// [`InputError::NoAccountCanMatch`], as RFC 7617 lets the user-id be any text and leaves
    /// judging it to the server.
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
        // Well-formed Basic whose bytes are not UTF-8 names credentials no account can have.
        let decoded = String::from_utf8(decoded).map_err(|_| InputError::NoAccountCanMatch)?;
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
    /// Parses the signup body; the password must be one an account may choose
    /// ([`NewPassword`]).
    pub fn from_json(body: &[u8]) -> Result<Self, InputError> {
        let mut raw = RawForm::parse(body)?;
        let email = Email::parse(&raw.email.take().unwrap_or_default())?;
        let password = NewPassword::parse(raw.password.take().unwrap_or_default())?;
        password.check_against(&email)?;
        Ok(Self {
            credentials: Credentials {
                email,
                password: password.0,
            },
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
    pub new: NewPassword,
}

#[derive(Deserialize)]
struct RawPasswordChange {
    current_password: Option<String>,
    new_password: Option<String>,
}

impl PasswordChange {
    /// Parses `{current_password, new_password}`; the new one must be one an account may
    /// choose ([`NewPassword`]) and differ from the current one.
    pub fn from_json(body: &[u8]) -> Result<Self, InputError> {
        let raw: RawPasswordChange = parse_json_object(body)?;
        fn named(name: &'static str) -> impl Fn(InputError) -> InputError {
            move |error| InputError::Malformed(format!("{name}: {error}"))
        }
        let current = Password::parse(raw.current_password.unwrap_or_default())
            .map_err(named("current_password"))?;
        let new = NewPassword::parse(raw.new_password.unwrap_or_default())
            .map_err(named("new_password"))?;
        if new.password().expose() == current.expose() {
            return Err(InputError::Malformed(
                "new_password must differ from current_password.".into(),
            ));
        }
        Ok(Self { current, new })
    }
}

/// Longest one-time code accepted, in bytes (ours are 70 characters).
const MAX_CODE_LEN: usize = 256;

#[derive(Deserialize)]
struct RawResetRequest {
    email: Option<String>,
}

#[derive(Deserialize)]
struct RawCodeForm {
    code: Option<String>,
}

#[derive(Deserialize)]
struct RawResetConfirmation {
    code: Option<String>,
    new_password: Option<String>,
}

fn required_code(raw: Option<String>) -> Result<String, InputError> {
    let code = raw.unwrap_or_default().trim().to_owned();
    if code.is_empty() {
        return Err(InputError::Malformed("code is required.".into()));
    }
    if code.len() > MAX_CODE_LEN {
        return Err(InputError::Malformed(format!(
            "code must be at most {MAX_CODE_LEN} bytes."
        )));
    }
    Ok(code)
}

/// Parses the JSON body of `POST /auth/password-reset`: `{email}`. Unknown members are ignored.
pub fn reset_email_from_json(body: &[u8]) -> Result<Email, InputError> {
    let raw: RawResetRequest = parse_json_object(body)?;
    // A missing or blank email is Email::parse's own "email is required.".
    Email::parse(&raw.email.unwrap_or_default())
}

/// The JSON body of `POST /auth/password-reset/confirm`.
#[derive(Debug)]
pub struct ResetConfirmation {
    /// The code from the message, as typed (not yet checked).
    pub code: String,
    /// The password the account gets; checked against the account's email once the code
    /// names it.
    pub new_password: NewPassword,
}

impl ResetConfirmation {
    /// Parses `{code, new_password}`; the password must be one an account may choose.
    pub fn from_json(body: &[u8]) -> Result<Self, InputError> {
        let raw: RawResetConfirmation = parse_json_object(body)?;
        let code = required_code(raw.code)?;
        let new_password = NewPassword::parse(raw.new_password.unwrap_or_default())
            .map_err(|error| InputError::Malformed(format!("new_password: {error}")))?;
        Ok(Self { code, new_password })
    }
}

/// Parses the JSON body of `POST /auth/email/verify`: `{code}`, the code as typed.
pub fn code_from_json(body: &[u8]) -> Result<String, InputError> {
    let raw: RawCodeForm = parse_json_object(body)?;
    required_code(raw.code)
}

/// Parses the JSON body of `POST /auth/login`: `{email, password}`. An email that is no
/// account's address by its form is [`InputError::NoAccountCanMatch`], as any other email no
/// account has; a missing field is malformed.
pub fn login_credentials_from_json(body: &[u8]) -> Result<Credentials, InputError> {
    let mut raw = RawForm::parse(body)?;
    let email = raw.email.take().unwrap_or_default();
    if email.trim().is_empty() {
        return Err(InputError::Malformed("email is required.".into()));
    }
    let password = Password::parse(raw.password.take().unwrap_or_default())?;
    Ok(Credentials {
        email: Email::parse(&email).map_err(|_| InputError::NoAccountCanMatch)?,
        password,
    })
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
    fn addresses_that_show_or_route_to_someone_else_are_refused() {
        for raw in [
            "victim@example.com <a@evil.test>",
            "Victim <victim@example.com>",
            "\"victim\"@example.com",
            "victim@[127.0.0.1]",
            "victim@[IPv6:::1]",
            "victim@localhost",
        ] {
            assert!(
                matches!(Email::parse(raw), Err(InputError::Malformed(_))),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn unicode_local_parts_stay_and_domains_become_ascii() {
        assert_eq!(
            Email::parse("Jos\u{e9}@B\u{fc}cher.Example")
                .unwrap()
                .as_str(),
            "jos\u{e9}@xn--bcher-kva.example"
        );
        // NFD (e + combining acute) is the same address as NFC.
        assert_eq!(
            Email::parse("jose\u{301}@xn--bcher-kva.example").unwrap(),
            Email::parse(" JOS\u{c9}@b\u{fc}cher.example ").unwrap()
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;
        use unicode_normalization::UnicodeNormalization;

        fn address() -> impl Strategy<Value = String> {
            let local = "[a-zA-Z0-9._%+\u{e9}\u{fc}\u{df}\u{4e2d}-]{1,16}";
            let label = "[a-zA-Z0-9\u{e9}\u{fc}\u{f6}]{1,10}";
            (local, proptest::collection::vec(label, 2..4))
                .prop_map(|(local, labels)| format!("{local}@{}", labels.join(".")))
        }

        proptest! {
            #[test]
            fn normalizing_a_stored_email_gives_it_back(raw in address()) {
                if let Ok(email) = Email::parse(&raw) {
                    prop_assert_eq!(Email::parse(email.as_str()).unwrap(), email);
                }
            }

            #[test]
            fn case_space_normal_form_and_idn_spelling_reach_one_email(raw in address()) {
                let Ok(email) = Email::parse(&raw) else { return Ok(()) };
                let (local, domain) = raw.rsplit_once('@').unwrap();
                let punycode = idna::domain_to_ascii(domain).unwrap();
                for variant in [
                    raw.to_ascii_uppercase(),
                    format!("  {raw}\t"),
                    raw.nfd().collect::<String>(),
                    format!("{local}@{punycode}"),
                ] {
                    prop_assert_eq!(Email::parse(&variant).ok(), Some(email.clone()), "{:?}", variant);
                }
            }
        }
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

    fn refusal(raw: &str) -> String {
        match NewPassword::parse(raw.to_owned()) {
            Err(InputError::Malformed(detail)) => {
                assert!(!detail.contains(raw), "{detail} quotes the password");
                detail
            }
            other => panic!("{raw:?} was not refused: {other:?}"),
        }
    }

    #[test]
    fn a_new_password_has_eight_characters_not_eight_bytes() {
        // Two emoji are eight bytes but two characters.
        assert!(refusal("\u{1f511}\u{1f512}").contains("at least 8 characters"));
        // NFKC: the ligature "ﬀ" counts as the two characters it stands for, so these seven
        // code points are eight characters, and these six are seven.
        assert!(NewPassword::parse("zq\u{fb00}xwvj".into()).is_ok());
        assert!(refusal("zq\u{fb00}xwv").contains("at least 8 characters"));
        assert!(NewPassword::parse("\u{e9}".repeat(8)).is_ok());
        assert!(refusal(&"x".repeat(1025)).contains("at most 1024 bytes"));
    }

    #[test]
    fn common_and_breached_passwords_are_refused_in_any_case() {
        for common in [
            "password1",
            "Password1",
            "qwertyuiop",
            "iloveyou1",
            "1q2w3e4r5t",
        ] {
            assert!(refusal(common).contains("too common"), "{common}");
        }
        assert!(NewPassword::parse("vermilion-otter-quarry".into()).is_ok());
    }

    #[test]
    fn a_new_password_may_not_be_the_email_or_its_local_part() {
        let email = Email::parse("jos\u{e9}.miller@b\u{fc}cher.example").unwrap();
        for same in [
            "jos\u{e9}.miller@b\u{fc}cher.example",
            "JOS\u{c9}.MILLER@xn--bcher-kva.example",
            "Jos\u{e9}.Miller",
        ] {
            let password = NewPassword::parse(same.into()).unwrap();
            assert!(matches!(
                password.check_against(&email),
                Err(InputError::Malformed(detail)) if detail.contains("email")
            ));
        }
        let other = NewPassword::parse("jose.miller-at-home".into()).unwrap();
        assert!(other.check_against(&email).is_ok());
    }

    #[test]
    fn a_changed_password_must_differ_from_the_current_one() {
        let same = br#"{"current_password":"vermilion otter","new_password":"vermilion otter"}"#;
        let Err(InputError::Malformed(detail)) = PasswordChange::from_json(same) else {
            panic!("the same password was accepted");
        };
        assert!(detail.contains("differ"), "{detail}");
        let common = br#"{"current_password":"vermilion otter","new_password":"password1"}"#;
        assert!(matches!(
            PasswordChange::from_json(common),
            Err(InputError::Malformed(detail)) if detail.starts_with("new_password: ")
        ));
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
        for header in [b"Basic !!!".to_vec(), no_colon, vec![0xff, 0x20]] {
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
        let not_utf8 = format!("Basic {}", STANDARD.encode([0xff, 0xfe, b':', b'x'])).into_bytes();
        assert!(matches!(
            Credentials::from_basic_header(&not_utf8),
            Err(InputError::NoAccountCanMatch)
        ));
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
            br#"{"email":"A@b.co","password":"vermilion otter","firstname":" Ada ","lastname":""}"#,
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
