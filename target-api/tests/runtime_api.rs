//! The compiled binary driven through the Lambda Runtime API (2018-06-01), served by a small
//! runtime-API server inside the test, with recorded-shape API Gateway v2 events from
//! `tests/data/` and dynoxide as the table.

mod common;

use std::collections::{HashMap, VecDeque};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio::sync::Notify;

#[derive(Default)]
struct Runtime {
    queue: Mutex<VecDeque<(String, Value)>>,
    queued: Notify,
    results: Mutex<HashMap<String, (&'static str, Value)>>,
    answered: Notify,
}

async fn next(State(rt): State<Arc<Runtime>>) -> impl IntoResponse {
    loop {
        let notified = rt.queued.notified();
        if let Some((id, ev)) = rt.queue.lock().unwrap().pop_front() {
            let deadline =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap() + Duration::from_secs(30);
            let mut h = HeaderMap::new();
            h.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
            h.insert("lambda-runtime-deadline-ms", deadline.as_millis().to_string().parse().unwrap());
            h.insert(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:target-api".parse().unwrap(),
            );
            h.insert("lambda-runtime-trace-id", "Root=1-6746c0f0-3f9e1c2a5b7d4e6f8a0b1c2d;Sampled=0".parse().unwrap());
            return (h, ev.to_string());
        }
        notified.await;
    }
}

async fn record(rt: &Runtime, id: String, kind: &'static str, body: String) -> impl IntoResponse + use<> {
    let v = serde_json::from_str(&body).unwrap_or(Value::String(body));
    rt.results.lock().unwrap().insert(id, (kind, v));
    rt.answered.notify_waiters();
    (axum::http::StatusCode::ACCEPTED, "{\"status\":\"OK\"}")
}

async fn response(State(rt): State<Arc<Runtime>>, Path(id): Path<String>, body: String) -> impl IntoResponse {
    record(&rt, id, "response", body).await
}

async fn error(State(rt): State<Arc<Runtime>>, Path(id): Path<String>, body: String) -> impl IntoResponse {
    record(&rt, id, "error", body).await
}

async fn init_error(State(rt): State<Arc<Runtime>>, body: String) -> impl IntoResponse {
    record(&rt, "init".into(), "init-error", body).await
}

async fn start_runtime() -> (String, Arc<Runtime>) {
    let rt = Arc::new(Runtime::default());
    let router = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(rt.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (addr, rt)
}

async fn invoke(rt: &Runtime, id: &str, event: Value) -> (&'static str, Value) {
    rt.queue.lock().unwrap().push_back((id.to_owned(), event));
    rt.queued.notify_waiters();
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let answered = rt.answered.notified();
            if let Some(r) = rt.results.lock().unwrap().remove(id) {
                return r;
            }
            answered.await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no answer to {id} within 20 s"))
}

fn spawn_function(runtime_api: &str, dynamo: &str, table: Option<&str>) -> tokio::process::Child {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_target-api"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "target-api")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/target-api")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/27/[$LATEST]test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL_DYNAMODB", dynamo)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(t) = table {
        cmd.env("TABLE_NAME", t);
    }
    cmd.spawn().expect("spawn target-api")
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[tokio::test]
async fn binary_serves_recorded_events_through_the_runtime_api() {
    let dynamo = common::start_dynamo().await;
    let (runtime_api, rt) = start_runtime().await;
    let mut child = spawn_function(&runtime_api, &dynamo.endpoint, Some(common::TABLE));

    let cases = [
        ("health.json", 200),
        ("post-item-base64.json", 201),
        ("get-item.json", 200),
        ("read-many-batch.json", 200),
        ("read-many-per-item.json", 200),
        ("delete-item-named-stage.json", 204),
        ("unknown-route-default.json", 404),
        ("post-binary-not-json.json", 400),
    ];
    let mut answers = HashMap::new();
    for (i, (name, status)) in cases.iter().enumerate() {
        let (kind, resp) = invoke(&rt, &format!("inv-{i}"), fixture(name)).await;
        assert_eq!(kind, "response", "{name}: {resp}");
        assert_eq!(resp["statusCode"], *status, "{name}: {resp}");
        assert_eq!(resp["isBase64Encoded"], false);
        if *status != 204 {
            let body: Value = serde_json::from_str(resp["body"].as_str().unwrap()).expect("JSON body");
            assert!(body.is_object(), "{name}");
        }
        answers.insert(*name, resp);
    }

    let h = |name: &str, header: &str| answers[name]["headers"][header].as_str().map(str::to_owned);
    assert_eq!(h("health.json", "x-cold-start").as_deref(), Some("true"));
    assert!(h("health.json", "x-init-ms").unwrap().parse::<f64>().unwrap() > 0.0);
    for (name, _) in &cases[1..] {
        assert_eq!(h(name, "x-cold-start").as_deref(), Some("false"), "{name}");
        assert_eq!(h(name, "x-init-ms"), None, "{name}");
        assert_eq!(h(name, "x-env-id"), h("health.json", "x-env-id"), "one process, one env id");
    }
    let created: Value = serde_json::from_str(answers["post-item-base64.json"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(created["stock"]["eu"], 3);
    assert_eq!(h("get-item.json", "x-ddb-rcu").as_deref(), Some("1"), "consistent=true read");
    assert_eq!(answers["read-many-batch.json"]["body"], answers["read-many-per-item.json"]["body"]);
    assert_eq!(h("read-many-batch.json", "x-ddb-calls").as_deref(), Some("1"));
    assert_eq!(h("read-many-per-item.json", "x-ddb-calls").as_deref(), Some("2"));

    child.start_kill().unwrap();
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).await.unwrap();
    let lines: Vec<Value> = out.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let requests: Vec<&Value> = lines.iter().filter(|l| l["message"] == "request").collect();
    assert_eq!(requests.len(), cases.len(), "one log line per request:\n{out}");
    assert_eq!(requests[0]["request_id"], "inv-0");
    assert_eq!(requests[1]["route"], "POST /items");
    assert_eq!(requests[1]["status"], 201);
    assert!(
        !out.contains("blue widget") && !out.contains("session=7f3a9c") && !out.contains("Bearer"),
        "logs must not carry bodies, cookies or credentials:\n{out}"
    );
}

#[tokio::test]
async fn missing_table_name_fails_init_with_a_clear_message() {
    let (runtime_api, _rt) = start_runtime().await;
    let child = spawn_function(&runtime_api, "http://127.0.0.1:9", None);
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output()).await.unwrap().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("TABLE_NAME"), "{stderr}");
}
