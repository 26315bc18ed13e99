//! The results document: one versioned JSON file (`results.json`) holding the scenario, the
//! environment, per-phase and per-request summaries, every histogram in HdrHistogram's standard
//! V2 compressed encoding (so runs and workers merge exactly), the per-second series, the cost
//! and the threshold verdicts. Typed end to end; `docs/results.schema.json` is generated from
//! these types and `docs/results-schema.md` explains each field.
//!
//! This module only reads what is below it (the plan, the recorder); everything after the run
//! (cost, gates, compare, renderers) reads it.

pub mod build;
pub mod calibration;
pub mod cloudwatch;
pub mod codec;
pub mod cost;
pub mod fleet;
pub mod summary;
pub mod target;

use hdrhistogram::Histogram;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use build::RunFacts;
pub use calibration::Calibration;
pub use cloudwatch::{CloudWatchSource, MetricId, Pulled};
pub use codec::{HistogramError, LoadError, decode, encode};
pub use cost::CostResult;
pub use summary::{DiagnosticsResult, Stats, Summary};
pub use target::{InfraOutputs, TargetInfo, TargetKind};

use crate::record::Class;
use crate::record::histogram;
use crate::record::recorder::Second;
use crate::scenario::{Plan, Unit};

/// The schema identifier written into every document.
pub const SCHEMA: &str = "loadgen.results/v1";

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every phase ran to its end.
    Completed,
    /// Stopped early: Ctrl-C, SIGTERM, a dead target, or an abort-on-fail threshold.
    Aborted,
    /// Part of the plan's load has no results: fleet workers were lost, their arrivals counted
    /// as not sent (`abort_reason` names them). Never a pass.
    Partial,
}

/// One phase's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PhaseResult {
    /// Phase name.
    pub name: String,
    /// Planned duration, s.
    pub duration_s: f64,
    /// Mean target rate (open model), req/s.
    pub target_rate: Option<f64>,
    /// Requests sent in the phase.
    pub sent: u64,
    /// Sent ÷ the time the phase ran.
    pub achieved_rate: f64,
    /// Arrivals of its schedule still unsent when it ended (the in-flight bound or the machine
    /// held them back); never sent late.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub not_sent: u64,
    /// Arrivals of lost fleet workers' shards (status `partial`): nothing of them was measured,
    /// and whether the target got some of them is not known.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lost: u64,
    /// What came back.
    pub summary: Summary,
}

/// One request kind's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RequestResult {
    /// Request name.
    pub name: String,
    /// Method.
    pub method: String,
    /// Path template as written.
    pub path: String,
    /// What came back.
    pub summary: Summary,
    /// Latency of cold-start responses.
    pub cold_latency: Stats,
    /// Latency of warm responses.
    pub warm_latency: Stats,
    /// Sums of the function's diagnostic headers.
    pub diagnostics: DiagnosticsResult,
    /// What its checks found, when it has a `check`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<ChecksResult>,
    /// The `[targets.NAME]` it was sent to (absent: `[target]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// What the requests sent to one target came to, when a scenario has `[targets.NAME]`s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TargetResult {
    /// `default` for `[target]`, else the name of its `[targets.NAME]`.
    pub name: String,
    /// Its base URL.
    pub url: String,
    /// The request kinds sent to it.
    pub requests: Vec<String>,
    /// What came back.
    pub summary: Summary,
    /// Of its requests, those API Gateway refused at authorization.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gateway_denied: u64,
}

pub use crate::record::checks::CheckFailure;

/// What a request kind's checks found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChecksResult {
    /// Responses checked (every completed request of the kind, none answered included).
    pub checked: u64,
    /// Of them, failed.
    pub failed: u64,
    /// `failed ÷ checked`.
    pub rate: f64,
    /// The first few failures: status, what was wrong, the body cut short and redacted.
    pub failures: Vec<CheckFailure>,
}

