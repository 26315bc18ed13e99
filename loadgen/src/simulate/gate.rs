//! The scenario's thresholds on a simulated configuration: those the model can answer —
//! latency of the admitted requests, API Gateway, Lambda and DynamoDB throttles (each where its
//! layer is simulated), cold starts, request counts and rate, cost — checked with the same
//! comparison a run uses, whole-plan or phase-scoped, and a request kind's outcome counts where
//! arrivals are drawn per request; the rest (errors, service time, a kind's latency) are named
//! as not simulated rather than passed.

use hdrhistogram::Histogram;

use crate::record::Class;
use crate::scenario::{Load, Metric, Plan, Threshold};

use super::output::{SimulatedCost, SimulatedThreshold};
use super::schedule::{RequestCounts, Window, latency_histogram};

/// What a configuration's thresholds need from its simulation.
pub struct Simulated<'a> {
    /// Its windows, counts over every replication.
    pub windows: &'a [Window],
    /// Replications.
    pub replications: f64,
    /// Its cost, when priced.
    pub cost: Option<&'a SimulatedCost>,
}

/// Which layers around the function are simulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Layers {
    /// API Gateway's throttling.
    pub gateway: bool,
    /// The DynamoDB table.
    pub table: bool,
    /// The function's concurrency limit (an AWS run not told its reservation assumed it).
    pub function: bool,
    /// Arrivals drawn as the plan's requests, each counted apart (a gateway or a table in
    /// the model draws them).
    pub by_request: bool,
}

/// Whether the model answers `t` for `plan`: a figure it simulates, of an open-model phase the
/// plan has (a traffic curve replaces the scenario's phases; closed-model phases are not
/// simulated). A layer's throttles only when `layers` has it simulated.
pub fn simulated(t: &Threshold, plan: &Plan, layers: Layers) -> bool {
    let open_phase = |name: &str| plan.phases.iter().any(|x| x.name == name && !matches!(x.load, Load::Closed { .. }));
    if t.phase.as_deref().is_some_and(|p| !open_phase(p)) {
        return false;
    }
    // A request kind's own figures: its outcome counts, where arrivals are drawn per request.
    if t.request.is_some()
        && !(layers.by_request && matches!(t.metric, Metric::ClassRate { .. } | Metric::ClassCount { .. }))
    {
        return false;
    }
    match &t.metric {
        // Every layer's throttles: only where every layer is simulated.
        Metric::ThrottleRate => layers.gateway && layers.table && layers.function,
        Metric::Latency { .. }
        | Metric::ColdStartCount
        | Metric::ColdStartRate
        | Metric::RequestCount
        | Metric::AchievedRate => true,
        Metric::ClassRate { class } | Metric::ClassCount { class } => {
            match class {
                Class::LambdaThrottled => layers.function,
                // Ok is what no layer refused: every layer must be simulated.
                Class::Ok => layers.gateway && layers.table && layers.function,
                Class::ApigwThrottled => layers.gateway,
                Class::DynamodbThrottled => layers.table,
                _ => false,
            }
        }
        m if m.is_cost() => t.phase.is_none(),
        _ => false,
    }
}

/// The thresholds of `plan` the model answers, evaluated on `s`.
pub fn evaluate(plan: &Plan, layers: Layers, s: &Simulated<'_>) -> Vec<SimulatedThreshold> {
    plan.thresholds
        .iter()
        .filter(|t| simulated(t, plan, layers))
        .map(|t| {
            // Nothing simulated (no admitted request for a latency) fails, as it does in a run.
            let value = value(t, plan, s);
            SimulatedThreshold {
                key: t.key.clone(),
                condition: t.condition.clone(),
                simulated: value,
                passed: value.is_some_and(|v| t.cmp.holds(v, t.limit)),
            }
        })
        .collect()
}

/// The windows of phase `name` (a steps phase has one per step).
fn of_phase<'a>(windows: &'a [Window], name: &'a str) -> impl Iterator<Item = &'a Window> + 'a {
    windows
        .iter()
        .filter(move |w| w.label == name || w.label.strip_prefix(name).is_some_and(|r| r.starts_with(" step ")))
}

