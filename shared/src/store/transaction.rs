//! Writes of several items in one transaction, and what a cancelled one came to.
//!
//! DynamoDB answers a cancelled transaction with one reason per item, by position. Each item
//! is added here with the outcome its failed condition stands for, so the one place that reads
//! the reasons turns them into that named outcome: no caller matches on a position.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::TransactWriteItem;

use super::StoreError;

/// The items of one transaction, each with what its condition failing means.
pub(super) struct Transaction<O> {
    items: Vec<TransactWriteItem>,
    refusals: Vec<Refusal<O>>,
}

/// What an item's failed condition means for the whole write.
enum Refusal<O> {
    /// The write answers this outcome; nothing was written.
    Means(O),
    /// Only a fresh random id meeting an existing one fails it (or it has no condition): as
    /// unlikely as it is transient, so [`StoreError::Conflict`], which callers retry.
    Collision,
}

impl<O> Transaction<O> {
    /// A transaction of no item yet.
    pub(super) fn new() -> Self {
        Self {
            items: Vec::new(),
            refusals: Vec::new(),
        }
    }

    /// Adds `item`, whose condition failing means `refused`.
    pub(super) fn guarded(mut self, item: TransactWriteItem, refused: O) -> Self {
        self.items.push(item);
        self.refusals.push(Refusal::Means(refused));
        self
    }

    /// Adds `item`, which has no condition, or one that only a collision of fresh random ids
    /// fails.
    pub(super) fn item(mut self, item: TransactWriteItem) -> Self {
        self.items.push(item);
        self.refusals.push(Refusal::Collision);
        self
    }

    /// Writes every item or none: `written` when all were, else what the first item whose
    /// condition failed means. A transaction that collided with a concurrent one is
    /// [`StoreError::Conflict`].
    pub(super) async fn write(self, client: &Client, written: O) -> Result<O, StoreError> {
        let Self { items, refusals } = self;
        let failed = match client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => return Ok(written),
            Err(error) => StoreError::from_transaction(error)?,
        };
        match refusals.into_iter().nth(failed) {
            Some(Refusal::Means(outcome)) => Ok(outcome),
            Some(Refusal::Collision) | None => Err(StoreError::Conflict),
        }
    }
}
