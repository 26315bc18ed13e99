//! The Lambda emulator: execution environments that are real `target-api` processes, capped
//! by reserved concurrency (a request finding none free at the cap is throttled at once, never
//! queued) and by the invocation-rate limit (10 per second per environment the concurrency
//! allows), cold starts, keep-warm expiry, function timeouts, crashes, INIT failures and the
//! 10 s INIT limit, billed duration as AWS bills it, REPORT lines and `AWS/Lambda` metrics.
//! The limits' arithmetic is in [`crate::rules`].

pub mod env;
pub mod report;
pub mod runtime_api;

use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use tokio::sync::oneshot;

use crate::Shared;
use crate::config::FunctionConfig;
use crate::metrics::{Gauge, MetricId, Series};
use crate::profile::{Profile, Sampler};
use crate::rules::{self, TokenBucket};
use env::{Env, Spawn, Started};
use report::Report;
use runtime_api::{Invocation, RuntimeResult};

pub use crate::rules::ThrottleReason;

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The function returned this payload.
    Success(Bytes),
    /// The function (or its runtime) failed: `X-Amz-Function-Error: Unhandled`.
    FunctionError {
        /// e.g. `Runtime.ExitError`, `Sandbox.Timedout`, `Runtime.InitError`.
        error_type: String,
        /// The error document.
        payload: Bytes,
    },
    /// 429 `TooManyRequestsException`, for this reason.
    Throttled(ThrottleReason),
}

/// One invocation's result and accounting.
#[derive(Debug, Clone)]
pub struct InvokeResult {
    /// Lambda request id.
    pub request_id: String,
    /// What happened.
    pub outcome: Outcome,
    /// A new environment was started for it.
    pub cold_start: bool,
    /// INIT duration of that new environment, ms.
    pub init_ms: Option<f64>,
    /// Handler duration, ms (0 when throttled).
    pub duration_ms: f64,
    /// Billed duration, ms: `ceil(duration)`, plus INIT on a cold start.
    pub billed_ms: u64,
}

#[derive(Debug, Default)]
struct Pool {
    idle: Vec<Arc<Env>>,
    /// Environments busy or initializing: the function's concurrency.
    active: u32,
    all: Vec<Arc<Env>>,
}

#[derive(Debug)]
struct Metrics {
    invocations: Series,
    errors: Series,
    throttles: Series,
    /// Throttles by reason: AWS's `Throttles` does not say why; the local stack does, in its
    /// own namespace, so a run can show which limit refused.
    throttles_concurrency: Series,
    throttles_rate: Series,
    duration: Series,
    concurrent: Gauge,
    init_duration: Series,
}

#[derive(Debug)]
struct Inner {
    config: FunctionConfig,
    function_arn: String,
    env_vars: Vec<(String, String)>,
    profile: Arc<Profile>,
    sampler: Arc<Sampler>,
    pool: Mutex<Pool>,
    next_env: AtomicU64,
    next_request: AtomicU64,
    /// The invocation-rate limit, over seconds since `started`.
    rate: Mutex<TokenBucket>,
    started: Instant,
    log: Mutex<File>,
    metrics: Metrics,
}

/// The Lambda service for one function.
#[derive(Debug, Clone)]
pub struct LambdaService {
    inner: Arc<Inner>,
}

enum Acquire {
    Warm(Arc<Env>),
    Cold,
    Throttled(ThrottleReason),
}

