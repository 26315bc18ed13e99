//! `loadgen run`: plan → target → seed → attack → results → cost → gates → files, writing what
//! was measured even when the run is interrupted, then the summary and the exit code.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use local_stack::Stack;
use local_stack::config::CpuModel;
use local_stack::lambda::cpu::CpuEnforcement;

use super::Attacked;
use super::progress::Console;
use crate::attack::Engine;
use crate::attack::monitor::{self, AbortCheck};
use crate::attack::switch::{StopSwitch, on_signal};
use crate::cost::{self, Prices};
use crate::error::{EXIT_GATE_FAILED, EXIT_NOT_RUN, EXIT_PASS, Error};
use crate::event::{Event, Sink};
use crate::live_metrics::LiveMetrics;
use crate::record::{Recorder, cpu};
use crate::results::{InfraOutputs, Results, RunFacts, TargetInfo, TargetKind};
use crate::scenario::Plan;
use crate::{files, gates, http, report, target};

/// Options of `loadgen run`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The scenario file.
    pub scenario: PathBuf,
    /// Overrides `[target] url`.
    pub target: Option<String>,
    /// `NAME=URL`: overrides `[targets.NAME] url`.
    pub target_urls: Vec<String>,
    /// Report directory (default `reports/<scenario>-<UTC time>`).
    pub out: Option<PathBuf>,
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Read the target URL and resource names from `terraform output -json` here (or, with
    /// `local`, run the stack its Terraform describes on the local stack).
    pub infra: Option<PathBuf>,
    /// Run the stack `infra` describes on the local stack instead of loading the deployed one.
    pub local: bool,
    /// Skip the CloudWatch pull (cost from what the client saw).
    pub no_cloudwatch: bool,
    /// Write `[data] items` into a URL target before the phases (never without it).
    pub seed_data: bool,
    /// A price list instead of the built-in one.
    pub prices: Option<PathBuf>,
    /// Refuse a run against a real stack whose worst case costs more (USD; `None` = 5).
    pub max_cost_usd: Option<f64>,
    /// No progress output.
    pub quiet: bool,
    /// A saturated generator fails the run (exit 1).
    pub fail_on_saturation: bool,
    /// Serve the live metrics here while the run runs.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Send the load from a fleet of worker Lambdas instead of this host.
    pub fleet: Option<super::fleet::Ask>,
}

/// What a run produced.
#[derive(Debug)]
pub struct RunOutcome {
    /// The process exit code.
    pub exit_code: i32,
    /// The results document.
    pub results: Results,
    /// Where it was written.
    pub dir: PathBuf,
}

/// Loads and validates a scenario, applying the command-line overrides.
pub fn load_plan(opts: &RunOptions) -> Result<Plan, Error> {
    let mut plan = Plan::from_file(&opts.scenario, &|k| std::env::var(k).ok())?;
    super::simulate::check_table(&plan)?;
    if let Some(url) = &opts.target {
        let checked = crate::scenario::base_url::check(url).map_err(|why| Error::TargetFlag {
            flag: "--target",
            url: crate::scenario::base_url::shown(url),
            why: why.to_string(),
        })?;
        plan.target.url = Some(checked);
    }
    for given in &opts.target_urls {
        let named: Vec<String> = plan.targets.iter().map(|t| t.name.clone()).collect();
        let (name, url) = given.split_once('=').ok_or_else(|| {
            Error::Usage(format!(
                "--target-url '{given}' is not NAME=URL (the scenario's targets: {})",
                named.join(", ")
            ))
        })?;
        let Some(t) = plan.targets.iter_mut().find(|t| t.name == name.trim()) else {
            return Err(Error::Usage(format!(
                "--target-url names '{}', which is no [targets.NAME] of {} (its targets: {})",
                name.trim(),
                opts.scenario.display(),
                if named.is_empty() { "none".to_owned() } else { named.join(", ") }
            )));
        };
        t.url = crate::scenario::base_url::check(url).map_err(|why| Error::TargetFlag {
            flag: "--target-url",
            url: crate::scenario::base_url::shown(url),
            why: why.to_string(),
        })?;
    }
    if let Some(seed) = opts.seed {
        plan.seed = seed;
    }
    if let (true, Some(url)) = (opts.local, &plan.target.url) {
        return Err(Error::Usage(format!(
            "--local runs the stack --infra describes on loopback, but the scenario's [target] url sends the load to {url}; \
             remove one of them"
        )));
    }
    Ok(plan)
}

