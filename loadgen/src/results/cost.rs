//! The cost section of results.json: the usage priced (what the run consumed), the cost by
//! component, per request kind, the client-vs-CloudWatch reconciliation, batch vs per-item and
//! the knee. The `cost/` module computes it; these are only its shapes.

use local_stack::config::Architecture;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Seconds in the 30-day month the projections use.
pub const MONTH_SECONDS: f64 = 30.0 * 86_400.0;

/// What a run (or a month) consumed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Usage {
    /// API Gateway requests billed: those that reached the integration (not the gateway's own
    /// throttles), counted in 512 KB increments.
    pub api_requests: f64,
    /// Lambda requests billed (= `Invocations`; Lambda throttles are not billed).
    pub lambda_requests: f64,
    /// Billed duration, ms, INIT included on cold starts (custom runtimes always pay INIT).
    pub lambda_billed_ms: f64,
    /// Configured memory, MB.
    pub memory_mb: u32,
    /// Instruction set (arm64 is priced lower per GB-second).
    pub architecture: Architecture,
    /// DynamoDB read request units.
    pub read_units: f64,
    /// DynamoDB write request units.
    pub write_units: f64,
    /// CloudWatch metrics requested by `GetMetricData`.
    pub cloudwatch_metrics: f64,
    /// Log bytes ingested.
    pub log_bytes: f64,
    /// Provisioned concurrency configured: environments kept initialised.
    #[serde(default)]
    pub provisioned_concurrency: u32,
    /// Seconds the configured capacity (provisioned concurrency, a provisioned table) is priced
    /// for in the time priced (the measured window; a month).
    #[serde(default)]
    pub provisioned_seconds: f64,
    /// The part of `lambda_billed_ms` served by provisioned environments, ms.
    #[serde(default)]
    pub provisioned_billed_ms: f64,
    /// A provisioned table's read capacity units, billed per hour for `provisioned_seconds`
    /// instead of its read request units; 0 for an on-demand table.
    #[serde(default)]
    pub table_read_capacity: f64,
    /// A provisioned table's write capacity units; 0 for an on-demand table.
    #[serde(default)]
    pub table_write_capacity: f64,
}

impl Usage {
    fn gb(&self) -> f64 {
        self.memory_mb as f64 / 1024.0
    }

    /// GB-seconds: memory in GB × billed seconds, on provisioned environments or not.
    pub fn gb_seconds(&self) -> f64 {
        self.gb() * self.lambda_billed_ms / 1000.0
    }

    /// GB-seconds of invocations on on-demand environments.
    pub fn on_demand_gb_seconds(&self) -> f64 {
        self.gb() * (self.lambda_billed_ms - self.provisioned_billed_ms).max(0.0) / 1000.0
    }

    /// GB-seconds of invocations on provisioned environments.
    pub fn provisioned_duration_gb_seconds(&self) -> f64 {
        self.gb() * self.provisioned_billed_ms.min(self.lambda_billed_ms) / 1000.0
    }

    /// GB-seconds of provisioned concurrency configured: environments × GB × seconds.
    pub fn provisioned_concurrency_gb_seconds(&self) -> f64 {
        f64::from(self.provisioned_concurrency) * self.gb() * self.provisioned_seconds
    }

    /// A 30-day month of this usage, its traffic scaled by `factor`: the provisioned
    /// concurrency stays configured for the whole month, whatever the traffic.
    pub fn month(&self, factor: f64) -> Usage {
        // loadgen's own metrics pull is no part of a month of production traffic.
        Usage { cloudwatch_metrics: 0.0, ..self.scale(factor, MONTH_SECONDS) }
    }

    /// The same usage with `factor` times the traffic over the same time.
    pub fn scaled(&self, factor: f64) -> Usage {
        self.scale(factor, self.provisioned_seconds)
    }

    /// `factor` times the traffic over `seconds` of provisioned concurrency. The provisioned
    /// environments serve no more than they have time for (P × seconds); the rest of the
    /// traffic is billed on demand, as the spill-over would be.
    ///
    /// Doubt: the cap assumes the provisioned environments could be kept 100% busy; in
    /// practice spill-over starts earlier, so at high factors the on-demand share is low.
    fn scale(&self, factor: f64, seconds: f64) -> Usage {
        let capacity_ms = f64::from(self.provisioned_concurrency) * seconds * 1000.0;
        Usage {
            api_requests: self.api_requests * factor,
            lambda_requests: self.lambda_requests * factor,
            lambda_billed_ms: self.lambda_billed_ms * factor,
            provisioned_billed_ms: (self.provisioned_billed_ms * factor).min(capacity_ms),
            read_units: self.read_units * factor,
            write_units: self.write_units * factor,
            cloudwatch_metrics: self.cloudwatch_metrics,
            log_bytes: self.log_bytes * factor,
            provisioned_seconds: seconds,
            ..self.clone()
        }
    }
}

