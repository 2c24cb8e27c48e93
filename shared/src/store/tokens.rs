//! Issued tokens and each account's sessions in the tokens table. Only ids are stored: the
//! token text needs the signing key.
//!
//! Per account (key `uid`): `sessions` maps every live token id to its expiry and carries a
//! version that every write moves, so one conditional write issues, revokes one, or revokes
//! all; `token#<id>` records where a token was issued (listing only: liveness is the map's);
//! `current#<client>` points at the token login-token hands out again for that application.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, Put, ReturnValue, TransactWriteItem, Update,
};

use super::item::{Item, get_n, get_opt_s, get_s, n, s};
use super::transaction::Transaction;
use super::{Store, StoreError};
use crate::credentials::Email;
use crate::ids::{TokenId, UserId};
use crate::records::{CurrentToken, Live, NewToken, ReplaceCurrent, Sessions, TokenRecord};
use crate::retry::Attempts;

/// What recording a new token came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenIssue {
    /// Recorded and live, and now the pair's current token.
    Issued,
    /// The account's sessions changed since they were read; nothing written.
    SessionsMoved,
    /// Another caller changed the pair's current token first; nothing written.
    PointerMoved,
    /// The password was changed since its hash was checked; nothing written.
    PasswordChanged,
}

/// What revoking one session came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionRevocation {
    /// It was live; it no longer verifies.
    Revoked,
    /// It was not live (never, or revoked before); nothing changed.
    NotLive,
}

/// How many keys one `BatchGetItem` may name.
const BATCH_GET_KEYS: usize = 100;
/// How many times a batch read re-asks for what DynamoDB left unprocessed.
const BATCH_ATTEMPTS: u32 = 6;

fn token_key(token: &TokenId) -> String {
    format!("token#{token}")
}

fn current_key(client_id: &str) -> String {
    format!("current#{client_id}")
}

/// The update that revokes every session at once (`:none` an empty map, `:one` 1): the one
/// expression of logout-all's `UpdateItem` and of a password change's transaction item.
const CLEAR_SESSIONS: &str = "SET live = :none ADD version :one, generation :one";

/// The sort key of an account's sessions item.
const SESSIONS_KEY: &str = "sessions";

impl TryFrom<&Item> for TokenRecord {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        Ok(Self {
            client_id: get_s(item, "client_id")?,
            issued_at: get_n(item, "issued_at")?,
            expire: get_n(item, "expire")?,
            user_agent: get_opt_s(item, "user_agent"),
            source_ip: get_opt_s(item, "source_ip"),
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

impl TryFrom<&Item> for Sessions {
    type Error = StoreError;

    fn try_from(item: &Item) -> Result<Self, StoreError> {
        let live = match item.get("live") {
            Some(AttributeValue::M(map)) => live_entries(map)?,
            None => BTreeMap::new(),
            Some(_) => return Err(StoreError::Corrupt("live")),
        };
        Ok(Self {
            version: get_n(item, "version")?,
            generation: super::item::get_opt_n(item, "generation")?.unwrap_or(0),
            live,
        })
    }
}

fn live_entries(
    map: &HashMap<String, AttributeValue>,
) -> Result<BTreeMap<TokenId, Live>, StoreError> {
    map.iter()
        .map(|(id, entry)| {
            let id = TokenId::parse(id).ok_or(StoreError::Corrupt("live"))?;
            Ok((id, live_entry(entry)?))
        })
        .collect()
}

/// One live entry: `[expire, client id, issued]` (entries written before `issued` was kept
/// have two elements: they count as issued first).
fn live_entry(entry: &AttributeValue) -> Result<Live, StoreError> {
    let number = |text: &String| text.parse().map_err(|_| StoreError::Corrupt("live"));
    match entry.as_l().map(Vec::as_slice) {
        Ok(
            [
                AttributeValue::N(expire),
                AttributeValue::S(client_id),
                rest @ ..,
            ],
        ) => Ok(Live {
            expire: number(expire)?,
            client_id: client_id.clone(),
            issued: match rest {
                [] => 0,
                [AttributeValue::N(issued)] => number(issued)?,
                _ => return Err(StoreError::Corrupt("live")),
            },
        }),
        _ => Err(StoreError::Corrupt("live")),
    }
}

fn live_map(sessions: &Sessions) -> AttributeValue {
    AttributeValue::M(
        sessions
            .live
            .iter()
            .map(|(id, session)| {
                let entry = AttributeValue::L(vec![
                    n(session.expire),
                    s(&session.client_id),
                    n(session.issued),
                ]);
                (id.to_string(), entry)
            })
            .collect(),
    )
}

pub(super) fn uid(user: &UserId) -> AttributeValue {
    s(user.to_string())
}

impl Store {
    /// The item `sk` of `user`, read strongly consistent.
    async fn get(&self, user: &UserId, sk: String) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.tokens_table)
            .key("uid", uid(user))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::unavailable)?;
        Ok(output.item)
    }

