//! Lambda's Invoke API on loopback, called as the SDKs and the aws CLI call it: synchronous and
//! `Event` invocations of any hosted function, each under its own reserved concurrency, with
//! Lambda's error headers, throttles and refusals.

mod common;

use std::time::{Duration, Instant};

use common::*;
use local_stack::Stack;
use local_stack::metrics::{MetricId, Stat};
use serde_json::json;

/// The misbehaving function as `target-api`, and a copy of it named `worker` reserved to 1.
fn two_functions() -> local_stack::StackConfig {
    let mut c = config(misbehave());
    c.api.routes = vec!["ANY /{proxy+}".into()];
    let mut worker = c.function.clone();
    worker.name = "worker".into();
    worker.reserved_concurrency = Some(1);
    worker.routes = Vec::new();
    c.extra_functions.push(worker);
    c
}

fn invocations(stack: &Stack, function: &str) -> f64 {
    let id = MetricId::new("AWS/Lambda", "Invocations", &[("FunctionName", function)]);
    stack.metrics().query(&id, 0, i64::MAX, 3600, Stat::Sum).iter().map(|(_, v)| v).sum()
}

async fn invoke(lambda: &str, name: &str, kind: &str, body: &str) -> Reply {
    let url = format!("{lambda}/2015-03-31/functions/{name}/invocations");
    send(&client(), "POST", &url, &[("x-amz-invocation-type", kind)], body).await
}

