//! The tables' definitions, for local runs and tests (deployments get them from template.yaml).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};

use super::StoreError;

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(|_| StoreError::Request("key schema"))
}

fn string_attribute(name: &str) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|_| StoreError::Request("attribute definition"))
}

/// Creates `table` with `keys` unless it exists; with TTL on `expire` when `expiring`.
async fn create_if_absent(
    client: &Client,
    table: &str,
    keys: &[(&str, KeyType)],
    expiring: bool,
) -> Result<(), StoreError> {
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest);
    for (name, kind) in keys {
        request = request
            .key_schema(key(name, kind.clone())?)
            .attribute_definitions(string_attribute(name)?);
    }
    match request.send().await {
        Ok(_) => {}
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            return Ok(());
        }
        Err(error) => return Err(StoreError::unavailable(error)),
    }
    if !expiring {
        return Ok(());
    }
    let ttl = TimeToLiveSpecification::builder()
        .attribute_name("expire")
        .enabled(true)
        .build()
        .map_err(|_| StoreError::Request("ttl specification"))?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(StoreError::unavailable)?;
    Ok(())
}

/// Creates the users and tokens tables unless they exist; the tokens table with TTL on
/// `expire` (the users table holds nothing that expires).
pub async fn create_tables(client: &Client, users: &str, tokens: &str) -> Result<(), StoreError> {
    create_if_absent(client, users, &[("pk", KeyType::Hash)], false).await?;
    create_if_absent(
        client,
        tokens,
        &[("uid", KeyType::Hash), ("sk", KeyType::Range)],
        true,
    )
    .await
}
