//! What a simulation needs before it runs, from what was asked: the what-if file merged with
//! the flags, the plan (the run's, another scenario's, a traffic curve), the function and the
//! gateway the grid starts from, and each configuration with its hold times and gateway.

use std::path::Path;

use super::Ask;
use crate::cost::calibrate;
use crate::error::Error;
use crate::results::Results;
use crate::results::calibration::{Calibration, GatewayLimits, TableLimits, Throttle};
use crate::scenario::Plan;
use crate::scenario::whatif::{self as scenario_whatif, WhatIfs};
use crate::simulate::dynamodb::{Capacity, Retry, TableSpec, Units};
use crate::simulate::error::SimulateError;
use crate::simulate::gateway::Gateway;
use crate::simulate::lambda::{FunctionSpec, Holds};
use crate::simulate::memory::CpuModel;
use crate::simulate::partition::PartitionSpec;
use crate::simulate::whatif::{self, Configuration, TableCapacity, WhatIfError};
use crate::simulate::whatif_file;
use crate::simulate::{curve, schedule};

/// One configuration ready to simulate.
pub struct Prepared {
    /// Its settings and function.
    pub configuration: Configuration,
    /// Its hold times (scaled for its memory).
    pub holds: Holds,
    /// What its handler durations were multiplied by: its memory's factor times its own
    /// `duration_factor`.
    pub factor: f64,
    /// API Gateway in front of it, when the stack's is known.
    pub gateway: Option<Gateway>,
    /// The table behind it, when its limits and the requests' units are known.
    pub table: Option<TableSpec>,
}

/// The limits around the function the configurations start from.
#[derive(Clone, Copy)]
struct Around<'a> {
    gateway: Option<&'a GatewayLimits>,
    table: Option<&'a TableLimits>,
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
    /// Whether the table is simulated.
    pub table_known: bool,
    /// Whether the function's concurrency limit is known (not assumed).
    pub function_known: bool,
    /// Where the what-ifs came from when a scenario's `[simulate]` table gave them.
    pub whatifs_from: Option<String>,
}

impl Setup {
    /// The layers around the function that are simulated.
    pub fn layers(&self) -> crate::simulate::gate::Layers {
        crate::simulate::gate::Layers {
            gateway: self.gateway_known,
            table: self.table_known,
            function: self.function_known,
            by_request: self.gateway_known || self.table_known,
        }
    }

    /// The calibration (present: [`build`] checked it).
    pub fn cal(&self) -> &Calibration {
        self.doc.calibration.as_ref().expect("a calibrated run")
    }
}

