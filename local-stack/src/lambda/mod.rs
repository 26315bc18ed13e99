//! The Lambda emulator: execution environments that are real `target-api` processes with the
//! CPU share their memory buys ([`cpu`]), capped by reserved concurrency or the account's
//! ([`account`]) — a request finding none free at the cap is throttled at once, never queued —
//! by the invocation-rate limit (10 per second per environment the concurrency allows) and the
//! scaling rate (new environments per 10 s); provisioned concurrency initialised before
//! traffic, cold starts, keep-warm expiry, function timeouts, crashes, INIT failures and the
//! 10 s INIT limit, billed duration as AWS bills it, REPORT lines and `AWS/Lambda` metrics.
//! The limits' arithmetic is in [`crate::rules`].

pub mod account;
pub mod code;
pub mod cpu;
pub mod cpu_clock;
pub mod env;
pub mod insights;
pub mod invoke_api;
pub mod python;
pub mod report;
pub mod runtime_api;
pub mod variables;

use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use tokio::sync::oneshot;

use crate::Shared;
use crate::config::FunctionConfig;
use crate::metrics::{Gauge, MetricId, Series};
use crate::profile::{Profile, Sampler};
use crate::rules::{self, TokenBucket};
use account::Account;
use code::Entrypoint;
use cpu::{CpuEnforcement, CpuLimiter};
use env::{Env, Spawn, Started};
use insights::{InsightsLog, PerformanceEvent};
use report::Report;
use runtime_api::{Invocation, RuntimeResult};

pub use crate::rules::ThrottleReason;
pub use variables::{RESERVED_VARIABLES, lambda_environment};

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
    /// It ran on an environment of the provisioned concurrency.
    pub provisioned: bool,
    /// INIT duration of that new environment, ms.
    pub init_ms: Option<f64>,
    /// Handler duration, ms (0 when throttled).
    pub duration_ms: f64,
    /// Billed duration, ms: `ceil(duration)`, plus INIT on a cold start.
    pub billed_ms: u64,
}

/// How long a provisioned environment whose INIT failed waits before the reaper replaces it.
const PROVISION_RETRY: Duration = Duration::from_secs(5);

/// Why provisioned concurrency could not be made ready.
#[derive(Debug, thiserror::Error)]
#[error("provisioned concurrency could not be initialised ({error_type}): {message}")]
pub struct ProvisionError {
    /// Lambda's error type.
    pub error_type: String,
    /// What the INIT said.
    pub message: String,
}

#[derive(Debug, Default)]
struct Pool {
    /// Idle on-demand environments, most recently used last.
    idle: Vec<Arc<Env>>,
    /// Idle provisioned environments.
    ready: Vec<Arc<Env>>,
    /// Environments busy or initializing: the function's concurrency.
    active: u32,
    /// Provisioned environments busy.
    provisioned_active: u32,
    /// Provisioned environments being (re)initialised.
    provisioning: u32,
    all: Vec<Arc<Env>>,
}

#[derive(Debug)]
struct Metrics {
    invocations: Series,
    errors: Series,
    throttles: Series,
    /// Throttles by reason ([`ThrottleReason::ALL`]'s order): AWS's `Throttles` does not say
    /// why; the local stack does, in its own namespace, so a run can show which limit refused.
    throttles_by: Vec<Series>,
    duration: Series,
    concurrent: Gauge,
    init_duration: Series,
    provisioned_invocations: Series,
    spillover_invocations: Series,
    provisioned_concurrent: Gauge,
    provisioned_utilization: Gauge,
}

#[derive(Debug)]
struct Inner {
    config: FunctionConfig,
    function_arn: String,
    env_vars: Vec<(String, String)>,
    code: Entrypoint,
    profile: Arc<Profile>,
    sampler: Arc<Sampler>,
    pool: Mutex<Pool>,
    next_env: AtomicU64,
    next_request: AtomicU64,
    /// The function's invocation-rate limit (reserved functions), over seconds since `started`.
    rate: Mutex<TokenBucket>,
    /// The scaling rate: one token per new on-demand environment.
    scaling: Mutex<TokenBucket>,
    account: Arc<Account>,
    cpu: CpuLimiter,
    started: Instant,
    log: Mutex<File>,
    insights: InsightsLog,
    metrics: Metrics,
    /// Shut down: no environment starts any more, and one that finishes INIT is killed.
    closed: AtomicBool,
    /// The processes of environments still in INIT, which the pool does not hold yet.
    starting: Mutex<Vec<u32>>,
}

