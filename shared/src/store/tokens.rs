//! Issued tokens in the tokens table. Only ids are stored: the token text needs the signing key.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{Delete, DeleteRequest, Put, TransactWriteItem, WriteRequest};

use super::item::{Item, get_n, get_s, n, s};
use super::{StoreError, write_atomically};
use crate::ids::{TokenId, UserId};

/// What the table knows of one issued token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The application the token was issued for.
    pub client_id: String,
    /// When it stops being valid, Unix seconds (also the TTL attribute).
    pub expire: u64,
}

/// The token login-token hands out again for one (application, user) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrentToken {
    /// The token's id.
    pub token: TokenId,
    /// Its expiry, Unix seconds.
    pub expire: u64,
}

/// When issuing a token may replace the pair's current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplaceCurrent {
    /// Always (login and signup hand out a fresh token).
    Always,
    /// Only when the pair has no current token.
    IfAbsent,
    /// Only when the current token is still this (expired) one.
    IfStill(TokenId),
}

fn token_key(token: &TokenId) -> String {
    format!("token#{token}")
}

fn current_key(client_id: &str) -> String {
    format!("current#{client_id}")
}

/// The tokens table.
#[derive(Debug, Clone)]
pub struct TokenStore {
    client: Client,
    table: String,
}

impl TokenStore {
    /// The store over `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn get(&self, user: &UserId, sk: String) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("uid", s(user.to_string()))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::unavailable)?;
        Ok(output.item)
    }

    /// The record of token `token` of `user`, read strongly consistent so revocation shows at once.
    pub async fn find(
        &self,
        user: &UserId,
        token: &TokenId,
    ) -> Result<Option<TokenRecord>, StoreError> {
        self.get(user, token_key(token))
            .await?
            .map(|item| {
                Ok(TokenRecord {
                    client_id: get_s(&item, "client_id")?,
                    expire: get_n(&item, "expire")?,
                })
            })
            .transpose()
    }

    /// The current token of the pair (`user`, `client_id`), if one was recorded.
    pub async fn current(
        &self,
        user: &UserId,
        client_id: &str,
    ) -> Result<Option<CurrentToken>, StoreError> {
        self.get(user, current_key(client_id))
            .await?
            .map(|item| {
                let token = get_s(&item, "token_id")?;
                Ok(CurrentToken {
                    token: TokenId::parse(&token).ok_or(StoreError::Corrupt("token_id"))?,
                    expire: get_n(&item, "expire")?,
                })
            })
            .transpose()
    }

    /// The transaction items that record a new token of session `generation` and make it the
    /// pair's current one.
    pub fn issue_items(
        &self,
        user: &UserId,
        generation: u64,
        client_id: &str,
        current: CurrentToken,
        issued_at: u64,
        replace: ReplaceCurrent,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let uid = s(user.to_string());
        let record = Item::from([
            ("uid".into(), uid.clone()),
            ("sk".into(), s(token_key(&current.token))),
            ("client_id".into(), s(client_id)),
            ("issued_at".into(), n(issued_at)),
            ("expire".into(), n(current.expire)),
            ("generation".into(), n(generation)),
        ]);
        let pointer = Item::from([
            ("uid".into(), uid),
            ("sk".into(), s(current_key(client_id))),
            ("token_id".into(), s(current.token.to_string())),
            ("expire".into(), n(current.expire)),
        ]);
        let record = Put::builder()
            .table_name(&self.table)
            .set_item(Some(record))
            .condition_expression("attribute_not_exists(sk)");
        let pointer = Put::builder()
            .table_name(&self.table)
            .set_item(Some(pointer));
        let pointer = match replace {
            ReplaceCurrent::Always => pointer,
            ReplaceCurrent::IfAbsent => pointer.condition_expression("attribute_not_exists(sk)"),
            ReplaceCurrent::IfStill(seen) => pointer
                .condition_expression("token_id = :seen")
                .expression_attribute_values(":seen", s(seen.to_string())),
        };
        [record, pointer]
            .into_iter()
            .map(|put| {
                put.build()
                    .map(|put| TransactWriteItem::builder().put(put).build())
                    .map_err(|_| StoreError::Corrupt("put request"))
            })
            .collect()
    }

    /// Records a new token as [`Self::issue_items`] describes, atomically, together with
    /// `guards` (conditions on other items that must hold). [`StoreError::ConditionFailed`]
    /// with index 1 means another caller changed the current token first; 2 and up, a guard.
    #[allow(clippy::too_many_arguments)]
    pub async fn issue(
        &self,
        user: &UserId,
        generation: u64,
        client_id: &str,
        current: CurrentToken,
        issued_at: u64,
        replace: ReplaceCurrent,
        guards: &[TransactWriteItem],
    ) -> Result<(), StoreError> {
        let mut items =
            self.issue_items(user, generation, client_id, current, issued_at, replace)?;
        items.extend_from_slice(guards);
        write_atomically(&self.client, items).await
    }
}

impl TokenStore {
    /// Deletes the record of `token` (and the pair's pointer when it points at it), so the
    /// token stops verifying at once. Returns whether there was a record.
    pub async fn revoke(&self, user: &UserId, token: &TokenId) -> Result<bool, StoreError> {
        let Some(record) = self.find(user, token).await? else {
            return Ok(false);
        };
        let uid = s(user.to_string());
        let delete_record = Delete::builder()
            .table_name(&self.table)
            .key("uid", uid.clone())
            .key("sk", s(token_key(token)));
        let pointed_at = self.current(user, &record.client_id).await?;
        let mut items = vec![delete_record];
        if pointed_at.is_some_and(|current| current.token == *token) {
            items.push(
                Delete::builder()
                    .table_name(&self.table)
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
                    .map_err(|_| StoreError::Corrupt("delete request"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        write_atomically(&self.client, items).await?;
        Ok(true)
    }

    /// Deletes every token record and pointer of `user`; returns how many tokens there were.
    pub async fn revoke_all(&self, user: &UserId) -> Result<usize, StoreError> {
        let uid = s(user.to_string());
        let mut keys = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
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
                        .map_err(|_| StoreError::Corrupt("delete request"))?;
                    Ok(WriteRequest::builder().delete_request(delete).build())
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            for attempt in 0u32.. {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(StoreError::unavailable)?;
                requests = output
                    .unprocessed_items()
                    .and_then(|unprocessed| unprocessed.get(&self.table))
                    .cloned()
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                if attempt >= 5 {
                    return Err(StoreError::Unavailable("tokens left unprocessed".into()));
                }
                tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
            }
        }
        Ok(tokens)
    }
}