/// Where the load goes, and what the cost stage knows about it.
struct SetUp {
    base: String,
    info: TargetInfo,
    ctx: cost::TargetFacts,
    /// The local stack, kept running until the results are written.
    stack: Option<Stack>,
}

/// A URL target (with the spend guard when it is not on loopback), or the local stack.
async fn set_up(
    plan: &Plan,
    opts: &RunOptions,
    infra: Option<InfraOutputs>,
    prices: &Prices,
    dir: &std::path::Path,
    sink: &Arc<dyn Sink>,
) -> Result<SetUp, Error> {
    if let Some(url) = &plan.target.url {
        let ctx = cost::TargetFacts::for_url(infra.as_ref(), plan.target.aws.as_ref());
        if !target::url::is_loopback(url) {
            let timeout = infra.as_ref().and_then(|o| o.timeout_s);
            let fleet = opts.fleet.as_ref().map_or(0.0, |f| super::fleet::aws_cost(plan, f, prices, &ctx.region));
            cost::stage::guard(plan, &ctx, timeout, (prices, fleet), opts.max_cost_usd.unwrap_or(5.0), sink)?;
        }
        let info = TargetInfo {
            kind: TargetKind::Url,
            url: url.clone(),
            stack: None,
            function_log: None,
            cpu: None,
            cpu_refused: 0,
            infra,
        };
        return Ok(SetUp { base: url.clone(), info, ctx, stack: None });
    }
    let local_infra = opts.infra.as_deref().filter(|_| opts.local);
    let source = target::stack::Source::of(&plan.stack, local_infra);
    let mut described = target::stack::describe(&plan.stack, plan.seed, &source, Some(dir), Some(sink))?;
    if let Some(f) = &opts.fleet {
        super::fleet::add_worker(&mut described.config, (f, plan), sink)?;
    }
    let stack = target::stack::start(&described, sink).await?;
    let mut config = described.config;
    // The fleet's worker is loadgen's, not the target's: its invocations, logs and cost are
    // no part of the target's figures.
    config.extra_functions.retain(|f| opts.fleet.is_none() || f.name != super::fleet::WORKER);
    let ctx = cost::TargetFacts::for_stack(&stack, &config);
    let url = stack.endpoints().api_url.clone();
    let cpu = stack.lambda().cpu_enforcement();
    let fell_back = cpu == CpuEnforcement::CpuTime && config.function.cpu_model == CpuModel::Proportional;
    sink.event(Event::CpuModel {
        description: format!(
            "{}{}",
            cpu.describe(config.function.memory_mb),
            if fell_back {
                " (no cgroup with a CPU controller could be made here; as root or in a delegated cgroup the kernel \
                 enforces the share)"
            } else {
                ""
            }
        ),
        approximated: cpu == CpuEnforcement::CpuTime,
    });
    let info = TargetInfo {
        kind: TargetKind::LocalStack,
        url: url.clone(),
        stack: Some(config),
        function_log: Some(stack.log_path().display().to_string()),
        cpu: Some(cpu),
        cpu_refused: 0,
        infra: None,
    };
    Ok(SetUp { base: url, info, ctx, stack: Some(stack) })
}

