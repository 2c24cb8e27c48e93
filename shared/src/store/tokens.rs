//! Issued tokens in the tokens table. Only ids are stored: the token text needs the signing key.

use aws_sdk_dynamodb::types::{Delete, DeleteRequest, Put, TransactWriteItem, WriteRequest};

use super::item::{Item, get_n, get_s, n, s};
use super::{Store, StoreError, Transaction, write_atomically};
use crate::credentials::Email;
use crate::ids::{TokenId, UserId};
use crate::retry::Attempts;
use crate::tokens::records::{CurrentToken, NewToken, ReplaceCurrent, TokenRecord};

/// What recording a new token came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenIssue {
    /// Recorded, and now the pair's current token.
    Issued,
    /// Another caller changed the pair's current token first; nothing written.
    PointerMoved,
    /// The account's session generation is no longer the token's; nothing written.
    GenerationMoved,
}

/// What revoking one token came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRevocation {
    /// Its record is gone; it no longer verifies.
    Revoked,
    /// There was no record (revoked before, or expired and swept).
    NotFound,
    /// The pair's current token changed meanwhile; nothing written.
    PointerMoved,
}

/// How many times a batch delete re-sends what DynamoDB left unprocessed.
const BATCH_ATTEMPTS: u32 = 6;

fn token_key(token: &TokenId) -> String {
    format!("token#{token}")
}

fn current_key(client_id: &str) -> String {
    format!("current#{client_id}")
}

impl TryFrom<&Item> for TokenRecord {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        Ok(Self {
            client_id: get_s(item, "client_id")?,
            expire: get_n(item, "expire")?,
        })
    }
}

impl TryFrom<&Item> for CurrentToken {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let token = get_s(item, "token_id")?;
        Ok(Self {
            token: TokenId::parse(&token).ok_or(StoreError::Corrupt("token_id"))?,
            expire: get_n(item, "expire")?,
        })
    }
}

