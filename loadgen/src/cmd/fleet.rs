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
use crate::fleet::cut::{Cut, Unusable, cut};
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
    /// The deployed worker's name or ARN (`--fleet-function`, or read from the applied
    /// `infra/fleet/` it names); the local stack's otherwise.
    pub function: Option<String>,
    /// The deployed worker's Region, when `infra/fleet/`'s outputs say it (the target's
    /// otherwise).
    pub region: Option<String>,
    /// The longest segment one invoke sends (`--fleet-segment`); as long as the worker's timeout
    /// allows otherwise.
    pub segment: Option<Duration>,
    /// The plan's cut for a worker timing out after 900 s, as [`resolve`] checked it: the
    /// stack's reservation, the spend guard and the run reuse it rather than walk the schedule
    /// again (only a deployed worker with another timeout is cut anew).
    pub planned: Option<Cut>,
}

/// The fleet a run uses: `--fleet`'s, else the scenario's `[fleet]`, checked against the plan.
pub(super) fn resolve(flag: Option<Ask>, plan: &Plan) -> Result<Option<Ask>, Error> {
    let from_plan = plan.fleet.as_ref().map(|f| Ask {
        workers: f.workers,
        function: f.function.clone(),
        segment: f.segment,
        region: None,
        planned: None,
    });
    let Some(mut ask) = flag.or(from_plan) else { return Ok(None) };
    // A Terraform directory is an applied infra/fleet/: its outputs name the worker. (Only
    // against AWS: the local stack hosts its own worker, whatever a deployed one is called.)
    let terraform = |p: &std::path::Path| {
        p.is_dir()
            && std::fs::read_dir(p)
                .map(|d| d.flatten().any(|e| e.path().extension().is_some_and(|x| x == "tf")))
                .unwrap_or(false)
    };
    let deployed = plan.target.url.is_some();
    if let Some(dir) = ask.function.as_deref().map(std::path::Path::new).filter(|p| deployed && terraform(p)) {
        let (function, region) = crate::target::infra::fleet_outputs(dir)?;
        (ask.function, ask.region) = (Some(function), region);
    }
    ask.planned = Some(check(&ask, plan)?);
    Ok(Some(ask))
}

/// How long before the start the workers are invoked where `plan` runs: its target's Region
/// when it names one, the local stack otherwise.
fn lead_for(plan: &Plan) -> Duration {
    if plan.target.url.is_some() { LEAD_AWS } else { LEAD_LOCAL }
}

/// The plan's cut for a worker timing out after `timeout`: the one [`resolve`] made when the
/// timeout is Lambda's most.
fn planned(ask: &Ask, plan: &Plan, timeout: Duration) -> Result<Cut, Unusable> {
    match ask.planned {
        Some(c) if timeout == MAX_WORKER_TIME => Ok(c),
        _ => cut(plan, (ask.workers, ask.segment), (timeout, lead_for(plan))),
    }
}

/// Refuses a fleet the plan cannot run on; the plan's cut otherwise.
fn check(ask: &Ask, plan: &Plan) -> Result<Cut, Error> {
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
    // Whatever the deployed worker's timeout turns out to be, it is at most Lambda's.
    cut(plan, (ask.workers, ask.segment), (MAX_WORKER_TIME, lead_for(plan)))
        .map_err(|e| Error::Usage(format!("--fleet: {}: {e}", plan.file.display())))
}

/// The longest a Lambda function may run.
const MAX_WORKER_TIME: Duration = Duration::from_secs(900);

