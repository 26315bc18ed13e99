//! Lambda's Invoke API on loopback — `POST /2015-03-31/functions/{FunctionName}/invocations` —
//! so the aws CLI, the SDKs and loadgen's fleet coordinator can call any function the stack
//! hosts, under the same concurrency, rate and scaling limits API Gateway's calls meet.
//!
//! What it answers, from Lambda's API reference (`Invoke`) and botocore's model:
//! - `RequestResponse` (the default): 200 with the function's payload; a function error is also
//!   200, with `X-Amz-Function-Error: Unhandled` and the error document as the body;
//! - `Event`: 202 at once; the event is queued and run in the background, retried twice more on
//!   a function error (after about 1 and 2 minutes) and on throttles with a backoff of 1 s up to
//!   5 minutes, as Lambda's asynchronous invocation does, until the event is 6 hours old;
//! - `DryRun`: 204, nothing runs;
//! - a throttle: 429 `TooManyRequestsException` with its `Reason`, never queued;
//! - payloads over 6 MB (synchronous) or 1 MB (`Event`): 413 `RequestTooLargeException`; a body
//!   that is not JSON: 400 `InvalidRequestContentException`; an unknown function or a qualifier
//!   other than `$LATEST`: 404 `ResourceNotFoundException`.
//!
//! Errors carry their type in `x-amzn-ErrorType`, which is where restJson1 clients read it.
//! Doubt: `X-Amz-Log-Type: Tail` and `X-Amz-Client-Context` are accepted but not acted on (no
//! `LogResult`, no client context reaches the function); the function's log file has its lines.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;

use super::{LambdaService, Outcome};

/// The largest synchronous request payload: 6 MB (6,291,456 bytes).
pub const SYNC_PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;
/// The largest asynchronous (`Event`) payload: 1 MB since October 2025 (256 KB before).
pub const EVENT_PAYLOAD_LIMIT: usize = 1024 * 1024;
/// How long Lambda keeps retrying an asynchronous event (its default maximum event age).
const MAX_EVENT_AGE: Duration = Duration::from_secs(6 * 3600);
/// Retries after a function error on an asynchronous event.
const EVENT_ERROR_RETRIES: u32 = 2;

struct Api {
    functions: Vec<LambdaService>,
    region: String,
    account: String,
    stop: watch::Receiver<bool>,
}

/// The router. `functions` are every function the stack hosts; calls for other names get 404.
pub fn router(functions: Vec<LambdaService>, region: &str, account: &str, stop: watch::Receiver<bool>) -> axum::Router {
    let api = Arc::new(Api { functions, region: region.to_owned(), account: account.to_owned(), stop });
    axum::Router::new()
        .route("/2015-03-31/functions/{name}/invocations", axum::routing::post(invoke))
        // One byte past the limit, so a larger body is told apart and answered as Lambda does.
        .layer(DefaultBodyLimit::max(SYNC_PAYLOAD_LIMIT + 1))
        .with_state(api)
}

#[derive(serde::Deserialize)]
struct Params {
    #[serde(rename = "Qualifier")]
    qualifier: Option<String>,
}

/// How the caller asked for the function to run.
#[derive(Debug, Clone, Copy, PartialEq)]
enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

/// A request Lambda refuses: its status, its error type and its body.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    kind: &'static str,
    body: serde_json::Value,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut r = (self.status, self.body.to_string()).into_response();
        let h = r.headers_mut();
        h.insert("content-type", HeaderValue::from_static("application/json"));
        h.insert("x-amzn-errortype", HeaderValue::from_static(self.kind));
        r
    }
}

fn user_error(status: StatusCode, kind: &'static str, message: String) -> Refusal {
    Refusal { status, kind, body: serde_json::json!({ "Type": "User", "message": message }) }
}

