//! The outbox (messages asked for, one item each, whose stream wakes the mailer) and the
//! one-time codes' records (tokens table, `code#<purpose>` of the account: the live code's id
//! and key, its expiry and wrong tries, and the account's messages of the hour).
//!
//! No item holds a code: its tag is derived from the ids with the key ring's key.

use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem, Update};

use super::item::{Item, get_n, get_opt_n, get_opt_s, get_s, n, s};
use super::tokens::uid;
use super::transaction::Transaction;
use super::users::{email_key, user_key};
use super::{Store, StoreError};
use crate::codes::CodePurpose;
use crate::credentials::Email;
use crate::ids::{CodeId, UserId};
use crate::keyring::KeyId;
use crate::records::{
    CodeRecord, MAIL_DAY_SECONDS, MAIL_WINDOW_SECONDS, MAX_WRONG_TRIES, MailOutcome, MailRequest,
};

/// How long a finished outbox item is kept (its TTL), for the record: a week.
const FINISHED_KEPT_SECONDS: u64 = 7 * 86_400;

/// What writing a code record came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeWrite {
    /// Written over the record that was read.
    Written,
    /// Another request changed the record since it was read: read again.
    Moved,
}

/// What redeeming a code came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redemption {
    /// The code was used up and the account changed; for a reset, its password's new version.
    Redeemed {
        /// The password version after a reset (unchanged by a verification).
        password_version: u64,
    },
    /// The code is not the live one, used, expired or dead: nothing changed.
    CodeRefused,
    /// The password changed since it was read (a reset): nothing changed.
    PasswordChanged,
}

fn code_key(purpose: CodePurpose) -> String {
    format!("code#{}", purpose.as_str())
}

impl TryFrom<&Item> for MailRequest {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        Ok(Self {
            id: CodeId::parse(&get_s(item, "id")?).ok_or(StoreError::Corrupt("id"))?,
            purpose: CodePurpose::parse(&get_s(item, "purpose")?)
                .ok_or(StoreError::Corrupt("purpose"))?,
            email: Email::from_stored(get_s(item, "email")?),
            user: get_opt_s(item, "user_id")
                .map(|id| UserId::parse(&id).ok_or(StoreError::Corrupt("user_id")))
                .transpose()?,
            requested_at: get_n(item, "requested_at")?,
        })
    }
}

impl TryFrom<&Item> for CodeRecord {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        Ok(Self {
            code_id: CodeId::parse(&get_s(item, "code_id")?)
                .ok_or(StoreError::Corrupt("code_id"))?,
            key_id: KeyId(
                u32::try_from(get_n(item, "key_id")?).map_err(|_| StoreError::Corrupt("key_id"))?,
            ),
            expire: get_n(item, "code_expire")?,
            tries: get_opt_n(item, "tries")?.unwrap_or(0),
            requested_at: get_n(item, "requested_at")?,
            window_start: get_n(item, "window_start")?,
            sent_in_window: get_n(item, "sent_in_window")?,
            // Records written before the daily cap count from their hour.
            day_start: match get_opt_n(item, "day_start")? {
                Some(start) => start,
                None => get_n(item, "window_start")?,
            },
            sent_in_day: match get_opt_n(item, "sent_in_day")? {
                Some(sent) => sent,
                None => get_n(item, "sent_in_window")?,
            },
        })
    }
}

