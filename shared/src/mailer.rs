//! The mailer: turns an outbox item into a message with a fresh one-time code, sends it, and
//! marks the item finished. It runs off the request path (the outbox stream, or a sweep of
//! unfinished items), at least once per item: a retried item finds its own code live and sends
//! the same code again; a newer request of the same purpose supersedes it.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::clock::SharedClock;
use crate::codes::CodePurpose;
use crate::config::MailSettings;
use crate::credentials::Email;
use crate::ids::{CodeId, UserId};
use crate::keys::Keys;
use crate::messages::MailMessage;
use crate::records::{CodeIssue, CodeRecord, MailOutcome, MailRequest};
use crate::retry::Attempts;
use crate::ses::{MailSender, SendError};
use crate::store::{CodeWrite, Store, StoreError};

/// How old an unfinished outbox item must be before a sweep sends it: younger ones are the
/// stream's to deliver.
pub const SWEEP_MIN_AGE_SECONDS: u64 = 60;

/// How many times issuing a code re-reads a record another request moved.
const ISSUE_ATTEMPTS: u32 = 4;

/// Why an item was left unfinished, to be delivered again later.
#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The mail service kept failing for a while; the item stays for the next delivery.
    #[error(transparent)]
    Unsent(SendError),
}

/// What a sweep of unfinished items came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Items finished (sent, or nothing to send).
    pub finished: usize,
    /// Items left for a later delivery.
    pub left: usize,
}

/// Sends what the outbox asks for. One per cold start.
pub struct Mailer {
    store: Store,
    keys: Keys,
    sender: MailSender,
    settings: MailSettings,
    clock: SharedClock,
    permanent_failures: AtomicU64,
}

impl Mailer {
    /// The mailer over `store`, making codes with `keys`, sending through `sender`.
    pub fn new(
        store: Store,
        keys: Keys,
        sender: MailSender,
        settings: MailSettings,
        clock: SharedClock,
    ) -> Self {
        Self {
            store,
            keys,
            sender,
            settings,
            clock,
            permanent_failures: AtomicU64::new(0),
        }
    }

    /// Messages the mail service refused for good since cold start.
    pub fn permanent_failures(&self) -> u64 {
        self.permanent_failures.load(Ordering::SeqCst)
    }

    /// Delivers the outbox item `id` (from a stream record): `None` when it is finished
    /// already, or gone.
    pub async fn deliver(&self, id: &CodeId) -> Result<Option<MailOutcome>, MailerError> {
        match self.store.unfinished_mail(id).await? {
            Some(request) => self.deliver_request(&request).await.map(Some),
            None => Ok(None),
        }
    }

    /// Delivers every unfinished item asked for at least `min_age` seconds ago: the path that
    /// re-sends what a stream delivery did not (a schedule runs it; so does `make run`).
    pub async fn sweep(&self, min_age: u64) -> Result<Sweep, MailerError> {
        let by = self.clock.now().saturating_sub(min_age);
        let mut sweep = Sweep::default();
        for request in self.store.unfinished_mails(by).await? {
            match self.deliver_request(&request).await {
                Ok(_) => sweep.finished += 1,
                Err(error) => {
                    tracing::warn!(%error, "message left for the next delivery");
                    sweep.left += 1;
                }
            }
        }
        Ok(sweep)
    }

    /// Makes and sends `request`'s message, then marks it finished; a transient failure leaves
    /// it unfinished.
    pub async fn deliver_request(&self, request: &MailRequest) -> Result<MailOutcome, MailerError> {
        let outcome = self.deliver_once(request).await?;
        self.store
            .finish_mail(&request.id, outcome, self.clock.now())
            .await?;
        Ok(outcome)
    }

