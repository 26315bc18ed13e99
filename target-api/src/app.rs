//! The request handler: a validated route in, DynamoDB calls, a JSON response out. Knows
//! nothing of Lambda; [`crate::lambda`] adapts events to it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::diagnostics::Diagnostics;
use crate::error::{ApiError, MAX_BODY_BYTES};
use crate::routes::{self, ReadPattern, Route};
use crate::store::{Item, PK, SK, Store, StoreError, Usage};

/// BatchGetItem takes at most 100 keys per call.
pub const BATCH_CHUNK: usize = 100;

/// A request as the handler sees it, whatever carried it.
#[derive(Debug, Clone, Default)]
pub struct ApiRequest {
    /// Upper-case HTTP method.
    pub method: String,
    /// Path without stage prefix, percent-encoded as received.
    pub path: String,
    /// Raw query string without `?`.
    pub query: String,
    /// Decoded body bytes.
    pub body: Vec<u8>,
}

/// A response ready to be mapped to any transport.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers beyond `content-type` (which is always `application/json` when there is a body).
    pub headers: Vec<(&'static str, String)>,
    /// JSON body; empty for 204.
    pub body: String,
}

/// What one request did, for the log line.
#[derive(Debug, Clone)]
pub struct Served {
    /// The response.
    pub response: ApiResponse,
    /// Route key, or `"unmatched"`.
    pub route: &'static str,
    /// DynamoDB usage.
    pub usage: Usage,
    /// Whether this was the environment's first invocation.
    pub cold_start: bool,
    /// Handler time.
    pub elapsed: Duration,
}

/// How `pattern=batch` retries UnprocessedKeys: capped exponential backoff with full jitter
/// (AWS Architecture Blog, "Exponential Backoff And Jitter").
#[derive(Debug, Clone, Copy)]
pub struct BatchRetry {
    /// BatchGetItem calls per chunk, the first included.
    pub max_attempts: u32,
    /// Backoff before the first retry (upper bound of its jitter).
    pub base: Duration,
    /// Largest backoff.
    pub cap: Duration,
}

impl Default for BatchRetry {
    /// 8 calls, 25 ms doubling to 1 s: at most about 2.5 s of backoff per chunk, well inside
    /// the API Gateway 30 s integration limit.
    fn default() -> Self {
        Self { max_attempts: 8, base: Duration::from_millis(25), cap: Duration::from_secs(1) }
    }
}

impl BatchRetry {
    /// Backoff before retry number `retry` (1-based): uniform in `[0, min(cap, base·2^(retry-1))]`.
    pub fn delay(&self, retry: u32) -> Duration {
        let exp = self.base.saturating_mul(1u32 << retry.saturating_sub(1).min(20));
        let ceiling = exp.min(self.cap);
        Duration::from_nanos(fastrand::u64(0..=ceiling.as_nanos() as u64))
    }
}

/// The function: a store, the retry policy and the diagnostics of this environment.
#[derive(Debug)]
pub struct App<S> {
    store: S,
    retry: BatchRetry,
    diagnostics: Diagnostics,
}

impl<S: Store> App<S> {
    /// Builds the app.
    pub fn new(store: S, retry: BatchRetry, diagnostics: Diagnostics) -> Self {
        Self { store, retry, diagnostics }
    }

    /// Serves one request; never panics on any input.
    pub async fn serve(&self, req: &ApiRequest) -> Served {
        let start = Instant::now();
        let cold_start = self.diagnostics.take_cold_start();
        let mut usage = Usage::default();
        let (route, result) = match routes::route(&req.method, &req.path, &req.query) {
            Ok(route) => {
                let key = route.key();
                (key, self.dispatch(route, &req.body, &mut usage).await)
            }
            Err(e) => ("unmatched", Err(e)),
        };
        self.finish(start, cold_start, route, result, usage)
    }

    /// Answers an invocation whose event could not even be read: it still ran, so it still
    /// takes the cold start and carries the diagnostics.
    pub fn reject(&self, err: &ApiError) -> Served {
        let start = Instant::now();
        let cold_start = self.diagnostics.take_cold_start();
        self.finish(start, cold_start, "unmatched", Err(err.clone()), Usage::default())
    }

    fn finish(
        &self,
        start: Instant,
        cold_start: bool,
        route: &'static str,
        result: Result<ApiResponse, ApiError>,
        usage: Usage,
    ) -> Served {
        let mut response = result.unwrap_or_else(|e| error_response(&e));
        let elapsed = start.elapsed();
        response.headers.extend(self.diagnostics.headers(cold_start, &usage, elapsed));
        Served { response, route, usage, cold_start, elapsed }
    }

