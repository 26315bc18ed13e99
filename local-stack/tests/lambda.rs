//! The Lambda emulator's AWS behaviours, driven through the gateway with a misbehaving
//! function that speaks the real Runtime API: reserved-concurrency throttling, the
//! invocation-rate limit, cold starts, timeouts, crashes, INIT failures and the INIT limit.

mod common;

use std::time::{Duration, Instant};

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

#[tokio::test]
async fn reserved_concurrency_throttles_at_once_and_counts() {
    let mut c = misbehave_config();
    c.function.reserved_concurrency = Some(2);
    let stack = Stack::start(c).await.unwrap();
    let url = stack.endpoints().api_url.clone();
    let slow: Vec<_> = (0..2).map(|_| tokio::spawn(get_owned(format!("{url}/sleep/1500")))).collect();
    // Wait until both environments are busy (cold starts included).
    let t0 = Instant::now();
    while stack.lambda().environments() < 2 && t0.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = Instant::now();
    let r = get(&format!("{url}/fast")).await;
    let took = t.elapsed();
    assert_eq!(r.status, 500);
    assert_eq!(r.json(), serde_json::json!({"message": "Internal Server Error"}));
    assert_eq!(r.header("x-local-stack-cause"), Some("lambda-throttled"));
    assert!(took < Duration::from_millis(100), "throttle must be immediate, took {took:?}");
    for s in slow {
        assert_eq!(s.await.unwrap().status, 200);
    }
    let f = [("FunctionName", "target-api")];
    assert_eq!(sum(&stack, "AWS/Lambda", "Throttles", &f, Stat::Sum), 1.0);
    assert_eq!(sum(&stack, "AWS/Lambda", "Invocations", &f, Stat::Sum), 2.0, "throttles are not invocations");
    let max_conc = stack.metrics().query(
        &MetricId::new("AWS/Lambda", "ConcurrentExecutions", &f),
        0,
        i64::MAX,
        3600,
        Stat::Maximum,
    );
    assert_eq!(max_conc[0].1, 2.0);
    // Freed environments serve again, warm.
    let r = get(&format!("{url}/fast")).await;
    assert_eq!(r.status, 200);
    assert_eq!(stack.lambda().environments(), 2);
}

/// Lambda's quotas: "Each instance of your execution environment can serve up to 10 requests per
/// second" — with reserved concurrency 1, one request at a time still meets the rate limit.
#[tokio::test]
async fn invocations_past_ten_per_second_per_environment_are_throttled() {
    let mut c = misbehave_config();
    c.function.reserved_concurrency = Some(1);
    let stack = Stack::start(c).await.unwrap();
    let url = stack.endpoints().api_url.clone();
    let t = Instant::now();
    let (mut ok, mut throttled) = (0u32, 0u32);
    // One request at a time, so concurrency never refuses one: only the rate can.
    for _ in 0..60 {
        let r = get(&format!("{url}/fast")).await;
        match r.status {
            200 => ok += 1,
            500 => {
                assert_eq!(r.header("x-local-stack-cause"), Some("lambda-throttled"));
                throttled += 1;
            }
            s => panic!("unexpected status {s}"),
        }
    }
    let secs = t.elapsed().as_secs_f64();
    assert!(throttled > 0, "60 requests in {secs:.2} s at reserved concurrency 1 (10/s) must meet the limit");
    // The bucket starts with a second's worth (10) and refills at 10 per second.
    assert!(f64::from(ok) <= 10.0 + 10.0 * secs + 1.0, "{ok} admitted in {secs:.2} s");
    let f = [("FunctionName", "target-api")];
    assert_eq!(sum(&stack, "AWS/Lambda", "Throttles", &f, Stat::Sum), f64::from(throttled));
    assert_eq!(sum(&stack, "AWS/Lambda", "Invocations", &f, Stat::Sum), f64::from(ok));
}

async fn get_owned(url: String) -> Reply {
    get(&url).await
}

#[tokio::test]
async fn cold_starts_equal_environments_created_and_keep_warm_expires_them() {
    let mut c = misbehave_config();
    c.function.keep_warm = Duration::from_millis(400);
    let stack = Stack::start(c).await.unwrap();
    let url = stack.endpoints().api_url.clone();
    let burst: Vec<_> = (0..4).map(|_| tokio::spawn(get_owned(format!("{url}/sleep/300")))).collect();
    for b in burst {
        assert_eq!(b.await.unwrap().status, 200);
    }
    let envs = stack.lambda().environments();
    assert!((1..=4).contains(&envs));
    let f = [("FunctionName", "target-api")];
    let inits = sum(&stack, "LocalStack/Lambda", "InitDuration", &f, Stat::SampleCount);
    assert_eq!(inits, envs as f64, "one INIT per environment created");
    let log = std::fs::read_to_string(stack.log_path()).unwrap();
    assert_eq!(log.matches("Init Duration:").count(), envs, "cold REPORT lines:\n{log}");
    assert_eq!(log.matches("REPORT RequestId:").count(), 4);
    // Idle past keep-warm: reclaimed; the next request is cold again.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(stack.lambda().environments(), 0, "idle environments expire");
    assert_eq!(get(&format!("{url}/x")).await.status, 200);
    assert_eq!(sum(&stack, "LocalStack/Lambda", "InitDuration", &f, Stat::SampleCount), inits + 1.0);
}