/// `--metrics-addr`: the endpoint, bound before anything runs so a taken port is a usage error
/// and not a run without it.
async fn serve_metrics(
    addr: Option<std::net::SocketAddr>,
    plan: &Plan,
    sink: &Arc<dyn Sink>,
) -> Result<Option<Arc<LiveMetrics>>, Error> {
    let Some(addr) = addr else { return Ok(None) };
    let m = Arc::new(LiveMetrics::new(&plan.name));
    let bound = crate::live_metrics::serve(addr, m.clone())
        .await
        .map_err(|e| Error::Usage(format!("--metrics-addr {addr}: cannot listen there: {e}")))?;
    sink.event(Event::MetricsServed { url: format!("http://{bound}/metrics") });
    Ok(Some(m))
}

/// Runs the phases, watched by the monitor, until their end or a stop.
async fn attack(
    plan: &Arc<Plan>,
    base: &str,
    (client, auth): ((http::HttpClient, http::Connector), Vec<Option<Arc<crate::auth::Authorizer>>>),
    switch: StopSwitch,
    (console, metrics): (&Arc<Console>, Option<Arc<LiveMetrics>>),
) -> Attacked {
    let cpu_before = cpu::seconds();
    let engine =
        Arc::new(Engine::new(plan.clone(), base, client, switch.clone()).with_auth(auth).open_connections().await);
    if metrics.is_some() {
        engine.recorder.lock().unwrap_or_else(|e| e.into_inner()).export_ok = Some(crate::record::histogram::coarse());
    }
    let gate_plan = plan.clone();
    let abort: AbortCheck = Box::new(move |rec: &Recorder, secs| gates::abort_check(&gate_plan, rec, secs));
    let sink: Arc<dyn Sink> = console.clone();
    let watcher = tokio::spawn(monitor::watch(engine.clone(), sink, abort, metrics.clone()));
    engine.run().await;
    // Wait for the monitor to be gone before the bar is removed: a tick still running would
    // otherwise draw a new bar that stays through the cost stage and the summary.
    watcher.abort();
    let _ = watcher.await;
    let last = monitor::final_snapshot(&engine);
    if let Some(m) = &metrics {
        // Every second is over: the last ones' latencies too, for a scrape after the phases.
        let mut rec = engine.recorder.lock().unwrap_or_else(|e| e.into_inner());
        rec.close_seconds_before(usize::MAX);
        m.update(&last, rec.export_ok.as_ref());
        m.finish();
    }
    console.finish(&last, switch.reason().map(|r| r.to_string()).as_deref());
    switch.finish();
    let mut recorder = engine.recorder.lock().unwrap_or_else(|e| e.into_inner()).take();
    recorder.close_seconds_before(usize::MAX);
    Attacked {
        recorder,
        measured: engine.measured(),
        connections: engine.connects.stats(),
        stop: switch.reason(),
        cpu_seconds: cpu::seconds() - cpu_before,
        finished: time::OffsetDateTime::now_utc(),
        window_end: SystemTime::now(),
        fleet: None,
    }
}

/// A named target off loopback is a real API too: unless `[target]`'s own guard (in
/// [`set_up`]) already counts every request, the worst case of them all is priced before
/// anything is sent, at an assumed function (a named target's stack is not known).
fn guard_named_targets(plan: &Plan, prices: &Prices, max_usd: Option<f64>, sink: &Arc<dyn Sink>) -> Result<(), Error> {
    let guarded = plan.target.url.as_deref().is_some_and(|u| !target::url::is_loopback(u));
    let remote = |t: &crate::scenario::target::NamedTarget| {
        !target::url::is_loopback(&t.url) && plan.requests.iter().any(|r| r.target.as_ref() == Some(&t.name))
    };
    if !guarded && plan.targets.iter().any(remote) {
        let ctx = cost::TargetFacts::for_url(None, None);
        cost::stage::guard(plan, &ctx, None, (prices, 0.0), max_usd.unwrap_or(5.0), sink)?;
    }
    Ok(())
}

/// The stop before the phases began, as an error that says what was going on.
fn interrupted(switch: &StopSwitch, stage: &'static str) -> Error {
    Error::Interrupted { reason: switch.reason().map(|r| r.to_string()).unwrap_or_default(), stage, results: None }
}

