//! Accounts in the users table.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::StoreError;
use super::item::{Item, get_n, get_opt_s, get_s, n, s};
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

/// An account as stored: its profile and the PHC string of its password hash.
#[derive(Debug, Clone)]
pub struct StoredAccount {
    /// The public part.
    pub profile: UserProfile,
    /// argon2id PHC string; the password itself is never stored.
    pub password_hash: String,
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
        let profile = profile_item(user_key(&account.profile.id), &account.profile);
        let mut items = vec![self.put_new(claim)?, self.put_new(profile)?];
        items.extend(also);
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(StoreError::from_transaction)?;
        Ok(())
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
