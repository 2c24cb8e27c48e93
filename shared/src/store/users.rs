//! Accounts in the users table.

use aws_sdk_dynamodb::types::{ConditionCheck, Put, ReturnValue, TransactWriteItem};

use super::item::{Item, get_n, get_opt_n, get_opt_s, get_s, n, s};
use super::{Store, StoreError, Transaction, write_atomically};
use crate::accounts::records::{Account, UserProfile};
use crate::credentials::Email;
use crate::ids::UserId;
use crate::throttle::LoginFailures;
use crate::tokens::records::{NewToken, ReplaceCurrent};

/// What creating an account came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountCreation {
    /// The account and its first token were written.
    Created,
    /// Another account has this email; nothing was written.
    EmailTaken,
}

/// What replacing a password hash came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordReplacement {
    /// Replaced; the account's sessions moved on to this generation.
    Replaced {
        /// The new session generation.
        generation: u64,
    },
    /// The session generation was no longer the one read (a concurrent change); nothing written.
    GenerationMoved,
}

/// What writing login-failure bookkeeping came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailuresUpdate {
    /// Written.
    Recorded,
    /// Another request changed the bookkeeping first (or the account is gone); nothing written.
    Moved,
}

/// What upgrading a password hash came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashUpgrade {
    /// The stronger hash replaced the old one.
    Upgraded,
    /// The hash had changed meanwhile; nothing written.
    HashChanged,
}

fn email_key(email: &Email) -> String {
    format!("email#{}", email.as_str())
}

fn user_key(id: &UserId) -> String {
    format!("user#{id}")
}

fn profile_item(pk: String, profile: &UserProfile) -> Item {
    let mut item = Item::from([
        ("pk".into(), s(pk)),
        ("user_id".into(), s(profile.id.to_string())),
        ("email".into(), s(profile.email.as_str())),
        ("role".into(), s(&profile.role)),
        ("created_at".into(), n(profile.created_at)),
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
        })
    }
}

impl TryFrom<&Item> for Account {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        Ok(Self {
            profile: UserProfile::try_from(item)?,
            password_hash: get_s(item, "password_hash")?,
            generation: get_opt_n(item, "generation")?.unwrap_or(0),
            failures: LoginFailures {
                count: get_opt_n(item, "failures")?.unwrap_or(0),
                window_start: get_opt_n(item, "failure_window_start")?.unwrap_or(0),
                locked_until: get_opt_n(item, "locked_until")?.unwrap_or(0),
            },
        })
    }
}

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

    /// Creates `account` and records its first token `first`, in one transaction: all or nothing.
    pub async fn create_account(
        &self,
        account: &Account,
        first: &NewToken,
    ) -> Result<AccountCreation, StoreError> {
        let mut claim = profile_item(email_key(&account.profile.email), &account.profile);
        claim.insert("password_hash".into(), s(&account.password_hash));
        claim.insert("generation".into(), n(account.generation));
        let profile = profile_item(user_key(&account.profile.id), &account.profile);
        let mut items = vec![self.put_new(claim)?, self.put_new(profile)?];
        items.extend(self.token_items(first, ReplaceCurrent::Always)?);
        Ok(match write_atomically(&self.client, items).await? {
            Transaction::Written => AccountCreation::Created,
            Transaction::ConditionFailed(0) => AccountCreation::EmailTaken,
            // A fresh random id met an existing one: as unlikely as it is transient.
            Transaction::ConditionFailed(_) => return Err(StoreError::Conflict),
        })
    }

    /// A transaction item that holds only while `email`'s session generation is `generation`.
    pub(super) fn generation_check(
        &self,
        email: &Email,
        generation: u64,
    ) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.users_table)
            .key("pk", s(email_key(email)))
            .condition_expression("generation = :generation")
            .expression_attribute_values(":generation", n(generation))
            .build()
            .map_err(|_| StoreError::Request("condition check"))?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// Starts a new session generation for `email` (so no token of an older one can be issued
    /// any more) and returns it.
    pub async fn bump_generation(&self, email: &Email) -> Result<u64, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.users_table)
            .key("pk", s(email_key(email)))
            .update_expression("ADD generation :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(StoreError::unavailable)?;
        output
            .attributes()
            .map(|item| get_n(item, "generation"))
            .transpose()?
            .ok_or(StoreError::Corrupt("generation"))
    }

    /// Replaces the password hash and starts a new session generation, provided the account is
    /// still at `generation`.
    pub async fn replace_password(
        &self,
        email: &Email,
        generation: u64,
        new_hash: &str,
    ) -> Result<PasswordReplacement, StoreError> {
        let sent = self
            .client
            .update_item()
            .table_name(&self.users_table)
            .key("pk", s(email_key(email)))
            .update_expression("SET password_hash = :hash, generation = :next")
            .condition_expression("generation = :generation")
            .expression_attribute_values(":hash", s(new_hash))
            .expression_attribute_values(":generation", n(generation))
            .expression_attribute_values(":next", n(generation + 1))
            .send()
            .await;
        Ok(if StoreError::conditional_update(sent)? {
            PasswordReplacement::Replaced {
                generation: generation + 1,
            }
        } else {
            PasswordReplacement::GenerationMoved
        })
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

    /// Writes `next` as `email`'s failure bookkeeping, provided it still is `seen`.
    pub async fn record_failures(
        &self,
        email: &Email,
        seen: &LoginFailures,
        next: &LoginFailures,
    ) -> Result<FailuresUpdate, StoreError> {
        let condition = "attribute_exists(pk) \
            AND (attribute_not_exists(failures) OR failures = :seen_count) \
            AND (attribute_not_exists(failure_window_start) OR failure_window_start = :seen_start)";
        let sent = self
            .client
            .update_item()
            .table_name(&self.users_table)
            .key("pk", s(email_key(email)))
            .update_expression(
                "SET failures = :count, failure_window_start = :start, locked_until = :locked",
            )
            .condition_expression(condition)
            .expression_attribute_values(":count", n(next.count))
            .expression_attribute_values(":start", n(next.window_start))
            .expression_attribute_values(":locked", n(next.locked_until))
            .expression_attribute_values(":seen_count", n(seen.count))
            .expression_attribute_values(":seen_start", n(seen.window_start))
            .send()
            .await;
        Ok(if StoreError::conditional_update(sent)? {
            FailuresUpdate::Recorded
        } else {
            FailuresUpdate::Moved
        })
    }

    /// An update shaped like [`Self::record_failures`] whose condition never holds, so it
    /// changes nothing: an unknown or locked account then costs the same round trip as a wrong
    /// password, and answers no faster.
    pub async fn record_nothing(&self, email: &Email) -> Result<(), StoreError> {
        let sent = self
            .client
            .update_item()
            .table_name(&self.users_table)
            .key("pk", s(email_key(email)))
            .update_expression("SET failures = :count")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(pk)")
            .expression_attribute_values(":count", n(0))
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
