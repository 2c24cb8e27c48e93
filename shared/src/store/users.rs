//! Accounts in the users table.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{ConditionCheck, Put, ReturnValue, TransactWriteItem};

use super::item::{Item, get_n, get_opt_n, get_opt_s, get_s, n, s};
use super::{StoreError, write_atomically};
use crate::credentials::Email;
use crate::ids::UserId;

/// What anyone may know of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserProfile {
    /// The account's id.
    pub id: UserId,
    /// Its normalized email.
    pub email: String,
    /// Given name, if any.
    pub firstname: Option<String>,
    /// Family name, if any.
    pub lastname: Option<String>,
    /// Role; every account made by signup is `user`.
    pub role: String,
    /// Creation time, Unix seconds.
    pub created_at: u64,
}

/// Failed logins of one account, for throttling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoginFailures {
    /// Failures counted in the current window.
    pub count: u64,
    /// When the current window started, Unix seconds.
    pub window_start: u64,
    /// Until when logins are refused, Unix seconds (0: not locked).
    pub locked_until: u64,
}

/// An account as stored: its profile and the PHC string of its password hash.
#[derive(Debug, Clone)]
pub struct StoredAccount {
    /// The public part.
    pub profile: UserProfile,
    /// argon2id PHC string; the password itself is never stored.
    pub password_hash: String,
    /// Session generation: bumped by logout-all and password change; tokens are only issued
    /// under a condition that it is still the generation the issuer read.
    pub generation: u64,
    /// Failed-login bookkeeping.
    pub failures: LoginFailures,
}

/// An account about to be created.
pub type NewAccount = StoredAccount;

fn email_key(email: &str) -> String {
    format!("email#{email}")
}

fn user_key(id: &UserId) -> String {
    format!("user#{id}")
}

fn profile_item(pk: String, profile: &UserProfile) -> Item {
    let mut item = Item::from([
        ("pk".into(), s(pk)),
        ("user_id".into(), s(profile.id.to_string())),
        ("email".into(), s(&profile.email)),
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

fn profile_from(item: &Item) -> Result<UserProfile, StoreError> {
    Ok(UserProfile {
        id: UserId::parse(&get_s(item, "user_id")?).ok_or(StoreError::Corrupt("user_id"))?,
        email: get_s(item, "email")?,
        firstname: get_opt_s(item, "firstname"),
        lastname: get_opt_s(item, "lastname"),
        role: get_s(item, "role")?,
        created_at: get_n(item, "created_at")?,
    })
}

/// The users table.
#[derive(Debug, Clone)]
pub struct UserStore {
    client: Client,
    table: String,
}

impl UserStore {
    /// The store over `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The account registered under `email`, read strongly consistent.
    pub async fn find_by_email(&self, email: &Email) -> Result<Option<StoredAccount>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(email_key(email.as_str())))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::unavailable)?;
        output
            .item()
            .map(|item| {
                Ok(StoredAccount {
                    profile: profile_from(item)?,
                    password_hash: get_s(item, "password_hash")?,
                    generation: get_opt_n(item, "generation")?.unwrap_or(0),
                    failures: LoginFailures {
                        count: get_opt_n(item, "failures")?.unwrap_or(0),
                        window_start: get_opt_n(item, "failure_window_start")?.unwrap_or(0),
                        locked_until: get_opt_n(item, "locked_until")?.unwrap_or(0),
                    },
                })
            })
            .transpose()
    }

    /// The profile of account `id`.
    pub async fn find_by_id(&self, id: &UserId) -> Result<Option<UserProfile>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(user_key(id)))
            .send()
            .await
            .map_err(StoreError::unavailable)?;
        output.item().map(profile_from).transpose()
    }

    /// Creates `account` and, in the same transaction, writes `also` (its first token): all or
    /// nothing. [`StoreError::ConditionFailed`] with index 0 means the email is taken.
    pub async fn create(
        &self,
        account: &NewAccount,
        also: Vec<TransactWriteItem>,
    ) -> Result<(), StoreError> {
        let mut claim = profile_item(email_key(&account.profile.email), &account.profile);
        claim.insert("password_hash".into(), s(&account.password_hash));
        claim.insert("generation".into(), n(account.generation));
        let profile = profile_item(user_key(&account.profile.id), &account.profile);
        let mut items = vec![self.put_new(claim)?, self.put_new(profile)?];
        items.extend(also);
        write_atomically(&self.client, items).await
    }

    /// A transaction item that holds only while `email`'s session generation is `generation`.
    pub fn generation_check(
        &self,
        email: &str,
        generation: u64,
    ) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .key("pk", s(email_key(email)))
            .condition_expression("generation = :generation")
            .expression_attribute_values(":generation", n(generation))
            .build()
            .map_err(|_| StoreError::Corrupt("condition check"))?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// Starts a new session generation for `email` (so no token of an older one can be issued
    /// any more) and returns it.
    pub async fn bump_generation(&self, email: &str) -> Result<u64, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
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
    /// still at `generation`; returns the new generation.
    pub async fn change_password(
        &self,
        email: &str,
        generation: u64,
        new_hash: &str,
    ) -> Result<u64, StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(email_key(email)))
            .update_expression("SET password_hash = :hash, generation = :next")
            .condition_expression("generation = :generation")
            .expression_attribute_values(":hash", s(new_hash))
            .expression_attribute_values(":generation", n(generation))
            .expression_attribute_values(":next", n(generation + 1))
            .send()
            .await
            .map_err(StoreError::from_update)?;
        Ok(generation + 1)
    }

    /// Replaces `old_hash` by `new_hash` (same password, stronger parameters) unless the hash
    /// changed meanwhile.
    pub async fn upgrade_hash(
        &self,
        email: &str,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(email_key(email)))
            .update_expression("SET password_hash = :new")
            .condition_expression("password_hash = :old")
            .expression_attribute_values(":new", s(new_hash))
            .expression_attribute_values(":old", s(old_hash))
            .send()
            .await
            .map_err(StoreError::unavailable)?;
        Ok(())
    }

    /// Writes `next` as `email`'s failure bookkeeping, provided it still is `seen`.
    /// [`StoreError::ConditionFailed`] means another request changed it first.
    pub async fn record_failures(
        &self,
        email: &str,
        seen: &LoginFailures,
        next: &LoginFailures,
    ) -> Result<(), StoreError> {
        let condition = "attribute_exists(pk) \
            AND (attribute_not_exists(failures) OR failures = :seen_count) \
            AND (attribute_not_exists(failure_window_start) OR failure_window_start = :seen_start)";
        self.client
            .update_item()
            .table_name(&self.table)
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
            .await
            .map_err(StoreError::from_update)?;
        Ok(())
    }

    /// An update shaped like [`Self::record_failures`] whose condition never holds, so it
    /// changes nothing: an unknown or locked account then costs the same round trip as a wrong
    /// password, and answers no faster.
    pub async fn record_nothing(&self, email: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(email_key(email)))
            .update_expression("SET failures = :count")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(pk)")
            .expression_attribute_values(":count", n(0))
            .send()
            .await
            .map_err(StoreError::from_update);
        match result {
            Ok(_) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }

    fn put_new(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|_| StoreError::Corrupt("put request"))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}