/// The Lambda service for one function.
#[derive(Debug, Clone)]
pub struct LambdaService {
    inner: Arc<Inner>,
}

/// An environment for one invocation, and what it holds of the limits.
enum Acquire {
    Provisioned(Arc<Env>),
    Warm(Arc<Env>, Lease),
    Cold(Lease),
    Throttled(ThrottleReason),
}

/// What an on-demand invocation holds of the account: an unreserved environment, or none.
#[derive(Debug, Clone, Copy)]
struct Lease {
    unreserved: bool,
}

impl LambdaService {
    /// A service for `config` running `code`. `env_vars` are what each environment gets on top
    /// of Lambda's own variables (table name, DynamoDB endpoint, credentials); of `logs`, the
    /// first receives process output and REPORT lines, the second one Lambda Insights
    /// performance event per invocation. The function's reservation (or provisioned concurrency, when
    /// it has none) is set aside in `shared`'s account.
    pub fn new(
        config: FunctionConfig,
        region: &str,
        account: &str,
        code: Entrypoint,
        env_vars: Vec<(String, String)>,
        (log, insights): (File, File),
        shared: &Shared,
    ) -> Self {
        let (profile, sampler, store) = (shared.profile.clone(), shared.sampler.clone(), &shared.metrics);
        let function_arn = format!("arn:aws:lambda:{region}:{account}:function:{}", config.name);
        let name = config.name.clone();
        let series = |m: &str, pct: bool| store.series(MetricId::new("AWS/Lambda", m, &[("FunctionName", &name)]), pct);
        let gauge = |m: &str| store.gauge(MetricId::new("AWS/Lambda", m, &[("FunctionName", &name)]));
        let metrics = Metrics {
            invocations: series("Invocations", false),
            errors: series("Errors", false),
            throttles: series("Throttles", false),
            throttles_by: ThrottleReason::ALL
                .iter()
                .map(|r| {
                    store.series(
                        MetricId::new(
                            "LocalStack/Lambda",
                            "Throttles",
                            &[("FunctionName", &name), ("Reason", r.label())],
                        ),
                        false,
                    )
                })
                .collect(),
            duration: series("Duration", true),
            concurrent: gauge("ConcurrentExecutions"),
            // AWS reports Init Duration only in REPORT log lines; the local stack also keeps it
            // as a metric in its own namespace so a run can reconcile cold starts without logs.
            init_duration: store
                .series(MetricId::new("LocalStack/Lambda", "InitDuration", &[("FunctionName", &name)]), true),
            // AWS also publishes these per alias or version (`Resource`); the local stack has
            // only the function, so they carry `FunctionName` alone.
            provisioned_invocations: series("ProvisionedConcurrencyInvocations", false),
            spillover_invocations: series("ProvisionedConcurrencySpilloverInvocations", false),
            provisioned_concurrent: gauge("ProvisionedConcurrentExecutions"),
            provisioned_utilization: gauge("ProvisionedConcurrencyUtilization"),
        };
        let mut vars = lambda_environment(&config, region, &code.task_root);
        vars.extend(code.env.iter().cloned());
        vars.extend(env_vars);
        vars.extend(config.environment.iter().cloned());
        let account = shared.account.clone();
        account.reserve(config.reserved_concurrency.unwrap_or(config.provisioned_concurrency));
        let rate = rules::invocation_rate(config.reserved_concurrency.unwrap_or(0));
        let scaling = rules::scaling_rate(config.scaling_per_10s);
        let cpu = CpuLimiter::new(config.cpu_model, config.memory_mb);
        let svc = Self {
            inner: Arc::new(Inner {
                config,
                function_arn,
                env_vars: vars,
                code,
                profile,
                sampler,
                pool: Mutex::new(Pool::default()),
                next_env: AtomicU64::new(1),
                next_request: AtomicU64::new(1),
                rate: Mutex::new(rate),
                scaling: Mutex::new(scaling),
                account,
                cpu,
                started: Instant::now(),
                log: Mutex::new(log),
                insights: InsightsLog::new(insights),
                metrics,
                closed: AtomicBool::new(false),
                starting: Mutex::new(Vec::new()),
            }),
        };
        svc.spawn_reaper();
        svc
    }

    /// How environments get their CPU share on this machine.
    pub fn cpu_enforcement(&self) -> CpuEnforcement {
        self.inner.cpu.enforcement()
    }

