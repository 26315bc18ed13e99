//! From simulated windows to what simulation.json says of each configuration: its counts per
//! replication, outcome shares by layer, ok latency, cost priced like a run, its thresholds,
//! and the recommendation across them.

use hdrhistogram::Histogram;

use super::setup::{Prepared, Setup};
use crate::cost::calibrate;
use crate::cost::prices::RegionPrices;
use crate::cost::simulated::{self, Counted};
use crate::record::Class;
use crate::results::summary::Stats;
use crate::scenario::{Cmp, Metric, Plan, Threshold};
use crate::simulate::gate;
use crate::simulate::grid;
use crate::simulate::output::{Setting, SimulatedConfiguration, SimulatedTable, SimulatedWindow};
use crate::simulate::schedule::{Window, latency_histogram};

/// Every configuration's windows, each through the plan of its traffic factor, on every core.
pub fn run_grid(s: &Setup) -> Vec<Vec<Window>> {
    let jobs: Vec<grid::Job<'_>> = s
        .prepared
        .iter()
        .map(|p| grid::Job {
            // Every factor of the grid has its plan: built from the same configurations.
            plan: &s.plans.iter().find(|(t, _)| *t == p.configuration.traffic).expect("a plan per traffic factor").1,
            spec: &p.configuration.function,
            holds: &p.holds,
            gateway: p.gateway.as_ref(),
            table: p.table.as_ref(),
        })
        .collect();
    grid::run(&jobs, s.replications)
}

/// Every configuration's figures, priced and checked against the plan's thresholds.
pub fn configurations(s: &Setup, windows: &[Vec<Window>], prices: &RegionPrices) -> Vec<SimulatedConfiguration> {
    let reps = f64::from(s.replications);
    let measured = s.doc.cost.as_ref().map(|c| &c.usage);
    let by_request = calibrate::units_by_request(s.cal(), &s.source);
    let duration_s = s.source.duration().as_secs_f64();
    s.prepared
        .iter()
        .zip(windows)
        .map(|(p, w)| {
            let c = &p.configuration;
            let mut out = summarise(p, w, reps, measured.map(|m| m.architecture));
            // DynamoDB units of the requests admitted, kind by kind, when the kinds say theirs
            // and the arrivals were drawn per request; else the run's mean per invocation.
            let admitted: Vec<u64> = (0..s.source.requests.len())
                .map(|k| w.iter().map(|x| x.by_request.get(k).map_or(0, |c| c.admitted())).sum())
                .collect();
            let total: u64 = admitted.iter().sum();
            let units = by_request.as_ref().filter(|_| total > 0).map(|u| {
                let sum = u
                    .iter()
                    .zip(&admitted)
                    .fold((0.0, 0.0), |a, (k, n)| (a.0 + k.0 * *n as f64, a.1 + k.1 * *n as f64));
                (sum.0 / total as f64, sum.1 / total as f64)
            });
            out.cost = measured.map(|m| {
                let counted = Counted {
                    // API Gateway bills what reached the integration, not its own 429s.
                    requests: out.requests * (1.0 - out.apigw_throttled),
                    invocations: out.requests * (1.0 - out.apigw_throttled - out.lambda_throttled),
                    billed_ms: out.billed_ms,
                    provisioned_billed_ms: w.iter().map(|x| x.provisioned_billed_ms).sum::<f64>() / reps,
                    provisioned: c.function.provisioned,
                    duration_s,
                    memory_mb: c.function.memory_mb,
                    architecture: c.architecture.unwrap_or(m.architecture),
                    consumed_units: p.table.as_ref().map(|_| {
                        let sum = w.iter().fold((0.0, 0.0), |a, x| (a.0 + x.units.0, a.1 + x.units.1));
                        (sum.0 / reps, sum.1 / reps)
                    }),
                    table_capacity: p
                        .table
                        .as_ref()
                        .filter(|t| t.capacity.provisioned)
                        .map_or((0.0, 0.0), |t| (t.capacity.read_per_s, t.capacity.write_per_s)),
                };
                simulated::cost(&counted, m, units, prices)
            });
            let g = gate::Simulated { windows: w, replications: reps, cost: out.cost.as_ref() };
            out.thresholds = gate::evaluate(&s.source, s.layers(), &g);
            out
        })
        .collect()
}

