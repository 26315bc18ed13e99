//! `loadgen simulate results.json [--scenario FILE] [--traffic 10x] [--set NAME=V1,V2…]`: the
//! run's own plan or another scenario's (scaled), drawn from the run's calibration, through every
//! configuration of the grid — throttles, cold starts, peak concurrency, ok latency and cost for
//! each — printed as a table ([`table`]) and written to simulation.json, simulate.html and
//! simulation.md.

mod notes;
mod table;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;

use crate::cost::calibrate;
use crate::cost::prices::Prices;
use crate::cost::simulated::{self, Counted};
use crate::error::{EXIT_PASS, Error};
use crate::files;
use crate::report;
use crate::results::Results;
use crate::results::calibration::Calibration;
use crate::results::summary::Stats;
use crate::scenario::Plan;
use crate::simulate::error::SimulateError;
use crate::simulate::lambda::{FunctionSpec, Holds};
use crate::simulate::memory::CpuModel;
use crate::simulate::output::{SCHEMA, Setting, SimulatedConfiguration, SimulatedWindow, Simulation};
use crate::simulate::schedule::{self, Window, latency_histogram};
use crate::simulate::whatif::{self, Configuration};
use crate::simulate::whatif_file::{self, WhatIfFile};
use crate::simulate::{curve, gate, grid};

