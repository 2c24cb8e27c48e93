//! The floor of a cold start whose first answer needs one DynamoDB `GetItem`: tokengate's SDK
//! set-up (`store::connect`, with the functions' 3 s bound) and nothing else, then per event one
//! bare strongly consistent `GetItem` of `TOKENS_TABLE`'s item `{"uid", "sk"}` the event names.
//! `make bench` sets it against verify's and the authorizer's first valid-token answers.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let client = tokengate::store::connect(Duration::from_millis(3000), None).await?;
    let table = std::env::var("TOKENS_TABLE")?;
    let (client, table) = (&client, table.as_str());
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        let key =
            |name: &str| AttributeValue::S(event.payload[name].as_str().unwrap_or_default().into());
        let item = client
            .get_item()
            .table_name(table)
            .key("uid", key("uid"))
            .key("sk", key("sk"))
            .consistent_read(true)
            .send()
            .await?;
        Ok::<_, Error>(json!({ "found": item.item.is_some() }))
    }))
    .await
}
