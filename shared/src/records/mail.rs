//! What the store keeps of the messages asked for and of each account's live codes, as the
//! mailer, the recovery use-cases and the store exchange it.

use crate::codes::CodePurpose;
use crate::credentials::Email;
use crate::ids::{CodeId, UserId};
use crate::keyring::KeyId;

/// How many wrong codes a code id survives; the next try finds it dead.
pub const MAX_WRONG_TRIES: u64 = 5;
/// The window over which messages per account are counted, seconds.
pub const MAIL_WINDOW_SECONDS: u64 = 3_600;
/// The window of the absolute cap on messages per account, live codes sent again included.
pub const MAIL_DAY_SECONDS: u64 = 86_400;

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
    /// Start of the day every message is counted in (live codes sent again too).
    pub day_start: u64,
    /// Messages sent in that day.
    pub sent_in_day: u64,
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
    /// The hour's new codes are used up but the live code still works: write this record (the
    /// same code, one more message of the day), then send that code again. Whoever asks for
    /// messages to an address cannot keep its owner from getting a working code.
    Resend(CodeRecord),
    /// The messages are used up: the hour's with no live code to send again, or the day's.
    RateLimited,
}

/// Limits of the codes of one purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodePolicy {
    /// How long a code works, seconds.
    pub ttl: u64,
    /// New codes per account and purpose per hour.
    pub max_per_hour: u64,
    /// Messages per account and purpose per day, live codes sent again included.
    pub max_per_day: u64,
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
        match seen {
            Some(seen) if seen.code_id == request.id => {
                return CodeIssue::AlreadyIssued(seen.clone());
            }
            Some(seen) if seen.requested_at > request.requested_at => {
                return CodeIssue::Superseded;
            }
            _ => {}
        }
        let within = |start: u64, length: u64| start.saturating_add(length) > now;
        let (window_start, sent) = match seen {
            Some(seen) if within(seen.window_start, MAIL_WINDOW_SECONDS) => {
                (seen.window_start, seen.sent_in_window)
            }
            _ => (now, 0),
        };
        let (day_start, sent_in_day) = match seen {
            Some(seen) if within(seen.day_start, MAIL_DAY_SECONDS) => {
                (seen.day_start, seen.sent_in_day)
            }
            _ => (now, 0),
        };
        if sent_in_day >= policy.max_per_day {
            return CodeIssue::RateLimited;
        }
        if sent >= policy.max_per_hour {
            return match seen {
                Some(seen) if seen.accepts(&seen.code_id, now) => CodeIssue::Resend(CodeRecord {
                    day_start,
                    sent_in_day: sent_in_day + 1,
                    ..seen.clone()
                }),
                _ => CodeIssue::RateLimited,
            };
        }
        CodeIssue::Issue(CodeRecord {
            code_id: request.id,
            key_id,
            expire: now.saturating_add(policy.ttl),
            tries: 0,
            requested_at: request.requested_at,
            window_start,
            sent_in_window: sent + 1,
            day_start,
            sent_in_day: sent_in_day + 1,
        })
    }

    /// Whether the code `code_id` may still be redeemed at `now`.
    pub fn accepts(&self, code_id: &CodeId, now: u64) -> bool {
        self.code_id == *code_id && now < self.expire && self.tries < MAX_WRONG_TRIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: CodePolicy = CodePolicy {
        ttl: 900,
        max_per_hour: 3,
        max_per_day: 10,
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

    /// The record after the hour's new codes, one a second from 0: the last one is live.
    fn hour_of_new_codes() -> CodeRecord {
        (0..POLICY.max_per_hour)
            .fold(None, |record: Option<CodeRecord>, at| {
                Some(issued(CodeRecord::issue(
                    record.as_ref(),
                    &request(at),
                    KeyId(1),
                    at,
                    POLICY,
                )))
            })
            .expect("at least one code an hour")
    }

    #[test]
    fn an_account_gets_its_hourly_messages_and_then_none_until_the_hour_is_over() {
        let last = hour_of_new_codes();
        // Past the code's life, nothing is left to send again.
        assert_eq!(
            CodeRecord::issue(Some(&last), &request(1_000), KeyId(1), 1_000, POLICY),
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
    fn at_the_hours_limit_the_live_code_is_sent_again_until_the_days_cap() {
        let live = hour_of_new_codes();
        let mut seen = live.clone();
        for at in 10..10 + POLICY.max_per_day - POLICY.max_per_hour {
            match CodeRecord::issue(Some(&seen), &request(at), KeyId(1), at, POLICY) {
                CodeIssue::Resend(again) => {
                    assert_eq!(again.code_id, live.code_id, "the live code, not a new one");
                    assert_eq!(again.expire, live.expire);
                    assert_eq!(again.sent_in_day, seen.sent_in_day + 1);
                    seen = again;
                }
                other => panic!("at {at}: {other:?}"),
            }
        }
        assert_eq!(seen.sent_in_day, POLICY.max_per_day);
        assert_eq!(
            CodeRecord::issue(Some(&seen), &request(100), KeyId(1), 100, POLICY),
            CodeIssue::RateLimited,
            "the day's cap holds even for the live code"
        );
        // Even a new hour issues nothing until the day is over.
        assert_eq!(
            CodeRecord::issue(Some(&seen), &request(7_200), KeyId(1), 7_200, POLICY),
            CodeIssue::RateLimited
        );
        let next_day = issued(CodeRecord::issue(
            Some(&seen),
            &request(MAIL_DAY_SECONDS),
            KeyId(1),
            MAIL_DAY_SECONDS,
            POLICY,
        ));
        assert_eq!(
            (next_day.day_start, next_day.sent_in_day),
            (MAIL_DAY_SECONDS, 1)
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
}
