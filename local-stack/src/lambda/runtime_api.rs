//! The Lambda Runtime API (2018-06-01) of one execution environment: `next`, `response`,
//! `error` and `init/error`, with the `Lambda-Runtime-*` headers the runtime client needs.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{mpsc, oneshot};

/// Largest response payload the Runtime API takes: 6 MiB plus the 100 bytes the AWS runtime
/// interface emulator allows (`interop.MaxPayloadSize`).
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024 + 100;

/// How an invocation ended, as the runtime reported it.
#[derive(Debug)]
pub enum RuntimeResult {
    /// `POST …/response`.
    Response(Bytes),
    /// `POST …/error`: the error type and the error document.
    Error {
        /// `Lambda-Runtime-Function-Error-Type` or the body's `errorType`.
        error_type: String,
        /// The body the runtime posted.
        body: Bytes,
    },
    /// The process ended while the invocation was running.
    Exited(String),
}

/// How INIT ended.
#[derive(Debug)]
pub enum InitSignal {
    /// The runtime asked for its first event.
    Ready,
    /// `POST /runtime/init/error`.
    Failed {
        /// Error type.
        error_type: String,
        /// Error document.
        body: Bytes,
    },
    /// The process ended before asking for an event.
    Exited(String),
}

/// One event handed to the environment.
#[derive(Debug)]
pub struct Invocation {
    /// Lambda request id.
    pub request_id: String,
    /// The event JSON.
    pub event: Bytes,
    /// Unix epoch ms at which the function times out.
    pub deadline_ms: u64,
    /// Where the result goes.
    pub respond: oneshot::Sender<RuntimeResult>,
}

/// State shared between an environment's Runtime API handlers and the pool.
#[derive(Debug)]
pub struct EnvRuntime {
    invocations: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    current: Mutex<Option<(String, oneshot::Sender<RuntimeResult>)>>,
    init: Mutex<Option<oneshot::Sender<InitSignal>>>,
    function_arn: String,
}

impl EnvRuntime {
    /// New state; returns it with the sender for invocations and the receiver of the INIT outcome.
    pub fn new(function_arn: String) -> (Arc<Self>, mpsc::Sender<Invocation>, oneshot::Receiver<InitSignal>) {
        let (tx, rx) = mpsc::channel(1);
        let (init_tx, init_rx) = oneshot::channel();
        let rt = Arc::new(Self {
            invocations: tokio::sync::Mutex::new(rx),
            current: Mutex::new(None),
            init: Mutex::new(Some(init_tx)),
            function_arn,
        });
        (rt, tx, init_rx)
    }

    /// The process is gone: fail INIT or the running invocation, whichever is pending.
    pub fn exited(&self, how: &str) {
        if let Some(init) = self.init.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = init.send(InitSignal::Exited(how.to_owned()));
        }
        if let Some((_, respond)) = self.current.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = respond.send(RuntimeResult::Exited(how.to_owned()));
        }
    }

    fn finish(&self, id: &str, result: RuntimeResult) -> Response {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        match current.take() {
            Some((running, respond)) if running == id => {
                let _ = respond.send(result);
                (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
            }
            other => {
                *current = other;
                let body = format!(r#"{{"errorMessage":"Invalid request ID: {id}","errorType":"InvalidRequestID"}}"#);
                (StatusCode::BAD_REQUEST, body).into_response()
            }
        }
    }
}

/// The router for one environment.
pub fn router(rt: Arc<EnvRuntime>) -> axum::Router {
    axum::Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(rt)
}

async fn next(State(rt): State<Arc<EnvRuntime>>) -> Response {
    if let Some(init) = rt.init.lock().unwrap_or_else(|p| p.into_inner()).take() {
        let _ = init.send(InitSignal::Ready);
    }
    // Long poll: no timeout, exactly as Lambda (the process may be frozen between events).
    let Some(inv) = rt.invocations.lock().await.recv().await else {
        return (StatusCode::GONE, "environment shutting down").into_response();
    };
    *rt.current.lock().unwrap_or_else(|p| p.into_inner()) = Some((inv.request_id.clone(), inv.respond));
    let mut h = HeaderMap::new();
    let val = |s: &str| HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static("-"));
    h.insert("lambda-runtime-aws-request-id", val(&inv.request_id));
    h.insert("lambda-runtime-deadline-ms", val(&inv.deadline_ms.to_string()));
    h.insert("lambda-runtime-invoked-function-arn", val(&rt.function_arn));
    h.insert(
        "lambda-runtime-trace-id",
        val(&format!("Root=1-{:08x}-{:024x};Sampled=0", inv.deadline_ms / 1000, fastrand::u128(..) >> 32)),
    );
    h.insert("content-type", HeaderValue::from_static("application/json"));
    (StatusCode::OK, h, inv.event).into_response()
}

async fn response(State(rt): State<Arc<EnvRuntime>>, Path(id): Path<String>, body: Bytes) -> Response {
    if body.len() > MAX_RESPONSE_BYTES {
        let result = RuntimeResult::Error {
            error_type: "Function.ResponseSizeTooLarge".into(),
            body: Bytes::from(format!(
                r#"{{"errorMessage":"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).","errorType":"Function.ResponseSizeTooLarge"}}"#
            )),
        };
        rt.finish(&id, result);
        let msg = format!(
            r#"{{"errorMessage":"Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).","errorType":"RequestEntityTooLarge"}}"#
        );
        return (StatusCode::PAYLOAD_TOO_LARGE, msg).into_response();
    }
    rt.finish(&id, RuntimeResult::Response(body))
}

fn error_type(headers: &HeaderMap, body: &Bytes) -> String {
    headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            serde_json::from_slice::<serde_json::Value>(body).ok()?.get("errorType")?.as_str().map(str::to_owned)
        })
        .unwrap_or_else(|| "Runtime.Unknown".into())
}

async fn error(State(rt): State<Arc<EnvRuntime>>, Path(id): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let error_type = error_type(&headers, &body);
    rt.finish(&id, RuntimeResult::Error { error_type, body })
}

async fn init_error(State(rt): State<Arc<EnvRuntime>>, headers: HeaderMap, body: Bytes) -> Response {
    let error_type = error_type(&headers, &body);
    match rt.init.lock().unwrap_or_else(|p| p.into_inner()).take() {
        Some(init) => {
            let _ = init.send(InitSignal::Failed { error_type, body });
            (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
        }
        None => (StatusCode::FORBIDDEN, r#"{"errorMessage":"init is over","errorType":"InvalidStateTransition"}"#)
            .into_response(),
    }
}
