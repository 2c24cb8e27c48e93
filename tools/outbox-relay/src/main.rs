//! `make run`'s stand-in for the event source mapping that, deployed, wakes the mailer: reads
//! the outbox table's stream on DynamoDB Local and hands each batch of INSERT records to the
//! `mailer` function through cargo lambda's invoke API, as the mapping would (filtered to
//! INSERTs, a failed batch retried), and sends it `{"sweep":true}` every `SWEEP_SECONDS`, as the
//! deployed schedule does.
//!
//! Environment: `OUTBOX_TABLE`, `MAILER_INVOKE_URL` (`http://127.0.0.1:<port>/2015-03-31/
//! functions/mailer/invocations`), `SWEEP_SECONDS` (default 30), and the AWS variables that
//! point the SDK at DynamoDB Local (`AWS_ENDPOINT_URL_DYNAMODB_STREAMS` too).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use serde_json::{Value, json};

const POLL: Duration = Duration::from_millis(250);

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), String> {
    let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
    let table = var("OUTBOX_TABLE")?;
    let invoke_url = var("MAILER_INVOKE_URL")?;
    let sweep_every = Duration::from_secs(
        std::env::var("SWEEP_SECONDS")
            .ok()
            .and_then(|seconds| seconds.parse().ok())
            .unwrap_or(30),
    );
    let sdk = tokengate::store::sdk_config(Duration::from_secs(10), None)
        .await
        .map_err(|error| error.to_string())?;
    let tables = tokengate::store::Client::new(&sdk);
    let streams = aws_sdk_dynamodbstreams::Client::new(&sdk);
    let http = reqwest::Client::new();
    let stream_arn = tables
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .map_err(|error| format!("describing {table}: {error}"))?
        .table()
        .and_then(|table| table.latest_stream_arn())
        .ok_or(format!("{table} has no stream"))?
        .to_owned();
    eprintln!("outbox-relay: {table}'s stream -> {invoke_url}");

    // Each open shard's next iterator; shards already read to their end are done.
    let mut iterators: HashMap<String, Option<String>> = HashMap::new();
    let mut last_sweep = Instant::now();
    loop {
        let description = streams
            .describe_stream()
            .stream_arn(&stream_arn)
            .send()
            .await
            .map_err(|error| format!("describing the stream: {error}"))?;
        for shard in description
            .stream_description()
            .map(|stream| stream.shards())
            .unwrap_or_default()
        {
            let Some(id) = shard.shard_id() else { continue };
            if iterators.contains_key(id) {
                continue;
            }
            let iterator = streams
                .get_shard_iterator()
                .stream_arn(&stream_arn)
                .shard_id(id)
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .map_err(|error| format!("shard iterator: {error}"))?
                .shard_iterator()
                .map(str::to_owned);
            iterators.insert(id.to_owned(), iterator);
        }
        for iterator in iterators.values_mut() {
            let Some(current) = iterator.clone() else {
                continue;
            };
            let page = streams
                .get_records()
                .shard_iterator(&current)
                .send()
                .await
                .map_err(|error| format!("reading the stream: {error}"))?;
            let inserts: Vec<Value> = page
                .records()
                .iter()
                .filter(|record| record.event_name().map(|name| name.as_str()) == Some("INSERT"))
                .map(stream_record)
                .collect();
            if !inserts.is_empty() && !invoke(&http, &invoke_url, json!({"Records": inserts})).await
            {
                // The mapping retries a failed batch: keep the iterator, try again next round.
                continue;
            }
            *iterator = page.next_shard_iterator().map(str::to_owned);
        }
        if last_sweep.elapsed() >= sweep_every {
            invoke(&http, &invoke_url, json!({"sweep": true})).await;
            last_sweep = Instant::now();
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A stream record as the event source mapping hands it to a function: its keys, sequence
/// number and event name (the stream holds keys only).
fn stream_record(record: &Record) -> Value {
    let change = record.dynamodb();
    let keys: serde_json::Map<String, Value> = change
        .and_then(|change| change.keys())
        .into_iter()
        .flatten()
        .filter_map(|(name, value)| match value {
            AttributeValue::S(text) => Some((name.clone(), json!({ "S": text }))),
            _ => None,
        })
        .collect();
    json!({
        "eventID": record.event_id(),
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "Keys": keys,
            "SequenceNumber": change.and_then(|change| change.sequence_number()),
            "StreamViewType": "KEYS_ONLY",
        },
    })
}

/// Invokes the mailer with `event`; whether it took the whole batch.
async fn invoke(http: &reqwest::Client, url: &str, event: Value) -> bool {
    let answer = match http.post(url).json(&event).send().await {
        Ok(response) if response.status().is_success() => response.json::<Value>().await,
        Ok(response) => {
            eprintln!("outbox-relay: the mailer answered {}", response.status());
            return false;
        }
        Err(error) => {
            eprintln!("outbox-relay: invoking the mailer: {error}");
            return false;
        }
    };
    match answer {
        Ok(body) => body["batchItemFailures"]
            .as_array()
            .is_none_or(|failures| failures.is_empty()),
        Err(_) => false,
    }
}