impl LambdaService {
    /// A service for `config`. `env_vars` are what each environment gets on top of Lambda's
    /// own variables (table name, DynamoDB endpoint, credentials); `log` receives process
    /// output and REPORT lines.
    pub fn new(
        config: FunctionConfig,
        region: &str,
        account: &str,
        env_vars: Vec<(String, String)>,
        log: File,
        shared: &Shared,
    ) -> Self {
        let (profile, sampler, store) = (shared.profile.clone(), shared.sampler.clone(), &shared.metrics);
        let function_arn = format!("arn:aws:lambda:{region}:{account}:function:{}", config.name);
        let name = config.name.clone();
        let series = |m: &str, pct: bool| store.series(MetricId::new("AWS/Lambda", m, &[("FunctionName", &name)]), pct);
        let metrics = Metrics {
            invocations: series("Invocations", false),
            errors: series("Errors", false),
            throttles: series("Throttles", false),
            throttles_concurrency: store.series(
                MetricId::new(
                    "LocalStack/Lambda",
                    "Throttles",
                    &[("FunctionName", &name), ("Reason", ThrottleReason::ReservedConcurrency.as_str())],
                ),
                false,
            ),
            throttles_rate: store.series(
                MetricId::new(
                    "LocalStack/Lambda",
                    "Throttles",
                    &[("FunctionName", &name), ("Reason", ThrottleReason::InvocationRate.as_str())],
                ),
                false,
            ),
            duration: series("Duration", true),
            concurrent: store.gauge(MetricId::new("AWS/Lambda", "ConcurrentExecutions", &[("FunctionName", &name)])),
            // AWS reports Init Duration only in REPORT log lines; the local stack also keeps it
            // as a metric in its own namespace so a run can reconcile cold starts without logs.
            init_duration: store
                .series(MetricId::new("LocalStack/Lambda", "InitDuration", &[("FunctionName", &name)]), true),
        };
        let mut vars = lambda_environment(&config, region);
        vars.extend(env_vars);
        vars.extend(config.environment.iter().cloned());
        let rate = rules::invocation_rate(config.reserved_concurrency);
        let svc = Self {
            inner: Arc::new(Inner {
                config,
                function_arn,
                env_vars: vars,
                profile,
                sampler,
                pool: Mutex::new(Pool::default()),
                next_env: AtomicU64::new(1),
                next_request: AtomicU64::new(1),
                rate: Mutex::new(rate),
                started: Instant::now(),
                log: Mutex::new(log),
                metrics,
            }),
        };
        svc.spawn_reaper();
        svc
    }