/// The generator's own health.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GeneratorHealth {
    /// Sends more than 5 ms after their intended time.
    pub late_sends: u64,
    /// Arrivals never sent: still held back (by the in-flight bound or the machine) when their
    /// phase ended. More than 1% of the schedule makes the run saturated.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub not_sent: u64,
    /// Requests that could not open a connection: this process (or the system) had no file
    /// descriptor left ("Too many open files"). Arrivals among them are counted in `not_sent`
    /// too; any makes the run saturated.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub out_of_files: u64,
    /// Whether the generator could not keep the schedule: lag p99 over 10 ms, more than 1% of
    /// sends late, more than 1% of arrivals not sent, or any request without a file descriptor.
    pub saturated: bool,
    /// Scheduling lag p50, ms.
    pub lag_p50_ms: f64,
    /// Scheduling lag p99, ms.
    pub lag_p99_ms: f64,
    /// Scheduling lag max, ms.
    pub lag_max_ms: f64,
    /// CPU time the loadgen process used (user + system), s — including the embedded local
    /// stack's emulators when it ran one (not the target-api processes).
    pub cpu_seconds: f64,
    /// The in-flight bound.
    pub max_in_flight: usize,
    /// Responses where the local stack's true cause disagreed with the AWS heuristic.
    pub heuristic_mismatches: u64,
    /// The connections opened: before the schedule started and during it, and how long
    /// opening took. Absent when none was opened (and from results written before it was
    /// measured).
    #[serde(default, skip_serializing_if = "ConnectionStats::is_empty")]
    pub connections: ConnectionStats,
    /// Fleet workers (invokes) whose clock was surely more than 10 ms off the coordinator's:
    /// their shards went out that far off the schedule; any makes the run saturated.
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub clock_skewed: u32,
}

/// The connections the generator opened (`[target] connections` before the start, more when
/// the schedule needed them) and their connect time: name lookup and TCP, plus TLS on https.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConnectionStats {
    /// Opened before the schedule started: their connect time is in no request's latency.
    pub opened_before: u64,
    /// Opened during the run, mostly by requests that found none idle: their connect time is
    /// then in those requests' latency, as it would be for a real client (the general https
    /// client also finishes, in the background, a connect an idle connection beat).
    pub opened_during: u64,
    /// Connect time p50, ms.
    pub connect_p50_ms: f64,
    /// Connect time p99, ms.
    pub connect_p99_ms: f64,
    /// Connect time max, ms.
    pub connect_max_ms: f64,
}

impl ConnectionStats {
    /// Nothing was opened (or the results predate the figure).
    pub fn is_empty(&self) -> bool {
        self.opened_before == 0 && self.opened_during == 0
    }
}

/// One threshold's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ThresholdResult {
    /// Key as written.
    pub key: String,
    /// Condition as written.
    pub condition: String,
    /// What was measured, in the limit's unit (NaN, written as null, when nothing was).
    #[serde(with = "nan_as_null")]
    #[schemars(with = "Option<f64>")]
    pub measured: f64,
    /// The limit.
    pub limit: f64,
    /// The unit of `measured` and `limit`.
    pub unit: Unit,
    /// Passed.
    pub passed: bool,
    /// Configured to abort the run.
    pub abort_on_fail: bool,
}

/// JSON has no NaN: `serde_json` writes it as null, and null reads back as NaN here.
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_nan() { s.serialize_none() } else { s.serialize_f64(*v) }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// What one flow's instances came to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FlowResult {
    /// The flow's name.
    pub name: String,
    /// Its steps' request kinds, in order.
    pub steps: Vec<String>,
    /// Instances started.
    pub started: u64,
    /// Instances whose every step was answered (whatever their checks said).
    pub completed: u64,
    /// Instances ended by a step that got no response or whose capture found nothing.
    pub failed: u64,
    /// Instances cut between steps by the run's end, a stop or a closed phase's end.
    pub cut: u64,
    /// Completed instances' duration, from the arrival's intended time to the last answer,
    /// think time included.
    pub duration: Stats,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

/// One histogram cell, losslessly encoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HistogramCell {
    /// Request name.
    pub request: String,
    /// Phase name.
    pub phase: String,
    /// Outcome class.
    pub class: Class,
    /// Corrected latency, µs, V2 deflate, base64.
    pub latency: String,
    /// Service time, µs, V2 deflate, base64.
    pub service_time: String,
}

/// The machine and the clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Environment {
    /// loadgen version.
    pub loadgen_version: String,
    /// OS and architecture.
    pub os: String,
    /// Logical CPUs.
    pub cpus: usize,
    /// Start of the measured phases, RFC 3339 UTC.
    pub started_at: String,
    /// End, RFC 3339 UTC.
    pub finished_at: String,
}

