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
    /// Another transaction on the same items was in flight; retrying may succeed.
    #[error("transaction conflicted with a concurrent one")]
    Conflict,
    /// An item did not have the shape this code writes; retrying will not help.
    #[error("stored item is malformed: {0}")]
    Corrupt(&'static str),
    /// The SDK refused to build a request this code put together; a bug, not an outage.
    #[error("could not build a DynamoDB request: {0}")]
    Request(&'static str),
}

impl StoreError {
    /// Wraps any SDK failure; the message is for logs and never reaches a client.
    pub(super) fn unavailable<E, R>(error: SdkError<E, R>) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        Self::Unavailable(DisplayErrorContext(error).to_string())
    }

    /// What a conditional `UpdateItem` came to: `Ok(true)` written, `Ok(false)` its condition
    /// did not hold (nothing written), else the error.
    pub(super) fn conditional_update<T, R>(
        sent: Result<T, SdkError<UpdateItemError, R>>,
    ) -> Result<bool, Self>
    where
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        match sent {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(error) => Err(Self::unavailable(error)),
        }
    }

    /// Classifies a failed `TransactWriteItems`: `Ok(index)` of the first item whose condition
    /// did not hold, else the error ([`Self::Conflict`] when it met a concurrent transaction).
    pub(super) fn from_transaction<R>(
        error: SdkError<TransactWriteItemsError, R>,
    ) -> Result<usize, Self>
    where
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        if let SdkError::ServiceError(service) = &error {
            match service.err() {
                TransactWriteItemsError::TransactionCanceledException(cancelled) => {
                    let reasons = cancelled.cancellation_reasons();
                    if let Some(index) = reasons
                        .iter()
                        .position(|reason| reason.code() == Some("ConditionalCheckFailed"))
                    {
                        return Ok(index);
                    }
                    if reasons
                        .iter()
                        .any(|reason| reason.code() == Some("TransactionConflict"))
                    {
                        return Err(Self::Conflict);
                    }
                }
                TransactWriteItemsError::TransactionInProgressException(_) => {
                    return Err(Self::Conflict);
                }
                _ => {}
            }
        }
        Err(Self::unavailable(error))
    }
}
