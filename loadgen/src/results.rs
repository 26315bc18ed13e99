//! The results document: one versioned JSON file (`results.json`) holding the scenario, the
//! environment, per-phase and per-request summaries, every histogram in HdrHistogram's
//! standard V2 compressed encoding (so runs and workers merge exactly), the per-second series
//! and the threshold verdicts. `docs/results-schema.md` documents each field.

use std::collections::BTreeMap;

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

use crate::outcome::{ALL, Class};
use crate::recorder::{DiagSum, Recorder, Second};
use crate::scenario::Plan;

/// The schema identifier written into every document.
pub const SCHEMA: &str = "loadgen.results/v1";

/// Serde helpers: `Duration` as milliseconds.
pub mod duration_ms {
    use std::time::Duration;
    /// Serializes as ms (f64).
    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64() * 1e3)
    }
}

/// Serde helpers: `Option<Duration>` as milliseconds.
pub mod opt_duration_ms {
    use std::time::Duration;
    /// Serializes as ms (f64) or null.
    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&(d.as_secs_f64() * 1e3)),
            None => s.serialize_none(),
        }
    }
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every phase ran to its end.
    Completed,
    /// Stopped early: Ctrl-C, SIGTERM, a dead target, or an abort-on-fail threshold.
    Aborted,
}

/// Latency statistics of one histogram, in ms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Samples.
    pub count: u64,
    /// Mean.
    pub mean_ms: f64,
    /// Minimum.
    pub min_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Maximum.
    pub max_ms: f64,
}

impl Stats {
    /// Statistics of a µs histogram.
    pub fn of(h: &Histogram<u64>) -> Stats {
        if h.is_empty() {
            return Stats::default();
        }
        let ms = |v: u64| v as f64 / 1000.0;
        Stats {
            count: h.len(),
            mean_ms: h.mean() / 1000.0,
            min_ms: ms(h.min()),
            p50_ms: ms(h.value_at_quantile(0.5)),
            p90_ms: ms(h.value_at_quantile(0.9)),
            p95_ms: ms(h.value_at_quantile(0.95)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
        }
    }
}

/// Counts and latency of a set of requests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Completed requests.
    pub requests: u64,
    /// Completed requests by outcome class.
    pub by_class: BTreeMap<String, u64>,
    /// Share failed (`client_error`, `function_error`, `timeout`, `transport_error`).
    pub error_rate: f64,
    /// Share throttled by any layer.
    pub throttle_rate: f64,
    /// Responses marked `x-cold-start: true`.
    pub cold_starts: u64,
    /// Corrected latency (from the intended send time).
    pub latency: Stats,
    /// Service time (from the actual send).
    pub service_time: Stats,
}

/// One phase's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhaseResult {
    /// Phase name.
    pub name: String,
    /// Planned duration, s.
    pub duration_s: f64,
    /// Mean target rate (open model), req/s.
    pub target_rate: Option<f64>,
    /// Requests sent in the phase.
    pub sent: u64,
    /// Sent ÷ duration.
    pub achieved_rate: f64,
    /// What came back.
    pub summary: Summary,
}

/// One request kind's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestResult {
    /// Request name.
    pub name: String,
    /// Method.
    pub method: String,
    /// Path template.
    pub path: String,
    /// What came back.
    pub summary: Summary,
    /// Latency of cold-start responses.
    pub cold_latency: Stats,
    /// Latency of warm responses.
    pub warm_latency: Stats,
    /// Sums of the function's diagnostic headers.
    pub diagnostics: DiagnosticsResult,
}

/// Diagnostic headers summed and averaged per request.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DiagnosticsResult {
    /// Responses that carried diagnostics.
    pub responses: u64,
    /// DynamoDB calls in total.
    pub ddb_calls: f64,
    /// Read capacity units in total.
    pub rcu: f64,
    /// Write capacity units in total.
    pub wcu: f64,
    /// Mean DynamoDB calls per response.
    pub ddb_calls_per_request: f64,
    /// Mean read units per response.
    pub rcu_per_request: f64,
    /// Mean write units per response.
    pub wcu_per_request: f64,
    /// Mean handler time, ms.
    pub handler_ms_mean: f64,
}

