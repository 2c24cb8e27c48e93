//! SDK errors, classified into what the use-cases can act on.

use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;

/// A store call that did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// DynamoDB could not be reached, timed out, throttled or failed; worth a retry later.
    #[error("DynamoDB call failed: {0}")]
    Unavailable(String),
    /// A transaction's condition did not hold; `index` is the first failing item.
    #[error("condition failed on transaction item {index}")]
    ConditionFailed {
        /// Position of the failing item in the transaction.
        index: usize,
    },
    /// Another transaction on the same items was in flight; retrying may succeed.
    #[error("transaction conflicted with a concurrent one")]
    Conflict,
    /// An item did not have the shape this code writes.
    #[error("stored item is malformed: {0}")]
    Corrupt(&'static str),
}

impl StoreError {
    /// Wraps any SDK failure; the message is for logs and never reaches a client.
    pub fn unavailable<E, R>(error: SdkError<E, R>) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        Self::Unavailable(DisplayErrorContext(error).to_string())
    }

    /// Classifies a failed conditional `UpdateItem`: its condition not holding is
    /// [`Self::ConditionFailed`] with index 0, anything else [`Self::Unavailable`].
    pub fn from_update<R>(error: SdkError<UpdateItemError, R>) -> Self
    where
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        match error.as_service_error() {
            Some(e) if e.is_conditional_check_failed_exception() => {
                Self::ConditionFailed { index: 0 }
            }
            _ => Self::unavailable(error),
        }
    }

    /// Classifies a failed `TransactWriteItems`.
    pub fn from_transaction<R>(error: SdkError<TransactWriteItemsError, R>) -> Self
    where
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        if let SdkError::ServiceError(service) = &error
            && let TransactWriteItemsError::TransactionCanceledException(cancelled) = service.err()
        {
            let reasons = cancelled.cancellation_reasons();
            if let Some(index) = reasons
                .iter()
                .position(|reason| reason.code() == Some("ConditionalCheckFailed"))
            {
                return Self::ConditionFailed { index };
            }
            if reasons
                .iter()
                .any(|reason| reason.code() == Some("TransactionConflict"))
            {
                return Self::Conflict;
            }
        }
        if let SdkError::ServiceError(service) = &error
            && matches!(
                service.err(),
                TransactWriteItemsError::TransactionInProgressException(_)
            )
        {
            return Self::Conflict;
        }
        Self::unavailable(error)
    }
}