/// Hosts the worker function on the local stack beside the target's, reserved to the fleet's
/// size in an account of its own: the target's functions meet exactly the account limits the
/// plan gives them.
/// A plan cut into segments holds neighbouring segments' workers at once: the reservation is
/// the most invokes alive at once.
pub(super) fn add_worker(
    config: &mut StackConfig,
    (ask, plan): (&Ask, &Plan),
    sink: &Arc<dyn Sink>,
) -> Result<(), Error> {
    let held = planned(ask, plan, MAX_WORKER_TIME).map_err(|e| Error::Usage(e.0))?.held;
    let code = crate::target::binary::worker(sink)?;
    let worker = FunctionConfig {
        name: WORKER.into(),
        code,
        runtime: "provided.al2023".into(),
        handler: "bootstrap".into(),
        routes: Vec::new(),
        memory_mb: LOCAL_WORKER_MB,
        timeout: Duration::from_secs(900),
        reserved_concurrency: Some(held),
        provisioned_concurrency: 0,
        // A skew to inject (tests) reaches the worker process, whose environment is its own.
        environment: std::env::var(crate::fleet::worker::CLOCK_SKEW_VAR)
            .map(|v| vec![(crate::fleet::worker::CLOCK_SKEW_VAR.to_owned(), v)])
            .unwrap_or_default(),
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

/// What the fleet itself costs on AWS, apart from the target: one invoke per worker and
/// segment, and each one's GB-seconds from its invoke to its answer (the lead, its segment, the
/// drain). An estimate: the worker's memory is `infra/fleet/`'s default, its region's x86 rate.
fn fleet_cost(
    plan: &Plan,
    (workers, lead, segment): (u32, Duration, Duration),
    prices: &crate::cost::Prices,
    region: &str,
) -> Option<(f64, f64)> {
    let p = prices.region(region).ok()?;
    let segments = crate::fleet::Segment::cut(plan.duration(), segment).len() as f64;
    let seconds = segments * (lead + plan.longest_timeout()).as_secs_f64() + plan.duration().as_secs_f64();
    let gb_s = f64::from(workers) * seconds * f64::from(DEPLOYED_WORKER_MB) / 1024.0;
    let (rate, tiers) = p.gb_second(local_stack::config::Architecture::X86_64);
    let invokes = f64::from(workers) * segments;
    let usd = tiers.cost(gb_s, rate.usd) + invokes / 1e6 * p.lambda_requests_per_million.usd;
    Some((usd, gb_s))
}

/// [`fleet_cost`] of a fleet on AWS, for the spend guard (0 when the region has no prices: the
/// guard then refuses for the target's own part). Segments as a 900 s worker cuts them.
pub(super) fn aws_cost(plan: &Plan, ask: &Ask, prices: &crate::cost::Prices, region: &str) -> f64 {
    let segment = planned(ask, plan, MAX_WORKER_TIME).map_or(MAX_WORKER_TIME, |c| c.segment);
    fleet_cost(plan, (ask.workers, LEAD_AWS, segment), prices, region).map_or(0.0, |(usd, _)| usd)
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
    let mut f = fleet(ask, lambda_url, region).await;
    // The worker's timeout bounds each segment: the local stack's is Lambda's most, a deployed
    // one's is read first.
    let deployed = match lambda_url {
        Some(_) => Ok((MAX_WORKER_TIME, Ok(None))),
        None => deployed_worker(&f).await,
    };
    let fits = deployed.and_then(|(timeout, reserved)| {
        let reserved = reserved.unwrap_or_else(|why| {
            console.event(Event::Fleet {
                note: format!(
                    "cannot read {}'s reserved concurrency ({why}): the invokes this run holds at once are not checked \
                     against it",
                    f.0.function
                ),
                warning: true,
            });
            None
        });
        let c = planned(ask, plan, timeout)?;
        match reserved {
            Some(r) if r < c.held => Err(Unusable(format!(
                "the worker {} has {r} reserved concurrency and this run holds up to {} invokes at once: the \
                 rest would be throttled; raise infra/fleet/'s reserved_concurrency or use fewer workers",
                f.0.function, c.held
            ))),
            _ => Ok(c),
        }
    });
    let held = match fits {
        Ok(c) => {
            f.0.segment = c.segment;
            c.held
        }
        Err(why) => {
            let rec = Recorder::new(plan.requests.len(), plan.phases.len());
            switch.finish();
            return finished(plan, console, rec, Duration::ZERO, Some(Stop::FleetUnusable(why.0)));
        }
    };
    // What it costs (or would) on AWS, where the lead is AWS's.
    let cost = fleet_cost(plan, (f.0.workers, LEAD_AWS, f.0.segment), prices, region);
    attack(plan, base, &f, switch, (console, cost, lambda_url.is_some(), held)).await
}

/// A deployed worker's reserved concurrency (`None`: unreserved), or why it could not be read.
type Reserved = Result<Option<u32>, Unreadable>;

/// Why a deployed worker's setting could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Unreadable(String);

/// The deployed worker's timeout — a plan is cut into segments that fit it (a longer one would
/// be killed mid-shard, every shard lost) — and its reserved concurrency, when it has one.
async fn deployed_worker((fleet, client): &(Fleet, aws_sdk_lambda::Client)) -> Result<(Duration, Reserved), Unusable> {
    let conf = (client.get_function_configuration().function_name(&fleet.function).send().await).map_err(|e| {
        Unusable(format!(
            "cannot read the worker function {}: {}",
            fleet.function,
            aws_sdk_lambda::error::DisplayErrorContext(&e)
        ))
    })?;
    let timeout = Duration::from_secs(conf.timeout().unwrap_or(3).max(0) as u64);
    // Only a reservation bounds the fleet here; without one, the account's limit does, which
    // `cut` has checked against.
    let reserved = (client.get_function_concurrency().function_name(&fleet.function).send().await)
        .map(|c| c.reserved_concurrent_executions().map(|r| r.max(0) as u32))
        .map_err(|e| {
            Unreadable(aws_sdk_lambda::error::DisplayErrorContext(&e).to_string().chars().take(200).collect())
        });
    Ok((timeout, reserved))
}

/// The fleet for this run: the local stack's worker through its Invoke API, or the deployed one.
async fn fleet(ask: &Ask, lambda_url: Option<&str>, region: &str) -> (Fleet, aws_sdk_lambda::Client) {
    let region = ask.region.as_deref().filter(|_| lambda_url.is_none()).unwrap_or(region);
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
    (Fleet { workers: ask.workers, function, lead, segment: MAX_WORKER_TIME }, client)
}

/// Runs the plan on the fleet and hands back what the workers measured, merged.
async fn attack(
    plan: &Arc<Plan>,
    base: &str,
    (fleet, client): &(Fleet, aws_sdk_lambda::Client),
    switch: StopSwitch,
    (console, cost, local, held): (&Arc<Console>, Option<(f64, f64)>, bool, u32),
) -> Attacked {
    let sink: Arc<dyn Sink> = console.clone();
    let segments = crate::fleet::Segment::cut(plan.duration(), fleet.segment);
    let cost = cost.map_or_else(String::new, |(usd, gb_s)| {
        format!(
            "; on AWS the fleet itself {} about ${usd:.4} ({} invokes, {gb_s:.0} GB-s at {DEPLOYED_WORKER_MB} MB) apart \
             from the target, and holds up to {held} of the account's concurrency",
            if local { "would cost" } else { "costs" },
            fleet.workers as usize * segments.len()
        )
    });
    let cut = match segments.as_slice() {
        [_] => String::new(),
        s => format!(
            "; the plan is cut into {} back-to-back segments of {:.1} s, each sent by fresh invokes, and around each \
             boundary neighbouring segments' workers run at once ({held} invokes at most)",
            s.len(),
            s[0].length(plan.duration()).as_secs_f64(),
        ),
    };
    sink.event(Event::Fleet {
        note: format!(
            "{} workers of {} send the plan's schedule, each its shard (arrival k to worker k mod {}) with at most {} \
             requests in flight, starting {} s from now{cut}{cost}",
            fleet.workers,
            fleet.function,
            fleet.workers,
            plan.target.max_in_flight.min(crate::fleet::worker::MAX_IN_FLIGHT),
            fleet.lead.as_secs()
        ),
        warning: false,
    });
    let run = coordinator::run(plan, base, (client, &switch), fleet).await;
    report(&run, &sink);
    let result = FleetResult {
        workers: fleet.workers,
        function: fleet.function.clone(),
        segments: segments.len() as u32,
        lost: (run.lost.iter())
            .map(|l| LostWorker { index: l.shard.index, segment: l.segment.index, reason: l.reason.clone() })
            .collect(),
        clocks: (run.clocks.iter())
            .map(|c| WorkerClockResult {
                index: c.shard.index,
                segment: c.segment.index,
                offset_ms: c.offset_ms,
                uncertainty_ms: c.uncertainty_ms,
            })
            .collect(),
    };
    let FleetRun { recorder, measured, cpu_seconds, connections, stop, lost, .. } = run;
    // A stop here (Ctrl-C) is the run's reason, whatever it left unanswered.
    let stop = if let Some(reason) = switch.reason() {
        Some(reason)
    } else if !lost.is_empty() {
        Some(Stop::LostShards {
            of: fleet.workers * segments.len() as u32,
            lost: lost.into_iter().map(|l| (l.shard.index, format!("{}{}", in_segment(l.segment), l.reason))).collect(),
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
            note: format!(
                "worker {} lost ({}{}); its arrivals are counted as lost",
                l.shard.index,
                in_segment(l.segment),
                l.reason
            ),
            warning: true,
        });
    }
    for c in run.clocks.iter().filter(|c| c.skewed(crate::results::fleet::CLOCK_TOLERANCE_MS)) {
        sink.event(Event::Fleet {
            note: format!(
                "worker {}'s clock ({}invoke) is {:+.0} ms (± {:.0}) off this host's: its shard started that far from \
                 the others', so the run is marked saturated",
                c.shard.index,
                in_segment(c.segment),
                c.offset_ms,
                c.uncertainty_ms
            ),
            warning: true,
        });
    }
}

/// "segment i of n: " when the plan was cut into several, for a worker's notes.
fn in_segment(s: crate::fleet::Segment) -> String {
    if s.count > 1 { format!("segment {} of {}: ", s.index + 1, s.count) } else { String::new() }
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
