//! DynamoDB on loopback: dynoxide (an embedded emulator whose capacity units match AWS) behind
//! our own layer, which adds what an on-demand table in a Region has and dynoxide does not:
//! per-operation latency from the profile, table and per-partition throughput limits answered
//! with DynamoDB's throttling errors (and partial `BatchGetItem` results as `UnprocessedKeys`),
//! and the `AWS/DynamoDB` metrics. The limits' arithmetic is in [`crate::rules`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::Shared;
use crate::config::DynamoConfig;
use crate::metrics::{MetricId, MetricStore, Series};
use crate::profile::{Profile, Sampler};
use crate::rules::DebtBucket;

/// The table's partition-key attribute (target-api's single-table design).
const PARTITION_KEY: &str = "PK";
/// Partition buckets kept before full (forgotten) ones are dropped.
const PARTITIONS_KEPT: usize = 10_000;

const TARGET_PREFIX: &str = "DynamoDB_20120810.";
const READ_OPS: &[&str] = &["GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"];
const WRITE_OPS: &[&str] = &["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Read,
    Write,
}

/// The `AWS/DynamoDB` series of the table.
#[derive(Debug, Clone)]
struct TableMetrics {
    consumed_read: Series,
    consumed_write: Series,
    read_throttle_events: Series,
    write_throttle_events: Series,
    throttled_requests: HashMap<&'static str, Series>,
    latency: HashMap<&'static str, Series>,
}

impl TableMetrics {
    fn new(store: &MetricStore, table: &str) -> Self {
        let ns = "AWS/DynamoDB";
        let t = [("TableName", table)];
        let per_op = |name: &str, pct: bool| -> HashMap<&'static str, Series> {
            READ_OPS
                .iter()
                .chain(WRITE_OPS)
                .map(|op| (*op, store.series(MetricId::new(ns, name, &[("TableName", table), ("Operation", op)]), pct)))
                .collect()
        };
        Self {
            consumed_read: store.series(MetricId::new(ns, "ConsumedReadCapacityUnits", &t), false),
            consumed_write: store.series(MetricId::new(ns, "ConsumedWriteCapacityUnits", &t), false),
            read_throttle_events: store.series(MetricId::new(ns, "ReadThrottleEvents", &t), false),
            write_throttle_events: store.series(MetricId::new(ns, "WriteThrottleEvents", &t), false),
            throttled_requests: per_op("ThrottledRequests", false),
            latency: per_op("SuccessfulRequestLatency", true),
        }
    }
}

/// Shared state of the DynamoDB endpoint.
#[derive(Clone)]
pub struct DynamoLayer {
    upstream: Arc<str>,
    client: Client<HttpConnector, Full<Bytes>>,
    buckets: Arc<Mutex<(DebtBucket, DebtBucket)>>,
    /// Read and write buckets per partition-key value.
    partitions: Arc<Mutex<HashMap<String, (DebtBucket, DebtBucket)>>>,
    partition_rates: (f64, f64),
    started: Instant,
    profile: Arc<Profile>,
    sampler: Arc<Sampler>,
    table: Arc<str>,
    table_arn: Arc<str>,
    metrics: Arc<TableMetrics>,
}

impl DynamoLayer {
    /// A layer in front of dynoxide at `upstream` (`http://127.0.0.1:port`).
    pub fn new(upstream: String, config: &DynamoConfig, region: &str, account: &str, shared: &Shared) -> Self {
        let (profile, sampler, store) = (shared.profile.clone(), shared.sampler.clone(), &shared.metrics);
        let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(256).build_http();
        Self {
            upstream: upstream.into(),
            client,
            buckets: Arc::new(Mutex::new((
                DebtBucket::new(config.read_units_per_s),
                DebtBucket::new(config.write_units_per_s),
            ))),
            partitions: Arc::new(Mutex::new(HashMap::new())),
            partition_rates: (config.partition_read_units_per_s, config.partition_write_units_per_s),
            started: Instant::now(),
            profile,
            sampler,
            table: config.table_name.as_str().into(),
            table_arn: format!("arn:aws:dynamodb:{region}:{account}:table/{}", config.table_name).into(),
            metrics: Arc::new(TableMetrics::new(store, &config.table_name)),
        }
    }

