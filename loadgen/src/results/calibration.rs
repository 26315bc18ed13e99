//! What a run measured that a simulation of it draws from: the function's admission limits and
//! the distributions of how long invocations held their environments, so the knee — and a later
//! `loadgen simulate` of other traffic or settings — need nothing but results.json.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The function's limits as Lambda admits invocations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FunctionLimits {
    /// Environments it may run at once: its reservation, or the account's limit.
    pub concurrency: u32,
    /// True when `concurrency` is a reservation; false when the account's pool is shared.
    pub reserved: bool,
    /// The account's concurrency limit.
    pub account_concurrency: u32,
    /// Environments initialised before traffic.
    pub provisioned: u32,
    /// New environments per 10 s.
    pub scaling_per_10s: u32,
    /// How long an idle on-demand environment lives, s.
    pub keep_warm_s: f64,
    /// Whether the invocation-rate limits applied.
    pub rate_limits: bool,
    /// Memory, MB (the hold times were measured at it).
    pub memory_mb: u32,
}

/// Hold-time distributions and the limits they were measured under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Calibration {
    /// Where the hold times came from.
    pub source: String,
    /// The function's limits.
    pub function: FunctionLimits,
    /// Invocations measured (REPORT lines in the measured window).
    pub invocations: u64,
    /// `Duration` of every invocation, µs, HdrHistogram V2 deflate, base64.
    pub durations_us: String,
    /// `Init Duration` of the cold starts, µs, same encoding: the measured window's, or when it
    /// had none the whole log's (seeding included); empty when the function never started cold.
    pub inits_us: String,
    /// `Duration` of the REPORT lines before the measured window — the seeding's writes — µs,
    /// same encoding; empty when the run seeded nothing.
    #[serde(default)]
    pub seeding_durations_us: String,
    /// Mean invoke overhead the REPORT lines do not show, ms (the latency profile's).
    pub invoke_overhead_ms: f64,
    /// Mean platform part of a cold start before INIT, ms (the latency profile's).
    pub cold_platform_ms: f64,
    /// Its spread, when known: the latency profile's log-normal.
    #[serde(default)]
    pub cold_platform_spread: Option<Spread>,
    /// What the client waited for an ok response beyond the environment's hold — network,
    /// API Gateway, the integration — mean over the window's ok responses, ms (0 when the run
    /// had none).
    #[serde(default)]
    pub client_overhead_ms: f64,
    /// How much of the handler's time is CPU, which is what memory buys; absent when the run
    /// recorded no CPU time per invocation.
    #[serde(default)]
    pub cpu: Option<CpuCalibration>,
    /// Handler duration per request kind, for plans with another request mix: each kind's ok
    /// latencies less [`Self::client_overhead_ms`] and the invoke overhead. Empty when the run
    /// had no ok responses.
    #[serde(default)]
    pub requests: Vec<RequestCalibration>,
    /// API Gateway's throttling of the stack's routes; absent for a document from before it
    /// was recorded (the gateway is then not simulated).
    #[serde(default)]
    pub gateway: Option<GatewayLimits>,
    /// What the calibration assumed rather than measured (an AWS run's reservation when it was
    /// not told it, say); empty for a local-stack run, which knows its stack.
    #[serde(default)]
    pub assumed: Vec<String>,
    /// The table's throughput limits; absent for a document from before they were recorded or
    /// a target whose table is not known (DynamoDB is then not simulated).
    #[serde(default)]
    pub dynamodb: Option<TableLimits>,
}

/// The DynamoDB table's throughput as the stack limits it (an on-demand table's warm
/// throughput, or a provisioned table's capacity).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TableLimits {
    /// Read units per second the table serves before throttling.
    pub read_units_per_s: f64,
    /// Write units per second.
    pub write_units_per_s: f64,
    /// Read units per second one partition-key value serves (a hot key).
    pub partition_read_units_per_s: f64,
    /// Write units per second one partition-key value serves.
    pub partition_write_units_per_s: f64,
}

/// A log-normal delay's median and 99th percentile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Spread {
    /// Median, ms.
    pub median_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
}

/// API Gateway's throttling as the stack configures it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GatewayLimits {
    /// Route keys (`GET /items/{id}`, `$default`), in the order API Gateway selects them.
    pub routes: Vec<String>,
    /// The stage's default throttle, one bucket per route.
    pub stage: Throttle,
    /// Routes with their own throttle instead.
    pub overrides: Vec<RouteThrottle>,
    /// The account's bucket, shared by every route.
    pub account: Throttle,
}

/// A token bucket's rate and burst.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Throttle {
    /// Requests per second.
    pub rate: f64,
    /// Bucket size.
    pub burst: u32,
}

/// One route's own throttle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RouteThrottle {
    /// Route key.
    pub route: String,
    /// Its throttle.
    pub throttle: Throttle,
}

/// One request kind's handler durations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RequestCalibration {
    /// Request name in the calibrating scenario.
    pub name: String,
    /// Method.
    pub method: String,
    /// Path template as written: a kind of another scenario is this one when method and path
    /// template are the same.
    pub path: String,
    /// Ok responses measured.
    pub responses: u64,
    /// Estimated handler duration, µs, HdrHistogram V2 deflate, base64.
    pub durations_us: String,
    /// DynamoDB read units per response, when the function reported them.
    #[serde(default)]
    pub read_units: Option<f64>,
    /// DynamoDB write units per response, likewise.
    #[serde(default)]
    pub write_units: Option<f64>,
    /// DynamoDB calls per response, when the function reported them (`x-ddb-calls`).
    #[serde(default)]
    pub calls: Option<f64>,
}

/// The function's CPU time per invocation, from Lambda Insights performance events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CpuCalibration {
    /// Where the CPU times came from.
    pub source: String,
    /// Share of a core each environment had while the durations were measured (1 when the
    /// CPU was not limited).
    pub share: f64,
    /// Invocations of the window with a CPU time.
    pub invocations: u64,
    /// Mean CPU time per invocation, ms.
    pub mean_ms: f64,
}
