//! Where Lambda throttling starts: the measured throttle share per offered rate against
//! Little's law (reserved concurrency ÷ mean duration) and the Erlang loss formula.

use local_stack::rules::INVOCATIONS_PER_SECOND_PER_CONCURRENCY;

use crate::record::Class;
use crate::results::cost::{Knee, KneePoint, ThrottlesByReason};
use crate::results::{MetricId, Pulled, Results};

/// Erlang B blocking probability with `c` servers and offered load `a` (erlangs).
pub fn erlang_b(c: u32, a: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (k as f64 + a * b);
    }
    b
}

/// The knee of a run with reserved concurrency `c`, when Lambda throttled at all. The mean
/// duration is CloudWatch's when pulled, else the billed mean.
pub fn knee(
    results: &Results,
    c: u32,
    billed_mean_ms: f64,
    duration_mean_ms: Option<f64>,
    pulled: Option<&Pulled>,
) -> Option<Knee> {
    if results.totals.by_class[Class::LambdaThrottled] == 0 || c == 0 {
        return None;
    }
    let d_ms = duration_mean_ms.unwrap_or(billed_mean_ms).max(0.001);
    let d = d_ms / 1000.0;
    // Seconds grouped by the rate sent in them, to the nearest 10 req/s.
    let mut groups: std::collections::BTreeMap<i64, (u32, f64, f64)> = Default::default();
    for s in &results.series {
        let done = s.completed.total();
        if s.sent == 0 || done == 0 {
            continue;
        }
        let key = ((s.sent as f64) / 10.0).round() as i64 * 10;
        let g = groups.entry(key).or_default();
        g.0 += 1;
        g.1 += s.completed[Class::LambdaThrottled] as f64;
        g.2 += done as f64;
    }
    let points: Vec<KneePoint> = groups
        .into_iter()
        .map(|(rate, (n, thr, done))| {
            let rate = rate as f64;
            KneePoint {
                rate,
                seconds: n,
                measured: thr / done,
                littles_law: (1.0 - c as f64 / (rate * d)).max(0.0),
                erlang_b: erlang_b(c, rate * d),
            }
        })
        .collect();
    let highest_sustainable_rate = points.iter().filter(|p| p.measured < 0.01).map(|p| p.rate).reduce(f64::max);
    let cw = |id| pulled.and_then(|p| p.get(id));
    let by = [
        MetricId::ThrottlesConcurrency,
        MetricId::ThrottlesInvocationRate,
        MetricId::ThrottlesAccountConcurrency,
        MetricId::ThrottlesAccountInvocationRate,
        MetricId::ThrottlesScalingRate,
    ]
    .map(cw);
    let throttles_by_reason = by.iter().any(Option::is_some).then(|| {
        let [a, b, c, d, e] = by.map(|v| v.unwrap_or(0.0));
        ThrottlesByReason {
            reserved_concurrency: a,
            invocation_rate: b,
            account_concurrency: c,
            account_invocation_rate: d,
            scaling_rate: e,
        }
    });
    Some(Knee {
        reserved_concurrency: c,
        mean_duration_ms: d_ms,
        littles_law_max_rate: c as f64 / d,
        highest_sustainable_rate,
        invocation_rate_limit: Some(INVOCATIONS_PER_SECOND_PER_CONCURRENCY * f64::from(c)),
        throttles_by_reason,
        points,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erlang_b_matches_textbook_values() {
        // B(1, 1) = 0.5; B(2, 1) = 0.2; B(10, 5) ≈ 0.01838.
        assert!((erlang_b(1, 1.0) - 0.5).abs() < 1e-12);
        assert!((erlang_b(2, 1.0) - 0.2).abs() < 1e-12);
        assert!((erlang_b(10, 5.0) - 0.018_384).abs() < 1e-5);
        assert!(erlang_b(100, 10.0) < 1e-12);
    }
}