/// Reads and checks everything `ask` names against the run `results`.
pub fn build(results: &Path, ask: &Ask) -> Result<Setup, Error> {
    let file = ask.whatif.as_deref().map(scenario_whatif::read).transpose()?;
    let doc = Results::from_file(results)?;
    let cal = doc.calibration.as_ref().ok_or_else(|| SimulateError::NoCalibration(results.to_path_buf()))?;
    let (run_function, run_holds) =
        calibrate::model(cal).map_err(|e| SimulateError::BadCalibration { file: results.to_path_buf(), why: e.0 })?;
    // With no what-if on the command line, the simulated scenario's `[simulate]` table says
    // what to simulate: the --scenario file's, or the run's own.
    let asked = file.is_some() || ask.traffic.is_some() || ask.traffic_curve.is_some() || !ask.sets.is_empty();
    let mut other = ask.scenario.as_deref().map(|p| other_scenario(p, &run_function)).transpose()?;
    let written = match (&file, &other) {
        (Some(f), _) => Some(f.clone()),
        _ if asked => None,
        (None, Some(o)) => o.plan.simulate.clone(),
        (None, None) => doc.scenario.simulate.clone(),
    };
    let whatifs_from = match (&file, &written) {
        (None, Some(w)) => Some(format!("the [simulate] table of {}", w.file.display())),
        _ => None,
    };
    let ask = merged(ask, written.as_ref())?;
    if other.is_none()
        && let Some(path) = &ask.scenario
    {
        other = Some(other_scenario(path, &run_function)?);
    }
    let traffic =
        ask.traffic.as_deref().map(whatif::traffic_list).transpose().map_err(SimulateError::from)?.unwrap_or_default();
    // Another local-stack scenario brings its own limits; the run's may be assumed (AWS).
    let assumed = cal.assumed.iter().any(|a| a.starts_with("reservation"));
    let function_known = match &other {
        Some(o) => o.plan.target.url.is_none() || !assumed,
        None => !assumed,
    };
    let Base { plan: mut source, function: base, gateway, table } = match other {
        Some(o) => o,
        None => Base {
            plan: doc.scenario.clone(),
            function: run_function.clone(),
            gateway: cal.gateway.clone(),
            table: cal.dynamodb,
        },
    };
    if let Some(w) = &written {
        whatif_file::check(w, &base)?;
    }
    if !source.flows.is_empty() {
        return Err(SimulateError::Flows(ask.scenario.clone().unwrap_or_else(|| results.to_path_buf())).into());
    }
    if source.has_named_targets() {
        return Err(SimulateError::Targets(ask.scenario.clone().unwrap_or_else(|| results.to_path_buf())).into());
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
    let around = Around { gateway: gateway.as_ref(), table: table.as_ref() };
    let prepared = prepare(configurations, &holds, run_holds.warm.mean(), around, &source, &doc, results)?;
    // The largest plan's replications for all, so configurations compare like for like.
    let replications = plans.iter().map(|(_, p)| schedule::replications(p)).min().unwrap_or(1);
    let table_known = prepared.iter().any(|p| p.table.is_some());
    Ok(Setup {
        gateway_known: gateway.is_some(),
        table_known,
        function_known,
        whatifs_from,
        doc,
        ask,
        source,
        plans,
        holds,
        prepared,
        replications,
    })
}

/// The flags with the written what-ifs' values where a flag is not given; a setting in both is
/// an error (which would win is not obvious).
fn merged(ask: &Ask, written: Option<&WhatIfs>) -> Result<Ask, Error> {
    let Some(f) = written else { return Ok(ask.clone()) };
    for (set, at) in &f.sets {
        let name = set.split('=').next().unwrap_or_default();
        if ask.sets.iter().any(|s| s.split('=').next().map(str::trim) == Some(name)) {
            return Err(SimulateError::WhatIf(WhatIfError::Twice(format!(
                "{name} (in {} and on the command line)",
                at.file.display()
            )))
            .into());
        }
    }
    Ok(Ask {
        scenario: ask.scenario.clone().or_else(|| f.scenario.clone()),
        traffic_curve: ask.traffic_curve.clone().or_else(|| f.traffic_curve.clone()),
        traffic: ask.traffic.clone().or_else(|| f.traffic.as_ref().map(|(t, _)| t.clone())),
        seed: ask.seed.or(f.seed),
        sets: f.sets.iter().map(|(s, _)| s.clone()).chain(ask.sets.iter().cloned()).collect(),
        ..ask.clone()
    })
}

/// Checks a scenario's `[simulate]` table as `loadgen simulate` would use it, so `validate`
/// and `run` report a bad value at its line before anything runs.
pub fn check_table(plan: &Plan) -> Result<(), Error> {
    let Some(w) = &plan.simulate else { return Ok(()) };
    if !plan.flows.is_empty() && w.scenario.is_none() {
        return Err(SimulateError::Flows(plan.file.clone()).into());
    }
    if plan.has_named_targets() && w.scenario.is_none() {
        return Err(SimulateError::Targets(plan.file.clone()).into());
    }
    // A URL target's function is known only from its run, and checked against it then.
    let unknown =
        FunctionSpec { reserved: false, ..FunctionSpec::with_reservation(local_stack::rules::ACCOUNT_CONCURRENCY) };
    // The function the grid starts from: the table's other scenario's, as `simulate` takes it.
    let base = match &w.scenario {
        Some(path) => other_scenario(path, &unknown)?.function,
        None if plan.target.url.is_some() => unknown,
        None => calibrate::limits(&settings(plan)?),
    };
    whatif_file::check(w, &base)?;
    Ok(())
}

/// The local stack's settings for `plan`, read but not started.
fn settings(plan: &Plan) -> Result<local_stack::StackConfig, Error> {
    use crate::target::stack::{Source, describe};
    Ok(describe(&plan.stack, plan.seed, &Source::of(&plan.stack, None), None, None)?.config)
}

/// What the grid starts from: the plan simulated and the stack around its function.
struct Base {
    plan: Plan,
    function: FunctionSpec,
    gateway: Option<GatewayLimits>,
    table: Option<TableLimits>,
}

/// Another scenario's plan and, when it runs on the local stack, its function, gateway and
/// table as its `[stack]` configures them (a URL target keeps the run's function; its gateway
/// and table are not known).
fn other_scenario(path: &Path, run: &FunctionSpec) -> Result<Base, Error> {
    let plan = Plan::from_file(path, &|k| std::env::var(k).ok())?;
    if plan.target.url.is_some() {
        return Ok(Base { plan, function: run.clone(), gateway: None, table: None });
    }
    let config = settings(&plan)?;
    Ok(Base {
        plan,
        function: calibrate::limits(&config),
        gateway: Some(calibrate::gateway(&config)),
        table: Some(calibrate::table(&config)),
    })
}

/// Each configuration with its holds — the handler durations scaled for its memory, which needs
/// the run's CPU time when the memory is not the run's — and its gateway: the base's, with the
/// stage's default throttle as the configuration sets it.
fn prepare(
    configurations: Vec<Configuration>,
    holds: &Holds,
    mean_duration_s: f64,
    around: Around<'_>,
    plan: &Plan,
    run: &Results,
    results: &Path,
) -> Result<Vec<Prepared>, Error> {
    let cal = run.calibration.as_ref().ok_or_else(|| SimulateError::NoCalibration(results.to_path_buf()))?;
    let (measured, same_mix) = (run.cost.as_ref(), calibrate::same_mix(plan, &run.scenario));
    let cpu = cal.cpu.as_ref().map(|c| CpuModel::new(c, mean_duration_s));
    // Each kind's own units; for the run's own mix without them, the run's mean per invocation.
    let units = calibrate::table_units(cal, plan).or_else(|| {
        let u = &measured?.usage;
        let each = Units { read: u.read_units / u.lambda_requests, write: u.write_units / u.lambda_requests, calls: 1 };
        let counts = [each.read, each.write].iter().all(|x| x.is_finite() && *x >= 0.0);
        (same_mix && u.lambda_requests > 0.0 && counts).then(|| vec![each; plan.requests.len()])
    });
    let gateway = around.gateway;
    // The keys are the plan's, whatever the table's capacity; the per-key limits the stack's
    // (AWS's own where the run's stack is not known).
    let rates = around.table.map_or(
        (local_stack::rules::PARTITION_READ_UNITS_PER_S, local_stack::rules::PARTITION_WRITE_UNITS_PER_S),
        |l| (l.partition_read_units_per_s, l.partition_write_units_per_s),
    );
    // Built once, when a configuration has a table (a Zipf picker over many items is large).
    let partitions = std::cell::OnceCell::new();
    let partitions = || {
        partitions
            .get_or_init(|| PartitionSpec::new(rates, &plan.requests, plan.data.items, &plan.data.distribution))
            .clone()
    };
    configurations
        .into_iter()
        .map(|configuration| {
            let memory = if configuration.function.memory_mb == cal.function.memory_mb {
                1.0
            } else {
                cpu.ok_or_else(|| SimulateError::NoCpuTime(results.to_path_buf()))?
                    .factor(configuration.function.memory_mb)
            };
            let factor = memory * configuration.duration_factor;
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
            let table = table(&configuration, around.table, units.as_ref(), results)?
                .map(|t| TableSpec { partitions: Some(partitions()), ..t });
            Ok(Prepared { configuration, holds, factor, gateway, table })
        })
        .collect()
}

/// A configuration's table: the stack's limits (on demand) or its provisioned capacity, with
/// what each request asks of it; `None` when either is unknown and the grid does not ask.
fn table(
    c: &Configuration,
    limits: Option<&TableLimits>,
    units: Option<&Vec<Units>>,
    results: &Path,
) -> Result<Option<TableSpec>, Error> {
    let missing = |why: &str| SimulateError::NoTable { file: results.to_path_buf(), why: why.into() };
    let Some(units) = units else {
        return match c.dynamodb {
            None => Ok(None),
            Some(_) => Err(missing("the DynamoDB units each request consumed, which the run did not report").into()),
        };
    };
    // A provisioned table is what the what-if says; on demand serves what the stack allows.
    let capacity = match (c.dynamodb, limits) {
        (Some(TableCapacity::Provisioned { read, write }), _) => {
            Capacity { read_per_s: read, write_per_s: write, provisioned: true }
        }
        (None | Some(TableCapacity::OnDemand), Some(l)) => {
            Capacity { read_per_s: l.read_units_per_s, write_per_s: l.write_units_per_s, provisioned: false }
        }
        (None, None) => return Ok(None),
        (Some(TableCapacity::OnDemand), None) => {
            return Err(missing("the stack's DynamoDB limits, which this results.json does not record").into());
        }
    };
    Ok(Some(TableSpec { capacity, retry: Retry::default(), units: units.clone(), partitions: None }))
}