impl Store {
    /// The outbox item of `request`, as a `Put` that must create it.
    pub(super) fn outbox_put(
        &self,
        request: &MailRequest,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut item = Item::from([
            ("id".into(), s(request.id.to_string())),
            ("purpose".into(), s(request.purpose.as_str())),
            ("email".into(), s(request.email.as_str())),
            ("requested_at".into(), n(request.requested_at)),
        ]);
        if let Some(user) = &request.user {
            item.insert("user_id".into(), s(user.to_string()));
        }
        let put = Put::builder()
            .table_name(&self.outbox_table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(id)")
            .build()
            .map_err(|_| StoreError::Request("outbox put"))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Asks for `request`'s message: one write, whoever the address belongs to.
    pub async fn request_mail(&self, request: &MailRequest) -> Result<(), StoreError> {
        // The item is new by a fresh random id.
        Transaction::new()
            .item(self.outbox_put(request)?)
            .write(&self.client, ())
            .await
    }

    /// The outbox item `id`, unless it is finished (or gone).
    pub async fn unfinished_mail(&self, id: &CodeId) -> Result<Option<MailRequest>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.outbox_table)
            .key("id", s(id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::unavailable)?;
        match output.item() {
            Some(item) if !item.contains_key("finished_at") => {
                MailRequest::try_from(item).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Every unfinished outbox item asked for at or before `requested_by` (the sweep).
    pub async fn unfinished_mails(
        &self,
        requested_by: u64,
    ) -> Result<Vec<MailRequest>, StoreError> {
        let mut requests = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.outbox_table)
                .filter_expression("attribute_not_exists(finished_at) AND requested_at <= :by")
                .expression_attribute_values(":by", n(requested_by))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(StoreError::unavailable)?;
            for item in page.items() {
                requests.push(MailRequest::try_from(item)?);
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(requests);
            }
        }
    }

    /// Marks the outbox item `id` finished with `outcome` at `now`; TTL removes it a week later.
    pub async fn finish_mail(
        &self,
        id: &CodeId,
        outcome: MailOutcome,
        now: u64,
    ) -> Result<(), StoreError> {
        let sent = self
            .client
            .update_item()
            .table_name(&self.outbox_table)
            .key("id", s(id.to_string()))
            .update_expression("SET finished_at = :now, outcome = :outcome, expire = :expire")
            .condition_expression("attribute_exists(id)")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":outcome", s(outcome.as_str()))
            .expression_attribute_values(":expire", n(now.saturating_add(FINISHED_KEPT_SECONDS)))
            .send()
            .await;
        StoreError::conditional_update(sent).map(|_| ())
    }

    /// The live code record of `user` for `purpose`.
    pub async fn code_record(
        &self,
        user: &UserId,
        purpose: CodePurpose,
    ) -> Result<Option<CodeRecord>, StoreError> {
        self.read(user, code_key(purpose)).await
    }

    /// Writes `record` as `user`'s live code for `purpose`, over the record `seen` read before
    /// (none: there was none); the older code dies with it.
    pub async fn write_code(
        &self,
        user: &UserId,
        purpose: CodePurpose,
        record: &CodeRecord,
        seen: Option<&CodeRecord>,
    ) -> Result<CodeWrite, StoreError> {
        let item = Item::from([
            ("uid".into(), uid(user)),
            ("sk".into(), s(code_key(purpose))),
            ("code_id".into(), s(record.code_id.to_string())),
            ("key_id".into(), n(record.key_id.0.into())),
            ("code_expire".into(), n(record.expire)),
            // TTL: kept while the code works and while its hour's and day's message counts
            // matter; a used code stays (dead) until then, so a redelivered request cannot write
            // it anew.
            (
                "expire".into(),
                n(record
                    .expire
                    .max(record.window_start.saturating_add(MAIL_WINDOW_SECONDS))
                    .max(record.day_start.saturating_add(MAIL_DAY_SECONDS))),
            ),
            ("tries".into(), n(record.tries)),
            ("requested_at".into(), n(record.requested_at)),
            ("window_start".into(), n(record.window_start)),
            ("sent_in_window".into(), n(record.sent_in_window)),
            ("day_start".into(), n(record.day_start)),
            ("sent_in_day".into(), n(record.sent_in_day)),
        ]);
        let put = self
            .client
            .put_item()
            .table_name(&self.tokens_table)
            .set_item(Some(item));
        let put = match seen {
            None => put.condition_expression("attribute_not_exists(sk)"),
            // The same code and the same day's count as read: a code sent again (same id)
            // counts once per message however many deliveries race.
            Some(seen) => put
                .condition_expression(
                    "code_id = :seen AND (attribute_not_exists(sent_in_day) OR sent_in_day = :seen_day)",
                )
                .expression_attribute_values(":seen", s(seen.code_id.to_string()))
                .expression_attribute_values(":seen_day", n(seen.sent_in_day)),
        };
        match put.send().await {
            Ok(_) => Ok(CodeWrite::Written),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(CodeWrite::Moved)
            }
            Err(error) => Err(StoreError::unavailable(error)),
        }
    }

