//! What a simulation needs before it runs, from what was asked: the what-if file merged with
//! the flags, the plan (the run's, another scenario's, a traffic curve), the function and the
//! gateway the grid starts from, and each configuration with its hold times and gateway.

use std::path::{Path, PathBuf};

use super::Ask;
use crate::cost::calibrate;
use crate::error::Error;
use crate::results::Results;
use crate::results::calibration::{Calibration, GatewayLimits, Throttle};
use crate::scenario::Plan;
use crate::simulate::error::SimulateError;
use crate::simulate::gateway::Gateway;
use crate::simulate::lambda::{FunctionSpec, Holds};
use crate::simulate::memory::CpuModel;
use crate::simulate::whatif::{self, Configuration, WhatIfError};
use crate::simulate::whatif_file::{self, WhatIfFile};
use crate::simulate::{curve, schedule};

/// One configuration ready to simulate.
pub struct Prepared {
    /// Its settings and function.
    pub configuration: Configuration,
    /// Its hold times (scaled for its memory).
    pub holds: Holds,
    /// What its handler durations were multiplied by.
    pub factor: f64,
    /// API Gateway in front of it, when the stack's is known.
    pub gateway: Option<Gateway>,
}

/// Everything a simulation runs from.
pub struct Setup {
    /// The calibrating run.
    pub doc: Results,
    /// What is asked, the what-if file merged in.
    pub ask: Ask,
    /// The plan simulated, before any traffic factor.
    pub source: Plan,
    /// The plan at each traffic factor, in the grid's order.
    pub plans: Vec<(f64, Plan)>,
    /// The holds of the plan's mix at the run's memory.
    pub holds: Holds,
    /// Every configuration.
    pub prepared: Vec<Prepared>,
    /// Replications of each.
    pub replications: u32,
    /// Whether the gateway's limits are known (else it is not simulated).
    pub gateway_known: bool,
}

impl Setup {
    /// The calibration (present: [`build`] checked it).
    pub fn cal(&self) -> &Calibration {
        self.doc.calibration.as_ref().expect("a calibrated run")
    }
}

/// Reads and checks everything `ask` names against the run `results`.
pub fn build(results: &Path, ask: &Ask) -> Result<Setup, Error> {
    let file = ask.whatif.as_deref().map(whatif_file::read).transpose()?;
    let ask = merged(ask, file.as_ref())?;
    let doc = Results::from_file(results)?;
    let cal = doc.calibration.as_ref().ok_or_else(|| SimulateError::NoCalibration(results.to_path_buf()))?;
    let (run_function, run_holds) =
        calibrate::model(cal).map_err(|e| SimulateError::BadCalibration { file: results.to_path_buf(), why: e.0 })?;
    let traffic =
        ask.traffic.as_deref().map(whatif::traffic_list).transpose().map_err(SimulateError::from)?.unwrap_or_default();
    let (mut source, base, gateway) = match &ask.scenario {
        Some(path) => other_scenario(path, &run_function)?,
        None => (doc.scenario.clone(), run_function.clone(), cal.gateway.clone()),
    };
    if let Some(f) = &file {
        f.check(&base)?;
    }
    let holds = calibrate::for_plan(cal, &run_holds, &source, &doc.scenario, gateway.is_some()).map_err(|u| {
        SimulateError::Uncalibrated {
            file: ask.scenario.clone().unwrap_or_else(|| results.to_path_buf()),
            request: u.request,
            known: u.known,
        }
    })?;
    if let Some(path) = &ask.traffic_curve {
        source = curve::plan(&source, &curve::read(path).map_err(SimulateError::from)?);
    }
    if let Some(seed) = ask.seed {
        source.seed = seed;
    }
    let configurations = whatif::grid(&base, &ask.sets, &traffic).map_err(SimulateError::from)?;
    let mut plans: Vec<(f64, Plan)> = Vec::new();
    for c in &configurations {
        if !plans.iter().any(|(t, _)| *t == c.traffic) {
            let plan = whatif::scaled(&source, c.traffic);
            whatif::check_size(&plan, c.traffic).map_err(SimulateError::from)?;
            plans.push((c.traffic, plan));
        }
    }
    let offered =
        |p: &Plan| p.phases.iter().map(|x| x.load.mean_rate().unwrap_or(0.0) * x.duration.as_secs_f64()).sum::<f64>();
    if plans.iter().all(|(_, p)| offered(p) < 1.0) {
        let file = ask.traffic_curve.clone().or_else(|| ask.scenario.clone()).unwrap_or_else(|| results.to_path_buf());
        return Err(SimulateError::NothingOffered(file).into());
    }
    let prepared = prepare(configurations, &holds, cal, run_holds.warm.mean(), gateway.as_ref(), &source, results)?;
    // The largest plan's replications for all, so configurations compare like for like.
    let replications = plans.iter().map(|(_, p)| schedule::replications(p)).min().unwrap_or(1);
    Ok(Setup { gateway_known: gateway.is_some(), doc, ask, source, plans, holds, prepared, replications })
}

/// The flags with the what-if file's values where a flag is not given; a setting in both is
/// an error (which would win is not obvious).
fn merged(ask: &Ask, file: Option<&WhatIfFile>) -> Result<Ask, Error> {
    let Some(f) = file else { return Ok(ask.clone()) };
    for set in &f.sets {
        let name = set.split('=').next().unwrap_or_default();
        if ask.sets.iter().any(|s| s.split('=').next().map(str::trim) == Some(name)) {
            return Err(SimulateError::WhatIf(WhatIfError::Twice(format!(
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

/// Another scenario's plan and, when it runs on the local stack, its function and gateway as
/// its `[stack]` configures them (a URL target keeps the run's function; its gateway is not
/// known).
fn other_scenario(path: &Path, run: &FunctionSpec) -> Result<(Plan, FunctionSpec, Option<GatewayLimits>), Error> {
    let plan = Plan::from_file(path, &|k| std::env::var(k).ok())?;
    if plan.target.url.is_some() {
        return Ok((plan, run.clone(), None));
    }
    let config = crate::target::stack::config(&plan, PathBuf::new(), &std::env::temp_dir())?;
    Ok((plan, calibrate::limits(&config), Some(calibrate::gateway(&config))))
}

/// Each configuration with its holds — the handler durations scaled for its memory, which needs
/// the run's CPU time when the memory is not the run's — and its gateway: the base's, with the
/// stage's default throttle as the configuration sets it.
fn prepare(
    configurations: Vec<Configuration>,
    holds: &Holds,
    cal: &Calibration,
    mean_duration_s: f64,
    gateway: Option<&GatewayLimits>,
    plan: &Plan,
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
            let asked = configuration.api_rate.is_some() || configuration.api_burst.is_some();
            let gateway = match gateway {
                None if asked => return Err(SimulateError::NoGateway(results.to_path_buf()).into()),
                None => None,
                Some(g) => {
                    let mut g = g.clone();
                    g.stage = Throttle {
                        rate: configuration.api_rate.unwrap_or(g.stage.rate),
                        burst: configuration.api_burst.unwrap_or(g.stage.burst),
                    };
                    Some(
                        Gateway::for_plan(&g, plan)
                            .map_err(|n| SimulateError::NoRoute { request: n.request, routes: n.routes })?,
                    )
                }
            };
            Ok(Prepared { configuration, holds, factor, gateway })
        })
        .collect()
}