impl Api {
    /// The function a `FunctionName` (name, ARN or partial ARN, with an optional qualifier)
    /// names, or Lambda's 404.
    fn resolve(&self, name: &str, qualifier: Option<&str>) -> Result<&LambdaService, Refusal> {
        let (bare, suffix) = split_name(name);
        let arn = format!("arn:aws:lambda:{}:{}:function:{bare}", self.region, self.account);
        let not_found = |what: &str| {
            let message = format!("Function not found: {what}");
            let body = serde_json::json!({ "Type": "User", "Message": message });
            Refusal { status: StatusCode::NOT_FOUND, kind: "ResourceNotFoundException", body }
        };
        let prefix_ok = match suffix.region_account {
            Some((region, account)) => region.is_none_or(|r| r == self.region) && account == self.account,
            None => true,
        };
        let qualifier = suffix.qualifier.or(qualifier);
        if let Some(q) = qualifier.filter(|q| *q != "$LATEST") {
            return Err(not_found(&format!("{arn}:{q}")));
        }
        match self.functions.iter().find(|f| f.name() == bare) {
            Some(f) if prefix_ok => Ok(f),
            _ => Err(not_found(&arn)),
        }
    }
}

/// What a `FunctionName` says besides the bare name.
#[derive(Debug, Default, PartialEq)]
struct NameParts<'a> {
    /// `(region, account)` of an ARN; a partial ARN has no region.
    region_account: Option<(Option<&'a str>, &'a str)>,
    qualifier: Option<&'a str>,
}

/// Splits `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`,
/// `ACCOUNT:function:NAME[:QUALIFIER]` or `NAME[:QUALIFIER]` into the name and the rest.
fn split_name(full: &str) -> (&str, NameParts<'_>) {
    let parts: Vec<&str> = full.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "lambda", region, account, "function", name, rest @ ..] if rest.len() <= 1 => {
            (name, NameParts { region_account: Some((Some(region), account)), qualifier: rest.first().copied() })
        }
        [account, "function", name, rest @ ..] if rest.len() <= 1 => {
            (name, NameParts { region_account: Some((None, account)), qualifier: rest.first().copied() })
        }
        [name, qualifier] => (name, NameParts { region_account: None, qualifier: Some(qualifier) }),
        _ => (full, NameParts::default()),
    }
}

fn invocation_type(headers: &HeaderMap) -> Result<InvocationType, Refusal> {
    match headers.get("x-amz-invocation-type").map(|v| v.to_str().unwrap_or("")) {
        None | Some("RequestResponse") => Ok(InvocationType::RequestResponse),
        Some("Event") => Ok(InvocationType::Event),
        Some("DryRun") => Ok(InvocationType::DryRun),
        Some(other) => Err(user_error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            format!(
                "1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
            ),
        )),
    }
}

fn too_large(limit: usize) -> Refusal {
    user_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestTooLargeException",
        format!("Request must be smaller than {limit} bytes for the InvokeFunction operation"),
    )
}

/// The event to deliver: the body when it is JSON, `{}` when it is empty (what a function
/// invoked with no payload receives — doubt: observed with the aws CLI's default, not
/// documented).
fn event(body: Bytes) -> Result<Bytes, Refusal> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Bytes::from_static(b"{}"));
    }
    match serde_json::from_slice::<serde::de::IgnoredAny>(&body) {
        Ok(_) => Ok(body),
        Err(e) => Err(user_error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            format!("Could not parse request body into json: {e}"),
        )),
    }
}

async fn invoke(
    State(api): State<Arc<Api>>,
    Path(name): Path<String>,
    Query(params): Query<Params>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match accept(&api, &name, params.qualifier.as_deref(), &headers, body) {
        Ok((function, kind, event)) => run(&api, function, kind, event).await,
        Err(refusal) => refusal.into_response(),
    }
}