/// Cost by component, USD.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Breakdown {
    /// API Gateway requests.
    pub apigw_requests: f64,
    /// Lambda requests.
    pub lambda_requests: f64,
    /// Lambda GB-seconds on on-demand environments.
    pub lambda_duration: f64,
    /// Lambda provisioned concurrency configured.
    #[serde(default)]
    pub lambda_provisioned_concurrency: f64,
    /// Lambda GB-seconds on provisioned environments.
    #[serde(default)]
    pub lambda_provisioned_duration: f64,
    /// DynamoDB read request units.
    pub dynamodb_reads: f64,
    /// DynamoDB write request units.
    pub dynamodb_writes: f64,
    /// DynamoDB provisioned read and write capacity, per capacity-unit-hour.
    #[serde(default)]
    pub dynamodb_provisioned: f64,
    /// CloudWatch `GetMetricData`: loadgen's own pull, the harness's cost, never in `total`.
    pub cloudwatch_metrics: f64,
    /// CloudWatch Logs ingestion of the function's logs (production pays it too).
    pub cloudwatch_logs: f64,
    /// The target stack's cost: every component above but `cloudwatch_metrics`.
    pub total: f64,
}

/// One client-vs-server comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Reconciliation {
    /// What is compared.
    pub what: String,
    /// What the client saw.
    pub client: f64,
    /// What the server side (CloudWatch) counted.
    pub server: f64,
    /// |client − server| ÷ server, %.
    pub gap_pct: f64,
    /// Gap over 1%.
    pub flagged: bool,
}

/// Cost of one request kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RequestCost {
    /// Request name.
    pub name: String,
    /// Estimated billed Lambda ms per request: handler time plus the run's mean overhead.
    pub lambda_ms_per_request: f64,
    /// DynamoDB calls per request.
    pub ddb_calls_per_request: f64,
    /// Read units per request.
    pub read_units_per_request: f64,
    /// Write units per request.
    pub write_units_per_request: f64,
    /// Cost per million of these requests, USD.
    pub per_million_usd: f64,
    /// Whether the function reported its DynamoDB calls and units per response (target-api's
    /// headers); without them the per-request figures leave DynamoDB out.
    #[serde(default = "reported")]
    pub units_reported: bool,
}

fn reported() -> bool {
    true
}

/// BatchGetItem against one GetItem per id, when a run has both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BatchVsItem {
    /// The batch request kind.
    pub batch: String,
    /// The per-item request kind.
    pub per_item: String,
    /// per-item ÷ batch, cost per request.
    pub cost_factor: f64,
    /// per-item ÷ batch, latency p50.
    pub latency_p50_factor: f64,
    /// per-item ÷ batch, billed Lambda ms per request.
    pub lambda_ms_factor: f64,
    /// Whether both consumed the same read units per request (within 1%), as DynamoDB's
    /// rules say they must.
    pub equal_read_units: bool,
    /// One sentence.
    pub verdict: String,
}

/// One point of the throttle curve: a stretch of the plan at one offered rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct KneePoint {
    /// The phase (and step) it covers.
    #[serde(default)]
    pub phase: String,
    /// Offered rate of the plan, req/s (a ramp's mean).
    pub rate: f64,
    /// True when the rate ramps through the stretch (`rate` is its mean).
    #[serde(default)]
    pub ramp: bool,
    /// Measured seconds in it.
    pub seconds: u32,
    /// Measured share of Lambda throttles.
    pub measured: f64,
    /// Simulated share: the plan's own arrivals, the run's hold times, Lambda's rules (absent
    /// when the run has no REPORT lines to draw hold times from).
    #[serde(default)]
    pub simulated: Option<f64>,
    /// What the simulation scaled the run's hold times by in this stretch: its phase's mean
    /// hold over the run's, estimated from served latency (absent: not scaled — too few ok
    /// responses, or results written before it was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_scale: Option<f64>,
    /// Little's law: max(0, 1 − c ÷ (rate × mean duration)), the fluid bound.
    pub littles_law: f64,
    /// Erlang B blocking probability with c servers and load rate × mean duration; only for
    /// Poisson arrivals, the assumption it rests on.
    pub erlang_b: Option<f64>,
}

