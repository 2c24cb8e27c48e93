//! The tables' definitions, for local runs and tests (deployments get them from template.yaml).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    StreamSpecification, StreamViewType, TimeToLiveSpecification,
};

use super::{StoreError, TableNames};

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

/// Creates `table` with `keys` unless it exists; with TTL on `expire` when `expiring`, and a
/// stream of the keys of what changes when `streamed`.
async fn create_if_absent(
    client: &Client,
    table: &str,
    keys: &[(&str, KeyType)],
    expiring: bool,
    streamed: bool,
) -> Result<(), StoreError> {
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest);
    if streamed {
        let stream = StreamSpecification::builder()
            .stream_enabled(true)
            .stream_view_type(StreamViewType::KeysOnly)
            .build()
            .map_err(|_| StoreError::Request("stream specification"))?;
        request = request.stream_specification(stream);
    }
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

/// Creates the three tables unless they exist: the tokens table and the outbox with TTL on
/// `expire` (the users table holds nothing that expires), the outbox with a stream of keys,
/// which wakes the mailer.
pub async fn create_tables(client: &Client, names: &TableNames) -> Result<(), StoreError> {
    create_if_absent(client, &names.users, &[("pk", KeyType::Hash)], false, false).await?;
    create_if_absent(
        client,
        &names.tokens,
        &[("uid", KeyType::Hash), ("sk", KeyType::Range)],
        true,
        false,
    )
    .await?;
    create_if_absent(client, &names.outbox, &[("id", KeyType::Hash)], true, true).await
}