/// The function, how to invoke it and the event — or why Lambda would refuse the call.
fn accept(
    api: &Api,
    name: &str,
    qualifier: Option<&str>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(LambdaService, InvocationType, Bytes), Refusal> {
    let function = api.resolve(name, qualifier)?.clone();
    let kind = invocation_type(headers)?;
    let body = body.map_err(|_| too_large(SYNC_PAYLOAD_LIMIT))?;
    match kind {
        InvocationType::RequestResponse if body.len() > SYNC_PAYLOAD_LIMIT => Err(too_large(SYNC_PAYLOAD_LIMIT)),
        InvocationType::Event if body.len() > EVENT_PAYLOAD_LIMIT => Err(too_large(EVENT_PAYLOAD_LIMIT)),
        _ => Ok((function, kind, event(body)?)),
    }
}

async fn run(api: &Api, function: LambdaService, kind: InvocationType, event: Bytes) -> Response {
    match kind {
        InvocationType::DryRun => StatusCode::NO_CONTENT.into_response(),
        InvocationType::Event => {
            tokio::spawn(run_event(function, event, api.stop.clone()));
            let mut r = StatusCode::ACCEPTED.into_response();
            r.headers_mut().insert("x-amzn-requestid", HeaderValue::from_str(&request_id()).expect("hex"));
            r
        }
        InvocationType::RequestResponse => respond(function.invoke(event).await),
    }
}

fn respond(result: super::InvokeResult) -> Response {
    let (mut r, function_error) = match result.outcome {
        Outcome::Success(payload) => ((StatusCode::OK, payload).into_response(), false),
        Outcome::FunctionError { payload, .. } => ((StatusCode::OK, payload).into_response(), true),
        Outcome::Throttled(reason) => {
            let mut r = (StatusCode::TOO_MANY_REQUESTS, reason.body()).into_response();
            r.headers_mut().insert("x-amzn-errortype", HeaderValue::from_static("TooManyRequestsException"));
            (r, false)
        }
    };
    let ok = r.status() == StatusCode::OK;
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    if let Ok(id) = HeaderValue::from_str(&result.request_id) {
        h.insert("x-amzn-requestid", id);
    }
    if ok {
        h.insert("x-amz-executed-version", HeaderValue::from_static("$LATEST"));
    }
    if function_error {
        h.insert("x-amz-function-error", HeaderValue::from_static("Unhandled"));
    }
    r
}

/// A request id for an accepted event (the invocations it leads to get their own).
fn request_id() -> String {
    let (a, b) = (fastrand::u64(..), fastrand::u64(..));
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (a >> 32) as u32,
        (a >> 16) as u16,
        a & 0xfff,
        b & 0xfff,
        (b >> 16) & 0xffff_ffff_ffff
    )
}

/// What Lambda's queue does with one asynchronous event: run it, retry it on throttles (backing
/// off) and on function errors (twice), and drop it once it is too old or the stack stops.
async fn run_event(function: LambdaService, event: Bytes, mut stop: watch::Receiver<bool>) {
    let queued = Instant::now();
    let (mut backoff, mut errors) = (Duration::from_secs(1), 0);
    loop {
        let wait = match function.invoke(event.clone()).await.outcome {
            Outcome::Success(_) => return,
            Outcome::FunctionError { .. } if errors == EVENT_ERROR_RETRIES => return,
            Outcome::FunctionError { .. } => {
                errors += 1;
                Duration::from_secs(60 * u64::from(errors))
            }
            Outcome::Throttled(_) => {
                let w = backoff;
                backoff = (backoff * 2).min(Duration::from_secs(300));
                w
            }
        };
        if queued.elapsed() + wait > MAX_EVENT_AGE {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_are_read_in_each_of_lambdas_forms() {
        assert_eq!(split_name("f"), ("f", NameParts::default()));
        assert_eq!(split_name("f:$LATEST"), ("f", NameParts { region_account: None, qualifier: Some("$LATEST") }));
        assert_eq!(
            split_name("arn:aws:lambda:eu-west-1:123456789012:function:f"),
            ("f", NameParts { region_account: Some((Some("eu-west-1"), "123456789012")), qualifier: None })
        );
        assert_eq!(
            split_name("123456789012:function:f:7"),
            ("f", NameParts { region_account: Some((None, "123456789012")), qualifier: Some("7") })
        );
    }

    #[test]
    fn an_empty_body_is_an_empty_object_and_a_broken_one_is_refused() {
        assert_eq!(event(Bytes::new()).unwrap(), Bytes::from_static(b"{}"));
        assert_eq!(event(Bytes::from_static(b"[1]")).unwrap(), Bytes::from_static(b"[1]"));
        let r = event(Bytes::from_static(b"{nope")).unwrap_err().into_response();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(r.headers()["x-amzn-errortype"], "InvalidRequestContentException");
    }
}