fn share(n: u64, of: u64) -> f64 {
    if of > 0 { n as f64 / of as f64 } else { 0.0 }
}

/// One configuration's figures per replication.
fn summarise(
    p: &Prepared,
    w: &[Window],
    reps: f64,
    measured_architecture: Option<local_stack::config::Architecture>,
) -> SimulatedConfiguration {
    let c = &p.configuration;
    let offered: u64 = w.iter().map(|x| x.offered).sum();
    let throttled: u64 = w.iter().map(|x| x.throttled).sum();
    let apigw: u64 = w.iter().map(|x| x.apigw_throttled).sum();
    let mut ok: Histogram<u64> = latency_histogram();
    for x in w {
        // Same bounds: adding cannot fail.
        let _ = ok.add(&x.ok_latency_us);
    }
    SimulatedConfiguration {
        settings: c.settings.iter().map(|(n, v)| Setting { name: n.clone(), value: v.clone() }).collect(),
        concurrency: c.function.concurrency,
        reserved: c.function.reserved,
        provisioned: c.function.provisioned,
        memory_mb: c.function.memory_mb,
        architecture: c.architecture.or(measured_architecture).unwrap_or_default(),
        duration_factor: p.factor,
        traffic: c.traffic,
        requests: offered as f64 / reps,
        apigw_throttled: share(apigw, offered),
        lambda_throttled: share(throttled, offered),
        dynamodb_throttled: share(w.iter().map(|x| x.dynamodb_throttled).sum(), offered),
        table: p.table.as_ref().map(|t| {
            let units = w.iter().fold((0.0, 0.0), |a, x| (a.0 + x.units.0, a.1 + x.units.1));
            SimulatedTable {
                mode: if t.capacity.provisioned { "provisioned" } else { "on-demand" }.into(),
                read_units_per_s: t.capacity.read_per_s,
                write_units_per_s: t.capacity.write_per_s,
                read_units: units.0 / reps,
                write_units: units.1 / reps,
            }
        }),
        cold_starts: w.iter().map(|x| x.cold_starts).sum::<u64>() as f64 / reps,
        peak_concurrency: w.iter().map(|x| x.peak_concurrency).max().unwrap_or(0),
        billed_ms: w.iter().map(|x| x.billed_ms).sum::<f64>() / reps,
        ok_latency: Stats::of(&ok),
        windows: w
            .iter()
            .map(|x| SimulatedWindow {
                phase: x.label.clone(),
                rate: x.rate,
                apigw_throttled: share(x.apigw_throttled, x.offered),
                lambda_throttled: x.throttle_share().unwrap_or(0.0),
                dynamodb_throttled: share(x.dynamodb_throttled, x.offered),
                cold_starts: x.cold_starts as f64 / reps,
                peak_concurrency: x.peak_concurrency,
                ok_latency: Stats::of(&x.ok_latency_us),
            })
            .collect(),
        thresholds: Vec::new(),
        cost: None,
    }
}

/// The notes this simulation's situation calls for, beyond the model's own.
pub fn situational(s: &Setup) -> Vec<String> {
    let mut out = Vec::new();
    let source = &s.source;
    if s.ask.scenario.is_some() && source.target.url.is_some() {
        out.push(format!(
            "{} targets a URL, so its function's limits and its API Gateway are unknown: the calibrating run's \
             function is simulated, with no gateway in front.",
            source.name
        ));
    }
    if s.table_known && calibrate::table_units(s.cal(), source).is_none() {
        out.push(
            "DynamoDB: each request asks the table for the run's mean units per invocation, in one call (a request \
             kind did not report its own units and calls)."
                .into(),
        );
    }
    if calibrate::units_by_request(s.cal(), source).is_none() && !calibrate::same_mix(source, &s.doc.scenario) {
        out.push(
            "DynamoDB units: the calibrating run's mean per invocation, not this mix's (a request kind did not \
             report its units)."
                .into(),
        );
    }
    if source
        .thresholds
        .iter()
        .any(|t| gate::simulated(t, source, s.layers()) && matches!(t.metric, Metric::Latency { .. }))
    {
        out.push(
            "latency.* thresholds are checked on the admitted (ok) requests; a run's latency.* today merges every \
             outcome class, fast throttles included, so the two can differ where requests are throttled."
                .into(),
        );
    }
    out
}