    /// Environments the kernel would not put under a cgroup, measured instead.
    pub fn cpu_refused(&self) -> u64 {
        self.inner.cpu.refused()
    }

    /// Initialises the provisioned concurrency before traffic, all at once as Lambda does
    /// when it is configured. Fails if an INIT fails, as Lambda's configuration does
    /// (<https://docs.aws.amazon.com/lambda/latest/dg/provisioned-concurrency.html>).
    pub async fn provision(&self) -> Result<(), ProvisionError> {
        let n = self.inner.config.provisioned_concurrency;
        self.lock_pool().provisioning += n;
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..n {
            let svc = self.clone();
            set.spawn(async move { svc.provision_one(Duration::ZERO).await });
        }
        while let Some(done) = set.join_next().await {
            match done {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(e) => {
                    return Err(ProvisionError { error_type: "Runtime.Unknown".into(), message: e.to_string() });
                }
            }
        }
        Ok(())
    }

    /// Starts one provisioned environment (already counted in `provisioning` by the caller,
    /// under the pool's lock, so two callers never start the same one) and makes it ready. A
    /// failure is said in the function log and stays counted for `pause`, so a replacement
    /// whose INIT always fails is retried at that pace rather than on every reaper tick.
    async fn provision_one(&self, pause: Duration) -> Result<(), ProvisionError> {
        let started = self.start_env(self.inner.config.timeout, true).await;
        let result = match started {
            Ok((env, _)) => {
                self.lock_pool().ready.push(env);
                Ok(())
            }
            Err((error_type, message, _)) => {
                self.log_line(format!("loadlab: a provisioned environment failed to start ({error_type}: {message})"));
                tokio::time::sleep(pause).await;
                Err(ProvisionError { error_type, message })
            }
        };
        let mut pool = self.lock_pool();
        pool.provisioning = pool.provisioning.saturating_sub(1);
        result
    }