impl From<DiagSum> for DiagnosticsResult {
    fn from(d: DiagSum) -> Self {
        let per = |v: f64| if d.responses == 0 { 0.0 } else { v / d.responses as f64 };
        DiagnosticsResult {
            responses: d.responses,
            ddb_calls: d.ddb_calls,
            rcu: d.rcu,
            wcu: d.wcu,
            ddb_calls_per_request: per(d.ddb_calls),
            rcu_per_request: per(d.rcu),
            wcu_per_request: per(d.wcu),
            handler_ms_mean: per(d.handler_us) / 1000.0,
        }
    }
}

/// The generator's own health.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GeneratorHealth {
    /// Sends more than 5 ms after their intended time.
    pub late_sends: u64,
    /// Whether the generator could not keep the schedule (see `docs/results-schema.md`).
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
}

/// One threshold's verdict.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// Key as written.
    pub key: String,
    /// Condition as written.
    pub condition: String,
    /// What was measured, in the limit's unit (ms, fraction or count).
    pub measured: f64,
    /// The limit.
    pub limit: f64,
    /// `ms`, `ratio` or `count`.
    pub unit: String,
    /// Passed.
    pub passed: bool,
    /// Configured to abort the run.
    pub abort_on_fail: bool,
}

/// One histogram cell, losslessly encoded.
#[derive(Debug, Clone, Serialize, Deserialize)]
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

/// Where the load went.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetInfo {
    /// `local-stack` or `url`.
    pub kind: String,
    /// Base URL.
    pub url: String,
    /// Local-stack settings in force.
    pub stack: Option<serde_json::Value>,
    /// Local-stack function log (REPORT lines).
    pub function_log: Option<String>,
    /// `terraform output` of the deployed stack (`--infra`): `api_url`, `api_id`, `stage`,
    /// `function_name`, `table_name`, `region`.
    pub infra: Option<serde_json::Value>,
}

/// The machine and the clock.
#[derive(Debug, Clone, Serialize, Deserialize)]
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

/// The whole document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    /// [`SCHEMA`].
    pub schema: String,
    /// How the run ended.
    pub status: Status,
    /// Why it was stopped early.
    pub abort_reason: Option<String>,
    /// True when every threshold passed.
    pub passed: bool,
    /// The validated scenario.
    pub scenario: serde_json::Value,
    /// Where the load went.
    pub target: TargetInfo,
    /// Machine and times.
    pub environment: Environment,
    /// Measured duration, s.
    pub duration_s: f64,
    /// Planned mean rate over all open-model phases, req/s.
    pub target_rate: Option<f64>,
    /// Requests sent ÷ duration.
    pub achieved_rate: f64,
    /// Generator health.
    pub generator: GeneratorHealth,
    /// Everything together.
    pub totals: Summary,
    /// Per phase.
    pub phases: Vec<PhaseResult>,
    /// Per request kind.
    pub requests: Vec<RequestResult>,
    /// Threshold verdicts.
    pub thresholds: Vec<ThresholdResult>,
    /// Per second.
    pub series: Vec<Second>,
    /// What the run cost (absent when pricing failed, e.g. an unknown region).
    pub cost: Option<crate::billing::CostResult>,
    /// What CloudWatch reported for the run window (absent with `--no-cloudwatch`).
    pub cloudwatch: Option<crate::cloudwatch::Pulled>,
    /// Every non-empty histogram cell.
    pub histograms: Vec<HistogramCell>,
}