/// Lambda's throttles split by the limit that refused them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ThrottlesByReason {
    /// Every environment the reserved concurrency allows was busy.
    pub reserved_concurrency: f64,
    /// More than 10 invocations per second per environment.
    pub invocation_rate: f64,
    /// The account's unreserved concurrency was in use (a function without a reservation).
    #[serde(default)]
    pub account_concurrency: f64,
    /// More than 10 invocations per second per unit of the account's concurrency.
    #[serde(default)]
    pub account_invocation_rate: f64,
    /// New environments were needed faster than 1,000 per 10 s.
    #[serde(default)]
    pub scaling_rate: f64,
}

impl ThrottlesByReason {
    /// Every throttle counted.
    pub fn total(&self) -> f64 {
        self.reserved_concurrency
            + self.invocation_rate
            + self.account_concurrency
            + self.account_invocation_rate
            + self.scaling_rate
    }
}

/// Where throttling starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Knee {
    /// Reserved concurrency (servers); the account's limit when `unreserved`.
    pub reserved_concurrency: u32,
    /// True when the function has no reservation and shares the account's concurrency.
    #[serde(default)]
    pub unreserved: bool,
    /// Mean function duration, ms.
    pub mean_duration_ms: f64,
    /// c ÷ mean duration, req/s.
    pub littles_law_max_rate: f64,
    /// Highest offered rate whose Lambda throttle share stayed under 1%.
    pub highest_sustainable_rate: Option<f64>,
    /// The invocation-rate limit, 10 × the reserved concurrency, invocations/s.
    #[serde(default)]
    pub invocation_rate_limit: Option<f64>,
    /// Which limit refused the throttled invocations (the local stack says; AWS does not).
    #[serde(default)]
    pub throttles_by_reason: Option<ThrottlesByReason>,
    /// How the simulated shares were drawn (hold times and replications), when they were.
    #[serde(default)]
    pub simulation: Option<String>,
    /// The curve.
    pub points: Vec<KneePoint>,
}

/// The cost section of the results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CostResult {
    /// Region priced.
    pub region: String,
    /// When the price list was checked.
    pub prices_checked: String,
    /// The usage priced, for this run.
    pub usage: Usage,
    /// Where each usage figure came from.
    pub sources: Vec<String>,
    /// This run.
    pub run: Breakdown,
    /// Run cost ÷ requests × 1,000,000.
    pub per_million_usd: f64,
    /// Average target rate, req/s.
    pub average_rate: f64,
    /// Peak target rate, req/s.
    pub peak_rate: f64,
    /// A 30-day month at the average rate.
    pub monthly_average: Breakdown,
    /// A 30-day month at the peak rate, every request served as this run's served ones were
    /// (a run that throttled most of its peak would otherwise price mostly refusals).
    pub monthly_peak: Breakdown,
    /// Share of this run's responses a layer refused before the function served them (API
    /// Gateway or Lambda throttles): what the month at peak prices as served.
    #[serde(default)]
    pub refused_share: f64,
    /// What loadgen itself caused, apart from the target's cost: its `GetMetricData` calls and,
    /// when it seeded the table on the local stack, those writes at on-demand prices.
    #[serde(default)]
    pub harness_usd: f64,
    /// What the monthly free tier would take off the average month (shown, not applied).
    pub free_tier_monthly_usd: f64,
    /// Client-vs-server comparisons (CloudWatch present).
    pub reconciliation: Vec<Reconciliation>,
    /// Per request kind.
    pub by_request: Vec<RequestCost>,
    /// Batch vs per-item, when both ran.
    pub batch_vs_item: Option<BatchVsItem>,
    /// The knee, when reserved concurrency is known and Lambda throttled.
    pub knee: Option<Knee>,
    /// Caveats of this estimate.
    pub notes: Vec<String>,
    /// Each function of the stack as its REPORT lines bill it, when the stack has several
    /// (the usage's `lambda_billed_ms` then counts the others at the main function's memory,
    /// so its GB-seconds are their sum).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<FunctionBill>,
}

/// One function's invocations as its REPORT lines bill them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FunctionBill {
    /// Function name.
    pub name: String,
    /// Configured memory, MB.
    pub memory_mb: u32,
    /// REPORT lines in the measured window.
    pub invocations: f64,
    /// Of them, those with an `Init Duration`: cold starts.
    pub cold_starts: f64,
    /// `Billed Duration` summed, ms.
    pub billed_ms: f64,
}