#[tokio::test]
async fn timeouts_crashes_and_errors_are_function_errors_and_recover() {
    let mut c = misbehave_config();
    c.function.timeout = Duration::from_secs(1);
    let stack = Stack::start(c).await.unwrap();
    let url = stack.endpoints().api_url.clone();
    assert_eq!(get(&format!("{url}/ok")).await.status, 200);
    let pids = stack.lambda().pids();

    let t = Instant::now();
    let r = get(&format!("{url}/sleep/5000")).await;
    assert_eq!((r.status, r.header("x-local-stack-cause")), (500, Some("function-error")));
    assert!(t.elapsed() < Duration::from_millis(2500), "timed out after the 1 s function timeout: {:?}", t.elapsed());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(pids.iter().all(|p| !alive(*p)), "a timed-out environment is killed");
    let log = std::fs::read_to_string(stack.log_path()).unwrap();
    assert!(log.contains("Task timed out after 1.00 seconds"), "{log}");

    for path in ["/crash", "/error", "/malformed"] {
        let r = get(&format!("{url}{path}")).await;
        assert_eq!(r.status, 500, "{path}");
        let cause = if path == "/malformed" { "malformed-response" } else { "function-error" };
        assert_eq!(r.header("x-local-stack-cause"), Some(cause), "{path}");
        assert_eq!(get(&format!("{url}/ok")).await.status, 200, "recovers after {path}");
    }
    let f = [("FunctionName", "target-api")];
    assert_eq!(
        sum(&stack, "AWS/Lambda", "Errors", &f, Stat::Sum),
        3.0,
        "timeout, crash, error (a malformed payload is not a function error)"
    );
    // A REPORT line's billed duration rounds up to the ms and includes INIT on cold starts.
    let report = log.lines().find(|l| l.contains("Init Duration")).unwrap();
    let field = |name: &str| -> f64 {
        report.split('\t').find_map(|f| f.strip_prefix(name)).unwrap().trim_end_matches(" ms").trim().parse().unwrap()
    };
    // The line shows each duration to 0.01 ms; the bill rounds their exact sum up, so it may
    // be a step above or below the ceiling of the rounded sum (4.001 shows as 1.00 + 3.00).
    let billed = field("Billed Duration: ");
    let shown = field("Duration: ") + field("Init Duration: ");
    assert!(billed.fract() == 0.0 && billed >= shown - 0.01 && billed < shown + 1.01, "{report}");
}