#[tokio::test]
async fn a_synchronous_invoke_returns_the_payload_or_the_function_error() {
    let stack = Stack::start(two_functions()).await.unwrap();
    let lambda = stack.endpoints().lambda_url.clone();
    let r = invoke(&lambda, "worker", "RequestResponse", r#"{"rawPath":"/echo","n":7}"#).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.header("x-amz-executed-version"), Some("$LATEST"));
    assert_eq!(r.header("x-amz-function-error"), None);
    assert!(r.header("x-amzn-requestid").is_some_and(|id| id.len() == 36));
    let echoed: serde_json::Value = serde_json::from_str(r.json()["body"].as_str().unwrap()).unwrap();
    assert_eq!(echoed["n"], 7, "the function got the payload as its event");

    let arn = "arn:aws:lambda:us-east-1:123456789012:function:target-api:$LATEST";
    let r = invoke(&lambda, arn, "RequestResponse", r#"{"rawPath":"/error"}"#).await;
    assert_eq!((r.status, r.header("x-amz-function-error")), (200, Some("Unhandled")));
    assert_eq!(r.json()["errorType"], "Handler.Boom");
    assert_eq!(invocations(&stack, "worker"), 1.0);
    assert_eq!(invocations(&stack, "target-api"), 1.0);
}

#[tokio::test]
async fn past_a_functions_reserved_concurrency_the_invoke_is_throttled_at_once() {
    let stack = Stack::start(two_functions()).await.unwrap();
    let lambda = stack.endpoints().lambda_url.clone();
    let busy = {
        let lambda = lambda.clone();
        tokio::spawn(async move { invoke(&lambda, "worker", "RequestResponse", r#"{"rawPath":"/sleep/1500"}"#).await })
    };
    let worker = &stack.lambdas()[1];
    let t0 = Instant::now();
    while worker.environments() < 1 && t0.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = Instant::now();
    let r = invoke(&lambda, "worker", "RequestResponse", "{}").await;
    assert!(t.elapsed() < Duration::from_millis(200), "not queued: {:?}", t.elapsed());
    assert_eq!((r.status, r.header("x-amzn-errortype")), (429, Some("TooManyRequestsException")));
    assert_eq!(
        r.json(),
        json!({"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded", "Type": "User", "message": "Rate Exceeded."})
    );
    // The other function has its own concurrency and is not held back.
    assert_eq!(invoke(&lambda, "target-api", "RequestResponse", "{}").await.status, 200);
    assert_eq!(busy.await.unwrap().status, 200);
}

#[tokio::test]
async fn an_event_is_accepted_at_once_and_run_in_the_background() {
    let stack = Stack::start(two_functions()).await.unwrap();
    let lambda = stack.endpoints().lambda_url.clone();
    let t = Instant::now();
    let r = invoke(&lambda, "worker", "Event", r#"{"rawPath":"/sleep/500"}"#).await;
    assert!(t.elapsed() < Duration::from_millis(400), "Event does not wait for the function");
    assert_eq!((r.status, r.body.len()), (202, 0));
    let t0 = Instant::now();
    while invocations(&stack, "worker") < 1.0 && t0.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(invocations(&stack, "worker"), 1.0, "the event ran once");
    let r = invoke(&lambda, "worker", "DryRun", "{}").await;
    assert_eq!(r.status, 204);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(invocations(&stack, "worker"), 1.0, "a dry run runs nothing");
}

#[tokio::test]
async fn what_lambda_refuses_is_refused_with_its_error_type() {
    let stack = Stack::start(two_functions()).await.unwrap();
    let lambda = stack.endpoints().lambda_url.clone();
    let cases = [
        ("nope", "RequestResponse", "{}".to_owned(), 404, "ResourceNotFoundException"),
        ("worker:7", "RequestResponse", "{}".to_owned(), 404, "ResourceNotFoundException"),
        (
            "arn:aws:lambda:eu-west-1:123456789012:function:worker",
            "RequestResponse",
            "{}".to_owned(),
            404,
            "ResourceNotFoundException",
        ),
        ("worker", "Sometimes", "{}".to_owned(), 400, "InvalidParameterValueException"),
        ("worker", "RequestResponse", "{not json".to_owned(), 400, "InvalidRequestContentException"),
        ("worker", "Event", format!("\"{}\"", "x".repeat(1024 * 1024)), 413, "RequestTooLargeException"),
        ("worker", "RequestResponse", format!("\"{}\"", "x".repeat(6 * 1024 * 1024)), 413, "RequestTooLargeException"),
    ];
    for (name, kind, body, status, error) in cases {
        let r = invoke(&lambda, name, kind, &body).await;
        assert_eq!((r.status, r.header("x-amzn-errortype")), (status, Some(error)), "{name} {kind}");
    }
    assert_eq!(invocations(&stack, "worker"), 0.0, "nothing refused ran");
    // Exactly at each limit is delivered.
    let at = |limit: usize| {
        let (head, tail) = (r#"{"rawPath":"/ok","pad":""#, r#""}"#);
        format!("{head}{}{tail}", "x".repeat(limit - head.len() - tail.len()))
    };
    let r = invoke(&lambda, "worker", "RequestResponse", &at(6 * 1024 * 1024)).await;
    assert_eq!(r.status, 200, "{:?}", r.header("x-amzn-errortype"));
    assert_eq!(invoke(&lambda, "worker", "Event", &at(1024 * 1024)).await.status, 202);
}

#[tokio::test]
async fn the_aws_cli_invokes_a_function_through_the_local_endpoint() {
    let stack = Stack::start(two_functions()).await.unwrap();
    let e = stack.endpoints().clone();
    let out_file = std::env::temp_dir().join(format!("invoke-{}.json", std::process::id()));
    let args = vec![
        "lambda".to_owned(),
        "invoke".into(),
        "--function-name".into(),
        "worker".into(),
        "--payload".into(),
        r#"{"rawPath":"/echo","from":"cli"}"#.into(),
        "--output".into(),
        "json".into(),
        out_file.display().to_string(),
    ];
    let out = aws_cli(args, &e.region, vec![("AWS_ENDPOINT_URL_LAMBDA", e.lambda_url.clone())]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(meta, json!({"StatusCode": 200, "ExecutedVersion": "$LATEST"}));
    let payload: serde_json::Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
    let _ = std::fs::remove_file(&out_file);
    let event: serde_json::Value = serde_json::from_str(payload["body"].as_str().unwrap()).unwrap();
    assert_eq!(event["from"], "cli", "{payload}");
}
