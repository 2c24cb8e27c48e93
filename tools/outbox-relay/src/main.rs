//! `make run`'s stand-in for the event source mapping that, deployed, wakes the mailer: reads
//! the outbox table's stream on DynamoDB Local and hands each batch of INSERT records to the
//! `mailer` function through cargo lambda's invoke API, as the mapping would (filtered to
//! INSERTs, a failed batch retried), and sends it `{"sweep":true}` every `SWEEP_SECONDS`, as the
//! deployed schedule does.
//!
//! Environment: `OUTBOX_TABLE`, `MAILER_INVOKE_URL` (`http://127.0.0.1:<functions port>/
//! 2015-03-31/functions/mailer/invocations`: cargo lambda watch's invoke port, `FUNCTIONS_PORT`
//! under `make run`; the API's port serves no invoke API), `SWEEP_SECONDS` (default 30), and
//! the AWS variables that point the SDK at DynamoDB Local (`AWS_ENDPOINT_URL_DYNAMODB_STREAMS`
//! too).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodbstreams::error::DisplayErrorContext;
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

    // Each shard's reading position: its next iterator (none once read to its end), and the
    // last sequence number handed over, to take up from after an iterator fails.
    let mut shards: HashMap<String, Shard> = HashMap::new();
    let mut last_sweep = Instant::now();
    loop {
        match streams
            .describe_stream()
            .stream_arn(&stream_arn)
            .send()
            .await
        {
            Ok(description) => {
                for shard in description
                    .stream_description()
                    .map(|stream| stream.shards())
                    .unwrap_or_default()
                {
                    if let Some(id) = shard.shard_id() {
                        shards.entry(id.to_owned()).or_default();
                    }
                }
            }
            Err(error) => eprintln!(
                "outbox-relay: describing the stream: {}",
                DisplayErrorContext(&error)
            ),
        }
        for (id, shard) in &mut shards {
            if shard.finished {
                continue;
            }
            if shard.iterator.is_none() {
                let request = streams
                    .get_shard_iterator()
                    .stream_arn(&stream_arn)
                    .shard_id(id);
                let request = match &shard.last_sequence {
                    Some(sequence) => request
                        .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                        .sequence_number(sequence),
                    None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
                };
                match request.send().await {
                    Ok(answer) => shard.iterator = answer.shard_iterator().map(str::to_owned),
                    Err(error) => {
                        eprintln!(
                            "outbox-relay: shard iterator: {}",
                            DisplayErrorContext(&error)
                        );
                        continue;
                    }
                }
            }
            let Some(current) = shard.iterator.clone() else {
                continue;
            };
            let page = match streams.get_records().shard_iterator(&current).send().await {
                Ok(page) => page,
                Err(error) => {
                    eprintln!(
                        "outbox-relay: reading the stream: {}",
                        DisplayErrorContext(&error)
                    );
                    shard.iterator = None;
                    continue;
                }
            };
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
            if let Some(sequence) = page
                .records()
                .last()
                .and_then(|record| record.dynamodb())
                .and_then(|change| change.sequence_number())
            {
                shard.last_sequence = Some(sequence.to_owned());
            }
            shard.iterator = page.next_shard_iterator().map(str::to_owned);
            shard.finished = shard.iterator.is_none();
        }
        if last_sweep.elapsed() >= sweep_every {
            invoke(&http, &invoke_url, json!({"sweep": true})).await;
            last_sweep = Instant::now();
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Where the relay is in one shard.
#[derive(Default)]
struct Shard {
    iterator: Option<String>,
    last_sequence: Option<String>,
    finished: bool,
}

/// A stream record as the event source mapping hands it to a function: its keys, sequence
/// number and event name (the stream holds keys only), with the fields every record of the
/// mapping's carries (the mailer reads them as `aws_lambda_events`' DynamoDB event).
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
        "eventID": record.event_id().unwrap_or_default(),
        "eventName": "INSERT",
        "eventSource": "aws:dynamodb",
        "awsRegion": record.aws_region().unwrap_or("local"),
        "dynamodb": {
            "Keys": keys,
            "SequenceNumber": change.and_then(|change| change.sequence_number()),
            "SizeBytes": change.and_then(|change| change.size_bytes()).unwrap_or_default(),
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