    /// The item `sk` of `user` as a `T`, read strongly consistent.
    pub(super) async fn read<T>(&self, user: &UserId, sk: String) -> Result<Option<T>, StoreError>
    where
        T: for<'a> TryFrom<&'a Item, Error = StoreError>,
    {
        self.get(user, sk)
            .await?
            .as_ref()
            .map(T::try_from)
            .transpose()
    }

    /// The sessions of `user`, read strongly consistent (none yet: version 0, nothing live).
    pub async fn sessions(&self, user: &UserId) -> Result<Sessions, StoreError> {
        Ok(self
            .read(user, SESSIONS_KEY.into())
            .await?
            .unwrap_or_default())
    }

    /// What `user`'s sessions say of `token` while it is in them: one strongly consistent read
    /// of the sessions item (the whole item: a projection costs DynamoDB more than the few
    /// bytes it saves), of which only that entry is decoded.
    pub async fn live_session(
        &self,
        user: &UserId,
        token: &TokenId,
    ) -> Result<Option<Live>, StoreError> {
        let item = self.get(user, SESSIONS_KEY.into()).await?;
        match item.as_ref().and_then(|item| item.get("live")) {
            Some(AttributeValue::M(map)) => map.get(&token.to_string()).map(live_entry).transpose(),
            None => Ok(None),
            Some(_) => Err(StoreError::Corrupt("live")),
        }
    }

    /// The records of `tokens` of `user` that exist, by token id.
    pub async fn token_records(
        &self,
        user: &UserId,
        tokens: &[TokenId],
    ) -> Result<BTreeMap<TokenId, TokenRecord>, StoreError> {
        let mut records = BTreeMap::new();
        for chunk in tokens.chunks(BATCH_GET_KEYS) {
            let mut keys = KeysAndAttributes::builder().consistent_read(true);
            for token in chunk {
                keys = keys.keys(HashMap::from([
                    ("uid".into(), uid(user)),
                    ("sk".into(), s(token_key(token))),
                ]));
            }
            let keys = keys.build().map_err(|_| StoreError::Request("batch get"))?;
            for item in self.batch_get(keys).await? {
                let id = get_s(&item, "sk")?;
                let id = id
                    .strip_prefix("token#")
                    .and_then(TokenId::parse)
                    .ok_or(StoreError::Corrupt("sk"))?;
                records.insert(id, TokenRecord::try_from(&item)?);
            }
        }
        Ok(records)
    }

