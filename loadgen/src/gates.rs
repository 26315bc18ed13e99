//! The threshold gate: each `[thresholds]` entry measured against what was recorded — exactly,
//! from merged histograms, never from percentiles of percentiles — during the run (for
//! `abort_on_fail`) and after it, with the cost. `compare` is the other gate, against a baseline.

use crate::record::histogram::statistic_ms;
use crate::record::recorder::DiagSum;
use crate::record::{Class, Recorder, Stop};
use crate::results::{CostResult, ThresholdResult};
use crate::scenario::{Metric, Plan, Threshold};

/// Seconds phase `phase` (or the whole run, with `None`) has run after `elapsed_s` of the run.
fn seconds_run(plan: &Plan, phase: Option<usize>, elapsed_s: f64) -> f64 {
    match phase {
        None => elapsed_s,
        Some(i) => {
            let start = plan.phase_start(i).as_secs_f64();
            (elapsed_s - start).clamp(0.0, plan.phases[i].duration.as_secs_f64())
        }
    }
}

/// The measured value of `t`, in its limit's unit, or `None` when nothing was measured yet.
/// Cost metrics need the finished run's cost.
pub fn measure(plan: &Plan, rec: &Recorder, t: &Threshold, elapsed_s: f64, cost: Option<&CostResult>) -> Option<f64> {
    // A request kind, or every kind sent to a target; a flow's name scopes only flow metrics.
    let scope = t.request.as_ref().and_then(|name| plan.scope_requests(name));
    let request = scope.as_deref();
    let phase = t.phase.as_ref().and_then(|name| plan.phase_index(name));
    let counts = rec.counts(request, phase);
    let cold = rec.cold_starts_of(request, phase);
    match &t.metric {
        Metric::Latency { percentile } => statistic_ms(&rec.merged(request, phase, Some(Class::Ok)).0, *percentile),
        Metric::ServiceTime { percentile } => statistic_ms(&rec.merged(request, phase, Some(Class::Ok)).1, *percentile),
        Metric::ClassLatency { class, percentile } => {
            statistic_ms(&rec.merged(request, phase, Some(*class)).0, *percentile)
        }
        Metric::ErrorRate => counts.share(Class::is_error),
        Metric::ThrottleRate => counts.share(Class::is_throttle),
        Metric::ClassRate { class } => counts.share(|c| c == *class),
        Metric::ClassCount { class } => Some(counts[*class] as f64),
        Metric::ColdStartCount => Some(cold as f64),
        Metric::ColdStartRate => {
            let total = counts.total();
            (total > 0).then(|| cold as f64 / total as f64)
        }
        Metric::RequestCount => Some(counts.total() as f64),
        Metric::AchievedRate => {
            let sent = phase.map_or_else(|| rec.sent_total(), |i| rec.sent[i]);
            let secs = seconds_run(plan, phase, elapsed_s);
            (secs > 0.0).then(|| sent as f64 / secs)
        }
        Metric::NotSentCount => Some(phase.map_or_else(|| rec.not_sent.iter().sum(), |i| rec.not_sent[i]) as f64),
        Metric::NotSentRate => {
            let of = |v: &[u64]| phase.map_or_else(|| v.iter().sum(), |i| v[i]);
            let (sent, unsent) = (of(&rec.sent), of(&rec.not_sent));
            (sent + unsent > 0).then(|| unsent as f64 / (sent + unsent) as f64)
        }
        // Cost metrics are whole-run figures; validation refuses them with a phase.
        Metric::CostRun => cost.map(|c| c.run.total),
        Metric::CostPerMillion => match (cost, &t.request) {
            (Some(c), Some(name)) => c.by_request.iter().find(|x| &x.name == name).map(|x| x.per_million_usd),
            (Some(c), None) => Some(c.per_million_usd),
            _ => None,
        },
        Metric::CostMonthly => cost.map(|c| c.monthly_average.total),
        Metric::ReadUnitsPerRequest => per_response(rec, request, |d| d.rcu),
        Metric::WriteUnitsPerRequest => per_response(rec, request, |d| d.wcu),
        Metric::DynamoDbCallsPerRequest => per_response(rec, request, |d| d.ddb_calls),
        Metric::FlowDuration { percentile } => {
            let mut h = crate::record::histogram::new();
            for (f, sum) in plan.flows.iter().zip(&rec.flows) {
                if t.request.as_ref().is_none_or(|n| *n == f.name) {
                    let _ = h.add(&sum.duration);
                }
            }
            statistic_ms(&h, *percentile)
        }
        Metric::FlowsFailedRate => {
            let (mut ended, mut failed) = (0, 0);
            for (f, sum) in plan.flows.iter().zip(&rec.flows) {
                if t.request.as_ref().is_none_or(|n| *n == f.name) {
                    ended += sum.completed + sum.failed;
                    failed += sum.failed;
                }
            }
            (ended > 0).then(|| failed as f64 / ended as f64)
        }
        Metric::ChecksRate | Metric::ChecksFailed => {
            let sums: Vec<&crate::record::checks::CheckSum> = match request {
                Some(rs) => rs.iter().filter_map(|r| rec.checks.get(*r)).collect(),
                None => rec.checks.iter().collect(),
            };
            let (checked, failed) = sums.iter().fold((0, 0), |(c, f), s| (c + s.checked, f + s.failed));
            match t.metric {
                Metric::ChecksFailed => (checked > 0).then_some(failed as f64),
                _ => (checked > 0).then(|| failed as f64 / checked as f64),
            }
        }
    }
}

/// A diagnostic header's sum per response that carried diagnostics, for some request kinds or
/// all; `None` before any did.
fn per_response(rec: &Recorder, request: Option<&[usize]>, field: fn(&DiagSum) -> f64) -> Option<f64> {
    let sums: Vec<&DiagSum> = match request {
        Some(rs) => rs.iter().filter_map(|r| rec.diag.get(*r)).collect(),
        None => rec.diag.iter().collect(),
    };
    let responses: u64 = sums.iter().map(|d| d.responses).sum();
    (responses > 0).then(|| sums.iter().map(|d| field(d)).sum::<f64>() / responses as f64)
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
                unit: t.metric.unit(),
                passed: measured.is_some_and(|m| t.cmp.holds(m, t.limit)),
                abort_on_fail: t.abort_on_fail,
            }
        })
        .collect()
}

/// The first abort-on-fail threshold failing now (checked once enough has been measured).
pub fn abort_check(plan: &Plan, rec: &Recorder, elapsed_s: f64) -> Option<Stop> {
    // Judge no run on its first handful of answers.
    if rec.counts(None, None).total() < 50 {
        return None;
    }
    plan.thresholds.iter().filter(|t| t.abort_on_fail).find_map(|t| {
        let m = measure(plan, rec, t, elapsed_s, None)?;
        (!t.cmp.holds(m, t.limit)).then(|| Stop::Gate {
            key: t.key.clone(),
            condition: t.condition.clone(),
            measured: crate::report::shown(m, t.metric.unit()),
        })
    })
}
