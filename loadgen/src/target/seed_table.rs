//! `[data]` seeding straight into the table (the default): `BatchWriteItem` through the AWS SDK,
//! 25 items a call, a few calls in flight, paced at the scenario's seed rate, unprocessed items
//! and throttles retried with backoff. Nothing of it reaches the API or the function. Key
//! attributes are written with the types the table declares (a CSV's `42` becomes a number for
//! a numeric key); an item without the table's keys is refused before anything is written.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use local_stack::tables::{AttrType, KeyAttribute};

use super::TargetError;
use crate::event::{Event, Sink};
use crate::scenario::Plan;
use crate::scenario::seed_data::{SeedValue, SeedVia, item, line_of};

/// Items per `BatchWriteItem` call: DynamoDB's limit.
const BATCH: usize = 25;
/// Calls in flight at most.
const IN_FLIGHT: usize = 8;
/// Attempts per batch before its unwritten items count as failed.
const ATTEMPTS: u32 = 10;

/// The table to seed.
#[derive(Debug, Clone)]
pub struct Table {
    /// Its name.
    pub name: String,
    /// The region.
    pub region: String,
    /// The local stack's DynamoDB endpoint; `None` for AWS.
    pub endpoint: Option<String>,
    /// Its key attributes, when known (the local stack's; an AWS table's from `DescribeTable`).
    pub keys: Option<(KeyAttribute, Option<KeyAttribute>)>,
}

fn attribute(v: &SeedValue) -> AttributeValue {
    match v {
        SeedValue::S(s) => AttributeValue::S(s.clone()),
        SeedValue::N(n) => AttributeValue::N(n.clone()),
        SeedValue::Bool(b) => AttributeValue::Bool(*b),
        SeedValue::Null => AttributeValue::Null(true),
        SeedValue::L(l) => AttributeValue::L(l.iter().map(attribute).collect()),
        SeedValue::M(m) => AttributeValue::M(m.iter().map(|(k, v)| (k.clone(), attribute(v))).collect()),
    }
}

/// Why an item cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum ItemError {
    /// It lacks a key attribute of the table.
    #[error("{at}the item has no '{name}', table {table}'s {kind} key; {fix}")]
    NoKey {
        /// `file:line: ` of a file's row, or nothing.
        at: String,
        /// The attribute.
        name: String,
        /// The table.
        table: String,
        /// Its type.
        kind: &'static str,
        /// How to give it.
        fix: String,
    },
    /// A key attribute whose value is not of the table's type.
    #[error("{at}'{name}' is the table's {kind} key, but {value:?} is not one")]
    KeyType {
        /// `file:line: ` of a file's row, or nothing.
        at: String,
        /// The attribute.
        name: String,
        /// Its type.
        kind: &'static str,
        /// The value.
        value: SeedValue,
    },
    /// Two items with the same primary key.
    #[error("{again} has the same key as {first}; a table holds one item per key, so give each its own")]
    Duplicate {
        /// Where the key first appears.
        first: String,
        /// Where it appears again.
        again: String,
    },
    /// The SDK refused to build the request.
    #[error("{0}")]
    Request(String),
}

/// A key value as the table's type has it, or `None` when it cannot be.
fn key_value(k: &KeyAttribute, v: &SeedValue) -> Option<AttributeValue> {
    match (k.kind, v) {
        (AttrType::S, SeedValue::S(s) | SeedValue::N(s)) => Some(AttributeValue::S(s.clone())),
        (AttrType::N, SeedValue::S(s) | SeedValue::N(s)) if s.trim().parse::<f64>().is_ok_and(f64::is_finite) => {
            Some(AttributeValue::N(s.trim().to_owned()))
        }
        (AttrType::B, SeedValue::S(s)) => {
            Some(AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(s.as_bytes())))
        }
        _ => None,
    }
}

/// Item `n` as DynamoDB attributes, its keys typed as the table declares them.
fn attributes(plan: &Plan, t: &Table, n: u64) -> Result<HashMap<String, AttributeValue>, ItemError> {
    let it: BTreeMap<String, SeedValue> = item(&plan.data, n, SeedVia::Table);
    let mut out: HashMap<String, AttributeValue> = it.iter().map(|(k, v)| (k.clone(), attribute(v))).collect();
    if let Some((hash, range)) = &t.keys {
        for k in std::iter::once(hash).chain(range.as_ref()) {
            let at = line_of(&plan.data, n).map(|l| format!("{l}: ")).unwrap_or_default();
            let Some(v) = it.get(&k.name) else {
                let fix = if plan.data.rows.is_some() {
                    "add the column".to_owned()
                } else {
                    format!("set it in [data] item, e.g. item = {{ {} = \"{{id}}\" }}", k.name)
                };
                return Err(ItemError::NoKey {
                    at,
                    name: k.name.clone(),
                    table: t.name.clone(),
                    kind: k.kind.as_str(),
                    fix,
                });
            };
            let Some(value) = key_value(k, v) else {
                return Err(ItemError::KeyType { at, name: k.name.clone(), kind: k.kind.as_str(), value: v.clone() });
            };
            out.insert(k.name.clone(), value);
        }
    }
    Ok(out)
}