    fn lock_pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.inner.pool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reclaims on-demand environments idle for longer than keep-warm and replaces provisioned
    /// ones that ended (a crash or a timeout), as Lambda keeps provisioned concurrency at its
    /// setting. Holds only a weak reference, so it ends when the service is dropped.
    fn spawn_reaper(&self) {
        let weak = Arc::downgrade(&self.inner);
        let tick = (self.inner.config.keep_warm / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(tick).await;
                let Some(inner) = weak.upgrade() else { return };
                if inner.closed.load(Ordering::SeqCst) {
                    return;
                }
                let keep = inner.config.keep_warm;
                let missing = {
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
                    pool.ready.retain(|e| !e.is_dead());
                    let alive = pool.all.iter().filter(|e| e.provisioned).count() as u32;
                    let missing = inner.config.provisioned_concurrency.saturating_sub(alive + pool.provisioning);
                    pool.provisioning += missing;
                    missing
                };
                let svc = LambdaService { inner };
                for _ in 0..missing {
                    let svc = svc.clone();
                    tokio::spawn(async move {
                        let _ = svc.provision_one(PROVISION_RETRY).await;
                    });
                }
            }
        });
    }

    /// The function's name.
    pub fn name(&self) -> &str {
        &self.inner.config.name
    }

    /// Its settings.
    pub fn config(&self) -> &FunctionConfig {
        &self.inner.config
    }

    /// Environments alive now (idle or busy).
    pub fn environments(&self) -> usize {
        self.lock_pool().all.iter().filter(|e| !e.is_dead()).count()
    }

    /// How many environments are still in INIT (after [`LambdaService::shutdown`]: still
    /// being killed and reaped).
    pub fn starting(&self) -> usize {
        self.inner.starting.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Process ids of the environments alive now.
    pub fn pids(&self) -> Vec<u32> {
        self.lock_pool().all.iter().filter(|e| !e.is_dead()).filter_map(|e| e.pid).collect()
    }

    /// Kills every environment, those still in INIT included, and starts none after; returns
    /// the pool's, to wait for their processes' ends ([`LambdaService::starting`] says when the
    /// others have ended).
    pub fn shutdown(&self) -> Vec<Arc<Env>> {
        self.inner.closed.store(true, Ordering::SeqCst);
        for pid in self.inner.starting.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            env::kill_pid(*pid);
        }
        let mut pool = self.lock_pool();
        let all: Vec<Arc<Env>> = pool.all.drain(..).collect();
        for env in &all {
            env.kill();
        }
        pool.idle.clear();
        pool.ready.clear();
        all
    }

    /// Records the concurrency gauges after a change.
    fn gauges(&self, pool: &Pool) {
        let m = &self.inner.metrics;
        m.concurrent.set(f64::from(pool.active));
        let p = self.inner.config.provisioned_concurrency;
        if p > 0 {
            m.provisioned_concurrent.set(f64::from(pool.provisioned_active));
            m.provisioned_utilization.set(f64::from(pool.provisioned_active) / f64::from(p));
        }
    }

    /// An environment for one invocation: a provisioned one, a warm one, room for a cold one,
    /// or a throttle. The limits are checked in the order Lambda's reasons suggest:
    /// concurrency (a refusal takes nothing else), then the invocation rate, then — for a new
    /// environment — the scaling rate.
    fn acquire(&self) -> Acquire {
        let inner = &self.inner;
        let mut pool = self.lock_pool();
        pool.idle.retain(|e| !e.is_dead());
        pool.ready.retain(|e| !e.is_dead());
        let reserved = inner.config.reserved_concurrency;
        let provisioned = !pool.ready.is_empty();
        let mut lease = Lease { unreserved: false };
        match reserved {
            Some(r) if pool.active >= r => return Acquire::Throttled(ThrottleReason::ReservedConcurrency),
            Some(_) => {}
            // Provisioned environments are set aside for the function; the rest is shared.
            None if provisioned => {}
            None => {
                if !inner.account.try_unreserved() {
                    return Acquire::Throttled(ThrottleReason::AccountConcurrency);
                }
                lease.unreserved = true;
            }
        }
        let refuse = |reason| {
            if lease.unreserved {
                inner.account.release_unreserved();
            }
            Acquire::Throttled(reason)
        };
        if inner.config.invocation_rate_limit {
            let now_s = inner.started.elapsed().as_secs_f64();
            if reserved.is_some() && !inner.rate.lock().unwrap_or_else(|p| p.into_inner()).try_take(now_s) {
                return refuse(ThrottleReason::InvocationRate);
            }
            if !inner.account.try_rate() {
                if reserved.is_some() {
                    inner.rate.lock().unwrap_or_else(|p| p.into_inner()).give_back();
                }
                return refuse(ThrottleReason::AccountInvocationRate);
            }
        }
        let acquired = if let Some(env) = pool.ready.pop() {
            pool.provisioned_active += 1;
            Acquire::Provisioned(env)
        } else if let Some(env) = pool.idle.pop() {
            // Most recently used first, so the others age out — as Lambda favours warm sandboxes.
            Acquire::Warm(env, lease)
        } else {
            let now_s = inner.started.elapsed().as_secs_f64();
            if !inner.scaling.lock().unwrap_or_else(|p| p.into_inner()).try_take(now_s) {
                // Refused, so not invoked: the rate tokens it took go back.
                if inner.config.invocation_rate_limit {
                    if reserved.is_some() {
                        inner.rate.lock().unwrap_or_else(|p| p.into_inner()).give_back();
                    }
                    inner.account.give_back_rate();
                }
                return refuse(ThrottleReason::ScalingRate);
            }
            Acquire::Cold(lease)
        };
        pool.active += 1;
        self.gauges(&pool);
        acquired
    }

    fn release(&self, env: Option<Arc<Env>>, lease: Option<Lease>) {
        if lease.is_some_and(|l| l.unreserved) {
            self.inner.account.release_unreserved();
        }
        let mut pool = self.lock_pool();
        pool.active = pool.active.saturating_sub(1);
        if let Some(env) = env {
            if env.provisioned {
                pool.provisioned_active = pool.provisioned_active.saturating_sub(1);
            }
            if env.is_dead() {
                pool.all.retain(|e| e.id != env.id);
            } else {
                *env.last_used.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
                if env.provisioned { pool.ready.push(env) } else { pool.idle.push(env) }
            }
        }
        self.gauges(&pool);
    }

    /// Appends `line` and its newline in one write: `writeln!` on the unbuffered file made two
    /// system calls per line, and the function's own output, sharing the file, could land
    /// between a line and its newline.
    fn log_line(&self, mut line: String) {
        line.push('\n');
        let mut log = self.inner.log.lock().unwrap_or_else(|p| p.into_inner());
        let _ = log.write_all(line.as_bytes());
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
            provisioned: false,
            init_ms: None,
            duration_ms: 0.0,
            billed_ms: 0,
        };
        let timeout = inner.config.timeout;
        let spill = inner.config.provisioned_concurrency > 0;
        let (env, lease) = match self.acquire() {
            Acquire::Throttled(reason) => {
                inner.metrics.throttles.record(1.0);
                if let Some(i) = ThrottleReason::ALL.iter().position(|r| *r == reason) {
                    inner.metrics.throttles_by[i].record(1.0);
                }
                result.outcome = Outcome::Throttled(reason);
                return result;
            }
            Acquire::Provisioned(env) => {
                result.provisioned = true;
                inner.metrics.provisioned_invocations.record(1.0);
                (env, None)
            }
            Acquire::Warm(env, lease) => {
                if spill {
                    inner.metrics.spillover_invocations.record(1.0);
                }
                (env, Some(lease))
            }
            Acquire::Cold(lease) => {
                if spill {
                    inner.metrics.spillover_invocations.record(1.0);
                }
                result.cold_start = true;
                let platform = inner.sampler.sample(&inner.profile.lambda.cold_start_platform);
                tokio::time::sleep(platform).await;
                match self.start_env(timeout, false).await {
                    Ok((env, init)) => {
                        result.init_ms = Some(init.as_secs_f64() * 1e3);
                        inner.metrics.init_duration.record(init.as_secs_f64() * 1e3);
                        (env, Some(lease))
                    }
                    Err((error_type, message, init)) => {
                        self.release(None, Some(lease));
                        inner.metrics.invocations.record(1.0);
                        inner.metrics.errors.record(1.0);
                        let init_ms = init.as_secs_f64() * 1e3;
                        result.init_ms = Some(init_ms);
                        result.billed_ms = init_ms.ceil() as u64;
                        self.log_line(format!("INIT_REPORT Init Duration: {init_ms:.2} ms\tPhase: init\tStatus: error\tError Type: {error_type}"));
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
        self.run(env, lease, event, result, timeout).await
    }

    /// Starts an environment (for provisioned concurrency when `provisioned`). INIT past
    /// `init_limit` is retried once inside the invoke, as Lambda does ("suppressed init"),
    /// with what is left of the function timeout. Where CPU time is measured, INIT is held for
    /// what its CPU would have cost at the function's share.
    async fn start_env(
        &self,
        timeout: Duration,
        provisioned: bool,
    ) -> Result<(Arc<Env>, Duration), (String, String, Duration)> {
        let inner = &self.inner;
        let log = inner.log.lock().unwrap_or_else(|p| p.into_inner()).try_clone();
        let Ok(log) = log else {
            return Err(("Runtime.Unknown".into(), "cannot open the function log".into(), Duration::ZERO));
        };
        let begun = Instant::now();
        let mut limit = inner.config.init_limit;
        let closed = || ("Runtime.Unknown".to_owned(), "the stack is shutting down".to_owned(), begun.elapsed());
        for attempt in 0..2 {
            if inner.closed.load(Ordering::SeqCst) {
                return Err(closed());
            }
            let id = inner.next_env.fetch_add(1, Ordering::Relaxed);
            let mut vars = inner.env_vars.clone();
            vars.push(("AWS_LAMBDA_LOG_STREAM_NAME".into(), report::log_stream_name(id)));
            if provisioned {
                for (k, v) in vars.iter_mut().filter(|(k, _)| k == "AWS_LAMBDA_INITIALIZATION_TYPE") {
                    debug_assert_eq!(k, "AWS_LAMBDA_INITIALIZATION_TYPE");
                    *v = "provisioned-concurrency".into();
                }
            }
            let spawn = Spawn {
                entry: &inner.code,
                env: &vars,
                function_arn: inner.function_arn.clone(),
                log: &log,
                cpu: &inner.cpu,
                provisioned,
                starting: &inner.starting,
            };
            match Env::start(id, spawn, limit).await {
                // Shut down while it was in INIT: it would outlive the stack.
                Started::Ready(env, _) if inner.closed.load(Ordering::SeqCst) => {
                    env.kill();
                    env.died().await;
                    return Err(closed());
                }
                Started::Ready(env, mut init) => {
                    if env.measured
                        && let Some(used) = env.cpu_time()
                    {
                        let hold = inner.cpu.hold_for(used, true);
                        // At its share the INIT would have run past the limit: a timeout, as
                        // it would be on Lambda, after waiting out what is left of the limit.
                        if init + hold > limit {
                            tokio::time::sleep(limit.saturating_sub(init)).await;
                            env.kill();
                            if attempt == 0 {
                                self.log_line(format!(
                                    "INIT_REPORT Init Duration: {:.2} ms\tPhase: init\tStatus: timeout",
                                    limit.as_secs_f64() * 1e3
                                ));
                                limit = timeout;
                            }
                            continue;
                        }
                        tokio::time::sleep(hold).await;
                        init += hold;
                    }
                    inner.pool.lock().unwrap_or_else(|p| p.into_inner()).all.push(env.clone());
                    return Ok((env, init));
                }
                Started::Failed(error_type, message) => return Err((error_type, message, begun.elapsed())),
                Started::TimedOut if attempt == 0 => {
                    self.log_line(format!(
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

    /// A timeout: Lambda stops the environment; the next invoke starts a new one.
    fn timed_out(&self, env: &Env, request_id: &str, timeout: Duration) -> Outcome {
        env.kill();
        let msg = format!("Task timed out after {:.2} seconds", timeout.as_secs_f64());
        self.log_line(format!("{} {request_id} {msg}", report::timestamp()));
        Outcome::FunctionError {
            error_type: "Sandbox.Timedout".into(),
            payload: Bytes::from(serde_json::json!({"errorType": "Sandbox.Timedout", "errorMessage": msg}).to_string()),
        }
    }

    async fn run(
        &self,
        env: Arc<Env>,
        lease: Option<Lease>,
        event: Bytes,
        mut result: InvokeResult,
        timeout: Duration,
    ) -> InvokeResult {
        let inner = &self.inner;
        let deadline_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
            + timeout.as_millis() as u64;
        let (respond, answer) = oneshot::channel();
        let inv = Invocation { request_id: result.request_id.clone(), event, deadline_ms, respond };
        self.log_line(format!("START RequestId: {} Version: $LATEST", result.request_id));
        let started = Instant::now();
        // Read under a cgroup too: the CPU time per invocation is what a simulation at another
        // memory size scales (Lambda Insights' cpu_total_time).
        let cpu_before = env.cpu_time();
        // The process may die with the invocation queued to it (no runtime left to take it):
        // it fails then, as Lambda fails it, not after the function's timeout.
        let delivered = tokio::select! {
            biased;
            d = env.deliver(inv) => d.map_err(|_| "runtime is gone".to_owned()),
            how = env.died() => Err(how),
        };
        let mut outcome = if let Err(how) = delivered {
            Outcome::FunctionError {
                error_type: "Runtime.ExitError".into(),
                payload: exit_error(&result.request_id, &how),
            }
        } else {
            // An answer that came before the process ended wins over its end.
            let answered = tokio::select! {
                biased;
                a = tokio::time::timeout(timeout, answer) => a,
                how = env.died() => Ok(Ok(RuntimeResult::Exited(how))),
            };
            match answered {
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
                Err(_) => self.timed_out(&env, &result.request_id, timeout),
            }
        };
        // Measured CPU: the response waits for what the function's share would have cost, and a
        // wait past the timeout is the timeout it would have been.
        let cpu_used = match (cpu_before, env.cpu_time()) {
            (Some(before), Some(after)) => Some(after.saturating_sub(before)),
            _ => None,
        };
        if let Some(used) = cpu_used.filter(|_| env.measured)
            && !matches!(&outcome, Outcome::FunctionError { error_type, .. } if error_type == "Sandbox.Timedout")
        {
            let hold = inner.cpu.hold_for(used, true);
            let left = timeout.saturating_sub(started.elapsed());
            tokio::time::sleep(hold.min(left)).await;
            if hold >= left {
                outcome = self.timed_out(&env, &result.request_id, timeout);
            }
        }
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
        self.log_line(format!("END RequestId: {}\n{report}", result.request_id));
        if let Some(used) = cpu_used {
            inner.insights.write(&PerformanceEvent {
                event_type: "performance",
                function_name: &inner.config.name,
                request_id: &result.request_id,
                duration: result.duration_ms,
                billed_duration: result.billed_ms,
                cold_start: result.init_ms.is_some(),
                init_duration: result.init_ms,
                total_memory: inner.config.memory_mb,
                cpu_total_time: used.as_secs_f64() * 1e3,
            });
        }
        self.release(Some(env), lease);
        result
    }
}

fn exit_error(request_id: &str, how: &str) -> Bytes {
    let msg = format!("RequestId: {request_id} Error: Runtime exited with error: {how}");
    Bytes::from(serde_json::json!({"errorType": "Runtime.ExitError", "errorMessage": msg}).to_string())
}