fn value(t: &Threshold, plan: &Plan, s: &Simulated<'_>) -> Option<f64> {
    let windows: Vec<&Window> = match &t.phase {
        Some(p) => of_phase(s.windows, p).collect(),
        None => s.windows.iter().collect(),
    };
    if windows.is_empty() && !t.metric.is_cost() {
        return None;
    }
    let (offered, throttled, apigw, dynamodb) = match &t.request {
        Some(name) => {
            let k = plan.requests.iter().position(|r| &r.name == name)?;
            let of =
                |f: fn(&RequestCounts) -> u64| windows.iter().filter_map(|w| w.by_request.get(k)).map(f).sum::<u64>();
            (of(|c| c.offered), of(|c| c.throttled), of(|c| c.apigw_throttled), of(|c| c.dynamodb_throttled))
        }
        None => (
            windows.iter().map(|w| w.offered).sum(),
            windows.iter().map(|w| w.throttled).sum(),
            windows.iter().map(|w| w.apigw_throttled).sum(),
            windows.iter().map(|w| w.dynamodb_throttled).sum(),
        ),
    };
    // A kind that never arrived has no share, as a run records none.
    if t.request.is_some() && offered == 0 {
        return None;
    }
    let ok = offered.saturating_sub(throttled + apigw + dynamodb);
    let cold: u64 = windows.iter().map(|w| w.cold_starts).sum();
    let share = |n: u64| if offered > 0 { n as f64 / offered as f64 } else { 0.0 };
    let seconds: f64 = windows.iter().map(|w| w.end_s - w.start_s).sum();
    Some(match &t.metric {
        Metric::Latency { percentile } => {
            let mut h: Histogram<u64> = latency_histogram();
            for w in &windows {
                // Same bounds: adding cannot fail.
                let _ = h.add(&w.ok_latency_us);
            }
            if h.is_empty() {
                return None;
            }
            match percentile {
                Some(p) => h.value_at_quantile(p / 100.0) as f64 / 1e3,
                None => h.mean() / 1e3,
            }
        }
        Metric::ThrottleRate => share(throttled + apigw + dynamodb),
        Metric::ClassRate { class: Class::DynamodbThrottled } => share(dynamodb),
        Metric::ClassCount { class: Class::DynamodbThrottled } => dynamodb as f64 / s.replications,
        Metric::ClassRate { class: Class::LambdaThrottled } => share(throttled),
        Metric::ClassRate { class: Class::ApigwThrottled } => share(apigw),
        Metric::ClassRate { .. } => share(ok),
        Metric::ClassCount { class: Class::LambdaThrottled } => throttled as f64 / s.replications,
        Metric::ClassCount { class: Class::ApigwThrottled } => apigw as f64 / s.replications,
        Metric::ClassCount { .. } => ok as f64 / s.replications,
        Metric::ColdStartCount => cold as f64 / s.replications,
        Metric::ColdStartRate => share(cold),
        Metric::RequestCount => offered as f64 / s.replications,
        Metric::AchievedRate => offered as f64 / s.replications / seconds.max(1e-9),
        Metric::CostRun => s.cost?.run_usd,
        Metric::CostPerMillion => s.cost?.per_million_usd,
        Metric::CostMonthly => s.cost?.month_usd,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::simulate::schedule::{RequestCounts, windows};

    const PLAN: &str = r#"
name = "t"
[[phase]]
name = "flat"
duration = "10s"
rate = 10
[[request]]
name = "a"
path = "/health"
[[request]]
name = "b"
path = "/health"
[thresholds]
"a.dynamodb_throttled.rate" = "< 10%"
"b.dynamodb_throttled.count" = "== 0"
"a.latency.p99" = "< 100ms"
"#;

    #[test]
    fn a_request_kinds_outcomes_are_checked_where_arrivals_are_drawn_per_request() {
        let plan = Plan::from_str(Path::new("t.toml"), PLAN, &|_| None).unwrap();
        let mut w = windows(&plan);
        w[0].offered = 100;
        w[0].dynamodb_throttled = 20;
        w[0].by_request[0] = RequestCounts { offered: 50, dynamodb_throttled: 20, ..RequestCounts::default() };
        w[0].by_request[1] = RequestCounts { offered: 50, ..RequestCounts::default() };
        let s = Simulated { windows: &w, replications: 1.0, cost: None };
        let layers = Layers { gateway: true, table: true, function: true, by_request: true };
        let got = evaluate(&plan, layers, &s);
        // A kind's latency is not simulated; its counts are, each of its own arrivals.
        assert_eq!(
            got.iter().map(|t| t.key.as_str()).collect::<Vec<_>>(),
            ["a.dynamodb_throttled.rate", "b.dynamodb_throttled.count"]
        );
        assert_eq!((got[0].simulated, got[0].passed), (Some(0.4), false));
        assert_eq!((got[1].simulated, got[1].passed), (Some(0.0), true));
        // Without per-request draws, none is answered.
        assert!(evaluate(&plan, Layers { by_request: false, ..layers }, &s).is_empty());
    }
}