/// What `loadgen simulate` was asked.
#[derive(Debug, Clone, Default)]
pub struct Ask {
    /// `--whatif`: the what-ifs from a file; the flags override its values.
    pub whatif: Option<PathBuf>,
    /// `--scenario`: another scenario's phases, request mix and stack settings.
    pub scenario: Option<PathBuf>,
    /// `--traffic-curve`: phases from a CSV of requests per period.
    pub traffic_curve: Option<PathBuf>,
    /// `--traffic`.
    pub traffic: Option<String>,
    /// `--set`, each `NAME=V1,V2…`.
    pub sets: Vec<String>,
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--prices`.
    pub prices: Option<PathBuf>,
    /// `--out`.
    pub out: Option<PathBuf>,
}

/// One configuration ready to simulate: its settings, function and holds.
pub(crate) struct Prepared {
    configuration: Configuration,
    holds: Holds,
    /// What its handler durations were multiplied by.
    factor: f64,
}

/// Simulates `results` under `ask`; writes simulation.json and prints the table.
pub fn simulate(results: &Path, ask: &Ask) -> Result<i32, Error> {
    let file = ask.whatif.as_deref().map(whatif_file::read).transpose()?;
    let ask = &merged(ask, file.as_ref())?;
    let doc = Results::from_file(results)?;
    let cal = doc.calibration.as_ref().ok_or_else(|| SimulateError::NoCalibration(results.to_path_buf()))?;
    let (run_function, run_holds) =
        calibrate::model(cal).ok_or_else(|| SimulateError::BadCalibration(results.to_path_buf()))?;
    let traffic =
        ask.traffic.as_deref().map(whatif::traffic_list).transpose().map_err(SimulateError::from)?.unwrap_or_default();
    let (source, base) = match &ask.scenario {
        Some(path) => other_scenario(path, &run_function)?,
        None => (doc.scenario.clone(), run_function.clone()),
    };
    if let Some(f) = &file {
        f.check(&base)?;
    }
    let holds =
        calibrate::for_plan(cal, &run_holds, &source, &doc.scenario).map_err(|u| SimulateError::Uncalibrated {
            file: ask.scenario.clone().unwrap_or_else(|| results.to_path_buf()),
            request: u.request,
            known: u.known,
        })?;
    let mut source = source;
    if let Some(path) = &ask.traffic_curve {
        source = curve::plan(&source, &curve::read(path).map_err(SimulateError::from)?);
    }
    if let Some(seed) = ask.seed {
        source.seed = seed;
    }
    let configurations = whatif::grid(&base, &ask.sets, &traffic).map_err(SimulateError::from)?;
    // One plan per traffic factor, in the grid's order.
    let mut plans: Vec<(f64, Plan)> = Vec::new();
    for c in &configurations {
        if !plans.iter().any(|(t, _)| *t == c.traffic) {
            let plan = whatif::scaled(&source, c.traffic);
            whatif::check_size(&plan, c.traffic).map_err(SimulateError::from)?;
            plans.push((c.traffic, plan));
        }
    }
    let prepared = prepare(configurations, &holds, cal, run_holds.warm.mean(), results)?;
    let prices = match &ask.prices {
        Some(p) => Prices::from_file(p)?,
        None => Prices::builtin(),
    };
    let region = doc.cost.as_ref().map_or_else(|| "us-east-1".to_owned(), |c| c.region.clone());
    let region_prices = prices.region(&region)?;
    // The largest plan's replications for all, so configurations compare like for like.
    let replications = plans.iter().map(|(_, p)| schedule::replications(p)).min().unwrap_or(1);
    let duration_s = source.duration().as_secs_f64();
    let windows = run_grid(&plans, &prepared, replications);
    let measured = doc.cost.as_ref().map(|c| &c.usage);
    let units = calibrate::units_for_plan(cal, &source, &doc.scenario);
    let reps = f64::from(replications);
    let out: Vec<SimulatedConfiguration> = prepared
        .iter()
        .zip(&windows)
        .map(|(p, w)| {
            let c = &p.configuration;
            let mut s = summarise(p, w, reps, measured.map(|m| m.architecture));
            s.cost = measured.map(|m| {
                let counted = Counted {
                    requests: s.requests,
                    invocations: s.requests * (1.0 - s.lambda_throttled),
                    billed_ms: s.billed_ms,
                    provisioned_billed_ms: w.iter().map(|x| x.provisioned_billed_ms).sum::<f64>() / reps,
                    provisioned: c.function.provisioned,
                    duration_s,
                    memory_mb: c.function.memory_mb,
                    architecture: c.architecture.unwrap_or(m.architecture),
                };
                simulated::cost(&counted, m, units, region_prices)
            });
            s
        })
        .collect();
    let mut out = out;
    for (c, w) in out.iter_mut().zip(&windows) {
        let s = gate::Simulated { windows: w, replications: reps, cost: c.cost.as_ref() };
        c.thresholds = gate::evaluate(&source, &s);
    }
    let (recommended, recommendation) = recommend(&out, &source);
    let sim = Simulation {
        schema: SCHEMA.into(),
        calibrated_from: results.display().to_string(),
        calibration_scenario: doc.scenario.name.clone(),
        scenario: source.name.clone(),
        scenario_file: ask.scenario.as_ref().map(|p| p.display().to_string()),
        traffic_curve: ask.traffic_curve.as_ref().map(|p| p.display().to_string()),
        calibration_invocations: cal.invocations,
        traffic: plans.iter().map(|(t, _)| *t).collect(),
        seed: source.seed,
        replications,
        duration_s,
        region,
        configurations: out,
        recommended,
        recommendation,
        thresholds_not_simulated: source
            .thresholds
            .iter()
            .filter(|t| !gate::simulated(t, &source))
            .map(|t| format!("{} {}", t.key, t.condition))
            .collect(),
        notes: notes::notes(&doc, cal, &holds, &prepared),
    };
    let dir = super::dir_or_beside(ask.out.as_deref(), results);
    files::create_dir(&dir)?;
    let path = dir.join("simulation.json");
    // Plain values and sequences only: serializing cannot fail.
    files::write(&path, serde_json::to_vec_pretty(&sim).expect("simulation serializes"))?;
    let html = dir.join("simulate.html");
    files::write(&html, report::simulate_html::render(&sim))?;
    files::write(&dir.join("simulation.md"), report::simulate_markdown::render(&sim))?;
    // A closed pipe (`| head`) is the reader's choice, not an error: the document is written.
    let mut stdout = std::io::stdout().lock();
    let _ = write!(stdout, "{}", table::table(&sim));
    let _ = writeln!(stdout, "  simulation: {}\n  report:     {}", path.display(), html.display());
    Ok(EXIT_PASS)
}

/// The flags with the what-if file's values where a flag is not given; a setting in both is
/// an error (which would win is not obvious).
fn merged(ask: &Ask, file: Option<&WhatIfFile>) -> Result<Ask, Error> {
    let Some(f) = file else { return Ok(ask.clone()) };
    for set in &f.sets {
        let name = set.split('=').next().unwrap_or_default();
        if ask.sets.iter().any(|s| s.split('=').next().map(str::trim) == Some(name)) {
            return Err(SimulateError::WhatIf(whatif::WhatIfError::Twice(format!(
                "{name} (in {} and on the command line)",
                ask.whatif.as_deref().unwrap_or(Path::new("")).display()
            )))
            .into());
        }
    }
    Ok(Ask {
        scenario: ask.scenario.clone().or_else(|| f.scenario.clone()),
        traffic_curve: ask.traffic_curve.clone().or_else(|| f.traffic_curve.clone()),
        traffic: ask.traffic.clone().or_else(|| f.traffic.clone()),
        seed: ask.seed.or(f.seed),
        sets: f.sets.iter().chain(&ask.sets).cloned().collect(),
        ..ask.clone()
    })
}

/// Another scenario's plan and, when it runs on the local stack, its function as its `[stack]`
/// configures it (a URL target keeps the run's).
fn other_scenario(path: &Path, run: &FunctionSpec) -> Result<(Plan, FunctionSpec), Error> {
    let plan = Plan::from_file(path, &|k| std::env::var(k).ok())?;
    if plan.target.url.is_some() {
        return Ok((plan, run.clone()));
    }
    let config = crate::target::stack::config(&plan, PathBuf::new(), &std::env::temp_dir())?;
    Ok((plan, calibrate::limits(&config)))
}

/// Each configuration with its holds: the handler durations scaled for its memory (which needs
/// the run's CPU time when the memory is not the run's).
fn prepare(
    configurations: Vec<Configuration>,
    holds: &Holds,
    cal: &Calibration,
    mean_duration_s: f64,
    results: &Path,
) -> Result<Vec<Prepared>, Error> {
    let cpu = cal.cpu.as_ref().map(|c| CpuModel::new(c, mean_duration_s));
    configurations
        .into_iter()
        .map(|configuration| {
            let factor = if configuration.function.memory_mb == cal.function.memory_mb {
                1.0
            } else {
                cpu.ok_or_else(|| SimulateError::NoCpuTime(results.to_path_buf()))?
                    .factor(configuration.function.memory_mb)
            };
            let holds = if factor == 1.0 { holds.clone() } else { holds.with_duration_factor(factor) };
            Ok(Prepared { configuration, holds, factor })
        })
        .collect()
}

/// Every configuration's windows, each through the plan of its traffic factor, on every core.
fn run_grid(plans: &[(f64, Plan)], prepared: &[Prepared], reps: u32) -> Vec<Vec<Window>> {
    let jobs: Vec<grid::Job<'_>> = prepared
        .iter()
        .map(|p| grid::Job {
            // Every factor of the grid has its plan: built from the same configurations.
            plan: &plans.iter().find(|(t, _)| *t == p.configuration.traffic).expect("a plan per traffic factor").1,
            spec: &p.configuration.function,
            holds: &p.holds,
        })
        .collect();
    grid::run(&jobs, reps)
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
        lambda_throttled: if offered > 0 { throttled as f64 / offered as f64 } else { 0.0 },
        cold_starts: w.iter().map(|x| x.cold_starts).sum::<u64>() as f64 / reps,
        peak_concurrency: w.iter().map(|x| x.peak_concurrency).max().unwrap_or(0),
        billed_ms: w.iter().map(|x| x.billed_ms).sum::<f64>() / reps,
        ok_latency: Stats::of(&ok),
        windows: w
            .iter()
            .map(|x| SimulatedWindow {
                phase: x.label.clone(),
                rate: x.rate,
                lambda_throttled: x.throttle_share().unwrap_or(0.0),
                cold_starts: x.cold_starts as f64 / reps,
                peak_concurrency: x.peak_concurrency,
                ok_latency: Stats::of(&x.ok_latency_us),
            })
            .collect(),
        thresholds: Vec::new(),
        cost: None,
    }
}

/// The cheapest month among the configurations that pass every threshold the model answers
/// (or, when the scenario has none, that keep Lambda throttles under 1%), and why.
fn recommend(out: &[SimulatedConfiguration], plan: &Plan) -> (Option<usize>, String) {
    let gated = plan.thresholds.iter().any(|t| gate::simulated(t, plan));
    let passes = |c: &SimulatedConfiguration| {
        if gated { c.thresholds.iter().all(|t| t.passed) } else { c.lambda_throttled < 0.01 }
    };
    let best = out
        .iter()
        .enumerate()
        .filter(|(_, c)| passes(c))
        .filter_map(|(i, c)| c.cost.as_ref().map(|k| (i, k.month_usd)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i);
    let rule = if gated {
        format!("passes the scenario's {} simulated threshold(s)", out.first().map_or(0, |c| c.thresholds.len()))
    } else {
        "keeps Lambda throttles under 1% (the scenario has no threshold the model answers)".to_owned()
    };
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