    /// Every item `keys` names that exists, re-asking for what DynamoDB left unprocessed.
    async fn batch_get(&self, keys: KeysAndAttributes) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut pending = Some(keys);
        let mut attempts = Attempts::new(BATCH_ATTEMPTS);
        while let Some(keys) = pending.take() {
            attempts.next_attempt().await.map_err(|_| {
                StoreError::Unavailable("DynamoDB kept leaving reads unprocessed".into())
            })?;
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.tokens_table, keys)
                .send()
                .await
                .map_err(StoreError::unavailable)?;
            if let Some(found) = output.responses().and_then(|r| r.get(&self.tokens_table)) {
                items.extend(found.iter().cloned());
            }
            pending = output
                .unprocessed_keys()
                .and_then(|unprocessed| unprocessed.get(&self.tokens_table))
                .filter(|keys| !keys.keys().is_empty())
                .cloned();
        }
        Ok(items)
    }

    /// The current token of the pair (`user`, `client_id`), if one was recorded.
    pub async fn current_token(
        &self,
        user: &UserId,
        client_id: &str,
    ) -> Result<Option<CurrentToken>, StoreError> {
        self.read(user, current_key(client_id)).await
    }

    /// The transaction items that record `token` and make it the pair's current one, as far
    /// as `replace` allows: the record first, then the pointer.
    pub(super) fn token_items(
        &self,
        token: &NewToken,
        replace: ReplaceCurrent,
    ) -> Result<[TransactWriteItem; 2], StoreError> {
        let mut record = Item::from([
            ("uid".into(), uid(&token.user)),
            ("sk".into(), s(token_key(&token.current.token))),
            ("client_id".into(), s(&token.origin.client_id)),
            ("issued_at".into(), n(token.issued_at)),
            ("expire".into(), n(token.current.expire)),
            ("generation".into(), n(token.generation)),
        ]);
        if let Some(agent) = &token.origin.user_agent {
            record.insert("user_agent".into(), s(agent));
        }
        if let Some(ip) = &token.origin.source_ip {
            record.insert("source_ip".into(), s(ip));
        }
        let pointer = Item::from([
            ("uid".into(), uid(&token.user)),
            ("sk".into(), s(current_key(&token.origin.client_id))),
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

    /// The transaction item that replaces `user`'s sessions `seen` by `next`, only while they
    /// are still at `seen`'s version.
    pub(super) fn sessions_write(
        &self,
        user: &UserId,
        seen: &Sessions,
        next: &Sessions,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.tokens_table)
            .key("uid", uid(user))
            .key("sk", s(SESSIONS_KEY))
            .update_expression("SET live = :live, version = :next")
            .condition_expression(if seen.version == 0 {
                "attribute_not_exists(version)"
            } else {
                "version = :seen"
            })
            .expression_attribute_values(":live", live_map(next))
            .expression_attribute_values(":next", n(next.version));
        let update = if seen.version == 0 {
            update
        } else {
            update.expression_attribute_values(":seen", n(seen.version))
        };
        let update = update
            .build()
            .map_err(|_| StoreError::Request("sessions update"))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The transaction item that revokes every session of `user`, whatever their number.
    pub(super) fn sessions_cleared(&self, user: &UserId) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.tokens_table)
            .key("uid", uid(user))
            .key("sk", s(SESSIONS_KEY))
            .update_expression(CLEAR_SESSIONS)
            .expression_attribute_values(":none", AttributeValue::M(HashMap::new()))
            .expression_attribute_values(":one", n(1))
            .build()
            .map_err(|_| StoreError::Request("sessions update"))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Records `token` and makes it live by replacing the account's sessions `seen` by `next`
    /// (which holds it), and the pair's current token as far as `replace` allows: one
    /// transaction, which also checks that `email`'s password is still at `password_version`.
    pub async fn issue_token(
        &self,
        token: &NewToken,
        replace: ReplaceCurrent,
        seen: &Sessions,
        next: &Sessions,
        email: &Email,
        password_version: u64,
    ) -> Result<TokenIssue, StoreError> {
        let [record, pointer] = self.token_items(token, replace)?;
        Transaction::new()
            .guarded(
                self.sessions_write(&token.user, seen, next)?,
                TokenIssue::SessionsMoved,
            )
            // The record is new by its random id.
            .item(record)
            .guarded(pointer, TokenIssue::PointerMoved)
            .guarded(
                self.password_check(email, password_version)?,
                TokenIssue::PasswordChanged,
            )
            .write(&self.client, TokenIssue::Issued)
            .await
    }

    /// Takes `token` out of `user`'s sessions in one write, so it stops verifying at once;
    /// its record is deleted afterwards (best effort: TTL sweeps what is left).
    pub async fn revoke_session(
        &self,
        user: &UserId,
        token: &TokenId,
    ) -> Result<SessionRevocation, StoreError> {
        let sent = self
            .client
            .update_item()
            .table_name(&self.tokens_table)
            .key("uid", uid(user))
            .key("sk", s(SESSIONS_KEY))
            .update_expression("REMOVE live.#token ADD version :one")
            .condition_expression("attribute_exists(live.#token)")
            .expression_attribute_names("#token", token.to_string())
            .expression_attribute_values(":one", n(1))
            .send()
            .await;
        if !StoreError::conditional_update(sent)? {
            return Ok(SessionRevocation::NotLive);
        }
        self.forget_record(user, token).await;
        Ok(SessionRevocation::Revoked)
    }

    async fn forget_record(&self, user: &UserId, token: &TokenId) {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.tokens_table)
            .key("uid", uid(user))
            .key("sk", s(token_key(token)))
            .send()
            .await;
        if let Err(error) = deleted {
            tracing::warn!(error = %StoreError::unavailable(error), "revoked token's record left to TTL");
        }
    }

    /// Revokes every session of `user` in one write, whatever their number; returns the
    /// sessions that were in the map (live or lingering expired ones).
    pub async fn revoke_all_sessions(&self, user: &UserId) -> Result<Sessions, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.tokens_table)
            .key("uid", uid(user))
            .key("sk", s(SESSIONS_KEY))
            .update_expression(CLEAR_SESSIONS)
            .expression_attribute_values(":none", AttributeValue::M(HashMap::new()))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(StoreError::unavailable)?;
        Ok(output
            .attributes()
            .map(Sessions::try_from)
            .transpose()?
            .unwrap_or_default())
    }
}