impl Store {
    async fn get_token_item(&self, user: &UserId, sk: String) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tokens_table)
            .key("uid", s(user.to_string()))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::unavailable)?;
        Ok(output.item)
    }

    /// The record of token `token` of `user`, read strongly consistent so revocation shows at once.
    pub async fn find_token(
        &self,
        user: &UserId,
        token: &TokenId,
    ) -> Result<Option<TokenRecord>, StoreError> {
        self.get_token_item(user, token_key(token))
            .await?
            .as_ref()
            .map(TokenRecord::try_from)
            .transpose()
    }

    /// The current token of the pair (`user`, `client_id`), if one was recorded.
    pub async fn current_token(
        &self,
        user: &UserId,
        client_id: &str,
    ) -> Result<Option<CurrentToken>, StoreError> {
        self.get_token_item(user, current_key(client_id))
            .await?
            .as_ref()
            .map(CurrentToken::try_from)
            .transpose()
    }

    /// The transaction items that record `token` and make it the pair's current one, as far
    /// as `replace` allows: the record first, then the pointer.
    pub(super) fn token_items(
        &self,
        token: &NewToken,
        replace: ReplaceCurrent,
    ) -> Result<[TransactWriteItem; 2], StoreError> {
        let uid = s(token.user.to_string());
        let record = Item::from([
            ("uid".into(), uid.clone()),
            ("sk".into(), s(token_key(&token.current.token))),
            ("client_id".into(), s(&token.client_id)),
            ("issued_at".into(), n(token.issued_at)),
            ("expire".into(), n(token.current.expire)),
            ("generation".into(), n(token.generation)),
        ]);
        let pointer = Item::from([
            ("uid".into(), uid),
            ("sk".into(), s(current_key(&token.client_id))),
            ("token_id".into(), s(token.current.token.to_string())),
            ("expire".into(), n(token.current.expire)),
        ]);
        let record = Put::builder()
            .table_name(&self.tokens_table)
            .set_item(Some(record))
            .condition_expression("attribute_not_exists(sk)");
        let pointer = Put::builder()
            .table_name(&self.tokens_table)
            .set_item(Some(pointer));
        let pointer = match replace {
            ReplaceCurrent::Always => pointer,
            ReplaceCurrent::IfAbsent => pointer.condition_expression("attribute_not_exists(sk)"),
            ReplaceCurrent::IfStill(seen) => pointer
                .condition_expression("token_id = :seen")
                .expression_attribute_values(":seen", s(seen.to_string())),
        };
        let item = |put: aws_sdk_dynamodb::types::builders::PutBuilder| {
            put.build()
                .map(|put| TransactWriteItem::builder().put(put).build())
                .map_err(|_| StoreError::Request("put request"))
        };
        Ok([item(record)?, item(pointer)?])
    }

    /// Records `token` and makes it the pair's current one as far as `replace` allows, in one
    /// transaction with a check that the account `email` is still at the token's generation.
    pub async fn issue_token(
        &self,
        token: &NewToken,
        replace: ReplaceCurrent,
        email: &Email,
    ) -> Result<TokenIssue, StoreError> {
        let [record, pointer] = self.token_items(token, replace)?;
        let guard = self.generation_check(email, token.generation)?;
        Ok(
            match write_atomically(&self.client, vec![record, pointer, guard]).await? {
                Transaction::Written => TokenIssue::Issued,
                Transaction::ConditionFailed(2) => TokenIssue::GenerationMoved,
                // The record (0) is new by its random id; the pointer (1) moved.
                Transaction::ConditionFailed(_) => TokenIssue::PointerMoved,
            },
        )
    }

    /// Deletes the record of `token` (and the pair's pointer when it points at it), so the
    /// token stops verifying at once.
    pub async fn revoke_token(
        &self,
        user: &UserId,
        token: &TokenId,
    ) -> Result<TokenRevocation, StoreError> {
        let Some(record) = self.find_token(user, token).await? else {
            return Ok(TokenRevocation::NotFound);
        };
        let uid = s(user.to_string());
        let delete_record = Delete::builder()
            .table_name(&self.tokens_table)
            .key("uid", uid.clone())
            .key("sk", s(token_key(token)));
        let pointed_at = self.current_token(user, &record.client_id).await?;
        let mut items = vec![delete_record];
        if pointed_at.is_some_and(|current| current.token == *token) {
            items.push(
                Delete::builder()
                    .table_name(&self.tokens_table)
                    .key("uid", uid)
                    .key("sk", s(current_key(&record.client_id)))
                    .condition_expression("token_id = :token")
                    .expression_attribute_values(":token", s(token.to_string())),
            );
        }
        let items = items
            .into_iter()
            .map(|delete| {
                delete
                    .build()
                    .map(|delete| TransactWriteItem::builder().delete(delete).build())
                    .map_err(|_| StoreError::Request("delete request"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(match write_atomically(&self.client, items).await? {
            Transaction::Written => TokenRevocation::Revoked,
            Transaction::ConditionFailed(_) => TokenRevocation::PointerMoved,
        })
    }

    /// Deletes every token record and pointer of `user`; returns how many tokens there were.
    pub async fn revoke_all_tokens(&self, user: &UserId) -> Result<usize, StoreError> {
        let uid = s(user.to_string());
        let mut keys = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.tokens_table)
                .key_condition_expression("uid = :uid")
                .expression_attribute_values(":uid", uid.clone())
                .projection_expression("sk")
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(StoreError::unavailable)?;
            for item in page.items() {
                keys.push(get_s(item, "sk")?);
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
        let tokens = keys.iter().filter(|sk| sk.starts_with("token#")).count();
        for chunk in keys.chunks(25) {
            let mut requests = chunk
                .iter()
                .map(|sk| {
                    let delete = DeleteRequest::builder()
                        .key("uid", uid.clone())
                        .key("sk", s(sk))
                        .build()
                        .map_err(|_| StoreError::Request("delete request"))?;
                    Ok(WriteRequest::builder().delete_request(delete).build())
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let mut attempts = Attempts::new(BATCH_ATTEMPTS);
            while !requests.is_empty() {
                attempts.next_attempt().await.map_err(|_| {
                    StoreError::Unavailable("DynamoDB kept leaving deletions unprocessed".into())
                })?;
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.tokens_table, std::mem::take(&mut requests))
                    .send()
                    .await
                    .map_err(StoreError::unavailable)?;
                requests = output
                    .unprocessed_items()
                    .and_then(|unprocessed| unprocessed.get(&self.tokens_table))
                    .cloned()
                    .unwrap_or_default();
            }
        }
        Ok(tokens)
    }
}
