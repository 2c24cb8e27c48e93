//! Amazon SES v2: sending one message (`SendEmail`), with its failures classified into those
//! worth another try and those that are final.

use aws_config::SdkConfig;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::error::{DisplayErrorContext, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

use crate::credentials::Email;
use crate::messages::MailMessage;

/// Why a message was not sent. Never holds the message.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Throttled, unreachable, timed out, paused or failed on SES's side: try again later.
    #[error("mail service unavailable: {0}")]
    Transient(String),
    /// Refused for good (a rejected message or address, an unverified sender, a suspended
    /// account): another try would fail the same way.
    #[error("mail service refused the message: {0}")]
    Permanent(String),
}

/// Sends messages from one address.
#[derive(Debug, Clone)]
pub struct MailSender {
    client: Client,
    from: String,
}

fn content(text: &str) -> Result<Content, SendError> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|error| SendError::Permanent(error.to_string()))
}

impl MailSender {
    /// A sender from `from` over the SDK configuration `sdk` (`AWS_ENDPOINT_URL_SESV2` points
    /// it at the local emulator).
    pub fn new(sdk: &SdkConfig, from: impl Into<String>) -> Self {
        Self {
            client: Client::new(sdk),
            from: from.into(),
        }
    }

    /// A sender from `from` over an SES client made elsewhere.
    pub fn from_client(client: Client, from: impl Into<String>) -> Self {
        Self {
            client,
            from: from.into(),
        }
    }

    /// Sends `message` to `to`.
    pub async fn send(&self, to: &Email, message: &MailMessage) -> Result<(), SendError> {
        let simple = Message::builder()
            .subject(content(&message.subject)?)
            .body(
                Body::builder()
                    .text(content(&message.text)?)
                    .html(content(&message.html)?)
                    .build(),
            )
            .build();
        let sent = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(to.as_str()).build())
            .content(EmailContent::builder().simple(simple).build())
            .send()
            .await;
        sent.map(|_| ()).map_err(classify)
    }
}

fn classify(
    error: SdkError<SendEmailError, aws_sdk_sesv2::config::http::HttpResponse>,
) -> SendError {
    let described = DisplayErrorContext(&error).to_string();
    let status = error
        .raw_response()
        .map(|response| response.status().as_u16());
    match error.as_service_error() {
        Some(
            SendEmailError::AccountSuspendedException(_)
            | SendEmailError::BadRequestException(_)
            | SendEmailError::MailFromDomainNotVerifiedException(_)
            | SendEmailError::MessageRejected(_)
            | SendEmailError::NotFoundException(_),
        ) => SendError::Permanent(described),
        Some(
            SendEmailError::TooManyRequestsException(_)
            | SendEmailError::LimitExceededException(_)
            | SendEmailError::SendingPausedException(_),
        ) => SendError::Transient(described),
        // Anything else: a 4xx the SDK does not know is final, the rest (5xx, timeouts, no
        // connection) is worth another try.
        _ if status.is_some_and(|status| (400..500).contains(&status) && status != 429) => {
            SendError::Permanent(described)
        }
        _ => SendError::Transient(described),
    }
}