    async fn dispatch(&self, route: Route, body: &[u8], usage: &mut Usage) -> Result<ApiResponse, ApiError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge(body.len()));
        }
        match route {
            Route::Health => Ok(json(200, &serde_json::json!({ "status": "ok" }))),
            Route::CreateItem => {
                let (id, item) = parse_new_item(body)?;
                *usage += self.store.put(&id, &item).await.map_err(|e| store_error(e, "PutItem"))?;
                let mut r = json(201, &Value::Object(item));
                r.headers.push(("location", format!("/items/{id}")));
                Ok(r)
            }
            Route::GetItem { id, consistent } => {
                let (item, u) = self.store.get(&id, consistent).await.map_err(|e| store_error(e, "GetItem"))?;
                *usage += u;
                match item {
                    Some(item) => Ok(json(200, &Value::Object(item))),
                    None => Err(ApiError::ItemNotFound(id)),
                }
            }
            Route::DeleteItem { id } => {
                *usage += self.store.delete(&id).await.map_err(|e| store_error(e, "DeleteItem"))?;
                Ok(ApiResponse { status: 204, headers: Vec::new(), body: String::new() })
            }
            Route::ReadMany { ids, pattern, consistent } => {
                let found = match pattern {
                    ReadPattern::Batch => self.read_batch(&ids, consistent, usage).await?,
                    ReadPattern::PerItem => self.read_per_item(&ids, consistent, usage).await?,
                };
                Ok(json(200, &read_many_body(&ids, found)))
            }
        }
    }

    async fn read_batch(
        &self,
        ids: &[String],
        consistent: bool,
        usage: &mut Usage,
    ) -> Result<HashMap<String, Item>, ApiError> {
        let mut found = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(BATCH_CHUNK) {
            let mut pending = chunk.to_vec();
            let mut attempt = 1;
            loop {
                let page =
                    self.store.batch_get(&pending, consistent).await.map_err(|e| store_error(e, "BatchGetItem"))?;
                *usage += page.usage;
                index_items(&mut found, page.items);
                if page.unprocessed.is_empty() {
                    break;
                }
                if attempt >= self.retry.max_attempts {
                    tracing::warn!(
                        unprocessed = page.unprocessed.len(),
                        attempts = attempt,
                        "BatchGetItem left keys unprocessed after every retry"
                    );
                    return Err(ApiError::DynamoThrottled);
                }
                tokio::time::sleep(self.retry.delay(attempt)).await;
                attempt += 1;
                pending = page.unprocessed;
            }
        }
        Ok(found)
    }

    async fn read_per_item(
        &self,
        ids: &[String],
        consistent: bool,
        usage: &mut Usage,
    ) -> Result<HashMap<String, Item>, ApiError> {
        let mut found = HashMap::with_capacity(ids.len());
        for id in ids {
            let (item, u) = self.store.get(id, consistent).await.map_err(|e| store_error(e, "GetItem"))?;
            *usage += u;
            if let Some(item) = item {
                found.insert(id.clone(), item);
            }
        }
        Ok(found)
    }
}

fn index_items(found: &mut HashMap<String, Item>, items: Vec<Item>) {
    for item in items {
        if let Some(Value::String(id)) = item.get("id") {
            found.insert(id.clone(), item);
        }
    }
}

/// `{"items":[…],"missing":[…]}`, both in the order the ids were asked for, so the two read
/// patterns give byte-identical bodies.
fn read_many_body(ids: &[String], mut found: HashMap<String, Item>) -> Value {
    let mut items = Vec::with_capacity(found.len());
    let mut missing = Vec::new();
    for id in ids {
        match found.remove(id) {
            Some(item) => items.push(Value::Object(item)),
            None => missing.push(Value::String(id.clone())),
        }
    }
    serde_json::json!({ "items": items, "missing": missing })
}

/// Validates a `POST /items` body and returns the id and the item to store.
fn parse_new_item(body: &[u8]) -> Result<(String, Item), ApiError> {
    let text = std::str::from_utf8(body).map_err(|_| ApiError::BadRequest("body is not valid UTF-8".into()))?;
    if text.trim().is_empty() {
        return Err(ApiError::BadRequest("body is empty; send a JSON object".into()));
    }
    let value: Value =
        serde_json::from_str(text).map_err(|e| ApiError::BadRequest(format!("body is not valid JSON: {e}")))?;
    let Value::Object(mut item) = value else {
        return Err(ApiError::BadRequest("body must be a JSON object".into()));
    };
    for reserved in [PK, SK] {
        if item.contains_key(reserved) {
            return Err(ApiError::BadRequest(format!("field '{reserved}' is reserved for the table key")));
        }
    }
    let id = match item.get("id") {
        None => new_id(),
        Some(Value::String(id)) => {
            routes::validate_id(id)?;
            id.clone()
        }
        Some(_) => return Err(ApiError::BadRequest("field 'id' must be a string".into())),
    };
    item.insert("id".into(), Value::String(id.clone()));
    Ok((id, item))
}

