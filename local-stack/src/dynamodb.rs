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

/// One table's limits, buckets and metrics.
struct TableState {
    /// Its partition-key attribute.
    partition_key: String,
    buckets: Mutex<(DebtBucket, DebtBucket)>,
    /// Read and write buckets per partition-key value.
    partitions: Mutex<HashMap<String, (DebtBucket, DebtBucket)>>,
    partition_rates: (f64, f64),
    arn: String,
    metrics: TableMetrics,
}

/// Shared state of the DynamoDB endpoint.
#[derive(Clone)]
pub struct DynamoLayer {
    upstream: Arc<str>,
    client: Client<HttpConnector, Full<Bytes>>,
    /// The stack's tables by name; a table made later through the API has no limits here.
    tables: Arc<HashMap<String, TableState>>,
    started: Instant,
    profile: Arc<Profile>,
    sampler: Arc<Sampler>,
}

impl DynamoLayer {
    /// A layer in front of dynoxide at `upstream` (`http://127.0.0.1:port`) holding each of
    /// `tables` to its limits.
    pub fn new<'a>(
        upstream: String,
        tables: impl IntoIterator<Item = &'a DynamoConfig>,
        region: &str,
        account: &str,
        shared: &Shared,
    ) -> Self {
        let (profile, sampler, store) = (shared.profile.clone(), shared.sampler.clone(), &shared.metrics);
        let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(256).build_http();
        let tables = tables
            .into_iter()
            .map(|c| {
                let state = TableState {
                    partition_key: c.hash_key.name.clone(),
                    buckets: Mutex::new((DebtBucket::new(c.read_units_per_s), DebtBucket::new(c.write_units_per_s))),
                    partitions: Mutex::new(HashMap::new()),
                    partition_rates: (c.partition_read_units_per_s, c.partition_write_units_per_s),
                    arn: format!("arn:aws:dynamodb:{region}:{account}:table/{}", c.table_name),
                    metrics: TableMetrics::new(store, &c.table_name),
                };
                (c.table_name.clone(), state)
            })
            .collect();
        Self { upstream: upstream.into(), client, tables: Arc::new(tables), started: Instant::now(), profile, sampler }
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
fn partition_of(partition_key: &str, key: &Value) -> Option<String> {
    key.get(partition_key).map(|v| v.to_string())
}

impl DynamoLayer {
    fn now_s(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

impl TableState {
    /// The balance of the table's bucket for `kind`.
    fn balance(&self, kind: Kind, now: f64) -> f64 {
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if kind == Kind::Read { b.0.balance(now) } else { b.1.balance(now) }
    }

    /// Takes `units` from the table's bucket for `kind`.
    fn debit(&self, kind: Kind, now: f64, units: f64) {
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if kind == Kind::Read { b.0.debit(now, units) } else { b.1.debit(now, units) }
    }

    /// The balance of `partition`'s bucket for `kind`.
    fn partition_balance(&self, kind: Kind, partition: &str, now: f64) -> f64 {
        let mut map = self.partitions.lock().unwrap_or_else(|p| p.into_inner());
        let (r, w) = self.partition_rates;
        let b = map.entry(partition.to_owned()).or_insert_with(|| (DebtBucket::new(r), DebtBucket::new(w)));
        if kind == Kind::Read { b.0.balance(now) } else { b.1.balance(now) }
    }

    /// Debits `units` spread evenly over `partitions`, and forgets buckets that refilled once
    /// many are kept.
    fn debit_partitions(&self, kind: Kind, partitions: &[String], units: f64, now: f64) {
        if partitions.is_empty() {
            return;
        }
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

/// The tables a data-plane request names, in order: `TableName`, the keys of a batch's
/// `RequestItems`, or each item of a transaction.
fn tables_named(request: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |t: &str| {
        if !out.iter().any(|o| o == t) {
            out.push(t.to_owned());
        }
    };
    if let Some(t) = request.get("TableName").and_then(Value::as_str) {
        add(t);
    }
    if let Some(items) = request.get("RequestItems").and_then(Value::as_object) {
        items.keys().for_each(|t| add(t));
    }
    if let Some(items) = request.get("TransactItems").and_then(Value::as_array) {
        for item in items {
            if let Some(t) = item.as_object().and_then(|o| o.values().next()).and_then(|v| v["TableName"].as_str()) {
                add(t);
            }
        }
    }
    out
}

/// Units reported in a `ConsumedCapacity` field (object or list), by table; an entry without a
/// table name is `default`'s.
fn consumed_by_table(v: &Value, default: &str) -> Vec<(String, f64)> {
    let entry =
        |c: &Value| (c["TableName"].as_str().unwrap_or(default).to_owned(), c["CapacityUnits"].as_f64().unwrap_or(0.0));
    match v.get("ConsumedCapacity") {
        Some(Value::Array(items)) => items.iter().map(entry).collect(),
        Some(c) => vec![entry(c)],
        None => Vec::new(),
    }
}

/// Units reported in a `ConsumedCapacity` field, all tables together.
#[cfg(test)]
fn consumed_units(v: &Value) -> f64 {
    consumed_by_table(v, "").iter().map(|(_, u)| u).sum()
}

/// What admission decided for one table of a request.
#[derive(Default)]
struct Admitted {
    /// Partitions the admitted keys are in.
    partitions: Vec<String>,
    /// A batch's keys held back for `UnprocessedKeys`.
    held_back: Vec<Value>,
}

/// Admission: a positive balance admits — each table's, and the partition's of each key;
/// BatchGetItem gets as many keys per table as the balances cover, the rest come back
/// unprocessed. `Err` is the throttling response for a request refused whole.
fn admit(
    layer: &DynamoLayer,
    kind: Kind,
    op: &'static str,
    request: &mut Value,
    names: &[String],
) -> Result<HashMap<String, Admitted>, Box<Response>> {
    let now = layer.now_s();
    let mut out: HashMap<String, Admitted> = HashMap::new();
    for name in names {
        if let Some(t) = layer.tables.get(name)
            && t.balance(kind, now) <= 0.0
        {
            return Err(Box::new(reject_whole(t, kind, op, Limit::Table, request)));
        }
    }
    if op == "BatchGetItem" {
        let (mut any_admitted, mut hot_table) = (false, None);
        if let Some(items) = request.get_mut("RequestItems").and_then(Value::as_object_mut) {
            for (name, table_req) in items.iter_mut() {
                let Some(t) = layer.tables.get(name) else {
                    any_admitted = true;
                    continue;
                };
                let per_key =
                    if table_req.get("ConsistentRead").and_then(Value::as_bool) == Some(true) { 1.0 } else { 0.5 };
                let Some(keys) = table_req.get_mut("Keys").and_then(Value::as_array_mut) else { continue };
                let a = out.entry(name.clone()).or_default();
                let allowed = (t.balance(kind, now) / per_key).ceil() as usize;
                if allowed < keys.len() {
                    a.held_back = keys.split_off(allowed);
                }
                let (admitted, hot): (Vec<Value>, Vec<Value>) = keys.drain(..).partition(|k| {
                    partition_of(&t.partition_key, k).is_none_or(|p| t.partition_balance(kind, &p, now) > 0.0)
                });
                if !hot.is_empty() {
                    hot_table.get_or_insert(name.clone());
                }
                any_admitted |= !admitted.is_empty();
                a.partitions = admitted.iter().filter_map(|k| partition_of(&t.partition_key, k)).collect();
                *keys = admitted;
                // Hot keys first: they are the ones the caller retries.
                let mut held = hot;
                held.append(&mut a.held_back);
                a.held_back = held;
            }
        }
        if !any_admitted && let Some(name) = hot_table {
            // Nothing could be served: put the keys back and refuse the whole request.
            if let Some(items) = request.get_mut("RequestItems").and_then(Value::as_object_mut) {
                for (n, a) in out.drain() {
                    if let Some(keys) = items.get_mut(&n).and_then(|r| r.get_mut("Keys")).and_then(Value::as_array_mut)
                    {
                        keys.extend(a.held_back);
                    }
                }
            }
            let t = &layer.tables[&name];
            return Err(Box::new(reject_whole(t, kind, op, Limit::Partition, request)));
        }
    } else if let Some(name) = request.get("TableName").and_then(Value::as_str)
        && let Some(t) = layer.tables.get(name)
        && let Some(p) =
            request.get("Key").or_else(|| request.get("Item")).and_then(|k| partition_of(&t.partition_key, k))
    {
        if t.partition_balance(kind, &p, now) <= 0.0 {
            return Err(Box::new(reject_whole(t, kind, op, Limit::Partition, request)));
        }
        out.entry(name.to_owned()).or_default().partitions.push(p);
    }
    Ok(out)
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
    let names = tables_named(&request);
    if !names.iter().any(|n| layer.tables.contains_key(n)) {
        // A table the stack did not make (created through the API): no limits, no metrics.
        return forward(&layer, method, &uri, &headers, body).await.0;
    }
    let started = Instant::now();
    let mut admitted = match admit(&layer, kind, op, &mut request, &names) {
        Ok(a) => a,
        Err(throttled) => return *throttled,
    };
    let held_back_any = admitted.values().any(|a| !a.held_back.is_empty());
    let client_wants_capacity =
        request.get("ReturnConsumedCapacity").and_then(Value::as_str).is_some_and(|v| v != "NONE");
    if !client_wants_capacity && let Some(obj) = request.as_object_mut() {
        obj.insert("ReturnConsumedCapacity".into(), json!("TOTAL"));
    }
    // Re-encode only what was changed; a client's requests usually pass through as sent.
    let forwarded = if client_wants_capacity && !held_back_any {
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
    let now = layer.now_s();
    for (name, units) in consumed_by_table(&answer, &names[0]) {
        let Some(t) = layer.tables.get(&name) else { continue };
        t.debit(kind, now, units);
        // A batch's units are spread evenly over its keys: the response gives only their total.
        let partitions = admitted.get(&name).map(|a| a.partitions.as_slice()).unwrap_or(&[]);
        t.debit_partitions(kind, partitions, units, now);
        match kind {
            Kind::Read => t.metrics.consumed_read.record(units),
            Kind::Write => t.metrics.consumed_write.record(units),
        }
    }
    if held_back_any && let Some(obj) = answer.as_object_mut() {
        let unprocessed = obj.entry("UnprocessedKeys").or_insert_with(|| json!({}));
        for (name, a) in admitted.iter_mut().filter(|(_, a)| !a.held_back.is_empty()) {
            if let Some(t) = layer.tables.get(name) {
                t.metrics.read_throttle_events.record(a.held_back.len() as f64);
            }
            if let Some(u) = unprocessed.as_object_mut() {
                let entry = u.entry(name.clone()).or_insert_with(|| json!({ "Keys": [] }));
                if let Some(keys) = entry.get_mut("Keys").and_then(Value::as_array_mut) {
                    keys.append(&mut a.held_back);
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
    if let Some(s) = layer.tables.get(&names[0]).and_then(|t| t.metrics.latency.get(op)) {
        s.record(started.elapsed().as_secs_f64() * 1e3);
    }
    let out = if !client_wants_capacity || held_back_any {
        serde_json::to_vec(&answer).unwrap_or_default()
    } else {
        resp_body.to_vec()
    };
    amz_json(StatusCode::OK, out)
}

/// The whole request is throttled: `ThrottledRequests` plus one throttle event per item.
fn reject_whole(t: &TableState, kind: Kind, op: &'static str, limit: Limit, request: &Value) -> Response {
    let m = &t.metrics;
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
    throttled(kind, limit, &t.arn)
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