    /// The axum router of the endpoint.
    pub fn router(self) -> axum::Router {
        axum::Router::new().fallback(handle).with_state(self)
    }
}

fn amz_json(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert("content-type", HeaderValue::from_static("application/x-amz-json-1.0"));
    r.headers_mut().insert("x-amzn-requestid", HeaderValue::from_str(&request_id()).expect("ascii"));
    r
}

fn request_id() -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..52).map(|_| A[fastrand::usize(..A.len())] as char).collect()
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Limit {
    /// The table's throughput.
    Table,
    /// One partition's (a hot key).
    Partition,
}

/// The throttling error an on-demand table returns when a request exceeds its throughput.
///
/// Which exception name AWS uses here is not pinned down by its docs (docs/aws-semantics.md 3.4:
/// ProvisionedThroughputExceeded, Throttling or RequestLimitExceeded, with `ThrottlingReasons`
/// since 2025); we send `ThrottlingException` with the reason AWS documents for the limit — a
/// table limited to a set throughput (`…MaxOnDemandThroughputExceeded`) or a hot partition
/// (`…KeyRangeThroughputExceeded`). SDKs retry it either way.
fn throttled(kind: Kind, limit: Limit, table_arn: &str) -> Response {
    let rw = if kind == Kind::Read { "Read" } else { "Write" };
    let (reason, message) = match limit {
        Limit::Table => (
            format!("Table{rw}MaxOnDemandThroughputExceeded"),
            "Throughput exceeds the maximum OnDemandThroughput configured on table or index",
        ),
        Limit::Partition => (
            format!("Table{rw}KeyRangeThroughputExceeded"),
            "Throughput exceeds the current capacity of your table or index for this partition",
        ),
    };
    let body = json!({
        "__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
        "message": message,
        "ThrottlingReasons": [{"reason": reason, "resource": table_arn}]
    });
    amz_json(StatusCode::BAD_REQUEST, body.to_string().into_bytes())
}

/// The partition-key value of a key or item, as text.
fn partition_of(key: &Value) -> Option<String> {
    key.get(PARTITION_KEY).map(|v| v.to_string())
}

impl DynamoLayer {
    fn now_s(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// The balance of `partition`'s bucket for `kind`.
    fn partition_balance(&self, kind: Kind, partition: &str) -> f64 {
        let now = self.now_s();
        let mut map = self.partitions.lock().unwrap_or_else(|p| p.into_inner());
        let (r, w) = self.partition_rates;
        let b = map.entry(partition.to_owned()).or_insert_with(|| (DebtBucket::new(r), DebtBucket::new(w)));
        if kind == Kind::Read { b.0.balance(now) } else { b.1.balance(now) }
    }

    /// Debits `units` spread evenly over `partitions`, and forgets buckets that refilled once
    /// many are kept.
    fn debit_partitions(&self, kind: Kind, partitions: &[String], units: f64) {
        if partitions.is_empty() {
            return;
        }
        let now = self.now_s();
        let each = units / partitions.len() as f64;
        let mut map = self.partitions.lock().unwrap_or_else(|p| p.into_inner());
        let (r, w) = self.partition_rates;
        for p in partitions {
            let b = map.entry(p.clone()).or_insert_with(|| (DebtBucket::new(r), DebtBucket::new(w)));
            if kind == Kind::Read { b.0.debit(now, each) } else { b.1.debit(now, each) }
        }
        if map.len() > PARTITIONS_KEPT {
            map.retain(|_, (r, w)| !(r.is_full(now) && w.is_full(now)));
        }
    }
}

/// Units reported in a `ConsumedCapacity` field (object or list).
fn consumed_units(v: &Value) -> f64 {
    match v.get("ConsumedCapacity") {
        Some(Value::Array(items)) => items.iter().filter_map(|c| c["CapacityUnits"].as_f64()).sum(),
        Some(c) => c["CapacityUnits"].as_f64().unwrap_or(0.0),
        None => 0.0,
    }
}

async fn handle(
    State(layer): State<DynamoLayer>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let op = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix(TARGET_PREFIX))
        .unwrap_or("")
        .to_owned();
    let kind = if READ_OPS.contains(&op.as_str()) {
        Some(Kind::Read)
    } else if WRITE_OPS.contains(&op.as_str()) {
        Some(Kind::Write)
    } else {
        None
    };
    let Some(kind) = kind else {
        // Control plane and anything else: straight through.
        return forward(&layer, method, &uri, &headers, body).await.0;
    };
    let Ok(mut request) = serde_json::from_slice::<Value>(&body) else {
        return forward(&layer, method, &uri, &headers, body).await.0;
    };
    let op: &'static str = READ_OPS.iter().chain(WRITE_OPS).find(|o| **o == op).copied().unwrap_or("GetItem");
    let started = Instant::now();

