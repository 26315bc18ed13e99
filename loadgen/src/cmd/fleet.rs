//! `loadgen run --fleet N`: the plan's load sent from N worker Lambdas instead of this host —
//! on the local stack, the worker function hosted beside the target's and invoked through its
//! Invoke API; on AWS, a deployed `loadgen-worker` — and their results merged into one run.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use local_stack::StackConfig;
use local_stack::config::FunctionConfig;

use super::Attacked;
use super::progress::Console;
use crate::attack::monitor;
use crate::attack::switch::StopSwitch;
use crate::error::Error;
use crate::event::{Event, Sink};
use crate::fleet::coordinator::{self, Fleet, FleetRun};
use crate::record::{Recorder, Stop};
use crate::results::fleet::{FleetResult, LostWorker, WorkerClockResult};
use crate::scenario::Plan;

/// The worker function's name on the local stack (and `infra/fleet/`'s default).
pub const WORKER: &str = "loadgen-worker";

use crate::scenario::fleet::MAX_WORKERS;

/// Memory of the local worker, MB: more than one vCPU's worth (1,769 MB), so the emulator's CPU
/// share never holds a worker back on a machine that has the cores.
const LOCAL_WORKER_MB: u32 = 2048;

/// What `--fleet` asks for, checked against the plan.
#[derive(Debug, Clone)]
pub struct Ask {
    /// Workers.
    pub workers: u32,
    /// The deployed worker's name or ARN (`--fleet-function`); the local stack's otherwise.
    pub function: Option<String>,
}

/// The fleet a run uses: `--fleet`'s, else the scenario's `[fleet]`, checked against the plan.
pub(super) fn resolve(flag: Option<Ask>, plan: &Plan) -> Result<Option<Ask>, Error> {
    let from_plan = plan.fleet.as_ref().map(|f| Ask { workers: f.workers, function: f.function.clone() });
    let Some(ask) = flag.or(from_plan) else { return Ok(None) };
    check(&ask, plan)?;
    Ok(Some(ask))
}

/// Refuses a fleet the plan cannot run on.
fn check(ask: &Ask, plan: &Plan) -> Result<(), Error> {
    if !(1..=MAX_WORKERS).contains(&ask.workers) {
        return Err(Error::Usage(format!("--fleet {} must be 1 to {MAX_WORKERS} workers", ask.workers)));
    }
    if let Some(url) = plan.target.url.as_deref().filter(|u| crate::target::url::is_loopback(u)) {
        return Err(Error::Usage(format!(
            "--fleet sends the load from Lambda workers, which cannot reach {url} on this machine's loopback; \
             leave out the target to run the fleet on the local stack, or point it at a deployed API"
        )));
    }
    if let Some(why) = coordinator::unsupported(plan) {
        return Err(Error::Usage(format!("--fleet: {}: {why}", plan.file.display())));
    }
    let needed = worker_time(plan);
    if needed > MAX_WORKER_TIME {
        return Err(Error::Usage(format!(
            "--fleet: a worker needs {} s for this plan (the lead, its {} s of phases, its longest request timeout and \
             30 s for the answer), and a Lambda runs at most 900 s; split it into shorter scenarios (segments are not \
             yet cut automatically)",
            needed.as_secs(),
            plan.duration().as_secs()
        )));
    }
    Ok(())
}

/// The longest a Lambda function may run.
const MAX_WORKER_TIME: Duration = Duration::from_secs(900);

/// How long a worker on AWS runs for `plan`: from its invoke through the lead, the phases and
/// the drain (the longest request timeout) to its answer, with 30 s to spare.
fn worker_time(plan: &Plan) -> Duration {
    let longest = plan.longest_timeout();
    LEAD_AWS + plan.duration() + longest + Duration::from_secs(30)
}

/// Hosts the worker function on the local stack beside the target's, reserved to the fleet's
/// size in an account of its own: the target's functions meet exactly the account limits the
/// plan gives them.
pub(super) fn add_worker(config: &mut StackConfig, workers: u32, sink: &Arc<dyn Sink>) -> Result<(), Error> {
    let code = crate::target::binary::worker(sink)?;
    let worker = FunctionConfig {
        name: WORKER.into(),
        code,
        runtime: "provided.al2023".into(),
        handler: "bootstrap".into(),
        routes: Vec::new(),
        memory_mb: LOCAL_WORKER_MB,
        timeout: Duration::from_secs(900),
        reserved_concurrency: Some(workers),
        provisioned_concurrency: 0,
        environment: Vec::new(),
        own_account: true,
        ..config.function.clone()
    };
    config.extra_functions.push(worker);
    Ok(())
}

