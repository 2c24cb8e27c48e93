//! Accounts in the users table.

use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Put, ReturnValue, TransactWriteItem, Update,
};

use super::item::{Item, get_n, get_opt_n, get_opt_s, get_s, n, s};
use super::transaction::Transaction;
use super::{Store, StoreError};
use crate::credentials::Email;
use crate::ids::UserId;
use crate::records::MailRequest;
use crate::records::{Account, UserProfile};
use crate::records::{NewToken, ReplaceCurrent, Sessions};
use crate::throttle::{LoginFailures, Reservation};

/// What creating an account came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountCreation {
    /// The account and its first token were written.
    Created,
    /// Another account has this email; nothing was written.
    EmailTaken,
}

/// What replacing a password came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordReplacement {
    /// Replaced, and every session of the account revoked in the same write.
    Replaced {
        /// The new password version.
        password_version: u64,
    },
    /// The password was changed by a concurrent request first; nothing written.
    PasswordChanged,
}

/// What reserving a guess came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuessReservation {
    /// Reserved: the guess may be checked against the real hash; it is the `count`th of the
    /// window that started at `window_start`.
    Reserved {
        /// Guesses counted in the window, this one included.
        count: u64,
        /// The window's start, Unix seconds.
        window_start: u64,
    },
    /// Not reserved: locked, the window's guesses are all taken, or the bookkeeping moved
    /// since it was read (read again to tell which).
    NotReserved,
}

/// What upgrading a password hash came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashUpgrade {
    /// The stronger hash replaced the old one.
    Upgraded,
    /// The hash had changed meanwhile; nothing written.
    HashChanged,
}

pub(super) fn email_key(email: &Email) -> String {
    format!("email#{}", email.as_str())
}

pub(super) fn user_key(id: &UserId) -> String {
    format!("user#{id}")
}

fn profile_item(pk: String, profile: &UserProfile) -> Item {
    let mut item = Item::from([
        ("pk".into(), s(pk)),
        ("user_id".into(), s(profile.id.to_string())),
        ("email".into(), s(profile.email.as_str())),
        ("role".into(), s(&profile.role)),
        ("created_at".into(), n(profile.created_at)),
        (
            "email_verified".into(),
            AttributeValue::Bool(profile.email_verified),
        ),
    ]);
    if let Some(first) = &profile.firstname {
        item.insert("firstname".into(), s(first));
    }
    if let Some(last) = &profile.lastname {
        item.insert("lastname".into(), s(last));
    }
    item
}

impl TryFrom<&Item> for UserProfile {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        Ok(Self {
            id: UserId::parse(&get_s(item, "user_id")?).ok_or(StoreError::Corrupt("user_id"))?,
            email: Email::from_stored(get_s(item, "email")?),
            firstname: get_opt_s(item, "firstname"),
            lastname: get_opt_s(item, "lastname"),
            role: get_s(item, "role")?,
            created_at: get_n(item, "created_at")?,
            // Accounts from before email verification have no such attribute: unverified.
            email_verified: matches!(item.get("email_verified"), Some(AttributeValue::Bool(true))),
        })
    }
}

impl TryFrom<&Item> for Account {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        Ok(Self {
            profile: UserProfile::try_from(item)?,
            password_hash: get_s(item, "password_hash")?,
            password_version: get_opt_n(item, "password_version")?.unwrap_or(0),
            failures: LoginFailures {
                count: get_opt_n(item, "failures")?.unwrap_or(0),
                window_start: get_opt_n(item, "failure_window_start")?.unwrap_or(0),
                locked_until: get_opt_n(item, "locked_until")?.unwrap_or(0),
            },
        })
    }
}

/// The condition that an account's password is still at `version` (accounts written before
/// versions existed are at 0).
pub(super) fn password_still(version: u64) -> &'static str {
    if version == 0 {
        "attribute_not_exists(password_version) OR password_version = :password_version"
    } else {
        "password_version = :password_version"
    }
}

/// Not locked at `:now`.
const UNLOCKED: &str = "(attribute_not_exists(locked_until) OR locked_until <= :now)";

