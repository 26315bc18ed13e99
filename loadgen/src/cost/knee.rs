//! Where Lambda throttling starts: the measured throttle share per offered rate of the plan
//! against a simulation of the same arrivals with the run's hold times, with Little's law
//! (reserved concurrency ÷ mean duration) and the Erlang loss formula as reference lines.

use local_stack::rules::INVOCATIONS_PER_SECOND_PER_CONCURRENCY;

use crate::record::Class;
use crate::results::calibration::GatewayLimits;
use crate::results::cost::{Knee, KneePoint, ThrottlesByReason};
use crate::results::{MetricId, Pulled, Results};
use crate::scenario::Arrivals;
use crate::simulate::gateway::Gateway;
use crate::simulate::lambda::{FunctionSpec, Holds};
use crate::simulate::schedule;

/// Erlang B blocking probability with `c` servers and offered load `a` (erlangs).
pub fn erlang_b(c: u32, a: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (k as f64 + a * b);
    }
    b
}

/// The knee of a run with reserved concurrency `c`, when Lambda throttled at all: per stretch
/// of the plan at one offered rate, the measured throttle share against the simulated one
/// (with `model`, the function's limits and the run's hold times), Little's law and, for
/// Poisson arrivals, Erlang B. The mean duration is CloudWatch's when pulled, else the billed
/// mean.
pub fn knee(
    results: &Results,
    c: u32,
    billed_mean_ms: f64,
    duration_mean_ms: Option<f64>,
    pulled: Option<&Pulled>,
    model: Option<(&FunctionSpec, &Holds)>,
    gateway: Option<&GatewayLimits>,
) -> Option<Knee> {
    if results.totals.by_class[Class::LambdaThrottled] == 0 || c == 0 {
        return None;
    }
    let d_ms = duration_mean_ms.unwrap_or(billed_mean_ms).max(0.001);
    let d = d_ms / 1000.0;
    let plan = &results.scenario;
    let replications = schedule::replications(plan);
    // API Gateway in front as the run had it, so the share Lambda saw is what it refused.
    let gateway = gateway.and_then(|g| Gateway::for_plan(g, plan).ok());
    // The table is left out: the knee is Lambda's, and a run near it is not DynamoDB-bound.
    let around = schedule::Downstream { gateway: gateway.as_ref(), table: None };
    let (per_window, factors) = match model {
        Some((_, holds)) => window_holds(results, holds, &schedule::windows(plan)),
        None => (Vec::new(), Vec::new()),
    };
    let simulated =
        model.map(|(spec, holds)| schedule::run_windows(plan, spec, (holds, &per_window), around, replications));
    let points: Vec<KneePoint> = schedule::windows(plan)
        .into_iter()
        .enumerate()
        .filter_map(|(i, w)| {
            let (seconds, throttled, done) = measured(results, w.start_s, w.end_s);
            (done > 0.0).then(|| KneePoint {
                phase: w.label.clone(),
                rate: w.rate,
                ramp: w.ramp,
                seconds,
                measured: throttled / done,
                simulated: simulated.as_ref().and_then(|s| s[i].throttle_share()),
                hold_scale: factors.get(i).copied().flatten(),
                littles_law: (1.0 - c as f64 / (w.rate * d)).max(0.0),
                erlang_b: matches!(w.arrivals, Arrivals::Poisson).then(|| erlang_b(c, w.rate * d)),
            })
        })
        .collect();
    let highest_sustainable_rate =
        points.iter().filter(|p| p.measured < 0.01 && !p.ramp).map(|p| p.rate).reduce(f64::max);
    let simulation = model.map(|(_, holds)| {
        format!(
            "{replications} replication{} of the plan's arrivals; hold times drawn from the run's REPORT lines \
             (mean {:.1} ms{}), each phase's scaled to its own served latency (hold_scale per point), plus \
             the platform's invoke overhead ({:.1} ms{})",
            if replications == 1 { "" } else { "s" },
            holds.warm.mean() * 1000.0,
            holds.init.as_ref().map(|i| format!(", INIT mean {:.1} ms", i.mean() * 1000.0)).unwrap_or_default(),
            holds.overhead_s * 1000.0,
            if holds.platform_s > 0.0 {
                format!(", {:.0} ms more on a cold start", holds.platform_s * 1000.0)
            } else {
                String::new()
            }
        )
    });
    Some(Knee {
        reserved_concurrency: c,
        unreserved: model.is_some_and(|(spec, _)| !spec.reserved),
        mean_duration_ms: d_ms,
        littles_law_max_rate: c as f64 / d,
        highest_sustainable_rate,
        invocation_rate_limit: Some(INVOCATIONS_PER_SECOND_PER_CONCURRENCY * f64::from(c)),
        throttles_by_reason: throttles_by_reason(pulled),
        simulation,
        points,
    })
}