    /// Reclaims environments idle for longer than keep-warm. Holds only a weak reference, so
    /// it ends when the service is dropped.
    fn spawn_reaper(&self) {
        let weak = Arc::downgrade(&self.inner);
        let tick = (self.inner.config.keep_warm / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(tick).await;
                let Some(inner) = weak.upgrade() else { return };
                let keep = inner.config.keep_warm;
                let mut pool = inner.pool.lock().unwrap_or_else(|p| p.into_inner());
                let (expired, kept): (Vec<_>, Vec<_>) = pool
                    .idle
                    .drain(..)
                    .partition(|e| e.last_used.lock().unwrap_or_else(|p| p.into_inner()).elapsed() > keep);
                pool.idle = kept;
                for env in &expired {
                    env.kill();
                }
                pool.all.retain(|e| !e.is_dead() && !expired.iter().any(|x| x.id == e.id));
            }
        });
    }

    /// Environments alive now (idle or busy).
    pub fn environments(&self) -> usize {
        let pool = self.inner.pool.lock().unwrap_or_else(|p| p.into_inner());
        pool.all.iter().filter(|e| !e.is_dead()).count()
    }

    /// Process ids of the environments alive now.
    pub fn pids(&self) -> Vec<u32> {
        let pool = self.inner.pool.lock().unwrap_or_else(|p| p.into_inner());
        pool.all.iter().filter(|e| !e.is_dead()).filter_map(|e| e.pid).collect()
    }

    /// Kills every environment.
    pub fn shutdown(&self) {
        let mut pool = self.inner.pool.lock().unwrap_or_else(|p| p.into_inner());
        for env in pool.all.drain(..) {
            env.kill();
        }
        pool.idle.clear();
    }

    /// An environment for one invocation: a warm one, room for a cold one, or a throttle. A
    /// request refused for concurrency takes no token of the rate limit; one admitted does.
    fn acquire(&self) -> Acquire {
        let inner = &self.inner;
        let mut pool = inner.pool.lock().unwrap_or_else(|p| p.into_inner());
        pool.idle.retain(|e| !e.is_dead());
        if pool.idle.is_empty() && pool.active >= inner.config.reserved_concurrency {
            return Acquire::Throttled(ThrottleReason::ReservedConcurrency);
        }
        let now_s = inner.started.elapsed().as_secs_f64();
        if inner.config.invocation_rate_limit && !inner.rate.lock().unwrap_or_else(|p| p.into_inner()).try_take(now_s) {
            return Acquire::Throttled(ThrottleReason::InvocationRate);
        }
        pool.active += 1;
        inner.metrics.concurrent.set(f64::from(pool.active));
        // Most recently used first, so the others age out — as Lambda favours warm sandboxes.
        match pool.idle.pop() {
            Some(env) => Acquire::Warm(env),
            None => Acquire::Cold,
        }
    }

    fn release(&self, env: Option<Arc<Env>>) {
        let mut pool = self.inner.pool.lock().unwrap_or_else(|p| p.into_inner());
        pool.active = pool.active.saturating_sub(1);
        self.inner.metrics.concurrent.set(f64::from(pool.active));
        if let Some(env) = env {
            if env.is_dead() {
                pool.all.retain(|e| e.id != env.id);
            } else {
                *env.last_used.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
                pool.idle.push(env);
            }
        }
    }

    fn log_line(&self, line: &str) {
        let mut log = self.inner.log.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(log, "{line}");
    }

    fn new_request_id(&self) -> String {
        let n = self.inner.next_request.fetch_add(1, Ordering::Relaxed);
        let r = fastrand::u64(..);
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            (r >> 32) as u32,
            (r >> 16) as u16,
            n & 0xfff,
            (n >> 12) & 0xfff,
            r & 0xffff_ffff_ffff
        )
    }

    /// Invokes the function synchronously with `event`, as API Gateway's Lambda proxy does.
    pub async fn invoke(&self, event: Bytes) -> InvokeResult {
        let inner = &self.inner;
        let request_id = self.new_request_id();
        let mut result = InvokeResult {
            request_id: request_id.clone(),
            outcome: Outcome::Throttled(ThrottleReason::ReservedConcurrency),
            cold_start: false,
            init_ms: None,
            duration_ms: 0.0,
            billed_ms: 0,
        };
        let timeout = inner.config.timeout;
        let env = match self.acquire() {
            Acquire::Throttled(reason) => {
                inner.metrics.throttles.record(1.0);
                match reason {
                    ThrottleReason::ReservedConcurrency => inner.metrics.throttles_concurrency.record(1.0),
                    ThrottleReason::InvocationRate => inner.metrics.throttles_rate.record(1.0),
                }
                result.outcome = Outcome::Throttled(reason);
                return result;
            }
            Acquire::Warm(env) => env,
            Acquire::Cold => {
                result.cold_start = true;
                let platform = inner.sampler.sample(&inner.profile.lambda.cold_start_platform);
                tokio::time::sleep(platform).await;
                match self.start_env(timeout).await {
                    Ok((env, init)) => {
                        result.init_ms = Some(init.as_secs_f64() * 1e3);
                        inner.metrics.init_duration.record(init.as_secs_f64() * 1e3);
                        env
                    }
                    Err((error_type, message, init)) => {
                        self.release(None);
                        inner.metrics.invocations.record(1.0);
                        inner.metrics.errors.record(1.0);
                        let init_ms = init.as_secs_f64() * 1e3;
                        result.init_ms = Some(init_ms);
                        result.billed_ms = init_ms.ceil() as u64;
                        self.log_line(&format!("INIT_REPORT Init Duration: {init_ms:.2} ms\tPhase: init\tStatus: error\tError Type: {error_type}"));
                        result.outcome = Outcome::FunctionError {
                            payload: Bytes::from(
                                serde_json::json!({"errorType": error_type, "errorMessage": message}).to_string(),
                            ),
                            error_type,
                        };
                        return result;
                    }
                }
            }
        };
        let overhead = inner.sampler.sample(&inner.profile.lambda.invoke_overhead);
        if !overhead.is_zero() {
            tokio::time::sleep(overhead).await;
        }
        self.run(env, event, result, timeout).await
    }

    /// Starts an environment. INIT past `init_limit` is retried once inside the invoke, as
    /// Lambda does ("suppressed init"), with what is left of the function timeout.
    async fn start_env(&self, timeout: Duration) -> Result<(Arc<Env>, Duration), (String, String, Duration)> {
        let inner = &self.inner;
        let log = inner.log.lock().unwrap_or_else(|p| p.into_inner()).try_clone();
        let Ok(log) = log else {
            return Err(("Runtime.Unknown".into(), "cannot open the function log".into(), Duration::ZERO));
        };
        let begun = Instant::now();
        let mut limit = inner.config.init_limit;
        for attempt in 0..2 {
            let id = inner.next_env.fetch_add(1, Ordering::Relaxed);
            let mut vars = inner.env_vars.clone();
            vars.push(("AWS_LAMBDA_LOG_STREAM_NAME".into(), report::log_stream_name(id)));
            let spawn =
                Spawn { binary: &inner.config.binary, env: &vars, function_arn: inner.function_arn.clone(), log: &log };
            match Env::start(id, spawn, limit).await {
                Started::Ready(env, init) => {
                    inner.pool.lock().unwrap_or_else(|p| p.into_inner()).all.push(env.clone());
                    return Ok((env, init));
                }
                Started::Failed(error_type, message) => return Err((error_type, message, begun.elapsed())),
                Started::TimedOut if attempt == 0 => {
                    self.log_line(&format!(
                        "INIT_REPORT Init Duration: {:.2} ms\tPhase: init\tStatus: timeout",
                        limit.as_secs_f64() * 1e3
                    ));
                    limit = timeout;
                }
                Started::TimedOut => {}
            }
        }
        Err((
            "Sandbox.Timedout".into(),
            format!("Task timed out after {:.2} seconds", timeout.as_secs_f64()),
            begun.elapsed(),
        ))
    }

    async fn run(&self, env: Arc<Env>, event: Bytes, mut result: InvokeResult, timeout: Duration) -> InvokeResult {
        let inner = &self.inner;
        let deadline_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
            + timeout.as_millis() as u64;
        let (respond, answer) = oneshot::channel();
        let inv = Invocation { request_id: result.request_id.clone(), event, deadline_ms, respond };
        self.log_line(&format!("START RequestId: {} Version: $LATEST", result.request_id));
        let started = Instant::now();
        let outcome = if env.deliver(inv).await.is_err() {
            Outcome::FunctionError {
                error_type: "Runtime.ExitError".into(),
                payload: exit_error(&result.request_id, "runtime is gone"),
            }
        } else {
            match tokio::time::timeout(timeout, answer).await {
                Ok(Ok(RuntimeResult::Response(body))) => Outcome::Success(body),
                Ok(Ok(RuntimeResult::Error { error_type, body })) => {
                    Outcome::FunctionError { error_type, payload: body }
                }
                Ok(Ok(RuntimeResult::Exited(how))) => Outcome::FunctionError {
                    error_type: "Runtime.ExitError".into(),
                    payload: exit_error(&result.request_id, &how),
                },
                Ok(Err(_)) => Outcome::FunctionError {
                    error_type: "Runtime.ExitError".into(),
                    payload: exit_error(&result.request_id, "the runtime dropped the invocation"),
                },
                Err(_) => {
                    // Timeout: Lambda stops the environment; the next invoke starts a new one.
                    env.kill();
                    let msg = format!("Task timed out after {:.2} seconds", timeout.as_secs_f64());
                    self.log_line(&format!("{} {} {msg}", report::timestamp(), result.request_id));
                    Outcome::FunctionError {
                        error_type: "Sandbox.Timedout".into(),
                        payload: Bytes::from(
                            serde_json::json!({"errorType": "Sandbox.Timedout", "errorMessage": msg}).to_string(),
                        ),
                    }
                }
            }
        };
        let duration = started.elapsed().min(timeout);
        result.duration_ms = duration.as_secs_f64() * 1e3;
        result.billed_ms = (result.duration_ms + result.init_ms.unwrap_or(0.0)).ceil() as u64;
        let failed = matches!(outcome, Outcome::FunctionError { .. });
        if failed
            && !env.is_dead()
            && matches!(&outcome, Outcome::FunctionError { error_type, .. } if error_type == "Runtime.ExitError")
        {
            env.kill();
        }
        result.outcome = outcome;
        let m = &inner.metrics;
        m.invocations.record(1.0);
        m.duration.record(result.duration_ms);
        if failed {
            m.errors.record(1.0);
        }
        let report = Report {
            request_id: &result.request_id,
            duration_ms: result.duration_ms,
            billed_ms: result.billed_ms,
            memory_mb: inner.config.memory_mb,
            max_memory_mb: env.max_memory_mb().unwrap_or(0),
            init_ms: result.init_ms,
        };
        // One write for both lines: fewer syscalls on the hot path, and they stay together.
        self.log_line(&format!("END RequestId: {}\n{report}", result.request_id));
        self.release(Some(env));
        result
    }
}

