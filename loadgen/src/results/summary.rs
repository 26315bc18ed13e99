//! The summaries results.json gives of any set of requests (a run, a phase, a request kind):
//! counts by class, error and throttle rates, latency statistics, cold starts, and the sums of
//! the function's diagnostic headers.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::record::histogram::{max_ms, mean_ms, min_ms, quantile_ms};
use crate::record::recorder::DiagSum;
use crate::record::{Class, ClassCounts, Recorder};

/// Latency statistics of one histogram, in ms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    /// Statistics of a µs histogram (all zero when it is empty).
    pub fn of(h: &Histogram<u64>) -> Stats {
        if h.is_empty() {
            return Stats::default();
        }
        Stats {
            count: h.len(),
            mean_ms: mean_ms(h),
            min_ms: min_ms(h),
            p50_ms: quantile_ms(h, 0.5),
            p90_ms: quantile_ms(h, 0.9),
            p95_ms: quantile_ms(h, 0.95),
            p99_ms: quantile_ms(h, 0.99),
            p999_ms: quantile_ms(h, 0.999),
            max_ms: max_ms(h),
        }
    }
}

/// Counts and latency of a set of requests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    /// Completed requests.
    pub requests: u64,
    /// Completed requests by outcome class.
    pub by_class: ClassCounts,
    /// Share failed (`client_error`, `function_error`, `timeout`, `transport_error`).
    pub error_rate: f64,
    /// Share throttled by any layer.
    pub throttle_rate: f64,
    /// Responses marked `x-cold-start: true`.
    pub cold_starts: u64,
    /// Corrected latency (from the intended send time) of the ok responses: the headline, as
    /// k6's `expected_response:true` — a throttle answered in 5 ms is not a fast request.
    pub latency: Stats,
    /// Service time (from the actual send) of the ok responses.
    pub service_time: Stats,
    /// Corrected latency of every other class that answered, by class (absent: none did).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub class_latency: BTreeMap<Class, Stats>,
}

impl Summary {
    /// Cold starts as a share of completed requests (0 when none completed).
    pub fn cold_start_rate(&self) -> f64 {
        if self.requests == 0 { 0.0 } else { self.cold_starts as f64 / self.requests as f64 }
    }
}

/// Diagnostic headers summed and averaged per request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    /// Of the responses, the ones the table served (any class but `dynamodb_throttled`;
    /// absent from results written before it was recorded).
    #[serde(default, alias = "ok_responses")]
    pub served_responses: u64,
    /// Mean DynamoDB calls per served response: what a request makes.
    #[serde(default, alias = "ok_ddb_calls_per_request")]
    pub served_ddb_calls_per_request: f64,
    /// Mean read units per served response.
    #[serde(default, alias = "ok_rcu_per_request")]
    pub served_rcu_per_request: f64,
    /// Mean write units per served response.
    #[serde(default, alias = "ok_wcu_per_request")]
    pub served_wcu_per_request: f64,
    /// Responses whose billed duration the local stack said (any function's, diagnostics or
    /// not).
    #[serde(default)]
    pub billed_responses: u64,
    /// Their mean billed duration, ms (INIT included on cold starts).
    #[serde(default)]
    pub billed_ms_mean: f64,
}

impl From<DiagSum> for DiagnosticsResult {
    fn from(d: DiagSum) -> Self {
        let per = |v: f64| if d.responses == 0 { 0.0 } else { v / d.responses as f64 };
        let served = |v: f64| if d.served_responses == 0 { 0.0 } else { v / d.served_responses as f64 };
        DiagnosticsResult {
            responses: d.responses,
            ddb_calls: d.ddb_calls,
            rcu: d.rcu,
            wcu: d.wcu,
            ddb_calls_per_request: per(d.ddb_calls),
            rcu_per_request: per(d.rcu),
            wcu_per_request: per(d.wcu),
            handler_ms_mean: per(d.handler_us) / 1000.0,
            served_responses: d.served_responses,
            served_ddb_calls_per_request: served(d.served_ddb_calls),
            served_rcu_per_request: served(d.served_rcu),
            served_wcu_per_request: served(d.served_wcu),
            billed_responses: d.billed_responses,
            billed_ms_mean: if d.billed_responses == 0 { 0.0 } else { d.billed_ms / d.billed_responses as f64 },
        }
    }
}

/// Summary of the recorded cells of one request kind and/or phase (`None` = all).
pub fn summarize(rec: &Recorder, request: Option<&[usize]>, phase: Option<usize>) -> Summary {
    let counts = rec.counts(request, phase);
    let (lat, svc) = rec.merged(request, phase, Some(Class::Ok));
    let class_latency = crate::record::ALL
        .into_iter()
        .filter(|c| *c != Class::Ok && counts[*c] > 0)
        .map(|c| (c, Stats::of(&rec.merged(request, phase, Some(c)).0)))
        .collect();
    let cold_starts = rec.cold_starts_of(request, phase);
    Summary {
        requests: counts.total(),
        by_class: counts,
        error_rate: counts.share(Class::is_error).unwrap_or(0.0),
        throttle_rate: counts.share(Class::is_throttle).unwrap_or(0.0),
        cold_starts,
        latency: Stats::of(&lat),
        service_time: Stats::of(&svc),
        class_latency,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_written_with_the_ok_names_keep_their_figures() {
        let old = r#"{"responses":4,"ddb_calls":3,"rcu":3,"wcu":0,"ddb_calls_per_request":0.75,"rcu_per_request":0.75,
            "wcu_per_request":0,"handler_ms_mean":1,"ok_responses":3,"ok_ddb_calls_per_request":1,"ok_rcu_per_request":1,
            "ok_wcu_per_request":0}"#;
        let d: DiagnosticsResult = serde_json::from_str(old).unwrap();
        assert_eq!((d.served_responses, d.served_rcu_per_request), (3, 1.0));
    }
}