/// Fewest ok responses a phase needs for its hold times to be scaled to them.
const MIN_OK_FOR_SCALE: u64 = 30;

/// Each window's hold times, and the factor its were scaled by: the run's, times how long the
/// window's phase's invocations held against how long the run's did. The machine slows the
/// function more at some offered rates than at others (on the local stack the generator, the
/// gateway and the environments share its cores), and near the knee the throttle share moves
/// almost one for one with the mean hold, so the run's mean alone mispredicts the step at the
/// knee by as much as ten points. REPORT lines carry no time, so a phase's hold is estimated
/// from its ok responses' mean latency, less what its cold starts carried (platform time and
/// INIT), the invoke overhead and the client's ([`Holds::client_s`]); the run's the same way
/// over every phase, so a bias common to both cancels. A phase with fewer than
/// [`MIN_OK_FOR_SCALE`] ok responses keeps the run's (no factor). The doubt: the client's
/// overhead is taken as the same in every phase.
fn window_holds(results: &Results, holds: &Holds, windows: &[schedule::Window]) -> (Vec<Holds>, Vec<Option<f64>>) {
    // What a cold start's response carries beyond a warm one's: the platform's part and INIT.
    let cold_extra = holds.init.as_ref().map_or(0.0, |i| i.mean()) + holds.platform_s;
    let plan = &results.scenario;
    // (sum of ok latencies s, ok responses, cold starts) per phase.
    let sums: Vec<(f64, u64, f64)> = plan
        .phases
        .iter()
        .enumerate()
        .map(|(i, phase)| {
            let (mut sum_s, mut n) = (0.0, 0u64);
            for cell in results.histograms.iter().filter(|c| c.class == Class::Ok && c.phase == phase.name) {
                if let Ok((h, _)) = cell.decode() {
                    sum_s += h.mean() * h.len() as f64 / 1e6;
                    n += h.len();
                }
            }
            let cold = results.phases.get(i).map_or(0, |p| p.summary.cold_starts) as f64;
            (sum_s, n, cold.min(n as f64))
        })
        .collect();
    let hold = |(sum_s, n, cold): (f64, u64, f64)| {
        (sum_s - cold * cold_extra) / n.max(1) as f64 - holds.client_s - holds.overhead_s
    };
    let all = sums.iter().fold((0.0, 0, 0.0), |a, s| (a.0 + s.0, a.1 + s.1, a.2 + s.2));
    let run_hold = hold(all);
    let factor = |phase: usize| -> Option<f64> {
        let s = *sums.get(phase)?;
        let f = hold(s) / run_hold;
        (s.1 >= MIN_OK_FOR_SCALE && run_hold > 0.0 && f.is_finite() && f > 0.0).then_some(f)
    };
    windows
        .iter()
        .map(|w| {
            let phase = (0..plan.phases.len())
                .rev()
                .find(|&i| plan.phase_start(i).as_secs_f64() <= w.start_s + 1e-9)
                .unwrap_or(0);
            match factor(phase) {
                Some(f) => (Holds { warm: holds.warm.scaled(f), ..holds.clone() }, Some(f)),
                None => (holds.clone(), None),
            }
        })
        .unzip()
}

/// The measured seconds of `[start_s, end_s)` (a second belongs where its middle falls), with
/// the Lambda throttles and completions in them.
fn measured(results: &Results, start_s: f64, end_s: f64) -> (u32, f64, f64) {
    let mut out = (0, 0.0, 0.0);
    for s in results.series.iter().filter(|s| (start_s..end_s).contains(&(s.t as f64 + 0.5))) {
        out.0 += 1;
        out.1 += s.completed[Class::LambdaThrottled] as f64;
        out.2 += s.completed.total() as f64;
    }
    out
}

/// Lambda's throttles by reason, when CloudWatch said.
fn throttles_by_reason(pulled: Option<&Pulled>) -> Option<ThrottlesByReason> {
    let cw = |id| pulled.and_then(|p| p.get(id));
    let by = [
        MetricId::ThrottlesConcurrency,
        MetricId::ThrottlesInvocationRate,
        MetricId::ThrottlesAccountConcurrency,
        MetricId::ThrottlesAccountInvocationRate,
        MetricId::ThrottlesScalingRate,
    ]
    .map(cw);
    by.iter().any(Option::is_some).then(|| {
        let [a, b, c, d, e] = by.map(|v| v.unwrap_or(0.0));
        ThrottlesByReason {
            reserved_concurrency: a,
            invocation_rate: b,
            account_concurrency: c,
            account_invocation_rate: d,
            scaling_rate: e,
        }
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
