//! From a run to what its simulation draws from and back: the measured window's REPORT lines
//! and the function's limits become results.json's [`Calibration`], and a calibration becomes
//! the simulator's function and hold times. The knee goes through both, so it uses exactly what
//! results.json keeps.

use super::lambda_log::LogWindow;
use hdrhistogram::Histogram;

use crate::results::calibration::{Calibration, CpuCalibration, FunctionLimits, RequestCalibration};
use crate::results::{decode, encode};
use crate::scenario::Plan;
use crate::simulate::hold::{Empirical, Mix};
use crate::simulate::lambda::{FunctionSpec, Holds};

/// What else the run knew when it calibrated: the latency profile's invoke overhead and
/// cold-start platform time (ms), the share of a core each environment had, and the latency of
/// its ok responses per request kind.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunFacts {
    /// `(invoke overhead, cold-start platform)`, ms.
    pub overheads_ms: (f64, f64),
    /// Share of a core per environment (1 when the CPU was not limited); `None` when unknown.
    pub cpu_share: Option<f64>,
    /// Corrected latency of the ok responses of each request kind, µs.
    pub ok_latency: Vec<KindLatency>,
}

/// One request kind's ok latencies.
#[derive(Debug, Clone, PartialEq)]
pub struct KindLatency {
    /// Name.
    pub name: String,
    /// Method.
    pub method: String,
    /// Path template.
    pub path: String,
    /// Ok latencies, µs.
    pub latency_us: Histogram<u64>,
    /// DynamoDB `(read, write)` units per response, when the function reported them.
    pub units: Option<(f64, f64)>,
}

/// `h` with every value less `by_us`, at least 1 µs.
fn shifted(h: &Histogram<u64>, by_us: f64) -> Histogram<u64> {
    let mut out = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds");
    for v in h.iter_recorded() {
        let value = h.median_equivalent(v.value_iterated_to()) as f64;
        out.saturating_record_n(((value - by_us).round() as u64).max(1), v.count_at_value());
    }
    out
}

/// The function's limits as the local stack configured by `config` admits invocations.
pub fn limits(config: &local_stack::StackConfig) -> FunctionLimits {
    FunctionLimits {
        concurrency: config.concurrency_limit(),
        reserved: config.function.reserved_concurrency.is_some(),
        account_concurrency: config.account_concurrency,
        provisioned: config.function.provisioned_concurrency,
        scaling_per_10s: config.function.scaling_per_10s,
        keep_warm_s: config.function.keep_warm.as_secs_f64(),
        rate_limits: config.function.invocation_rate_limit,
        memory_mb: config.function.memory_mb,
    }
}

/// The calibration of a local-stack run: `None` without invocations in the window.
pub fn calibration(limits: &FunctionLimits, window: &LogWindow, facts: &RunFacts) -> Option<Calibration> {
    let invocations = window.durations_us.len();
    if invocations == 0 {
        return None;
    }
    let (overhead, platform) = facts.overheads_ms;
    // The client's wait beyond the hold: the ok latency less the mean hold, cold starts
    // weighted by their share of the window.
    let cold = window.report.map_or(0.0, |r| (r.invocations - r.warm_invocations) / r.invocations.max(1.0));
    let init_ms = if window.inits_us.is_empty() { 0.0 } else { window.inits_us.mean() / 1e3 };
    let hold_ms = overhead + window.durations_us.mean() / 1e3 + cold * (platform + init_ms);
    let cpu = match (window.cpu_ms, facts.cpu_share) {
        (Some((n, total)), Some(share)) if n > 0 => Some(CpuCalibration {
            source: "Lambda Insights performance events (cpu_total_time) of the local stack, measured window".into(),
            share,
            invocations: n,
            mean_ms: total / n as f64,
        }),
        _ => None,
    };
    let ok_n: u64 = facts.ok_latency.iter().map(|k| k.latency_us.len()).sum();
    let ok_mean_ms = (ok_n > 0).then(|| {
        facts.ok_latency.iter().map(|k| k.latency_us.mean() * k.latency_us.len() as f64).sum::<f64>()
            / ok_n as f64
            / 1e3
    });
    let client_overhead_ms = ok_mean_ms.map_or(0.0, |ok| (ok - hold_ms).max(0.0));
    // A kind's handler duration: what its client waited less what the client waits beyond a
    // hold and the invoke overhead — one offset for every kind, so the kinds' mix keeps the
    // REPORT lines' mean.
    let requests = facts
        .ok_latency
        .iter()
        .filter(|k| !k.latency_us.is_empty())
        .map(|k| RequestCalibration {
            name: k.name.clone(),
            method: k.method.clone(),
            path: k.path.clone(),
            responses: k.latency_us.len(),
            durations_us: encode(&shifted(&k.latency_us, (client_overhead_ms + overhead) * 1e3)),
            read_units: k.units.map(|u| u.0),
            write_units: k.units.map(|u| u.1),
        })
        .collect();
    Some(Calibration {
        source: "REPORT lines of the local stack's function log, measured window".into(),
        function: limits.clone(),
        invocations,
        durations_us: encode(&window.durations_us),
        inits_us: encode(&window.inits_us),
        invoke_overhead_ms: overhead,
        cold_platform_ms: platform,
        client_overhead_ms,
        cpu,
        requests,
    })
}

/// The simulator's function and hold times for `c`; `None` when its durations do not decode
/// or are empty.
pub fn model(c: &Calibration) -> Option<(FunctionSpec, Holds)> {
    let durations = decode(&c.durations_us)?;
    // A document edited by hand may disagree with itself; a count that does not match its own
    // histogram is not a calibration.
    if c.invocations == 0 || durations.len() != c.invocations {
        return None;
    }
    let inits = decode(&c.inits_us);
    let spec = c.function.clone();
    let holds = Holds {
        warm: Empirical::from_histogram(&durations, 1e-6)?.into(),
        init: inits.as_ref().and_then(|h| Empirical::from_histogram(h, 1e-6)),
        overhead_s: c.invoke_overhead_ms / 1e3,
        platform_s: c.cold_platform_ms / 1e3,
        client_s: c.client_overhead_ms / 1e3,
    };
    Some((spec, holds))
}