/// The variables Lambda defines for an OS-only runtime (`provided.al2023`, `provided.al2`), as
/// its documentation lists them (<https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html>,
/// "Defined runtime environment variables"): the reserved ones and the unreserved ones with
/// Lambda's values. Not set, as for OS-only runtimes on AWS: `AWS_EXECUTION_ENV`, and
/// `_X_AMZN_TRACE_ID`, which a custom runtime sets from each `next`'s
/// `Lambda-Runtime-Trace-Id` header. Added per environment: `AWS_LAMBDA_LOG_STREAM_NAME` and
/// `AWS_LAMBDA_RUNTIME_API`; the credentials come with the stack's own variables.
///
/// `/var/task` and `/var/runtime` do not exist on this machine: `LAMBDA_TASK_ROOT` and
/// `LAMBDA_RUNTIME_DIR` name the directory the function's bootstrap is in, so code that reads
/// files beside itself finds them. `AWS_EC2_METADATA_DISABLED` is the emulator's one addition:
/// it keeps SDKs from looking for credentials on the instance-metadata address.
pub fn lambda_environment(config: &FunctionConfig, region: &str) -> Vec<(String, String)> {
    let root = config.binary.parent().map(|d| d.display().to_string()).unwrap_or_else(|| ".".into());
    [
        ("_HANDLER", "bootstrap".to_owned()),
        ("AWS_REGION", region.to_owned()),
        ("AWS_DEFAULT_REGION", region.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", config.name.clone()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", config.memory_mb.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", config.name)),
        ("LAMBDA_TASK_ROOT", root.clone()),
        ("LAMBDA_RUNTIME_DIR", root.clone()),
        ("LANG", "en_US.UTF-8".to_owned()),
        ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin".to_owned()),
        (
            "LD_LIBRARY_PATH",
            format!("/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:{root}:{root}/lib:/opt/lib"),
        ),
        ("TZ", ":UTC".to_owned()),
        ("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR".to_owned()),
        ("AWS_XRAY_DAEMON_ADDRESS", "169.254.79.129:2000".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Names AWS reserves: a function's own variables may not set them.
pub const RESERVED_VARIABLES: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
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
];

fn exit_error(request_id: &str, how: &str) -> Bytes {
    let msg = format!("RequestId: {request_id} Error: Runtime exited with error: {how}");
    Bytes::from(serde_json::json!({"errorType": "Runtime.ExitError", "errorMessage": msg}).to_string())
}
