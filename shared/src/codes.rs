//! One-time codes: what a password-reset or email-verification message carries, and the
//! records and messages around them.
//!
//! A code is URL-safe base64 of `key id (4) | user id (16) | code id (16) | tag (16)`: the tag
//! is 128 bits of HMAC-SHA256, under the key ring's key `key id`, of the code's purpose and the
//! three ids. The code id comes from the CSPRNG, and the tag is derived from it, so the mailer
//! rebuilds the code from ids it reads and no item or stream record ever holds the code: a dump
//! of the tables cannot be turned into a working code without the key. The purpose is in the
//! tag, so a code of one purpose is refused by the other route.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::credentials::Email;
use crate::ids::{CodeId, UserId};
use crate::tokens::format::{KeyId, SigningKey};

const CODE_DOMAIN: &[u8] = b"tokengate one-time code v1";

/// The one-time code for `purpose` of `user`'s message `code`, made by `key` as `key_id`.
pub fn code_for(
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
pub fn check(key: &SigningKey, purpose: CodePurpose, presented: &PresentedCode) -> bool {
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
/// How many wrong codes a code id survives; the next try finds it dead.
pub const MAX_WRONG_TRIES: u64 = 5;
/// The window over which messages per account are counted, seconds.
pub const MAIL_WINDOW_SECONDS: u64 = 3_600;

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

/// A message the API was asked to send: an outbox item. It holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRequest {
    /// The message's id, and the id of the code it carries.
    pub id: CodeId,
    /// What the code is for.
    pub purpose: CodePurpose,
    /// Where to send it (a reset asks for an address that may have no account).
    pub email: Email,
    /// The account, when the request knew it (verification).
    pub user: Option<UserId>,
    /// When it was asked for, Unix seconds.
    pub requested_at: u64,
}

impl MailRequest {
    /// A new request for `purpose` to `email`, at `now`.
    pub fn new(purpose: CodePurpose, email: Email, user: Option<UserId>, now: u64) -> Self {
        Self {
            id: CodeId::generate(),
            purpose,
            email,
            user,
            requested_at: now,
        }
    }
}

/// How a mail request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailOutcome {
    /// The message was accepted by the mail service.
    Sent,
    /// No account has the address: nothing to send.
    NoAccount,
    /// The account already got its messages of the hour.
    RateLimited,
    /// A newer request of the same purpose already made a newer code.
    Superseded,
    /// The request's own code is used up or expired (a late redelivery): nothing to send.
    Expired,
    /// The address is verified already.
    AlreadyVerified,
    /// The mail service refused the message for good; logged and counted.
    Failed,
}

impl MailOutcome {
    /// Its name in the outbox.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::NoAccount => "no-account",
            Self::RateLimited => "rate-limited",
            Self::Superseded => "superseded",
            Self::Expired => "expired",
            Self::AlreadyVerified => "already-verified",
            Self::Failed => "failed",
        }
    }
}

/// The live code of one purpose of one account, with the account's message count of the hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRecord {
    /// The live code's id.
    pub code_id: CodeId,
    /// The key its tag is made with.
    pub key_id: KeyId,
    /// When it stops working, Unix seconds.
    pub expire: u64,
    /// Wrong codes presented for it so far.
    pub tries: u64,
    /// When the request that made it was asked for.
    pub requested_at: u64,
    /// Start of the hour messages are counted in.
    pub window_start: u64,
    /// Messages sent in that hour.
    pub sent_in_window: u64,
}

/// What the mailer may do with a request, given the purpose's current record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeIssue {
    /// Write this record, then send its code.
    Issue(CodeRecord),
    /// This request's code is the live one already (a retry): send it again.
    AlreadyIssued(CodeRecord),
    /// A newer request made the live code.
    Superseded,
    /// The hour's messages are used up.
    RateLimited,
}

/// Limits of the codes of one purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodePolicy {
    /// How long a code works, seconds.
    pub ttl: u64,
    /// Messages per account and purpose per hour.
    pub max_per_hour: u64,
}

impl CodeRecord {
    /// What `request` may do at `now` over the purpose's current record `seen`, with the ring's
    /// active key `key_id`.
    pub fn issue(
        seen: Option<&CodeRecord>,
        request: &MailRequest,
        key_id: KeyId,
        now: u64,
        policy: CodePolicy,
    ) -> CodeIssue {
        let (window_start, sent) = match seen {
            Some(seen) if seen.code_id == request.id => {
                return CodeIssue::AlreadyIssued(seen.clone());
            }
            Some(seen) if seen.requested_at > request.requested_at => {
                return CodeIssue::Superseded;
            }
            Some(seen) if seen.window_start.saturating_add(MAIL_WINDOW_SECONDS) > now => {
                (seen.window_start, seen.sent_in_window)
            }
            _ => (now, 0),
        };
        if sent >= policy.max_per_hour {
            return CodeIssue::RateLimited;
        }
        CodeIssue::Issue(CodeRecord {
            code_id: request.id,
            key_id,
            expire: now.saturating_add(policy.ttl),
            tries: 0,
            requested_at: request.requested_at,
            window_start,
            sent_in_window: sent + 1,
        })
    }

    /// Whether the code `code_id` may still be redeemed at `now`.
    pub fn accepts(&self, code_id: &CodeId, now: u64) -> bool {
        self.code_id == *code_id && now < self.expire && self.tries < MAX_WRONG_TRIES
    }
}

/// A message ready to send: subject, plain text and HTML.
#[derive(Clone, PartialEq, Eq)]
pub struct MailMessage {
    /// Subject line.
    pub subject: String,
    /// The plain-text part; the code is on a line of its own starting with `Code: `.
    pub text: String,
    /// The HTML part: the same words, no images, no tracking.
    pub html: String,
}