/// Whether `a` and `b` send the same request mix (method, path template and weight, in order).
fn same_mix(a: &Plan, b: &Plan) -> bool {
    a.requests.len() == b.requests.len()
        && a.requests
            .iter()
            .zip(&b.requests)
            .all(|(x, y)| x.method == y.method && x.path.text() == y.path.text() && x.weight == y.weight)
}

/// DynamoDB `(read, write)` units per invocation of `plan`'s mix, from each kind's units in
/// `c`; `None` when `plan` has the run's own mix (the run's measured totals hold) or a kind's
/// units are unknown. A throttle does not depend on the kind, so the admitted invocations keep
/// the plan's mix.
pub fn units_for_plan(c: &Calibration, plan: &Plan, own: &Plan) -> Option<(f64, f64)> {
    if same_mix(plan, own) {
        return None;
    }
    let total: f64 = plan.requests.iter().map(|r| r.weight).sum();
    let mut units = (0.0, 0.0);
    for r in &plan.requests {
        let k = c.requests.iter().find(|k| k.method == r.method && k.path == r.path.text())?;
        units.0 += r.weight / total * k.read_units?;
        units.1 += r.weight / total * k.write_units?;
    }
    Some(units)
}

/// A request of the plan simulated that the calibrating run did not measure.
#[derive(Debug, Clone, PartialEq)]
pub struct Uncalibrated {
    /// The request's name, method and path template.
    pub request: String,
    /// The kinds the run measured, `METHOD path` each.
    pub known: Vec<String>,
}

/// The holds for `plan`: the run's own REPORT durations when `plan` has the run's request mix
/// (`own`), else each request's kind from `c.requests` (same method and path template), drawn
/// in the plan's weights.
pub fn for_plan(c: &Calibration, holds: &Holds, plan: &Plan, own: &Plan) -> Result<Holds, Uncalibrated> {
    if same_mix(plan, own) {
        return Ok(holds.clone());
    }
    let mut kinds = Vec::new();
    for r in &plan.requests {
        let found = c
            .requests
            .iter()
            .find(|k| k.method == r.method && k.path == r.path.text())
            .and_then(|k| decode(&k.durations_us))
            .and_then(|h| Empirical::from_histogram(&h, 1e-6));
        match found {
            Some(e) => kinds.push((r.weight, e)),
            None => {
                return Err(Uncalibrated {
                    request: format!("{} ({} {})", r.name, r.method, r.path.text()),
                    known: c.requests.iter().map(|k| format!("{} {}", k.method, k.path)).collect(),
                });
            }
        }
    }
    let warm =
        Mix::new(kinds).ok_or_else(|| Uncalibrated { request: "(no request has weight)".into(), known: vec![] })?;
    Ok(Holds { warm, ..holds.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_calibration_round_trips_into_the_model() {
        let mut window = LogWindow {
            report: None,
            bytes: 0.0,
            durations_us: hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap(),
            inits_us: hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap(),
            cpu_ms: Some((10, 50.0)),
        };
        let limits = FunctionLimits {
            concurrency: 8,
            reserved: true,
            account_concurrency: 1000,
            provisioned: 2,
            scaling_per_10s: 1000,
            keep_warm_s: 300.0,
            rate_limits: true,
            memory_mb: 256,
        };
        let mut ok = hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        ok.record_n(25_000, 5).unwrap();
        ok.record_n(35_000, 5).unwrap();
        let kind =
            KindLatency { name: "get".into(), method: "GET".into(), path: "/x".into(), latency_us: ok, units: None };
        let facts = RunFacts { overheads_ms: (1.0, 100.0), cpu_share: Some(0.5), ok_latency: vec![kind] };
        assert!(calibration(&limits, &window, &facts).is_none(), "no invocations, nothing to draw from");
        window.durations_us.record_n(20_000, 10).unwrap();
        window.inits_us.record(50_000).unwrap();
        let c = calibration(&limits, &window, &facts).unwrap();
        assert_eq!(c.invocations, 10);
        // 30 ms ok latency less a 21 ms mean hold (no cold starts in the window's REPORT lines).
        assert!((c.client_overhead_ms - 9.0).abs() < 0.05, "{}", c.client_overhead_ms);
        // The kind's durations: its latencies less the 9 ms and the 1 ms overhead.
        let kind = decode(&c.requests[0].durations_us).unwrap();
        assert_eq!(c.requests[0].responses, 10);
        assert!((kind.mean() - 20_000.0).abs() < 50.0 && kind.min() < 16_000, "{}", kind.mean());
        let cpu = c.cpu.clone().unwrap();
        assert_eq!((cpu.share, cpu.invocations, cpu.mean_ms), (0.5, 10, 5.0));
        let (spec, holds) = model(&c).unwrap();
        assert_eq!((spec.concurrency, spec.provisioned, spec.reserved), (8, 2, true));
        assert!((holds.warm.mean() - 0.020).abs() < 1e-4);
        assert!((holds.init.unwrap().mean() - 0.050).abs() < 1e-4);
        assert_eq!((holds.overhead_s, holds.platform_s), (0.001, 0.1));
        let tampered = Calibration { invocations: 0, ..c.clone() };
        assert!(model(&tampered).is_none());
        let broken = Calibration { durations_us: "not base64".into(), ..c };
        assert!(model(&broken).is_none());
    }
}