/// A run that ended before its phases. Stopped by a signal, it writes results.json and the
/// reports with status `aborted` and nothing measured, so whoever stopped it (a CI job's
/// timeout, a supervisor) finds why in the usual place; failed otherwise, it leaves no empty
/// report directory behind (one holding a stack's function logs stays, for them).
fn not_started(
    e: Error,
    plan: &Plan,
    dir: &std::path::Path,
    switch: &StopSwitch,
    started: time::OffsetDateTime,
) -> Error {
    let (Error::Interrupted { reason, stage, .. }, Some(stop)) = (&e, switch.reason()) else {
        let _ = std::fs::remove_dir(dir);
        return e;
    };
    let target = TargetInfo {
        kind: if plan.target.url.is_some() { TargetKind::Url } else { TargetKind::LocalStack },
        url: plan.target.url.clone().unwrap_or_default(),
        stack: None,
        function_log: None,
        cpu: None,
        cpu_refused: 0,
        infra: None,
    };
    let facts = RunFacts {
        measured: std::time::Duration::ZERO,
        cpu_seconds: 0.0,
        stop: Some(stop),
        target,
        started,
        finished: time::OffsetDateTime::now_utc(),
        connections: Default::default(),
    };
    let mut results = Results::from_run(plan, &Recorder::new(plan.requests.len(), plan.phases.len()), facts);
    results.duration_s = 0.0;
    results.abort_reason = Some(format!("{reason} before {stage}: nothing was measured"));
    results.set_verdicts(Vec::new());
    let written = results.write(&dir.join("results.json")).and_then(|()| report::write_all(&results, dir));
    match written {
        Ok(()) => Error::Interrupted { reason: reason.clone(), stage, results: Some(dir.join("results.json")) },
        Err(_) => e,
    }
}