impl fmt::Debug for MailMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailMessage")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl MailMessage {
    /// The message for `purpose` carrying `code`, valid `ttl` seconds, with a link made from
    /// `link_template` (its `{code}` replaced) when the template is not empty.
    pub fn render(purpose: CodePurpose, code: &OneTimeCode, ttl: u64, link_template: &str) -> Self {
        let code = code.expose();
        let link = (!link_template.trim().is_empty())
            .then(|| link_template.trim().replace("{code}", code));
        let minutes = ttl.div_ceil(60);
        let validity = if minutes.is_multiple_of(60) {
            format!(
                "{} hour{}",
                minutes / 60,
                if minutes == 60 { "" } else { "s" }
            )
        } else {
            format!("{minutes} minutes")
        };
        let (subject, opening, closing) = match purpose {
            CodePurpose::PasswordReset => (
                "Reset your password",
                "Someone asked to reset the password of the account with this email address.",
                "If it was not you, ignore this message: your password stays as it is.",
            ),
            CodePurpose::EmailVerification => (
                "Verify your email address",
                "Please confirm that this email address belongs to your new account.",
                "If you did not sign up, ignore this message.",
            ),
        };
        let mut text = format!("{opening}\n\nCode: {code}\n\n");
        let mut html = format!(
            "<!doctype html><html><body><p>{}</p><p>Code: <code>{}</code></p>",
            escape_html(opening),
            escape_html(code)
        );
        if let Some(link) = &link {
            text.push_str(&format!("Or open: {link}\n\n"));
            html.push_str(&format!(
                "<p><a href=\"{0}\">{0}</a></p>",
                escape_html(link)
            ));
        }
        text.push_str(&format!(
            "The code works once, for {validity}.\n{closing}\n"
        ));
        html.push_str(&format!(
            "<p>The code works once, for {validity}.</p><p>{}</p></body></html>",
            escape_html(closing)
        ));
        Self {
            subject: subject.to_owned(),
            text,
            html,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: CodePolicy = CodePolicy {
        ttl: 900,
        max_per_hour: 3,
    };

    fn request(at: u64) -> MailRequest {
        MailRequest::new(
            CodePurpose::PasswordReset,
            Email::parse("a@example.com").unwrap(),
            None,
            at,
        )
    }

    fn issued(issue: CodeIssue) -> CodeRecord {
        match issue {
            CodeIssue::Issue(record) => record,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_retried_request_finds_its_own_code_and_an_older_one_is_superseded() {
        let (older, newer) = (request(10), request(20));
        let record = issued(CodeRecord::issue(None, &newer, KeyId(1), 20, POLICY));
        assert_eq!((record.expire, record.sent_in_window), (920, 1));
        assert_eq!(
            CodeRecord::issue(Some(&record), &newer, KeyId(2), 30, POLICY),
            CodeIssue::AlreadyIssued(record.clone())
        );
        assert_eq!(
            CodeRecord::issue(Some(&record), &older, KeyId(1), 30, POLICY),
            CodeIssue::Superseded
        );
    }

    #[test]
    fn an_account_gets_its_hourly_messages_and_then_none_until_the_hour_is_over() {
        let mut record: Option<CodeRecord> = None;
        for at in 0..POLICY.max_per_hour {
            record = Some(issued(CodeRecord::issue(
                record.as_ref(),
                &request(at),
                KeyId(1),
                at,
                POLICY,
            )));
        }
        let last = record.unwrap();
        assert_eq!(
            CodeRecord::issue(Some(&last), &request(100), KeyId(1), 100, POLICY),
            CodeIssue::RateLimited
        );
        let next = issued(CodeRecord::issue(
            Some(&last),
            &request(MAIL_WINDOW_SECONDS),
            KeyId(1),
            MAIL_WINDOW_SECONDS,
            POLICY,
        ));
        assert_eq!(
            (next.window_start, next.sent_in_window),
            (MAIL_WINDOW_SECONDS, 1)
        );
    }

    #[test]
    fn a_code_is_accepted_only_while_live_unexpired_and_with_tries_left() {
        let request = request(0);
        let mut record = issued(CodeRecord::issue(None, &request, KeyId(1), 0, POLICY));
        assert!(record.accepts(&request.id, 899));
        assert!(!record.accepts(&request.id, 900));
        assert!(!record.accepts(&CodeId::generate(), 1));
        record.tries = MAX_WRONG_TRIES;
        assert!(!record.accepts(&request.id, 1));
    }

    #[test]
    fn a_message_carries_the_code_on_its_own_line_and_a_link_only_when_configured() {
        let code = OneTimeCode("abc-DEF_123".into());
        let plain = MailMessage::render(CodePurpose::PasswordReset, &code, 900, "");
        assert!(plain.text.lines().any(|line| line == "Code: abc-DEF_123"));
        assert!(plain.text.contains("15 minutes") && !plain.text.contains("http"));
        let linked = MailMessage::render(
            CodePurpose::EmailVerification,
            &code,
            86_400,
            "https://app.example/verify?c={code}&x=<y>",
        );
        assert!(
            linked
                .text
                .contains("https://app.example/verify?c=abc-DEF_123&x=<y>")
        );
        assert!(linked.html.contains("verify?c=abc-DEF_123&amp;x=&lt;y&gt;"));
        assert!(linked.text.contains("24 hours"));
        assert!(!linked.html.contains("<img"));
        assert_eq!(format!("{code:?}"), "OneTimeCode(..)");
        assert!(!format!("{linked:?}").contains("abc-DEF"));
    }
}
