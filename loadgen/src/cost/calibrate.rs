//! From a run to what its simulation draws from and back: the measured window's REPORT lines
//! and the function's limits become results.json's [`Calibration`], and a calibration becomes
//! the simulator's function and hold times. The knee goes through both, so it uses exactly what
//! results.json keeps.

use super::kind_durations::ranked_onto;
use super::lambda_log::LogWindow;
use hdrhistogram::Histogram;

use crate::results::calibration::{
    Calibration, CpuCalibration, FunctionLimits, GatewayLimits, RequestCalibration, RouteThrottle, Spread, TableLimits,
    Throttle,
};
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
    /// The cold-start platform time's spread, when the profile gives it.
    pub platform_spread: Option<Spread>,
    /// Share of a core per environment (1 when the CPU was not limited); `None` when unknown.
    pub cpu_share: Option<f64>,
    /// Corrected latency of the ok responses of each request kind, µs.
    pub ok_latency: Vec<KindLatency>,
    /// API Gateway's throttling.
    pub gateway: Option<GatewayLimits>,
    /// The table's throughput limits.
    pub table: Option<TableLimits>,
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
    /// DynamoDB calls per response, when the function reported them.
    pub calls: Option<f64>,
}

/// The corrected latency of each request kind's ok responses, every phase merged.
pub fn ok_latency(results: &crate::results::Results) -> Vec<KindLatency> {
    results
        .requests
        .iter()
        .map(|r| {
            let mut latency_us = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds");
            for cell in results.histograms.iter().filter(|c| c.class == crate::record::Class::Ok && c.request == r.name)
            {
                if let Ok((h, _)) = cell.decode() {
                    let _ = latency_us.add(&h);
                }
            }
            let d = &r.diagnostics;
            // What a request asks of the table: the figures of the responses it served (a
            // throttled one reports only the calls that got through), every response's without.
            let (units, calls) = if d.served_responses > 0 {
                (Some((d.served_rcu_per_request, d.served_wcu_per_request)), Some(d.served_ddb_calls_per_request))
            } else {
                let any = d.responses > 0;
                (any.then_some((d.rcu_per_request, d.wcu_per_request)), any.then_some(d.ddb_calls_per_request))
            };
            KindLatency {
                name: r.name.clone(),
                method: r.method.clone(),
                path: r.path.clone(),
                latency_us,
                units,
                calls,
            }
        })
        .collect()
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

/// The table's throughput limits as the local stack configured by `config` applies them.
pub fn table(config: &local_stack::StackConfig) -> TableLimits {
    let d = &config.dynamodb;
    TableLimits {
        read_units_per_s: d.read_units_per_s,
        write_units_per_s: d.write_units_per_s,
        partition_read_units_per_s: d.partition_read_units_per_s,
        partition_write_units_per_s: d.partition_write_units_per_s,
    }
}

/// API Gateway's throttling as the local stack configured by `config` applies it.
pub fn gateway(config: &local_stack::StackConfig) -> GatewayLimits {
    let api = &config.api;
    let throttle = |t: &local_stack::config::Throttle| Throttle { rate: t.rate, burst: t.burst };
    // Selection order, as the gateway indexes its buckets; a table that does not parse has no
    // routes (the stack would not have started).
    let routes = local_stack::apigw::routes::RouteTable::new(&api.routes)
        .map(|t| t.keys().map(str::to_owned).collect())
        .unwrap_or_default();
    GatewayLimits {
        routes,
        stage: throttle(&api.stage_throttle),
        overrides: api
            .route_throttles
            .iter()
            .map(|(route, t)| RouteThrottle { route: route.clone(), throttle: throttle(t) })
            .collect(),
        account: throttle(&api.account_throttle),
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
    // A kind's handler durations: its client's latencies ranked among every kind's, each mapped
    // to the REPORT duration at the same rank. The client's latencies say which kind is slow;
    // only the REPORT lines say how long the handler held — a client latency also holds a cold
    // start's INIT and platform time and the generator's own delays, which would otherwise
    // lengthen every simulated hold's tail.
    let kinds: Vec<&KindLatency> = facts.ok_latency.iter().filter(|k| !k.latency_us.is_empty()).collect();
    let latencies: Vec<&Histogram<u64>> = kinds.iter().map(|k| &k.latency_us).collect();
    // Without ok responses there is no kind to map (the REPORT durations are never empty here).
    let mapped = ranked_onto(&latencies, &window.durations_us).unwrap_or_default();
    let requests = kinds
        .iter()
        .zip(&mapped)
        .map(|(k, durations)| RequestCalibration {
            name: k.name.clone(),
            method: k.method.clone(),
            path: k.path.clone(),
            responses: k.latency_us.len(),
            durations_us: encode(durations),
            read_units: k.units.map(|u| u.0),
            write_units: k.units.map(|u| u.1),
            calls: k.calls,
        })
        .collect();
    Some(Calibration {
        source: "REPORT lines of the local stack's function log, measured window".into(),
        function: limits.clone(),
        invocations,
        durations_us: encode(&window.durations_us),
        inits_us: encode(&window.inits_us),
        seeding_durations_us: if window.seeding_us.is_empty() { String::new() } else { encode(&window.seeding_us) },
        invoke_overhead_ms: overhead,
        cold_platform_ms: platform,
        cold_platform_spread: facts.platform_spread,
        client_overhead_ms,
        cpu,
        requests,
        gateway: facts.gateway.clone(),
        dynamodb: facts.table,
        assumed: Vec::new(),
    })
}

/// What is wrong with a calibration: the field and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct Damaged(pub String);

impl From<&str> for Damaged {
    fn from(s: &str) -> Self {
        Damaged(s.to_owned())
    }
}

impl From<String> for Damaged {
    fn from(s: String) -> Self {
        Damaged(s)
    }
}

/// The simulator's function and hold times for `c`; an error names the field that is not a
/// calibration a run could have written (a document edited by hand, or damaged).
pub fn model(c: &Calibration) -> Result<(FunctionSpec, Holds), Damaged> {
    check(c)?;
    let durations = decode(&c.durations_us).ok_or("durations_us does not decode")?;
    let inits = if c.inits_us.is_empty() { None } else { Some(decode(&c.inits_us).ok_or("inits_us does not decode")?) };
    let holds = Holds {
        warm: Empirical::from_histogram(&durations, 1e-6).ok_or("durations_us is empty")?.into(),
        init: inits.as_ref().and_then(|h| Empirical::from_histogram(h, 1e-6)),
        overhead_s: c.invoke_overhead_ms / 1e3,
        platform_s: c.cold_platform_ms / 1e3,
        platform: c
            .cold_platform_spread
            .filter(|s| s.median_ms > 0.0)
            .map(|s| Empirical::profile_delay(s.median_ms, s.p99_ms)),
        client_s: c.client_overhead_ms / 1e3,
        seeding: if c.seeding_durations_us.is_empty() {
            None
        } else {
            let h = decode(&c.seeding_durations_us).ok_or("seeding_durations_us does not decode")?;
            Empirical::from_histogram(&h, 1e-6)
        },
    };
    Ok((c.function.clone(), holds))
}

/// The fields' own rules, and the rules AWS holds a function's limits to.
fn check(c: &Calibration) -> Result<(), Damaged> {
    let durations = decode(&c.durations_us).ok_or("durations_us does not decode")?;
    // A count that does not match its own histogram is not a calibration.
    if c.invocations == 0 || durations.len() != c.invocations {
        return Err(Damaged(format!("invocations is {} but durations_us holds {}", c.invocations, durations.len())));
    }
    let ms = |name: &str, v: f64| {
        // Lambda's 15-minute timeout bounds every time a run can measure.
        if v.is_finite() && (0.0..=900_000.0).contains(&v) {
            Ok(())
        } else {
            Err(Damaged(format!("{name} is {v}: expected milliseconds from 0 to 900000")))
        }
    };
    ms("invoke_overhead_ms", c.invoke_overhead_ms)?;
    ms("cold_platform_ms", c.cold_platform_ms)?;
    if let Some(sp) = &c.cold_platform_spread {
        ms("cold_platform_spread.median_ms", sp.median_ms)?;
        ms("cold_platform_spread.p99_ms", sp.p99_ms)?;
    }
    ms("client_overhead_ms", c.client_overhead_ms)?;
    let f = &c.function;
    let (low, high) = crate::simulate::memory::MEMORY_MB;
    if !(low..=high).contains(&f.memory_mb) {
        return Err(Damaged(format!("function.memory_mb is {}: expected {low} to {high}", f.memory_mb)));
    }
    if !(f.keep_warm_s.is_finite() && f.keep_warm_s >= 0.0) {
        return Err(Damaged(format!("function.keep_warm_s is {}: expected seconds, 0 or more", f.keep_warm_s)));
    }
    if f.account_concurrency == 0 || f.scaling_per_10s == 0 {
        return Err("function.account_concurrency and function.scaling_per_10s must be at least 1".into());
    }
    let most = f.account_concurrency.saturating_sub(local_stack::rules::UNRESERVED_MINIMUM);
    if (f.reserved && f.concurrency > most) || (!f.reserved && f.concurrency != f.account_concurrency) {
        return Err(Damaged(format!(
            "function.concurrency {} does not fit an account of {} (a reservation leaves 100 unreserved)",
            f.concurrency, f.account_concurrency
        )));
    }
    if f.provisioned > f.concurrency {
        return Err(Damaged(format!(
            "function.provisioned {} is more than its concurrency {}",
            f.provisioned, f.concurrency
        )));
    }
    if let Some(cpu) = &c.cpu
        && !(cpu.share.is_finite()
            && cpu.share > 0.0
            && cpu.share <= 6.0
            && cpu.mean_ms.is_finite()
            && cpu.mean_ms >= 0.0)
    {
        return Err(Damaged(format!(
            "cpu has share {} and mean_ms {}: expected a share in (0, 6] and ms, 0 or more",
            cpu.share, cpu.mean_ms
        )));
    }
    if let Some(g) = &c.gateway {
        let throttles =
            std::iter::once(&g.stage).chain(std::iter::once(&g.account)).chain(g.overrides.iter().map(|o| &o.throttle));
        if throttles.into_iter().any(|t| !(t.rate.is_finite() && t.rate >= 0.0)) {
            return Err("gateway has a throttle rate that is not requests per second, 0 or more".into());
        }
    }
    if let Some(t) = &c.dynamodb {
        let rates =
            [t.read_units_per_s, t.write_units_per_s, t.partition_read_units_per_s, t.partition_write_units_per_s];
        // The stack refuses a table that serves nothing; so does the simulator.
        if rates.iter().any(|r| !(r.is_finite() && *r > 0.0)) {
            return Err("dynamodb has a throughput that is not units per second, more than 0".into());
        }
    }
    for k in &c.requests {
        if decode(&k.durations_us).is_none_or(|h| h.is_empty()) {
            return Err(Damaged(format!("requests[{}].durations_us does not decode", k.name)));
        }
        if [k.read_units, k.write_units, k.calls].iter().flatten().any(|u| !(u.is_finite() && *u >= 0.0)) {
            return Err(Damaged(format!("requests[{}] has units that are not a count, 0 or more", k.name)));
        }
    }
    Ok(())
}

/// Whether `a` and `b` send the same request mix (method, path template and weight, in order).
pub fn same_mix(a: &Plan, b: &Plan) -> bool {
    a.requests.len() == b.requests.len()
        && a.requests
            .iter()
            .zip(&b.requests)
            .all(|(x, y)| x.method == y.method && x.path.text() == y.path.text() && x.weight == y.weight)
}

/// DynamoDB `(read, write)` units per response of each of `plan`'s requests, from the kinds
/// `c` measured; `None` when a kind is missing or did not report its units.
pub fn units_by_request(c: &Calibration, plan: &Plan) -> Option<Vec<(f64, f64)>> {
    plan.requests
        .iter()
        .map(|r| {
            let k = c.requests.iter().find(|k| k.method == r.method && k.path == r.path.text())?;
            Some((k.read_units?, k.write_units?))
        })
        .collect()
}

/// What each of `plan`'s requests asks of the table, from the kinds `c` measured: units per
/// response and DynamoDB calls (1 when the function did not report them); `None` when a kind
/// is missing or did not report its units.
pub fn table_units(c: &Calibration, plan: &Plan) -> Option<Vec<crate::simulate::dynamodb::Units>> {
    plan.requests
        .iter()
        .map(|r| {
            let k = c.requests.iter().find(|k| k.method == r.method && k.path == r.path.text())?;
            Some(crate::simulate::dynamodb::Units {
                read: k.read_units?,
                write: k.write_units?,
                calls: k.calls.map_or(1, |n| n.round().clamp(1.0, 10_000.0) as u32),
            })
        })
        .collect()
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
/// (`own`) and `by_kind` is false, else each request's kind from `c.requests` (same method and
/// path template), drawn in the plan's weights. `by_kind` asks for the kinds even for the run's
/// own mix (API Gateway throttles routes apart, so the admitted mix is not the offered one); the
/// own mix falls back to the REPORT durations when a kind is missing.
pub fn for_plan(c: &Calibration, holds: &Holds, plan: &Plan, own: &Plan, by_kind: bool) -> Result<Holds, Uncalibrated> {
    if same_mix(plan, own) {
        if by_kind
            && plan.requests.len() > 1
            && let Ok(h) = for_plan(c, holds, plan, &Plan { requests: Vec::new(), ..own.clone() }, false)
        {
            return Ok(h);
        }
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
            seeding_us: hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap(),
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
        let kind = KindLatency {
            name: "get".into(),
            method: "GET".into(),
            path: "/x".into(),
            latency_us: ok,
            units: None,
            calls: None,
        };
        let facts = RunFacts {
            overheads_ms: (1.0, 100.0),
            cpu_share: Some(0.5),
            ok_latency: vec![kind],
            gateway: None,
            table: None,
            platform_spread: None,
        };
        assert!(calibration(&limits, &window, &facts).is_none(), "no invocations, nothing to draw from");
        window.durations_us.record_n(15_000, 5).unwrap();
        window.durations_us.record_n(25_000, 5).unwrap();
        window.inits_us.record(50_000).unwrap();
        let c = calibration(&limits, &window, &facts).unwrap();
        assert_eq!(c.invocations, 10);
        // 30 ms ok latency less a 21 ms mean hold (no cold starts in the window's REPORT lines).
        assert!((c.client_overhead_ms - 9.0).abs() < 0.05, "{}", c.client_overhead_ms);
        // The kind's durations: its latencies mapped rank for rank onto the REPORT durations.
        let kind = decode(&c.requests[0].durations_us).unwrap();
        assert_eq!(c.requests[0].responses, 10);
        assert!((kind.mean() - 20_000.0).abs() < 50.0, "{}", kind.mean());
        assert!(kind.min() >= 14_900 && kind.min() <= 15_100 && kind.max() >= 24_900, "{} {}", kind.min(), kind.max());
        let cpu = c.cpu.clone().unwrap();
        assert_eq!((cpu.share, cpu.invocations, cpu.mean_ms), (0.5, 10, 5.0));
        let (spec, holds) = model(&c).unwrap();
        assert_eq!((spec.concurrency, spec.provisioned, spec.reserved), (8, 2, true));
        assert!((holds.warm.mean() - 0.020).abs() < 1e-4);
        assert!((holds.init.unwrap().mean() - 0.050).abs() < 1e-4);
        assert_eq!((holds.overhead_s, holds.platform_s), (0.001, 0.1));
        let tampered = Calibration { invocations: 0, ..c.clone() };
        assert!(model(&tampered).unwrap_err().0.contains("invocations"));
        let broken = Calibration { durations_us: "not base64".into(), ..c.clone() };
        assert!(model(&broken).unwrap_err().0.contains("durations_us"));
        let far = Calibration { client_overhead_ms: 1e300, ..c.clone() };
        assert!(model(&far).unwrap_err().0.contains("client_overhead_ms"));
        let inits = Calibration { inits_us: "x".into(), ..c.clone() };
        assert!(model(&inits).unwrap_err().0.contains("inits_us"));
        let mut cold = c.clone();
        cold.function.keep_warm_s = -100.0;
        assert!(model(&cold).unwrap_err().0.contains("keep_warm_s"));
        let mut big = c.clone();
        big.function.memory_mb = 99_999;
        assert!(model(&big).unwrap_err().0.contains("memory_mb"));
        let mut share = c;
        share.cpu.as_mut().unwrap().share = 0.0;
        assert!(model(&share).unwrap_err().0.contains("cpu"));
    }
}
