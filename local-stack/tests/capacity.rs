//! Lambda's capacity rules beyond reserved concurrency, driven through the gateway with the
//! misbehaving test function: the scaling rate, the account's concurrency shared by functions
//! without a reservation, and provisioned concurrency (ready before traffic, no cold starts up
//! to it, spill-over to on-demand environments beyond it).

mod common;

use std::time::Duration;

use common::*;
use local_stack::Stack;
use local_stack::metrics::{MetricId, Stat};

fn sum(stack: &Stack, ns: &str, name: &str, dims: &[(&str, &str)], stat: Stat) -> f64 {
    stack.metrics().query(&MetricId::new(ns, name, dims), 0, i64::MAX, 3600, stat).iter().map(|(_, v)| v).sum()
}

fn misbehave_config() -> local_stack::StackConfig {
    let mut c = config(misbehave());
    c.api.routes = vec!["ANY /{proxy+}".into()];
    c
}

/// `n` requests to `path` at once; their statuses, sorted.
async fn burst(stack: &Stack, path: &str, n: usize) -> Vec<u16> {
    let url = format!("{}{path}", stack.endpoints().api_url);
    let all: Vec<_> = (0..n)
        .map(|_| {
            tokio::spawn({
                let url = url.clone();
                async move { get(&url).await.status }
            })
        })
        .collect();
    let mut out = Vec::new();
    for a in all {
        out.push(a.await.unwrap());
    }
    out.sort();
    out
}

const FUNCTION: [(&str, &str); 1] = [("FunctionName", "target-api")];

fn throttles(stack: &Stack, reason: &str) -> f64 {
    sum(stack, "LocalStack/Lambda", "Throttles", &[("FunctionName", "target-api"), ("Reason", reason)], Stat::Sum)
}

#[tokio::test]
async fn new_environments_beyond_the_scaling_rate_are_throttled() {
    let mut c = misbehave_config();
    c.function.scaling_per_10s = 2;
    let stack = Stack::start(c).await.unwrap();
    assert_eq!(burst(&stack, "/sleep/600", 5).await, [200, 200, 500, 500, 500], "two new environments, no more");
    assert_eq!(throttles(&stack, "ScalingRate"), 3.0);
    assert_eq!(stack.lambda().environments(), 2);
    // Warm environments need no scaling: both serve again at once.
    assert_eq!(burst(&stack, "/x", 2).await, [200, 200]);
}

#[tokio::test]
async fn functions_without_a_reservation_share_the_accounts_concurrency() {
    let mut c = misbehave_config();
    c.function.reserved_concurrency = None;
    c.account_concurrency = 3;
    let stack = Stack::start(c).await.unwrap();
    assert_eq!(burst(&stack, "/sleep/600", 5).await, [200, 200, 200, 500, 500]);
    assert_eq!(throttles(&stack, "ConcurrentInvocationLimitExceeded"), 2.0);
    assert_eq!(throttles(&stack, "ReservedFunctionConcurrentInvocationLimitExceeded"), 0.0);
    // The slots come back when the invocations end.
    assert_eq!(burst(&stack, "/x", 3).await, [200, 200, 200]);
}

#[tokio::test]
async fn a_reservation_must_leave_a_hundred_unreserved() {
    let mut c = misbehave_config();
    c.account_concurrency = 150;
    c.function.reserved_concurrency = Some(60);
    let e = Stack::start(c.clone()).await.unwrap_err().to_string();
    assert!(e.contains("at least 100 must stay unreserved") && e.contains("reserve at most 50"), "{e}");
    c.function.reserved_concurrency = Some(4);
    c.function.provisioned_concurrency = 5;
    let e = Stack::start(c).await.unwrap_err().to_string();
    assert!(e.contains("provisioned_concurrency 5") && e.contains("at most 4"), "{e}");
}

#[tokio::test]
async fn provisioned_concurrency_is_ready_before_traffic_and_spills_over() {
    let mut c = misbehave_config();
    c.function.reserved_concurrency = Some(4);
    c.function.provisioned_concurrency = 2;
    c.function.keep_warm = Duration::from_millis(200);
    let stack = Stack::start(c).await.unwrap();
    assert_eq!(stack.lambda().environments(), 2, "initialised before the first request");
    let url = stack.endpoints().api_url.clone();
    let vars = get(&format!("{url}/env")).await.json();
    assert_eq!(vars["AWS_LAMBDA_INITIALIZATION_TYPE"], "provisioned-concurrency");

    assert_eq!(burst(&stack, "/sleep/400", 3).await, [200, 200, 200]);
    assert_eq!(
        sum(&stack, "LocalStack/Lambda", "InitDuration", &FUNCTION, Stat::SampleCount),
        1.0,
        "only the spill-over was cold"
    );
    assert_eq!(sum(&stack, "AWS/Lambda", "ProvisionedConcurrencyInvocations", &FUNCTION, Stat::Sum), 3.0);
    assert_eq!(sum(&stack, "AWS/Lambda", "ProvisionedConcurrencySpilloverInvocations", &FUNCTION, Stat::Sum), 1.0);
    let log = std::fs::read_to_string(stack.log_path()).unwrap();
    assert_eq!(log.matches("Init Duration:").count(), 1, "provisioned INITs are not in any REPORT:\n{log}");

    // Past keep-warm the on-demand environment is reclaimed; the provisioned ones stay.
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(stack.lambda().environments(), 2);
    // A provisioned environment that crashes is replaced.
    assert_eq!(get(&format!("{url}/crash")).await.status, 500);
    let t = std::time::Instant::now();
    while stack.lambda().environments() < 2 && t.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stack.lambda().environments(), 2, "provisioned concurrency is kept at its setting");
}