/// A 20-character random id from `[0-9a-z]` (about 103 bits).
fn new_id() -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    (0..20).map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char).collect()
}

fn store_error(err: StoreError, operation: &'static str) -> ApiError {
    match err {
        StoreError::Throttled(code) => {
            tracing::warn!(operation, code = %code, "DynamoDB throttled");
            ApiError::DynamoThrottled
        }
        StoreError::Invalid(msg) if operation == "PutItem" => ApiError::BadRequest(msg),
        // DynamoDB's own words stay in the log: the client learns only that the item was refused.
        StoreError::Rejected(detail) if operation == "PutItem" => {
            tracing::warn!(operation, detail = %detail, "DynamoDB refused the item");
            ApiError::BadRequest(
                "the table refused the item (too large, too deeply nested or otherwise not storable)".into(),
            )
        }
        other => {
            tracing::error!(operation, error = %other, "DynamoDB call failed");
            ApiError::Internal
        }
    }
}

fn json(status: u16, body: &Value) -> ApiResponse {
    ApiResponse { status, headers: Vec::new(), body: body.to_string() }
}

fn error_response(e: &ApiError) -> ApiResponse {
    let mut headers = vec![("x-error-kind", e.kind().header_value().to_owned())];
    match e {
        ApiError::MethodNotAllowed { allow, .. } => headers.push(("allow", (*allow).to_owned())),
        ApiError::DynamoThrottled => headers.push(("retry-after", "1".to_owned())),
        _ => {}
    }
    ApiResponse { status: e.status(), headers, body: e.body() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_items_get_ids_and_keep_fields() {
        let (id, item) = parse_new_item(br#"{"name":"x","n":1}"#).unwrap();
        assert_eq!(id.len(), 20);
        assert_eq!(item["id"], Value::String(id));
        let (id, _) = parse_new_item(br#"{"id":"given-1"}"#).unwrap();
        assert_eq!(id, "given-1");
    }

    #[test]
    fn dynamodb_s_own_words_never_reach_the_client() {
        let detail = "One or more parameter values were invalid: Item size has exceeded the maximum allowed size";
        let e = store_error(StoreError::Rejected(detail.into()), "PutItem");
        assert_eq!(e.status(), 400);
        assert!(!e.body().contains("parameter values") && e.body().contains("refused the item"), "{}", e.body());
        let e = store_error(StoreError::Rejected(detail.into()), "GetItem");
        assert_eq!((e.status(), e.body().contains("parameter values")), (500, false));
    }

    #[test]
    fn bad_bodies_are_400() {
        for body in
            [&b""[..], b"  ", b"[1]", b"\"s\"", b"{", b"\xff\xfe", br#"{"id":5}"#, br#"{"id":"a b"}"#, br#"{"PK":"x"}"#]
        {
            assert!(matches!(parse_new_item(body), Err(ApiError::BadRequest(_))), "{body:?}");
        }
    }

    #[test]
    fn read_many_keeps_request_order() {
        let ids: Vec<String> = ["b", "a", "c"].iter().map(|s| s.to_string()).collect();
        let mut found = HashMap::new();
        for id in ["c", "b"] {
            let mut m = Item::new();
            m.insert("id".into(), Value::String(id.into()));
            found.insert(id.to_string(), m);
        }
        let body = read_many_body(&ids, found);
        assert_eq!(body, serde_json::json!({"items":[{"id":"b"},{"id":"c"}],"missing":["a"]}));
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let r = BatchRetry { max_attempts: 8, base: Duration::from_millis(10), cap: Duration::from_millis(50) };
        for retry in 1..40 {
            let d = r.delay(retry);
            let ceiling = Duration::from_millis(10 * (1 << (retry - 1).min(20))).min(Duration::from_millis(50));
            assert!(d <= ceiling, "retry {retry}: {d:?} > {ceiling:?}");
        }
        let distinct: std::collections::HashSet<_> = (0..50).map(|_| r.delay(3)).collect();
        assert!(distinct.len() > 10, "jitter should spread delays");
    }
}