    // Admission: a positive balance admits — the table's, and the partition's of each key;
    // BatchGetItem gets as many keys as the balances cover, the rest come back unprocessed.
    let balance = {
        let now = layer.now_s();
        let mut b = layer.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if kind == Kind::Read { b.0.balance(now) } else { b.1.balance(now) }
    };
    let mut held_back: Vec<Value> = Vec::new();
    if balance <= 0.0 {
        return reject_whole(&layer, kind, op, Limit::Table, &request);
    }
    let mut partitions: Vec<String> = Vec::new();
    if op == "BatchGetItem"
        && let Some(table_req) = request.get_mut("RequestItems").and_then(|r| r.get_mut(&*layer.table))
    {
        let per_key = if table_req.get("ConsistentRead").and_then(Value::as_bool) == Some(true) { 1.0 } else { 0.5 };
        if let Some(keys) = table_req.get_mut("Keys").and_then(Value::as_array_mut) {
            let allowed = (balance / per_key).ceil() as usize;
            if allowed < keys.len() {
                held_back = keys.split_off(allowed);
            }
            let (admitted, hot): (Vec<Value>, Vec<Value>) =
                keys.drain(..).partition(|k| partition_of(k).is_none_or(|p| layer.partition_balance(kind, &p) > 0.0));
            if admitted.is_empty() && !hot.is_empty() {
                keys.extend(hot);
                return reject_whole(&layer, kind, op, Limit::Partition, &request);
            }
            partitions = admitted.iter().filter_map(partition_of).collect();
            *keys = admitted;
            held_back.extend(hot);
        }
    } else if let Some(p) = request.get("Key").or_else(|| request.get("Item")).and_then(partition_of) {
        if layer.partition_balance(kind, &p) <= 0.0 {
            return reject_whole(&layer, kind, op, Limit::Partition, &request);
        }
        partitions.push(p);
    }
    let client_wants_capacity =
        request.get("ReturnConsumedCapacity").and_then(Value::as_str).is_some_and(|v| v != "NONE");
    if !client_wants_capacity && let Some(obj) = request.as_object_mut() {
        obj.insert("ReturnConsumedCapacity".into(), json!("TOTAL"));
    }
    // Re-encode only what was changed; target-api's requests usually pass through as sent.
    let forwarded = if client_wants_capacity && held_back.is_empty() {
        body.clone()
    } else {
        Bytes::from(serde_json::to_vec(&request).unwrap_or_else(|_| body.to_vec()))
    };
    let (response, status, resp_body) = forward(&layer, method, &uri, &headers, forwarded).await;
    if status != StatusCode::OK {
        return response;
    }
    let Ok(mut answer) = serde_json::from_slice::<Value>(&resp_body) else {
        return response;
    };
    let units = consumed_units(&answer);
    {
        let now = layer.now_s();
        let mut b = layer.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if kind == Kind::Read { b.0.debit(now, units) } else { b.1.debit(now, units) }
    }
    // A batch's units are spread evenly over its keys: the response gives only their total.
    layer.debit_partitions(kind, &partitions, units);
    let m = &layer.metrics;
    match kind {
        Kind::Read => m.consumed_read.record(units),
        Kind::Write => m.consumed_write.record(units),
    }
    let rewrite = !client_wants_capacity || !held_back.is_empty();
    if !held_back.is_empty() {
        m.read_throttle_events.record(held_back.len() as f64);
        let table = layer.table.to_string();
        if let Some(obj) = answer.as_object_mut() {
            let unprocessed = obj.entry("UnprocessedKeys").or_insert_with(|| json!({}));
            if let Some(u) = unprocessed.as_object_mut() {
                let entry = u.entry(table).or_insert_with(|| json!({ "Keys": [] }));
                if let Some(keys) = entry.get_mut("Keys").and_then(Value::as_array_mut) {
                    keys.extend(held_back);
                }
            }
        }
    }
    if !client_wants_capacity && let Some(obj) = answer.as_object_mut() {
        obj.remove("ConsumedCapacity");
    }
    let delay = layer.sampler.sample(&layer.profile.dynamodb_op(op));
    if !delay.is_zero() {
        tokio::time::sleep(delay.saturating_sub(started.elapsed())).await;
    }
    if let Some(s) = m.latency.get(op) {
        s.record(started.elapsed().as_secs_f64() * 1e3);
    }
    let out = if rewrite { serde_json::to_vec(&answer).unwrap_or_default() } else { resp_body.to_vec() };
    amz_json(StatusCode::OK, out)
}