/// Memory the deployed worker is assumed to have, MB: `infra/fleet/`'s default.
const DEPLOYED_WORKER_MB: u32 = 2048;

/// How long before the common start the workers are invoked: every invoke reaches its worker,
/// cold start included, within it (a local worker starts in milliseconds).
const LEAD_LOCAL: Duration = Duration::from_secs(3);
/// The same on AWS, where a cold start and the first connections over TLS take longer.
const LEAD_AWS: Duration = Duration::from_secs(10);

/// What the fleet itself costs on AWS, apart from the target: one invoke per worker and each
/// worker's GB-seconds from its invoke to its answer (the lead, the phases, the drain). An
/// estimate: the worker's memory is `infra/fleet/`'s default, its region's x86 rate.
fn fleet_cost(
    plan: &Plan,
    (workers, lead): (u32, Duration),
    prices: &crate::cost::Prices,
    region: &str,
) -> Option<(f64, f64)> {
    let p = prices.region(region).ok()?;
    let longest = plan.longest_timeout();
    let seconds = (lead + plan.duration() + longest).as_secs_f64();
    let gb_s = f64::from(workers) * seconds * f64::from(DEPLOYED_WORKER_MB) / 1024.0;
    let (rate, tiers) = p.gb_second(local_stack::config::Architecture::X86_64);
    let usd = tiers.cost(gb_s, rate.usd) + f64::from(workers) / 1e6 * p.lambda_requests_per_million.usd;
    Some((usd, gb_s))
}

/// [`fleet_cost`] of a fleet on AWS, for the spend guard (0 when the region has no prices: the
/// guard then refuses for the target's own part).
pub(super) fn aws_cost(plan: &Plan, ask: &Ask, prices: &crate::cost::Prices, region: &str) -> f64 {
    fleet_cost(plan, (ask.workers, LEAD_AWS), prices, region).map_or(0.0, |(usd, _)| usd)
}

/// Sends the plan from the fleet `ask` names: the local stack's worker through its Invoke API
/// when `lambda_url` is the stack's, the deployed one in `region` otherwise.
pub(super) async fn run(
    ask: &Ask,
    (plan, base): (&Arc<Plan>, &str),
    (lambda_url, region, prices): (Option<&str>, &str, &crate::cost::Prices),
    switch: StopSwitch,
    console: &Arc<Console>,
) -> Attacked {
    let f = fleet(ask, lambda_url, region).await;
    if lambda_url.is_none()
        && let Err(why) = deployed_fits(&f, plan).await
    {
        let rec = Recorder::new(plan.requests.len(), plan.phases.len());
        switch.finish();
        return finished(plan, console, rec, Duration::ZERO, Some(Stop::FleetUnusable(why.0)));
    }
    // What it costs (or would) on AWS, where the lead is AWS's.
    let cost = fleet_cost(plan, (f.0.workers, LEAD_AWS), prices, region);
    attack(plan, base, &f, switch, (console, cost, lambda_url.is_some())).await
}

/// Why the deployed worker cannot run a plan.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Unusable(String);

/// Whether the deployed worker can run `plan`: it exists and its timeout covers a worker's
/// whole run (a shorter one would be killed mid-shard, every shard lost).
async fn deployed_fits((fleet, client): &(Fleet, aws_sdk_lambda::Client), plan: &Plan) -> Result<(), Unusable> {
    let conf = (client.get_function_configuration().function_name(&fleet.function).send().await).map_err(|e| {
        Unusable(format!(
            "cannot read the worker function {}: {}",
            fleet.function,
            aws_sdk_lambda::error::DisplayErrorContext(&e)
        ))
    })?;
    let timeout = Duration::from_secs(conf.timeout().unwrap_or(3).max(0) as u64);
    let needed = worker_time(plan);
    if timeout < needed {
        return Err(Unusable(format!(
            "the worker {} times out after {} s and this plan needs {} s of it: raise its timeout (infra/fleet/'s \
             timeout_s) or shorten the plan",
            fleet.function,
            timeout.as_secs(),
            needed.as_secs()
        )));
    }
    Ok(())
}

/// The fleet for this run: the local stack's worker through its Invoke API, or the deployed one.
async fn fleet(ask: &Ask, lambda_url: Option<&str>, region: &str) -> (Fleet, aws_sdk_lambda::Client) {
    let config = crate::sdk::config(lambda_url, region).await;
    // An invoke is not idempotent: one the SDK retried after the worker had started would send
    // that shard twice and report it once.
    let config = aws_sdk_lambda::config::Builder::from(&config)
        .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
        .build();
    let client = aws_sdk_lambda::Client::from_conf(config);
    let local = lambda_url.is_some();
    // The local stack hosts its own worker, whatever a deployed one is called.
    let function = match (local, &ask.function) {
        (false, Some(f)) => f.clone(),
        _ => WORKER.to_owned(),
    };
    // Time for every invoke to reach its worker, cold start included, before the common start.
    let lead = if local { LEAD_LOCAL } else { LEAD_AWS };
    (Fleet { workers: ask.workers, function, lead }, client)
}