/// The whole document. Reading it back is strict about its shape, so a field added to any type
/// recorded here (the plan, the stack's settings included) must be optional or defaulted, or
/// documents written before it stop reading; the sample fixture, from an earlier run, is there
/// to catch that.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Results {
    /// [`SCHEMA`].
    pub schema: String,
    /// How the run ended.
    pub status: Status,
    /// Why it was stopped early.
    pub abort_reason: Option<String>,
    /// True when the run completed and every threshold passed (never for an aborted run).
    pub passed: bool,
    /// The validated scenario (header values redacted, body templates left out).
    pub scenario: Plan,
    /// Where the load went.
    pub target: TargetInfo,
    /// Machine and times.
    pub environment: Environment,
    /// Measured duration, s.
    pub duration_s: f64,
    /// Planned mean rate over all open-model phases, req/s.
    pub target_rate: Option<f64>,
    /// Arrivals sent ÷ duration (a flow instance is one arrival, however many steps it sends).
    pub achieved_rate: f64,
    /// Generator health.
    pub generator: GeneratorHealth,
    /// Everything together.
    pub totals: Summary,
    /// Per phase.
    pub phases: Vec<PhaseResult>,
    /// Per request kind, in the plan's order (a flow's steps are kinds of their own).
    pub requests: Vec<RequestResult>,
    /// Requests API Gateway refused at authorization (IAM, a JWT authorizer): counted as
    /// `client_error`, and not billed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gateway_denied: u64,
    /// Per flow, in the plan's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flows: Vec<FlowResult>,
    /// Per target — `[target]` as `default`, then each `[targets.NAME]` — when the scenario
    /// names any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetResult>,
    /// Threshold verdicts.
    pub thresholds: Vec<ThresholdResult>,
    /// Per second.
    pub series: Vec<Second>,
    /// What the run cost (absent when pricing failed, e.g. an unknown region, or nothing
    /// measured what the function billed).
    pub cost: Option<CostResult>,
    /// Why `cost` is absent, when it is.
    #[serde(default)]
    pub cost_unknown: Option<String>,
    /// What CloudWatch reported for the run window (absent with `--no-cloudwatch`).
    pub cloudwatch: Option<Pulled>,
    /// What a simulation of this run draws from (absent without REPORT lines: a URL target).
    #[serde(default)]
    pub calibration: Option<Calibration>,
    /// How the load was sent from a fleet of workers (`--fleet`); absent for one host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet: Option<fleet::FleetResult>,
    /// Every non-empty histogram cell.
    pub histograms: Vec<HistogramCell>,
}

impl Results {
    /// Corrected latency and service time over the cells `keep` selects, merged exactly from
    /// the stored histograms.
    pub fn merged(
        &self,
        keep: impl Fn(&HistogramCell) -> bool,
    ) -> Result<(Histogram<u64>, Histogram<u64>), HistogramError> {
        let mut lat = histogram::new();
        let mut svc = histogram::new();
        for c in self.histograms.iter().filter(|c| keep(c)) {
            let (l, s) = c.decode()?;
            lat.add(&l).map_err(|_| HistogramError::of(c))?;
            svc.add(&s).map_err(|_| HistogramError::of(c))?;
        }
        Ok((lat, svc))
    }

    /// The scenario's name.
    pub fn name(&self) -> &str {
        &self.scenario.name
    }

    /// The reserved-concurrency limit in force, from the local stack's settings, the deployed
    /// stack's outputs or the cost stage's knee.
    pub fn reserved_concurrency(&self) -> Option<f64> {
        let t = &self.target;
        t.stack
            .as_ref()
            .map(|s| s.concurrency_limit() as f64)
            .or_else(|| t.infra.as_ref().and_then(|i| i.reserved_concurrency).map(f64::from))
            .or_else(|| self.cost.as_ref().and_then(|c| c.knee.as_ref()).map(|k| k.reserved_concurrency as f64))
    }

    /// Sets the threshold verdicts and whether they all passed.
    /// A run stopped early never passes, whatever its thresholds said of the part that ran.
    pub fn set_verdicts(&mut self, verdicts: Vec<ThresholdResult>) {
        self.passed = self.status == Status::Completed && verdicts.iter().all(|t| t.passed);
        self.thresholds = verdicts;
    }
}

/// The JSON Schema of results.json, generated from these types (`docs/results.schema.json`).
/// Every object is closed (`additionalProperties: false`): a field the types do not document
/// makes a document invalid, so the schema cannot fall behind what loadgen writes.
pub fn json_schema() -> schemars::Schema {
    closed_schema::<Results>()
}

/// The JSON Schema of `T` with every object closed: a field the types do not describe makes a
/// document invalid.
pub fn closed_schema<T: JsonSchema>() -> schemars::Schema {
    use schemars::transform::{RecursiveTransform, Transform};
    let mut schema = schemars::schema_for!(T);
    RecursiveTransform(|s: &mut schemars::Schema| {
        if s.get("properties").is_some() && s.get("additionalProperties").is_none() {
            s.insert("additionalProperties".into(), false.into());
        }
    })
    .transform(&mut schema);
    schema
}