impl Results {
    /// Corrected latency and service time over the cells `keep` selects, merged exactly from
    /// the stored histograms. Errors name the cell that does not decode.
    pub fn merged(&self, keep: impl Fn(&HistogramCell) -> bool) -> Result<(Histogram<u64>, Histogram<u64>), String> {
        let mut lat = crate::recorder::histogram();
        let mut svc = crate::recorder::histogram();
        for c in self.histograms.iter().filter(|c| keep(c)) {
            let bad = || {
                format!(
                    "histogram of request '{}', phase '{}', class {} does not decode",
                    c.request,
                    c.phase,
                    c.class.name()
                )
            };
            let l = decode(&c.latency).ok_or_else(bad)?;
            let s = decode(&c.service_time).ok_or_else(bad)?;
            lat.add(&l).map_err(|e| format!("{}: {e}", bad()))?;
            svc.add(&s).map_err(|e| format!("{}: {e}", bad()))?;
        }
        Ok((lat, svc))
    }

    /// The scenario's name.
    pub fn name(&self) -> &str {
        self.scenario["name"].as_str().unwrap_or("scenario")
    }

    /// The reserved-concurrency limit in force, from the local stack's settings, the deployed
    /// stack's outputs or the cost stage's knee.
    pub fn reserved_concurrency(&self) -> Option<f64> {
        let t = &self.target;
        t.stack
            .as_ref()
            .and_then(|s| s["function"]["reserved_concurrency"].as_f64())
            .or_else(|| t.infra.as_ref().and_then(|i| i["reserved_concurrency"].as_f64()))
            .or_else(|| self.cost.as_ref().and_then(|c| c.knee.as_ref()).map(|k| k.reserved_concurrency as f64))
    }
}

/// Summary of the cells matching the filters.
pub fn summarize(rec: &Recorder, request: Option<usize>, phase: Option<usize>) -> Summary {
    let counts = rec.counts(request, phase);
    let total: u64 = counts.iter().sum();
    let (lat, svc) = rec.merged(request, phase, None);
    let share = |pred: fn(Class) -> bool| {
        if total == 0 {
            0.0
        } else {
            ALL.iter().filter(|c| pred(**c)).map(|c| counts[c.index()]).sum::<u64>() as f64 / total as f64
        }
    };
    let cold_starts = match (request, phase) {
        (Some(r), None) => rec.cold[r].len(),
        (None, None) => rec.cold_starts(),
        // Cold starts are kept per request; per phase they come from the series.
        _ => 0,
    };
    Summary {
        requests: total,
        by_class: ALL.iter().map(|c| (c.name().to_owned(), counts[c.index()])).collect(),
        error_rate: share(Class::is_error),
        throttle_rate: share(Class::is_throttle),
        cold_starts,
        latency: Stats::of(&lat),
        service_time: Stats::of(&svc),
    }
}

/// V2 deflate + base64 of a histogram.
pub fn encode(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    let _ = V2DeflateSerializer::new().serialize(h, &mut buf);
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// Decodes [`encode`]'s output.
pub fn decode(text: &str) -> Option<Histogram<u64>> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(text).ok()?;
    hdrhistogram::serialization::Deserializer::new().deserialize(&mut bytes.as_slice()).ok()
}

/// Every non-empty cell, sorted for deterministic output.
pub fn histogram_cells(plan: &Plan, rec: &Recorder) -> Vec<HistogramCell> {
    let mut keys: Vec<_> = rec.cells.keys().copied().collect();
    keys.sort();
    keys.into_iter()
        .map(|k| {
            let cell = &rec.cells[&k];
            HistogramCell {
                request: plan.requests[k.0].name.clone(),
                phase: plan.phases[k.1].name.clone(),
                class: k.2,
                latency: encode(&cell.latency),
                service_time: encode(&cell.service),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_round_trip_exactly() {
        let mut h = crate::recorder::histogram();
        for v in [1u64, 250, 1_000, 33_333, 59_000_000] {
            h.record(v).unwrap();
        }
        let back = decode(&encode(&h)).unwrap();
        assert_eq!(back, h);
        assert_eq!(Stats::of(&back), Stats::of(&h));
    }
}