/// Runs a scenario end to end.
pub async fn run(opts: RunOptions) -> Result<RunOutcome, Error> {
    let mut plan = load_plan(&opts)?;
    let infra = opts.infra.as_deref().filter(|_| !opts.local).map(target::infra::outputs).transpose()?;
    if let Some(o) = &infra {
        plan.target.url = Some(o.api_url.clone());
    }
    let prices = opts.prices.as_deref().map(Prices::from_file).transpose()?.unwrap_or_else(Prices::builtin);
    let console = Arc::new(Console::new(&plan.name, opts.quiet));
    let sink: Arc<dyn Sink> = console.clone();
    guard_named_targets(&plan, &prices, opts.max_cost_usd, &sink)?;
    if let Some((limit, wanted)) = super::nofile::short_for(&plan, super::nofile::raise()) {
        sink.event(Event::FileLimit { limit, wanted });
    }
    if plan.target.url.is_none() && !plan.data.seed && plan.data.items > 0 {
        return Err(Error::UnseededStack(opts.scenario.clone()));
    }
    // Someone else's API is written to only when asked: results.json then says it was not.
    if let Some(url) = plan.target.url.clone()
        && plan.data.seeded_items() > 0
        && !opts.seed_data
    {
        sink.event(Event::NotSeeded { items: plan.data.items, url });
        plan.data.seed = false;
    }
    let opts = RunOptions { fleet: super::fleet::resolve(opts.fleet.clone(), &plan)?, ..opts };
    let plan = Arc::new(plan);
    let metrics = serve_metrics(opts.metrics_addr, &plan, &sink).await?;
    let started = time::OffsetDateTime::now_utc();
    let dir = opts.out.clone().unwrap_or_else(|| {
        PathBuf::from("reports").join(format!("{}-{}", plan.name, super::outputs::utc_stamp(started)))
    });
    files::create_dir(&dir)?;

    // Ctrl-C or SIGTERM from here on: before the phases nothing is measured, and the run stops
    // saying so (exit 3); during them it still writes what it measured.
    let switch = StopSwitch::new();
    tokio::spawn(on_signal(switch.clone()));
    let set = tokio::select! {
        s = set_up(&plan, &opts, infra, &prices, &dir, &sink) => s,
        _ = switch.stopped() => Err(interrupted(&switch, "the target was set up")),
    };
    let SetUp { base, info, mut ctx, stack } = match set {
        Ok(s) => s,
        Err(e) => return Err(not_started(e, &plan, &dir, &switch, started)),
    };
    let ready = tokio::select! {
        r = super::ready::ready(&plan, opts.no_cloudwatch, (&info, stack.as_ref(), &base), &mut ctx, &sink) => r,
        _ = switch.stopped() => Err(interrupted(&switch, "credentials were fetched and the data seeded")),
    };
    let (client, auth, window_start) = match ready {
        Ok(r) => r,
        Err(e) => {
            let e = not_started(e, &plan, &dir, &switch, started);
            if let Some(s) = stack {
                s.stop_and_reap().await;
            }
            return Err(e);
        }
    };
    console.set_reserved(info.concurrency_limit());
    let mut run = match &opts.fleet {
        Some(ask) => {
            let lambda_url = stack.as_ref().map(|s| s.endpoints().lambda_url.clone());
            let place = (lambda_url.as_deref(), ctx.region.as_str(), &prices);
            super::fleet::run(ask, (&plan, &base), place, switch.clone(), &console).await
        }
        None => attack(&plan, &base, (client, auth), switch.clone(), (&console, metrics)).await,
    };
    let stop = run.stop.clone();
    let facts = RunFacts {
        measured: run.measured,
        cpu_seconds: run.cpu_seconds,
        stop: stop.clone(),
        target: info,
        started,
        finished: run.finished,
        connections: std::mem::take(&mut run.connections),
    };
    let mut results = Results::from_run(&plan, &run.recorder, facts);
    results.set_fleet(run.fleet.take());
    if let Some(refused) = stack.as_ref().map(|s| s.lambda().cpu_refused()).filter(|n| *n > 0) {
        results.target.cpu_refused = refused;
        sink.event(Event::CpuModel {
            description: format!(
                "the kernel would not put {refused} environment(s) under a cgroup; their CPU time was measured instead"
            ),
            approximated: true,
        });
    }
    // Before the stack stops: its CloudWatch endpoint and function log are still there.
    let window = (window_start, run.window_end);
    // After the phases a signal stops nothing that is running; a second skips the cost stage.
    let (pulled, cost, calibration) = {
        let priced = results.priced_view();
        tokio::select! {
            c = cost::stage::after_run(&ctx, &priced, window, &prices, opts.no_cloudwatch, &sink) => c,
            _ = switch.hurried() => (None, Err(cost::stage::NoCost::Interrupted), None),
        }
    };
    results.calibration = calibration;
    match cost {
        Ok(c) => results.cost = Some(c),
        Err(e) => {
            results.cost_unknown = Some(e.to_string());
            sink.event(Event::NoCost { reason: e.to_string() });
        }
    }
    results.cloudwatch = pulled;
    let verdicts = gates::evaluate(&plan, &run.recorder, results.duration_s, results.cost.as_ref());
    results.set_verdicts(verdicts);
    if opts.fail_on_saturation && results.generator.saturated {
        results.passed = false;
    }
    let dir = super::outputs::write_outputs(&results, &dir, &sink)?;
    if let Some(s) = stack {
        s.stop_and_reap().await;
    }
    super::outputs::print_summary(&results, &dir, opts.quiet);
    Ok(RunOutcome { exit_code: exit_code(stop.as_ref(), results.passed), results, dir })
}

/// A run's exit code: 1 when a gate failed (at the end or aborting it), 3 when it was stopped
/// otherwise, 0 when it ran and passed.
fn exit_code(stop: Option<&crate::record::Stop>, passed: bool) -> i32 {
    match stop {
        Some(s) if s.is_gate() => EXIT_GATE_FAILED,
        Some(_) => EXIT_NOT_RUN,
        None if passed => EXIT_PASS,
        None => EXIT_GATE_FAILED,
    }
}