impl Store {
    /// The account registered under `email`, read strongly consistent.
    pub async fn find_account(&self, email: &Email) -> Result<Option<Account>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.users_table)
            .key("pk", s(email_key(email)))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::unavailable)?;
        output.item().map(Account::try_from).transpose()
    }

    /// The profile of account `id`.
    pub async fn find_profile(&self, id: &UserId) -> Result<Option<UserProfile>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.users_table)
            .key("pk", s(user_key(id)))
            .send()
            .await
            .map_err(StoreError::unavailable)?;
        output.item().map(UserProfile::try_from).transpose()
    }

    /// Creates `account`, asks for its verification message, and (unless `first` is `None`)
    /// makes `first` its only session and records it: one transaction, all or nothing.
    pub async fn create_account(
        &self,
        account: &Account,
        first: Option<&NewToken>,
        verification: &MailRequest,
    ) -> Result<AccountCreation, StoreError> {
        let mut claim = profile_item(email_key(&account.profile.email), &account.profile);
        claim.insert("password_hash".into(), s(&account.password_hash));
        claim.insert("password_version".into(), n(account.password_version));
        let profile = profile_item(user_key(&account.profile.id), &account.profile);
        // Every item but the email's claim is new by a fresh random id.
        let mut write = Transaction::new()
            .guarded(self.put_new(claim)?, AccountCreation::EmailTaken)
            .item(self.put_new(profile)?)
            .item(self.outbox_put(verification)?);
        if let Some(first) = first {
            let sessions = Sessions::default().with(
                &first.current,
                &first.origin.client_id,
                first.issued_at,
                usize::MAX,
            );
            let [record, pointer] = self.token_items(first, ReplaceCurrent::Always)?;
            write = write
                .item(self.sessions_write(&first.user, &Sessions::default(), &sessions)?)
                .item(record)
                .item(pointer);
        }
        write.write(&self.client, AccountCreation::Created).await
    }

    /// A transaction item that holds only while `email`'s password is at `version`.
    pub(super) fn password_check(
        &self,
        email: &Email,
        version: u64,
    ) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.users_table)
            .key("pk", s(email_key(email)))
            .condition_expression(password_still(version))
            .expression_attribute_values(":password_version", n(version))
            .build()
            .map_err(|_| StoreError::Request("condition check"))?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// The update of `email`'s password (at `version`) to `new_hash`, the version moving on,
    /// which holds only while the password is still at `version`; `also` adds `SET` clauses
    /// (their values are the caller's to add).
    pub(super) fn password_update(
        &self,
        email: &Email,
        version: u64,
        new_hash: &str,
        also: &str,
    ) -> UpdateBuilder {
        Update::builder()
            .table_name(&self.users_table)
            .key("pk", s(email_key(email)))
            .update_expression(format!(
                "SET password_hash = :hash, password_version = :next{also}"
            ))
            .condition_expression(password_still(version))
            .expression_attribute_values(":hash", s(new_hash))
            .expression_attribute_values(":password_version", n(version))
            .expression_attribute_values(":next", n(version + 1))
    }

    /// Replaces `email`'s password (at `version`) by `new_hash` and revokes every session of
    /// `user`, in one transaction.
    pub async fn replace_password(
        &self,
        email: &Email,
        user: &UserId,
        version: u64,
        new_hash: &str,
    ) -> Result<PasswordReplacement, StoreError> {
        let password = self
            .password_update(email, version, new_hash, "")
            .build()
            .map_err(|_| StoreError::Request("password update"))?;
        Transaction::new()
            .guarded(
                TransactWriteItem::builder().update(password).build(),
                PasswordReplacement::PasswordChanged,
            )
            .item(self.sessions_cleared(user)?)
            .write(
                &self.client,
                PasswordReplacement::Replaced {
                    password_version: version + 1,
                },
            )
            .await
    }

    /// Replaces `old_hash` by `new_hash` (same password, stronger parameters) unless the hash
    /// changed meanwhile.
    pub async fn upgrade_hash(
        &self,
        email: &Email,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<HashUpgrade, StoreError> {
        let sent = self
            .client
            .update_item()
            .table_name(&self.users_table)
            .key("pk", s(email_key(email)))
            .update_expression("SET password_hash = :new")
            .condition_expression("password_hash = :old")
            .expression_attribute_values(":new", s(new_hash))
            .expression_attribute_values(":old", s(old_hash))
            .send()
            .await;
        Ok(if StoreError::conditional_update(sent)? {
            HashUpgrade::Upgraded
        } else {
            HashUpgrade::HashChanged
        })
    }

    /// Reserves one guess at `email`'s password at `now`, atomically: counted in the window
    /// `reservation` names while fewer than `max` are, never while locked.
    pub async fn reserve_guess(
        &self,
        email: &Email,
        reservation: Reservation,
        now: u64,
        max: u64,
    ) -> Result<GuessReservation, StoreError> {
        let request = self
            .client
            .update_item()
            .table_name(&self.users_table)
            .key("pk", s(email_key(email)))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew);
        let request = match reservation {
            Reservation::Locked => {
                self.record_nothing(email).await?;
                return Ok(GuessReservation::NotReserved);
            }
            Reservation::InWindow { window_start } => request
                .update_expression("ADD failures :one")
                .condition_expression(format!(
                    "attribute_exists(pk) AND {UNLOCKED} AND failure_window_start = :start \
                     AND failures < :max"
                ))
                .expression_attribute_values(":start", n(window_start))
                .expression_attribute_values(":max", n(max)),
            Reservation::NewWindow {
                seen_window_start,
                seen_count,
            } => request
                .update_expression("SET failures = :one, failure_window_start = :now")
                .condition_expression(format!(
                    "attribute_exists(pk) AND {UNLOCKED} AND (attribute_not_exists(failure_window_start) \
                     OR failure_window_start = :seen) AND (attribute_not_exists(failures) \
                     OR failures = :seen_count)"
                ))
                .expression_attribute_values(":seen", n(seen_window_start))
                .expression_attribute_values(":seen_count", n(seen_count)),
        };
        match request.send().await {
            Ok(output) => {
                let updated = output.attributes().ok_or(StoreError::Corrupt("failures"))?;
                Ok(GuessReservation::Reserved {
                    count: get_n(updated, "failures")?,
                    window_start: match reservation {
                        Reservation::InWindow { window_start } => window_start,
                        _ => get_opt_n(updated, "failure_window_start")?.unwrap_or(now),
                    },
                })
            }
            Err(error) => StoreError::conditional_update(Err::<(), _>(error))
                .map(|_| GuessReservation::NotReserved),
        }
    }

    /// Locks `email` until `until` after the wrong guess that filled the window that started
    /// at `window_start` (unless the bookkeeping moved on meanwhile), and starts the count anew.
    pub async fn lock_account(
        &self,
        email: &Email,
        window_start: u64,
        now: u64,
        until: u64,
    ) -> Result<(), StoreError> {
        let sent = self
            .client
            .update_item()
            .table_name(&self.users_table)
            .key("pk", s(email_key(email)))
            .update_expression(
                "SET locked_until = :until, failures = :zero, failure_window_start = :now",
            )
            .condition_expression("attribute_exists(pk) AND failure_window_start = :start")
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":start", n(window_start))
            .send()
            .await;
        StoreError::conditional_update(sent).map(|_| ())
    }

    /// Gives back every reserved guess and lifts any lock: the password was just proven.
    pub async fn clear_guesses(&self, email: &Email) -> Result<(), StoreError> {
        let sent = self
            .client
            .update_item()
            .table_name(&self.users_table)
            .key("pk", s(email_key(email)))
            .update_expression("SET failures = :zero, locked_until = :zero")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        StoreError::conditional_update(sent).map(|_| ())
    }

    /// An update shaped like [`Self::reserve_guess`] whose condition never holds, so it
    /// changes nothing: an unknown or locked account then costs the same round trip as a
    /// guess at a known one, and answers no faster.
    pub async fn record_nothing(&self, email: &Email) -> Result<(), StoreError> {
        let sent = self
            .client
            .update_item()
            .table_name(&self.users_table)
            .key("pk", s(email_key(email)))
            .update_expression("ADD failures :one")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(pk)")
            .expression_attribute_values(":one", n(1))
            .send()
            .await;
        StoreError::conditional_update(sent).map(|_| ())
    }

    fn put_new(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.users_table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|_| StoreError::Request("put request"))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}
