//! The item store: a trait the handler calls, and its DynamoDB implementation over the
//! single `PK`/`SK` table. Every call asks for `ReturnConsumedCapacity=TOTAL` so the
//! function can report what each request cost.

use std::collections::HashMap;
use std::future::Future;
use std::ops::AddAssign;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{AttributeValue, ConsumedCapacity, KeysAndAttributes, ReturnConsumedCapacity};
use serde_json::{Map, Value};

use crate::attr;

/// A JSON item as the API shows it (no `PK`/`SK`).
pub type Item = Map<String, Value>;

/// Partition key attribute name.
pub const PK: &str = "PK";
/// Sort key attribute name.
pub const SK: &str = "SK";
/// Sort key value every item uses.
pub const ITEM_SK: &str = "ITEM";

/// The partition key of item `id`.
pub fn pk_of(id: &str) -> String {
    format!("ITEM#{id}")
}

/// DynamoDB work done for one request: calls made and capacity units consumed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// DynamoDB API calls (SDK-internal retries of one call count once).
    pub calls: u32,
    /// Read capacity units, as DynamoDB reported them.
    pub rcu: f64,
    /// Write capacity units, as DynamoDB reported them.
    pub wcu: f64,
}

impl AddAssign for Usage {
    fn add_assign(&mut self, rhs: Self) {
        self.calls += rhs.calls;
        self.rcu += rhs.rcu;
        self.wcu += rhs.wcu;
    }
}

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// ProvisionedThroughputExceeded, Throttling or RequestLimitExceeded, after the SDK's retries.
    #[error("throttled by DynamoDB ({0})")]
    Throttled(String),
    /// The item is not one DynamoDB can hold; the message (ours) names the field.
    #[error("DynamoDB rejected the item: {0}")]
    Invalid(String),
    /// DynamoDB answered ValidationException; its message is DynamoDB's own, for the log only.
    #[error("DynamoDB refused the request (ValidationException): {0}")]
    Rejected(String),
    /// Anything else: network, auth, missing table, service error.
    #[error("DynamoDB call failed: {0}")]
    Other(String),
}

/// One BatchGetItem round: what came back and what DynamoDB left for a retry.
#[derive(Debug, Clone, Default)]
pub struct BatchPage {
    /// Items found, in no particular order.
    pub items: Vec<Item>,
    /// Ids of keys returned in `UnprocessedKeys`.
    pub unprocessed: Vec<String>,
    /// What the call consumed.
    pub usage: Usage,
}

/// Storage operations the handler needs. Futures are `Send` so the handler can run on any
/// runtime flavour.
pub trait Store: Send + Sync {
    /// PutItem of `item` (which already holds `"id"`).
    fn put(&self, id: &str, item: &Item) -> impl Future<Output = Result<Usage, StoreError>> + Send;
    /// GetItem, eventually consistent unless `consistent`.
    fn get(&self, id: &str, consistent: bool)
    -> impl Future<Output = Result<(Option<Item>, Usage), StoreError>> + Send;
    /// DeleteItem (idempotent).
    fn delete(&self, id: &str) -> impl Future<Output = Result<Usage, StoreError>> + Send;
    /// One BatchGetItem call for at most 100 distinct ids.
    fn batch_get(&self, ids: &[String], consistent: bool)
    -> impl Future<Output = Result<BatchPage, StoreError>> + Send;
}

/// [`Store`] over a DynamoDB table through `aws-sdk-dynamodb`.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// A store over `table` using `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    fn key(id: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (PK.to_owned(), AttributeValue::S(pk_of(id))),
            (SK.to_owned(), AttributeValue::S(ITEM_SK.to_owned())),
        ])
    }
}

/// Strips the key attributes so clients see only their own fields; an item written by
/// another tool without an `id` attribute gets it back from its key.
fn public_item(mut raw: HashMap<String, AttributeValue>) -> Item {
    let pk = raw.remove(PK);
    raw.remove(SK);
    let mut item = attr::item_to_json(&raw);
    if !item.contains_key("id")
        && let Some(AttributeValue::S(pk)) = pk
        && let Some(id) = pk.strip_prefix("ITEM#")
    {
        item.insert("id".into(), Value::String(id.to_owned()));
    }
    item
}

fn units(cc: Option<&ConsumedCapacity>) -> f64 {
    cc.and_then(|c| c.capacity_units()).unwrap_or(0.0)
}

/// Maps an SDK error to a [`StoreError`] by its error code, never by message text.
fn classify<E, R>(err: aws_sdk_dynamodb::error::SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.code() {
        Some("ProvisionedThroughputExceededException" | "ThrottlingException" | "RequestLimitExceeded") => {
            StoreError::Throttled(err.code().unwrap_or_default().to_owned())
        }
        Some("ValidationException") => StoreError::Rejected(err.message().unwrap_or("validation failed").to_owned()),
        _ => StoreError::Other(DisplayErrorContext(&err).to_string()),
    }
}

impl Store for DynamoStore {
    async fn put(&self, id: &str, item: &Item) -> Result<Usage, StoreError> {
        let mut attrs = Self::key(id);
        for (k, v) in item {
            attrs.insert(k.clone(), attr::to_attr(v, k).map_err(StoreError::Invalid)?);
        }
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(attrs))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(classify)?;
        Ok(Usage { calls: 1, rcu: 0.0, wcu: units(out.consumed_capacity()) })
    }

    async fn get(&self, id: &str, consistent: bool) -> Result<(Option<Item>, Usage), StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(id)))
            .consistent_read(consistent)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(classify)?;
        let usage = Usage { calls: 1, rcu: units(out.consumed_capacity()), wcu: 0.0 };
        Ok((out.item.map(public_item), usage))
    }

    async fn delete(&self, id: &str) -> Result<Usage, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(id)))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(classify)?;
        Ok(Usage { calls: 1, rcu: 0.0, wcu: units(out.consumed_capacity()) })
    }

    async fn batch_get(&self, ids: &[String], consistent: bool) -> Result<BatchPage, StoreError> {
        let keys = ids.iter().map(|id| Self::key(id)).collect::<Vec<_>>();
        let request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(consistent)
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let out = self
            .client
            .batch_get_item()
            .request_items(&self.table, request)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(classify)?;
        let rcu = out.consumed_capacity().iter().filter_map(|c| c.capacity_units()).sum();
        let mut page = BatchPage { usage: Usage { calls: 1, rcu, wcu: 0.0 }, ..BatchPage::default() };
        if let Some(mut responses) = out.responses
            && let Some(items) = responses.remove(&self.table)
        {
            page.items = items.into_iter().map(public_item).collect();
        }
        if let Some(mut unprocessed) = out.unprocessed_keys
            && let Some(keys) = unprocessed.remove(&self.table)
        {
            page.unprocessed = keys
                .keys()
                .iter()
                .filter_map(|k| match k.get(PK) {
                    Some(AttributeValue::S(pk)) => pk.strip_prefix("ITEM#").map(str::to_owned),
                    _ => None,
                })
                .collect();
        }
        Ok(page)
    }
}