    async fn deliver_once(&self, request: &MailRequest) -> Result<MailOutcome, MailerError> {
        let purpose = request.purpose;
        let (user, email) = match self.recipient(request).await? {
            Ok(recipient) => recipient,
            Err(outcome) => return Ok(outcome),
        };
        let policy = self.settings.policy(purpose);
        // A request older than its code's lifetime can only be a late redelivery: whatever
        // code it made is dead, and none is made anew.
        if self.clock.now() >= request.requested_at.saturating_add(policy.ttl) {
            return Ok(MailOutcome::Expired);
        }
        let mut attempts = Attempts::new(ISSUE_ATTEMPTS);
        let (record, ring) = loop {
            attempts
                .next_attempt()
                .await
                .map_err(|_| StoreError::Conflict)?;
            let ring = self.keys.ring().await;
            let seen = self.store.code_record(&user, purpose).await?;
            let now = self.clock.now();
            match CodeRecord::issue(seen.as_ref(), request, ring.active_id(), now, policy) {
                CodeIssue::Issue(record) => {
                    match self
                        .store
                        .write_code(&user, purpose, &record, seen.as_ref())
                        .await?
                    {
                        CodeWrite::Written => break (record, ring),
                        CodeWrite::Moved => continue,
                    }
                }
                // At the hour's limit, the live code once more (counted in the day's cap).
                CodeIssue::Resend(record) => {
                    match self
                        .store
                        .write_code(&user, purpose, &record, seen.as_ref())
                        .await?
                    {
                        CodeWrite::Written => {
                            tracing::info!(user = %user, purpose = purpose.as_str(), "hourly limit reached: the live code sent again");
                            break (record, ring);
                        }
                        CodeWrite::Moved => continue,
                    }
                }
                // This request's code, made by an earlier delivery: sent again only while it
                // still works (a used or expired code is never sent again).
                CodeIssue::AlreadyIssued(record) if record.accepts(&record.code_id, now) => {
                    break (record, ring);
                }
                CodeIssue::AlreadyIssued(_) => return Ok(MailOutcome::Expired),
                CodeIssue::Superseded => return Ok(MailOutcome::Superseded),
                CodeIssue::RateLimited => {
                    tracing::info!(user = %user, purpose = purpose.as_str(), "message not sent: limit reached");
                    return Ok(MailOutcome::RateLimited);
                }
            }
        };
        let Some(code) = ring.code_with(record.key_id, purpose, &user, &record.code_id) else {
            tracing::error!(user = %user, "message not sent: its code's key was dropped");
            return Ok(MailOutcome::Failed);
        };
        let message = MailMessage::render(
            purpose,
            &code,
            policy.ttl,
            self.settings.link_template(purpose),
        );
        self.send(&user, &email, purpose, &message).await
    }

    /// Whom `request`'s message goes to, or why it goes to nobody.
    async fn recipient(
        &self,
        request: &MailRequest,
    ) -> Result<Result<(UserId, Email), MailOutcome>, MailerError> {
        Ok(match request.purpose {
            CodePurpose::PasswordReset => match self.store.find_account(&request.email).await? {
                Some(account) => Ok((account.profile.id, account.profile.email)),
                None => Err(MailOutcome::NoAccount),
            },
            CodePurpose::EmailVerification => {
                let profile = match &request.user {
                    Some(user) => self.store.find_profile(user).await?,
                    None => None,
                };
                match profile {
                    Some(profile) if profile.email_verified => Err(MailOutcome::AlreadyVerified),
                    Some(profile) => Ok((profile.id, profile.email)),
                    None => Err(MailOutcome::NoAccount),
                }
            }
        })
    }

    async fn send(
        &self,
        user: &UserId,
        email: &Email,
        purpose: CodePurpose,
        message: &MailMessage,
    ) -> Result<MailOutcome, MailerError> {
        let mut attempts = Attempts::new(self.settings.send_attempts);
        let mut failure = SendError::Transient("no attempt made".into());
        while attempts.next_attempt().await.is_ok() {
            match self.sender.send(email, message).await {
                Ok(()) => {
                    tracing::info!(user = %user, purpose = purpose.as_str(), "message sent");
                    return Ok(MailOutcome::Sent);
                }
                Err(SendError::Permanent(reason)) => {
                    let count = self.permanent_failures.fetch_add(1, Ordering::SeqCst) + 1;
                    tracing::error!(
                        user = %user,
                        purpose = purpose.as_str(),
                        permanent_failures = count,
                        %reason,
                        "message refused for good by the mail service"
                    );
                    // A CloudWatch embedded-metric line: the count is a metric when deployed.
                    println!(
                        r#"{{"_aws":{{"Timestamp":{},"CloudWatchMetrics":[{{"Namespace":"tokengate","Dimensions":[[]],"Metrics":[{{"Name":"MailPermanentFailures","Unit":"Count"}}]}}]}},"MailPermanentFailures":1}}"#,
                        self.clock.now() * 1000
                    );
                    return Ok(MailOutcome::Failed);
                }
                Err(error) => {
                    tracing::warn!(user = %user, %error, "mail service failed");
                    failure = error;
                }
            }
        }
        Err(MailerError::Unsent(failure))
    }
}