/// Runs the plan on the fleet and hands back what the workers measured, merged.
async fn attack(
    plan: &Arc<Plan>,
    base: &str,
    (fleet, client): &(Fleet, aws_sdk_lambda::Client),
    switch: StopSwitch,
    (console, cost, local): (&Arc<Console>, Option<(f64, f64)>, bool),
) -> Attacked {
    let sink: Arc<dyn Sink> = console.clone();
    let cost = cost.map_or_else(String::new, |(usd, gb_s)| {
        format!(
            "; on AWS the fleet itself {} about ${usd:.4} ({} invokes, {gb_s:.0} GB-s at {DEPLOYED_WORKER_MB} MB) apart \
             from the target, and holds {} of the account's concurrency",
            if local { "would cost" } else { "costs" },
            fleet.workers,
            fleet.workers
        )
    });
    sink.event(Event::Fleet {
        note: format!(
            "{} workers of {} send the plan's schedule, each its shard (arrival k to worker k mod {}), starting {} s from \
             now{cost}",
            fleet.workers,
            fleet.function,
            fleet.workers,
            fleet.lead.as_secs()
        ),
        warning: false,
    });
    let run = tokio::select! {
        r = coordinator::run(plan, base, client, fleet) => Some(r),
        _ = switch.stopped() => None,
    };
    let Some(run) = run else {
        // The workers run on: a Lambda invoke cannot be called back. Nothing of theirs is here.
        sink.event(Event::Fleet {
            note: "stopped before the workers answered: their results are lost".into(),
            warning: true,
        });
        let rec = Recorder::new(plan.requests.len(), plan.phases.len());
        switch.finish();
        return finished(plan, console, rec, Duration::ZERO, switch.reason());
    };
    report(&run, &sink);
    let result = FleetResult {
        workers: fleet.workers,
        function: fleet.function.clone(),
        lost: run.lost.iter().map(|l| LostWorker { index: l.shard.index, reason: l.reason.clone() }).collect(),
        clocks: (run.clocks.iter())
            .map(|c| WorkerClockResult {
                index: c.shard.index,
                offset_ms: c.offset_ms,
                uncertainty_ms: c.uncertainty_ms,
            })
            .collect(),
    };
    let FleetRun { recorder, measured, cpu_seconds, connections, stop, lost, .. } = run;
    let stop = if !lost.is_empty() {
        Some(Stop::LostShards {
            of: fleet.workers,
            lost: lost.into_iter().map(|l| (l.shard.index, l.reason)).collect(),
        })
    } else {
        stop
    };
    switch.finish();
    let mut a = finished(plan, console, recorder, measured, stop);
    a.cpu_seconds = cpu_seconds;
    a.connections = connections;
    a.fleet = Some(result);
    a
}

/// Says what went wrong with which worker: a lost shard, a clock off the coordinator's.
fn report(run: &FleetRun, sink: &Arc<dyn Sink>) {
    for l in &run.lost {
        sink.event(Event::Fleet {
            note: format!("worker {} lost ({}); its arrivals are counted as lost", l.shard.index, l.reason),
            warning: true,
        });
    }
    for c in run.clocks.iter().filter(|c| c.skewed(50.0)) {
        sink.event(Event::Fleet {
            note: format!(
                "worker {}'s clock is {:+.0} ms (± {:.0}) off this host's: its shard started that far from the others'",
                c.shard.index, c.offset_ms, c.uncertainty_ms
            ),
            warning: true,
        });
    }
}

fn finished(
    plan: &Plan,
    console: &Arc<Console>,
    mut recorder: Recorder,
    measured: Duration,
    stop: Option<Stop>,
) -> Attacked {
    recorder.close_seconds_before(usize::MAX);
    let last = monitor::snapshot(plan, &recorder, measured.as_secs() as usize, (measured, plan.duration(), 0));
    console.finish(&last, stop.as_ref().map(ToString::to_string).as_deref());
    Attacked {
        recorder,
        measured,
        connections: Default::default(),
        stop,
        cpu_seconds: 0.0,
        finished: time::OffsetDateTime::now_utc(),
        window_end: SystemTime::now(),
        fleet: None,
    }
}
