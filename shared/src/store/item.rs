//! Reading and writing attribute values of the items this crate stores.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::StoreError;

/// An item as the SDK returns it.
pub type Item = HashMap<String, AttributeValue>;

/// A string attribute.
pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute.
pub fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Reads a required string attribute.
pub fn get_s(item: &Item, name: &'static str) -> Result<String, StoreError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        _ => Err(StoreError::Corrupt(name)),
    }
}

/// Reads an optional string attribute.
pub fn get_opt_s(item: &Item, name: &'static str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value.clone()),
        _ => None,
    }
}

/// Reads a required whole-number attribute.
pub fn get_n(item: &Item, name: &'static str) -> Result<u64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().map_err(|_| StoreError::Corrupt(name)),
        _ => Err(StoreError::Corrupt(name)),
    }
}

/// Reads an optional whole-number attribute; present but malformed is an error.
pub fn get_opt_n(item: &Item, name: &'static str) -> Result<Option<u64>, StoreError> {
    match item.get(name) {
        None => Ok(None),
        Some(_) => get_n(item, name).map(Some),
    }
}