#[tokio::test]
async fn a_function_has_lambdas_open_file_limit() {
    let stack = Stack::start(misbehave_config()).await.unwrap();
    assert_eq!(get(&format!("{}/ok", stack.endpoints().api_url)).await.status, 200);
    let pid = stack.lambda().pids()[0];
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap();
    let numbers: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    // 1,024 (Lambda's), or less where this machine's own limit is lower.
    let (soft, hard): (u64, u64) = (numbers[0].parse().unwrap(), numbers[1].parse().unwrap());
    assert!(soft <= 1024 && hard <= 1024, "not this process's raised limit: {line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invocation_sent_to_a_killed_environment_fails_at_once() {
    // Killed from outside (the OOM killer, a user) just before an invoke reaches it: the pool
    // may still hold it as idle and hand it the invocation, which no runtime will ever take.
    let mut c = misbehave_config();
    c.function.timeout = Duration::from_secs(6);
    let stack = Stack::start(c).await.unwrap();
    let url = stack.endpoints().api_url.clone();
    for round in 0..15 {
        assert_eq!(get(&format!("{url}/ok")).await.status, 200);
        for pid in stack.lambda().pids() {
            let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
        let t = Instant::now();
        let r = get(&format!("{url}/ok")).await;
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "round {round}: waited {:?} for a dead environment (status {})",
            t.elapsed(),
            r.status
        );
        assert!(r.status == 200 || r.header("x-local-stack-cause") == Some("function-error"), "{}", r.status);
    }
    let log = std::fs::read_to_string(stack.log_path()).unwrap();
    assert!(!log.contains("Task timed out"), "a dead environment is an exit error, not a timeout:\n{log}");
}

#[tokio::test]
async fn init_failures_fail_the_invoke_and_the_next_one_retries() {
    for mode in ["fail", "crash"] {
        let mut c = misbehave_config();
        c.function.environment = vec![("INIT_MODE".into(), mode.into())];
        let stack = Stack::start(c).await.unwrap();
        let url = stack.endpoints().api_url.clone();
        for _ in 0..2 {
            let r = get(&format!("{url}/ok")).await;
            assert_eq!((r.status, r.header("x-local-stack-cause")), (500, Some("function-error")), "INIT_MODE={mode}");
        }
        let f = [("FunctionName", "target-api")];
        assert_eq!(sum(&stack, "AWS/Lambda", "Errors", &f, Stat::Sum), 2.0);
        assert_eq!(stack.lambda().environments(), 0);
        let log = std::fs::read_to_string(stack.log_path()).unwrap();
        assert!(log.contains("Phase: init\tStatus: error"), "{log}");
    }
}

#[tokio::test]
async fn init_past_the_limit_is_retried_inside_the_invoke() {
    let mut c = misbehave_config();
    c.function.environment = vec![("INIT_MODE".into(), "slow:700".into())];
    c.function.init_limit = Duration::from_millis(300);
    c.function.timeout = Duration::from_secs(3);
    let stack = Stack::start(c).await.unwrap();
    let r = get(&format!("{}/ok", stack.endpoints().api_url)).await;
    assert_eq!(r.status, 200, "the second INIT gets the function timeout and finishes");
    let log = std::fs::read_to_string(stack.log_path()).unwrap();
    assert!(log.contains("Phase: init\tStatus: timeout"), "{log}");

    let mut c = misbehave_config();
    c.function.environment = vec![("INIT_MODE".into(), "slow:3000".into())];
    c.function.init_limit = Duration::from_millis(200);
    c.function.timeout = Duration::from_secs(1);
    let stack = Stack::start(c).await.unwrap();
    let r = get(&format!("{}/ok", stack.endpoints().api_url)).await;
    assert_eq!(r.status, 500, "INIT that outlasts the retry too fails the invoke");
}

/// The environment Lambda gives an OS-only runtime, as its documentation lists it
/// (configuration-envvars.html, "Defined runtime environment variables"), plus the function's
/// own variables.
#[tokio::test]
async fn the_function_sees_the_environment_lambda_defines() {
    let mut c = misbehave_config();
    c.function.environment = vec![("GREETING".into(), "hello".into())];
    let stack = Stack::start(c).await.unwrap();
    let r = get(&format!("{}/env", stack.endpoints().api_url)).await;
    assert_eq!(r.status, 200);
    let env: std::collections::BTreeMap<String, String> = serde_json::from_slice(&r.body).unwrap();
    let documented = [
        "_HANDLER",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
        "LANG",
        "PATH",
        "LD_LIBRARY_PATH",
        "TZ",
        "AWS_XRAY_CONTEXT_MISSING",
        "AWS_XRAY_DAEMON_ADDRESS",
    ];
    let missing: Vec<_> = documented.iter().filter(|k| !env.contains_key(**k)).collect();
    assert!(missing.is_empty(), "missing {missing:?} from {env:?}");
    // Not defined for OS-only runtimes.
    for k in ["AWS_EXECUTION_ENV", "_X_AMZN_TRACE_ID"] {
        assert!(!env.contains_key(k), "{k} is not set for provided runtimes");
    }
    assert_eq!(env["PATH"], "/usr/local/bin:/usr/bin/:/bin:/opt/bin");
    assert_eq!(env["LANG"], "en_US.UTF-8");
    assert_eq!(env["TZ"], ":UTC");
    assert_eq!(env["AWS_LAMBDA_INITIALIZATION_TYPE"], "on-demand");
    assert_eq!(env["_HANDLER"], "bootstrap");
    assert_eq!(env["GREETING"], "hello", "the function's own variables");
    let root = std::path::Path::new(&env["LAMBDA_TASK_ROOT"]);
    assert!(root.join("misbehave.py").is_file(), "LAMBDA_TASK_ROOT is where the code is: {root:?}");
    // Nothing from the host leaks in. (Python itself adds LC_CTYPE when the locale LANG names is
    // not installed: PEP 538's coercion.)
    let ours = ["GREETING", "TABLE_NAME", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_EC2_METADATA_DISABLED", "LC_CTYPE"];
    let extra: Vec<_> =
        env.keys().filter(|k| !documented.contains(&k.as_str()) && !ours.contains(&k.as_str())).collect();
    assert!(extra.is_empty(), "variables Lambda does not set: {extra:?}");
}