/// The cheapest month among the configurations that pass every threshold the model answers
/// and — unless one of them bounds throttles — keep throttles under 1%, and why. Traffic is what is
/// expected, not chosen: with several factors, the settings must pass at every one, and the
/// cheapest month at the highest factor wins.
pub fn recommend(out: &[SimulatedConfiguration], plan: &Plan, layers: gate::Layers) -> (Option<usize>, String) {
    let simulated: Vec<_> = plan.thresholds.iter().filter(|t| gate::simulated(t, plan, layers)).collect();
    let gated = !simulated.is_empty();
    // A configuration that refuses most requests is cheap: the throttles of every layer no
    // threshold bounds must stay under 1% as well.
    // Only a whole-plan threshold that caps them bounds them: a cap on throttles, or a floor on
    // ok responses. One request kind's bound leaves the others' free.
    let caps = |t: &&&Threshold| matches!(t.cmp, Cmp::Lt | Cmp::Le | Cmp::Eq);
    let floors = |t: &&&Threshold| matches!(t.cmp, Cmp::Gt | Cmp::Ge | Cmp::Eq);
    let bounds = |layer: Class| {
        simulated.iter().filter(|t| t.request.is_none()).any(|t| match &t.metric {
            Metric::ThrottleRate => caps(&t),
            Metric::ClassRate { class: Class::Ok } | Metric::ClassCount { class: Class::Ok } => floors(&t),
            Metric::ClassRate { class } | Metric::ClassCount { class } => *class == layer && caps(&t),
            _ => false,
        })
    };
    let free = [Class::ApigwThrottled, Class::LambdaThrottled, Class::DynamodbThrottled].map(|l| !bounds(l));
    let says_throttles = !free.iter().any(|f| *f);
    let unbounded = |c: &SimulatedConfiguration| {
        [c.apigw_throttled, c.lambda_throttled, c.dynamodb_throttled]
            .iter()
            .zip(free)
            .filter(|(_, f)| *f)
            .map(|(v, _)| v)
            .sum::<f64>()
    };
    let passes = |c: &SimulatedConfiguration| (!gated || c.thresholds.iter().all(|t| t.passed)) && unbounded(c) < 0.01;
    let top = out.iter().map(|c| c.traffic).fold(0.0, f64::max);
    let several = out.iter().any(|c| c.traffic != top);
    let best = out
        .iter()
        .enumerate()
        .filter(|(_, c)| c.traffic == top)
        .filter(|(_, c)| {
            let settings = c.label_without("traffic");
            out.iter().filter(|o| o.label_without("traffic") == settings).all(passes)
        })
        .filter_map(|(i, c)| c.cost.as_ref().map(|k| (i, k.month_usd)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i);
    let mut rule = if gated {
        format!("passes the scenario's {} simulated threshold(s)", out.first().map_or(0, |c| c.thresholds.len()))
            + if says_throttles { "" } else { " and keeps the throttles no threshold bounds under 1%" }
    } else {
        "keeps throttles under 1% (the scenario has no threshold the model answers)".to_owned()
    };
    if several {
        rule = format!("{rule} at every traffic factor (priced at {top}x)");
    }
    let why = match best {
        Some(_) => format!("the cheapest month that {rule}"),
        None if out.iter().all(|c| c.cost.is_none()) => "nothing is priced: the run has no cost section".to_owned(),
        None => {
            // The threshold most often failed says what to change.
            let mut failed: Vec<(String, usize)> = Vec::new();
            for t in out.iter().flat_map(|c| c.thresholds.iter().filter(|t| !t.passed)) {
                let key = format!("{} {}", t.key, t.condition);
                match failed.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, n)) => *n += 1,
                    None => failed.push((key, 1)),
                }
            }
            failed.sort_by_key(|f| std::cmp::Reverse(f.1));
            match failed.first() {
                Some((k, n)) => format!("no configuration {rule}: {k} fails in {n} of {}", out.len()),
                None => format!("no configuration {rule}"),
            }
        }
    };
    (best, why)
}
