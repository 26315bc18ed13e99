//! Test harness shared by the integration tests: an embedded dynoxide DynamoDB on loopback,
//! SDK clients with static dummy credentials, doctored endpoints, and API Gateway v2 events.
#![allow(dead_code, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};
use target_api::diagnostics::Diagnostics;
use target_api::lambda::ProxyResponse;
use target_api::{App, BatchRetry, DynamoStore};
use tokio::sync::oneshot;

pub const TABLE: &str = "items-test";

/// A dynoxide server on 127.0.0.1 with an OS-assigned port, stopped on drop.
pub struct Dynamo {
    pub endpoint: String,
    pub db: dynoxide::Database,
    _stop: oneshot::Sender<()>,
}

pub async fn start_dynamo() -> Dynamo {
    let db = dynoxide::Database::memory().expect("in-memory dynoxide");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let served = db.clone();
    tokio::spawn(async move {
        let _ = dynoxide::server::serve_with_shutdown(listener, served, async {
            let _ = stopped.await;
        })
        .await;
    });
    let d = Dynamo { endpoint, db, _stop: stop };
    create_table(&client(&d.endpoint).await).await;
    d
}

/// An SDK client aimed at `endpoint` with static dummy credentials and a fixed region, so
/// nothing probes the instance-metadata address.
pub async fn client(endpoint: &str) -> Client {
    let conf = target_api::client::loader()
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "static-test"))
        .load()
        .await;
    Client::new(&conf)
}

pub async fn create_table(c: &Client) {
    let attr = |n: &str| {
        AttributeDefinition::builder().attribute_name(n).attribute_type(ScalarAttributeType::S).build().unwrap()
    };
    c.create_table()
        .table_name(TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("PK"))
        .attribute_definitions(attr("SK"))
        .key_schema(KeySchemaElement::builder().attribute_name("PK").key_type(KeyType::Hash).build().unwrap())
        .key_schema(KeySchemaElement::builder().attribute_name("SK").key_type(KeyType::Range).build().unwrap())
        .send()
        .await
        .expect("create table");
}

pub type TestApp = App<DynamoStore>;

pub async fn app(endpoint: &str, retry: BatchRetry) -> TestApp {
    App::new(DynamoStore::new(client(endpoint).await, TABLE), retry, Diagnostics::new(true, std::time::Duration::ZERO))
}

/// A fast retry policy so tests that exhaust retries finish quickly.
pub fn fast_retry() -> BatchRetry {
    BatchRetry { max_attempts: 4, base: std::time::Duration::from_millis(1), cap: std::time::Duration::from_millis(5) }
}

/// An API Gateway HTTP API payload 2.0 event, shaped as AWS sends it.
pub fn event(method: &str, path: &str, query: &str, body: Option<&str>) -> Value {
    let mut ev = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"content-type": "application/json", "host": "abc123.execute-api.us-east-1.amazonaws.com",
                    "user-agent": "test", "x-forwarded-for": "127.0.0.1", "x-forwarded-proto": "https"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com", "domainPrefix": "abc123",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
            "requestId": "req-1", "routeKey": "$default", "stage": "$default",
            "time": "27/Nov/2026:07:00:00 +0000", "timeEpoch": 1795849200000u64
        },
        "isBase64Encoded": false
    });
    if let Some(b) = body {
        ev["body"] = Value::String(b.to_owned());
    }
    ev
}

pub async fn call(app: &TestApp, method: &str, path: &str, query: &str, body: Option<&str>) -> ProxyResponse {
    app.invoke(event(method, path, query, body), "req-test").await
}

pub fn body_json(r: &ProxyResponse) -> Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", r.body))
}

// ---------- doctored endpoints ----------

/// What a doctored endpoint does.
#[derive(Clone)]
pub enum Doctor {
    /// Every call fails with this DynamoDB error `__type` (short name).
    Fail(&'static str),
    /// BatchGetItem answers from the shared database but, on the first `n` calls, returns
    /// half of the found items as UnprocessedKeys instead.
    Unprocess { first_calls: usize },
}

#[derive(Clone)]
struct DoctorState {
    db: dynoxide::Database,
    doctor: Doctor,
    batch_calls: Arc<AtomicUsize>,
}

/// Serves the DynamoDB JSON protocol over `db` on a loopback port, doctored as `doctor` says.
/// Returns the endpoint, the BatchGetItem call counter, and a guard that stops it.
pub async fn start_doctored(db: dynoxide::Database, doctor: Doctor) -> (String, Arc<AtomicUsize>, oneshot::Sender<()>) {
    let batch_calls = Arc::new(AtomicUsize::new(0));
    let state = DoctorState { db, doctor, batch_calls: batch_calls.clone() };
    let router = Router::new().route("/", axum::routing::post(doctored)).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    (endpoint, batch_calls, stop)
}

fn amz_json(status: StatusCode, body: Value) -> axum::response::Response {
    (status, [("content-type", "application/x-amz-json-1.0")], body.to_string()).into_response()
}

async fn doctored(State(st): State<DoctorState>, headers: HeaderMap, body: Bytes) -> axum::response::Response {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    match &st.doctor {
        Doctor::Fail(kind) => amz_json(
            StatusCode::BAD_REQUEST,
            json!({"__type": format!("com.amazonaws.dynamodb.v20120810#{kind}"), "message": "Rate of requests exceeds the allowed throughput."}),
        ),
        Doctor::Unprocess { first_calls } => {
            if target != "DynamoDB_20120810.BatchGetItem" {
                return amz_json(
                    StatusCode::BAD_REQUEST,
                    json!({"__type": "com.amazonaws.dynamodb.v20120810#ValidationException", "message": "doctored endpoint serves BatchGetItem only"}),
                );
            }
            let n = st.batch_calls.fetch_add(1, Ordering::SeqCst);
            let req: dynoxide::actions::batch_get_item::BatchGetItemRequest =
                serde_json::from_slice(&body).expect("BatchGetItem request");
            let resp = st.db.batch_get_item(req).expect("batch get");
            let mut v = serde_json::to_value(&resp).unwrap();
            if n < *first_calls {
                let items = v["Responses"][TABLE].as_array_mut().expect("responses");
                let keep = items.len() / 2;
                let moved: Vec<Value> =
                    items.drain(keep..).map(|it| json!({"PK": it["PK"].clone(), "SK": it["SK"].clone()})).collect();
                if !moved.is_empty() {
                    v["UnprocessedKeys"] = json!({ TABLE: {"Keys": moved} });
                }
            }
            amz_json(StatusCode::OK, v)
        }
    }
}