    /// Counts a wrong try at `user`'s code `code_id` of `purpose`, if it is still the live one.
    pub async fn count_wrong_try(
        &self,
        user: &UserId,
        purpose: CodePurpose,
        code_id: &CodeId,
    ) -> Result<(), StoreError> {
        let sent = self
            .client
            .update_item()
            .table_name(&self.tokens_table)
            .key("uid", uid(user))
            .key("sk", s(code_key(purpose)))
            .update_expression("ADD tries :one")
            .condition_expression("code_id = :id")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":id", s(code_id.to_string()))
            .return_values(ReturnValue::None)
            .send()
            .await;
        StoreError::conditional_update(sent).map(|_| ())
    }

    /// The transaction item that uses up `user`'s code `code_id` of `purpose`: it holds only
    /// while the code is the live one, unexpired at `now`, with tries left. The record stays,
    /// dead (its tries used up), with its code id and the hour's message count, until its TTL.
    fn code_used_up(
        &self,
        user: &UserId,
        purpose: CodePurpose,
        code_id: &CodeId,
        now: u64,
    ) -> Result<TransactWriteItem, StoreError> {
        let used = Update::builder()
            .table_name(&self.tokens_table)
            .key("uid", uid(user))
            .key("sk", s(code_key(purpose)))
            .update_expression("SET tries = :max")
            .condition_expression("code_id = :id AND code_expire > :now AND tries < :max")
            .expression_attribute_values(":id", s(code_id.to_string()))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":max", n(MAX_WRONG_TRIES))
            .build()
            .map_err(|_| StoreError::Request("code update"))?;
        Ok(TransactWriteItem::builder().update(used).build())
    }

    /// Marks the profile item of `user` verified (transaction item).
    fn profile_verified(&self, user: &UserId) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.users_table)
            .key("pk", s(user_key(user)))
            .update_expression("SET email_verified = :yes")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .build()
            .map_err(|_| StoreError::Request("profile update"))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Resets `email`'s password (at `version`) to `new_hash` with `user`'s reset code
    /// `code_id`, in one transaction: the code is used up, the email marked verified (the
    /// message reached it), any login lock cleared and every session revoked.
    pub async fn redeem_reset(
        &self,
        user: &UserId,
        email: &Email,
        code_id: &CodeId,
        now: u64,
        version: u64,
        new_hash: &str,
    ) -> Result<Redemption, StoreError> {
        let account = self
            .password_update(
                email,
                version,
                new_hash,
                ", email_verified = :yes, failures = :zero, locked_until = :zero",
            )
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":zero", n(0))
            .build()
            .map_err(|_| StoreError::Request("password update"))?;
        Transaction::new()
            .guarded(
                self.code_used_up(user, CodePurpose::PasswordReset, code_id, now)?,
                Redemption::CodeRefused,
            )
            .guarded(
                TransactWriteItem::builder().update(account).build(),
                Redemption::PasswordChanged,
            )
            .guarded(self.profile_verified(user)?, Redemption::PasswordChanged)
            .item(self.sessions_cleared(user)?)
            .write(
                &self.client,
                Redemption::Redeemed {
                    password_version: version + 1,
                },
            )
            .await
    }

    /// Marks `email` (the account `user`) verified with its verification code `code_id`, in one
    /// transaction that uses the code up.
    pub async fn redeem_verification(
        &self,
        user: &UserId,
        email: &Email,
        code_id: &CodeId,
        now: u64,
    ) -> Result<Redemption, StoreError> {
        let account = Update::builder()
            .table_name(&self.users_table)
            .key("pk", s(email_key(email)))
            .update_expression("SET email_verified = :yes")
            .condition_expression("user_id = :user")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":user", s(user.to_string()))
            .build()
            .map_err(|_| StoreError::Request("email update"))?;
        Transaction::new()
            .guarded(
                self.code_used_up(user, CodePurpose::EmailVerification, code_id, now)?,
                Redemption::CodeRefused,
            )
            .guarded(
                TransactWriteItem::builder().update(account).build(),
                Redemption::CodeRefused,
            )
            .guarded(self.profile_verified(user)?, Redemption::CodeRefused)
            .write(
                &self.client,
                Redemption::Redeemed {
                    password_version: 0,
                },
            )
            .await
    }
}
