//! The messages that carry a one-time code: subject, plain text and HTML, for each purpose.

use std::fmt;

use crate::codes::{CodePurpose, OneTimeCode};

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
    use crate::ids::{CodeId, UserId};
    use crate::keyring::{KeyId, KeyRing};

    #[test]
    fn a_message_carries_the_code_on_its_own_line_and_a_link_only_when_configured() {
        let (user, code_id) = (UserId::generate(), CodeId::generate());
        let code = KeyRing::generate()
            .code_with(KeyId(1), CodePurpose::PasswordReset, &user, &code_id)
            .unwrap();
        let text = code.expose();
        let plain = MailMessage::render(CodePurpose::PasswordReset, &code, 900, "");
        assert!(
            plain
                .text
                .lines()
                .any(|line| line == format!("Code: {text}"))
        );
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
                .contains(&format!("https://app.example/verify?c={text}&x=<y>"))
        );
        assert!(
            linked
                .html
                .contains(&format!("verify?c={text}&amp;x=&lt;y&gt;"))
        );
        assert!(linked.text.contains("24 hours"));
        assert!(!linked.html.contains("<img"));
        assert_eq!(format!("{code:?}"), "OneTimeCode(..)");
        assert!(!format!("{linked:?}").contains(text));
    }
}