/// One line of the cost breakdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// API Gateway requests.
    ApiGatewayRequests,
    /// Lambda requests.
    LambdaRequests,
    /// Lambda GB-seconds.
    LambdaDuration,
    /// Lambda provisioned concurrency configured.
    LambdaProvisionedConcurrency,
    /// Lambda GB-seconds on provisioned environments.
    LambdaProvisionedDuration,
    /// DynamoDB read request units.
    DynamoDbReads,
    /// DynamoDB write request units.
    DynamoDbWrites,
    /// DynamoDB provisioned capacity.
    DynamoDbProvisioned,
    /// CloudWatch `GetMetricData`.
    CloudWatchMetrics,
    /// CloudWatch Logs ingestion.
    CloudWatchLogs,
}

impl Component {
    /// Every component, in the order the reports list them.
    pub const ALL: [Component; 10] = [
        Component::ApiGatewayRequests,
        Component::LambdaRequests,
        Component::LambdaDuration,
        Component::LambdaProvisionedConcurrency,
        Component::LambdaProvisionedDuration,
        Component::DynamoDbReads,
        Component::DynamoDbWrites,
        Component::DynamoDbProvisioned,
        Component::CloudWatchMetrics,
        Component::CloudWatchLogs,
    ];

    /// What the reports call it.
    pub fn label(self) -> &'static str {
        match self {
            Component::ApiGatewayRequests => "API Gateway requests",
            Component::LambdaRequests => "Lambda requests",
            Component::LambdaDuration => "Lambda duration (GB-s)",
            Component::LambdaProvisionedConcurrency => "Lambda provisioned concurrency",
            Component::LambdaProvisionedDuration => "Lambda duration on provisioned (GB-s)",
            Component::DynamoDbReads => "DynamoDB reads",
            Component::DynamoDbWrites => "DynamoDB writes",
            Component::DynamoDbProvisioned => "DynamoDB provisioned capacity",
            Component::CloudWatchMetrics => "CloudWatch GetMetricData (loadgen's own pull)",
            Component::CloudWatchLogs => "CloudWatch Logs",
        }
    }
}

impl Breakdown {
    /// The cost of one component, USD.
    pub fn of(&self, c: Component) -> f64 {
        match c {
            Component::ApiGatewayRequests => self.apigw_requests,
            Component::LambdaRequests => self.lambda_requests,
            Component::LambdaDuration => self.lambda_duration,
            Component::LambdaProvisionedConcurrency => self.lambda_provisioned_concurrency,
            Component::LambdaProvisionedDuration => self.lambda_provisioned_duration,
            Component::DynamoDbReads => self.dynamodb_reads,
            Component::DynamoDbWrites => self.dynamodb_writes,
            Component::DynamoDbProvisioned => self.dynamodb_provisioned,
            Component::CloudWatchMetrics => self.cloudwatch_metrics,
            Component::CloudWatchLogs => self.cloudwatch_logs,
        }
    }

    /// The target stack's `(component, USD)` in report order — never the harness's own
    /// `GetMetricData` — the provisioned ones only when there is provisioned concurrency, or a
    /// provisioned table.
    pub fn components(&self) -> impl Iterator<Item = (Component, f64)> + '_ {
        let provisioned = self.lambda_provisioned_concurrency + self.lambda_provisioned_duration > 0.0;
        Component::ALL
            .into_iter()
            .filter(move |c| {
                provisioned
                    || !matches!(c, Component::LambdaProvisionedConcurrency | Component::LambdaProvisionedDuration)
            })
            .filter(|c| *c != Component::DynamoDbProvisioned || self.dynamodb_provisioned > 0.0)
            .filter(|c| *c != Component::CloudWatchMetrics)
            .map(|c| (c, self.of(c)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provisioned_environments_serve_no_more_than_they_have_time_for() {
        // 2 environments for 60 s served 30 s of the 40 s billed; 10× the traffic over the same
        // 60 s would need 300 s of them, and they have 120 s: the rest spills to on-demand.
        let u = Usage {
            lambda_billed_ms: 40_000.0,
            provisioned_billed_ms: 30_000.0,
            provisioned_concurrency: 2,
            provisioned_seconds: 60.0,
            memory_mb: 1024,
            ..Usage::default()
        };
        let ten = u.scaled(10.0);
        assert_eq!(ten.provisioned_billed_ms, 120_000.0);
        assert_eq!(ten.on_demand_gb_seconds(), 280.0);
        // A month at the same traffic: 43,200× the window, well within 2 × 30 days.
        let month = u.month(MONTH_SECONDS / 60.0);
        assert_eq!(month.provisioned_seconds, MONTH_SECONDS);
        assert_eq!(month.provisioned_billed_ms, 30_000.0 * MONTH_SECONDS / 60.0);
    }
}
