//! Thresholds evaluated against what was recorded: exactly, from merged histograms, never from
//! percentiles of percentiles.

use crate::billing::CostResult;
use crate::outcome::{ALL, Class};
use crate::recorder::Recorder;
use crate::results::ThresholdResult;
use crate::scenario::threshold::Unit;
use crate::scenario::{Metric, Plan, Threshold};

/// The measured value of `t`, in its limit's unit, or `None` when nothing was measured yet.
/// Cost metrics need the finished run's cost.
pub fn measure(plan: &Plan, rec: &Recorder, t: &Threshold, elapsed_s: f64, cost: Option<&CostResult>) -> Option<f64> {
    let request = t.request.as_ref().and_then(|name| plan.requests.iter().position(|r| &r.name == name));
    let counts = rec.counts(request, None);
    let total: u64 = counts.iter().sum();
    let share = |pred: &dyn Fn(Class) -> bool| {
        (total > 0)
            .then(|| ALL.iter().filter(|c| pred(**c)).map(|c| counts[c.index()]).sum::<u64>() as f64 / total as f64)
    };
    let pct = |h: &hdrhistogram::Histogram<u64>, p: Option<f64>| -> Option<f64> {
        if h.is_empty() {
            return None;
        }
        Some(match p {
            None => h.mean() / 1000.0,
            Some(q) if q >= 100.0 => h.max() as f64 / 1000.0,
            Some(q) if q <= 0.0 => h.min() as f64 / 1000.0,
            Some(q) => h.value_at_quantile(q / 100.0) as f64 / 1000.0,
        })
    };
    match &t.metric {
        Metric::Latency { percentile } => pct(&rec.merged(request, None, None).0, *percentile),
        Metric::ServiceTime { percentile } => pct(&rec.merged(request, None, None).1, *percentile),
        Metric::ErrorRate => share(&|c| c.is_error()),
        Metric::ThrottleRate => share(&|c| c.is_throttle()),
        Metric::ClassRate { class } => share(&|c| c.name() == class),
        Metric::ClassCount { class } => {
            Some(ALL.iter().filter(|c| c.name() == class).map(|c| counts[c.index()]).sum::<u64>() as f64)
        }
        Metric::ColdStartCount => Some(match request {
            Some(r) => rec.cold[r].len() as f64,
            None => rec.cold_starts() as f64,
        }),
        Metric::ColdStartRate => {
            let cold = match request {
                Some(r) => rec.cold[r].len(),
                None => rec.cold_starts(),
            };
            (total > 0).then(|| cold as f64 / total as f64)
        }
        Metric::RequestCount => Some(total as f64),
        Metric::AchievedRate => (elapsed_s > 0.0).then(|| rec.sent.iter().sum::<u64>() as f64 / elapsed_s),
        Metric::CostRun => cost.map(|c| c.run.total),
        Metric::CostPerMillion => match (cost, request) {
            (Some(c), Some(r)) => c.by_request.get(r).map(|x| x.per_million_usd),
            (Some(c), None) => Some(c.per_million_usd),
            _ => None,
        },
        Metric::CostMonthly => cost.map(|c| c.monthly_average.total),
    }
}

/// Verdicts of every threshold. A threshold with nothing measured fails: a gate that cannot
/// see anything must not pass.
pub fn evaluate(plan: &Plan, rec: &Recorder, elapsed_s: f64, cost: Option<&CostResult>) -> Vec<ThresholdResult> {
    plan.thresholds
        .iter()
        .map(|t| {
            let measured = measure(plan, rec, t, elapsed_s, cost);
            ThresholdResult {
                key: t.key.clone(),
                condition: t.condition.clone(),
                measured: measured.unwrap_or(f64::NAN),
                limit: t.limit,
                unit: match t.metric.unit() {
                    Unit::Millis => "ms",
                    Unit::Fraction => "ratio",
                    Unit::Count => "count",
                }
                .to_owned(),
                passed: measured.is_some_and(|m| t.cmp.holds(m, t.limit)),
                abort_on_fail: t.abort_on_fail,
            }
        })
        .collect()
}

/// The first abort-on-fail threshold failing now (checked once enough has been measured).
pub fn abort_check(plan: &Plan, rec: &Recorder, elapsed_s: f64) -> Option<String> {
    let total: u64 = rec.counts(None, None).iter().sum();
    // Judge no run on its first handful of answers.
    if total < 50 {
        return None;
    }
    plan.thresholds.iter().filter(|t| t.abort_on_fail).find_map(|t| {
        let m = measure(plan, rec, t, elapsed_s, None)?;
        (!t.cmp.holds(m, t.limit)).then(|| format!("threshold {} {} failed (measured {m:.4})", t.key, t.condition))
    })
}