/// The whole request is throttled: `ThrottledRequests` plus one throttle event per item.
fn reject_whole(layer: &DynamoLayer, kind: Kind, op: &'static str, limit: Limit, request: &Value) -> Response {
    let m = &layer.metrics;
    if let Some(s) = m.throttled_requests.get(op) {
        s.record(1.0);
    }
    let items = match op {
        "BatchGetItem" => request["RequestItems"]
            .as_object()
            .map(|t| t.values().map(|v| v["Keys"].as_array().map_or(0, Vec::len)).sum())
            .unwrap_or(1),
        "BatchWriteItem" => request["RequestItems"]
            .as_object()
            .map(|t| t.values().map(|v| v.as_array().map_or(0, Vec::len)).sum())
            .unwrap_or(1),
        _ => 1,
    };
    match kind {
        Kind::Read => m.read_throttle_events.record(items as f64),
        Kind::Write => m.write_throttle_events.record(items as f64),
    }
    throttled(kind, limit, &layer.table_arn)
}

/// Sends the request on to dynoxide; returns the response to relay, its status and body.
async fn forward(
    layer: &DynamoLayer,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> (Response, StatusCode, Bytes) {
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut req = hyper::Request::builder().method(method).uri(format!("{}{path}", layer.upstream));
    for (k, v) in headers {
        if k != "host" && k != "content-length" {
            req = req.header(k, v);
        }
    }
    let Ok(req) = req.body(Full::new(body)) else {
        return (StatusCode::BAD_REQUEST.into_response(), StatusCode::BAD_REQUEST, Bytes::new());
    };
    let resp = match layer.client.request(req).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "dynoxide is unreachable");
            let body = json!({"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": "Internal server error"});
            let r = amz_json(StatusCode::INTERNAL_SERVER_ERROR, body.to_string().into_bytes());
            return (r, StatusCode::INTERNAL_SERVER_ERROR, Bytes::new());
        }
    };
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    let mut r = Response::builder().status(parts.status);
    for (k, v) in &parts.headers {
        // The body may be rewritten; a stale checksum would make the SDK reject it.
        if k != "x-amz-crc32" && k != "content-length" && k != "transfer-encoding" {
            r = r.header(k, v);
        }
    }
    let response =
        r.body(axum::body::Body::from(bytes.clone())).unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response());
    (response, parts.status, bytes)
}

/// Creates the `PK`/`SK` on-demand table directly in dynoxide.
pub fn create_table(db: &dynoxide::Database, table: &str) -> Result<(), String> {
    let request = json!({
        "TableName": table,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "PK", "AttributeType": "S"}, {"AttributeName": "SK", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}]
    });
    let request = serde_json::from_value(request).map_err(|e| e.to_string())?;
    db.create_table(request).map(|_| ()).map_err(|e| format!("{e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumed_units_reads_both_shapes() {
        assert_eq!(consumed_units(&json!({"ConsumedCapacity": {"CapacityUnits": 1.5}})), 1.5);
        assert_eq!(consumed_units(&json!({"ConsumedCapacity": [{"CapacityUnits": 1.0}, {"CapacityUnits": 2.0}]})), 3.0);
        assert_eq!(consumed_units(&json!({})), 0.0);
    }
}