/// The key schema of an AWS table, from `DescribeTable` (`None` when it cannot be read).
async fn described_keys(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Option<(KeyAttribute, Option<KeyAttribute>)> {
    let d = client.describe_table().table_name(table).send().await.ok()?;
    let t = d.table()?;
    let kind = |name: &str| {
        let a = t.attribute_definitions().iter().find(|a| a.attribute_name() == name)?;
        AttrType::parse(a.attribute_type().as_str())
    };
    let key = |role: &str| {
        let k = t.key_schema().iter().find(|k| k.key_type().as_str() == role)?;
        Some(KeyAttribute { name: k.attribute_name().to_owned(), kind: kind(k.attribute_name())? })
    };
    Some((key("HASH")?, key("RANGE")))
}

/// Writes one batch, retrying what DynamoDB leaves unprocessed or throttles; returns the items
/// not written and the last error.
async fn write(client: &aws_sdk_dynamodb::Client, table: &str, mut batch: Vec<WriteRequest>) -> (usize, String) {
    let mut last = String::new();
    for attempt in 0..ATTEMPTS {
        match client.batch_write_item().request_items(table, batch.clone()).send().await {
            Ok(out) => {
                batch = out.unprocessed_items().and_then(|u| u.get(table)).cloned().unwrap_or_default();
                if batch.is_empty() {
                    return (0, last);
                }
                last = format!("{} items unprocessed", batch.len());
            }
            Err(e) => {
                last = aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string();
                // Only what may pass on a later try is tried again: throttles, the service's
                // own faults and the network — not a refused item, a missing table or access.
                let code = aws_sdk_dynamodb::error::ProvideErrorMetadata::code(&e).unwrap_or("");
                let transient = code.contains("Throttl")
                    || code.contains("ProvisionedThroughputExceeded")
                    || code.contains("RequestLimitExceeded")
                    || code.contains("InternalServerError")
                    || code.contains("ServiceUnavailable")
                    || matches!(
                        e,
                        aws_sdk_dynamodb::error::SdkError::DispatchFailure(_)
                            | aws_sdk_dynamodb::error::SdkError::TimeoutError(_)
                    );
                if !transient {
                    return (batch.len(), last);
                }
            }
        }
        // Capped exponential backoff with full jitter, as the SDKs retry.
        let cap = Duration::from_millis((25u64 << attempt.min(6)).min(2_000));
        tokio::time::sleep(cap.mul_f64(fastrand::f64())).await;
    }
    (batch.len(), last)
}

/// Seeds `[data]` into `t`: checks every item first, then writes them.
pub async fn seed(plan: &Plan, t: &Table, sink: &Arc<dyn Sink>) -> Result<(), TargetError> {
    let items = plan.data.seeded_items();
    if items == 0 {
        return Ok(());
    }
    let client = aws_sdk_dynamodb::Client::new(&crate::sdk::config(t.endpoint.as_deref(), &t.region).await);
    let mut t = t.clone();
    if t.keys.is_none() {
        t.keys = described_keys(&client, &t.name).await;
    }
    let mut requests = Vec::with_capacity(items as usize);
    // A batch may not hold one key twice; and a file that repeats a key would silently keep
    // only its last row.
    let mut seen: HashMap<String, u64> = HashMap::new();
    for n in 0..items {
        let item = attributes(plan, &t, n).map_err(|e| TargetError::SeedItem(t.name.clone(), Box::new(e)))?;
        if let Some((hash, range)) = &t.keys {
            let key = format!("{:?}|{:?}", item.get(&hash.name), range.as_ref().and_then(|r| item.get(&r.name)));
            if let Some(first) = seen.insert(key, n) {
                let at = |i: u64| line_of(&plan.data, i).unwrap_or_else(|| format!("item {i}"));
                return Err(TargetError::SeedItem(
                    t.name.clone(),
                    Box::new(ItemError::Duplicate { first: at(first), again: at(n) }),
                ));
            }
        }
        requests.push(
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder().set_item(Some(item)).build().map_err(|e| {
                        TargetError::SeedItem(t.name.clone(), Box::new(ItemError::Request(e.to_string())))
                    })?,
                )
                .build(),
        );
    }
    let rate = plan.data.seed_rate;
    let region = if t.endpoint.is_none() { format!(", {}", t.region) } else { String::new() };
    sink.event(Event::Seeding {
        items,
        item_size: plan.data.item_size,
        rate,
        into: format!("table {}{region} (BatchWriteItem)", t.name),
    });
    let permits = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (i, chunk) in requests.chunks(BATCH).enumerate() {
        let due = start + Duration::from_secs_f64((i * BATCH) as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let Ok(permit) = permits.clone().acquire_owned().await else { break };
        let (client, table, chunk) = (client.clone(), t.name.clone(), chunk.to_vec());
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            write(&client, &table, chunk).await
        }));
    }
    let (mut failed, mut last) = (0u64, String::new());
    for task in tasks {
        if let Ok((n, e)) = task.await
            && n > 0
        {
            failed += n as u64;
            last = e;
        }
    }
    if failed > 0 {
        return Err(TargetError::Seeding { failed, items, last });
    }
    Ok(())
}
