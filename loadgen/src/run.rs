//! `loadgen run`: plan → target → seed → attack → results → gates, writing what was measured
//! even when the run is interrupted.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::attack::Engine;
use crate::cost::Prices;
use crate::error::{EXIT_GATE_FAILED, EXIT_NOT_RUN, EXIT_PASS, RunError};
use crate::outcome::Class;
use crate::recorder::Recorder;
use crate::results::{
    self, Environment, GeneratorHealth, PhaseResult, RequestResult, Results, Stats, Status, TargetInfo,
};
use crate::scenario::Plan;
use crate::{client, costs, gates, summary, target};

/// True for URLs on the loopback range, which cost nothing.
fn is_loopback(url: &str) -> bool {
    let host = url.split("://").nth(1).unwrap_or("").split(['/', ':']).next().unwrap_or("");
    host == "localhost" || host.starts_with("127.") || host == "[::1]"
}

/// Options of `loadgen run`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The scenario file.
    pub scenario: PathBuf,
    /// Overrides `[target] url`.
    pub target: Option<String>,
    /// Report directory (default `reports/<scenario>-<UTC time>`).
    pub out: Option<PathBuf>,
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Read the target URL and resource names from `terraform output -json` here.
    pub infra: Option<PathBuf>,
    /// Skip the CloudWatch pull (cost from what the client saw).
    pub no_cloudwatch: bool,
    /// A price list instead of the built-in one.
    pub prices: Option<PathBuf>,
    /// Refuse a run against a real stack whose worst case costs more (USD; `None` = 5).
    pub max_cost_usd: Option<f64>,
    /// No progress output.
    pub quiet: bool,
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

fn utc_stamp(t: time::OffsetDateTime) -> String {
    format!("{:04}{:02}{:02}T{:02}{:02}{:02}Z", t.year(), t.month() as u8, t.day(), t.hour(), t.minute(), t.second())
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// CPU time of this process (user + system), s. Linux `/proc`, `USER_HZ` = 100.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(") ")?.1.split_whitespace().collect::<Vec<_>>();
            let utime: f64 = rest.get(11)?.parse().ok()?;
            let stime: f64 = rest.get(12)?.parse().ok()?;
            Some((utime + stime) / 100.0)
        })
        .unwrap_or(0.0)
}

/// Loads and validates a scenario, applying the command-line overrides.
pub fn load_plan(opts: &RunOptions) -> Result<Plan, RunError> {
    let mut plan = Plan::from_file(&opts.scenario, &|k| std::env::var(k).ok())?;
    if let Some(url) = &opts.target {
        let u = url.trim().trim_end_matches('/');
        if !(u.starts_with("http://") || u.starts_with("https://")) || u.parse::<hyper::Uri>().is_err() {
            return Err(RunError::Usage(format!("--target '{url}' is not an http:// or https:// URL")));
        }
        plan.target.url = Some(u.to_owned());
    }
    if let Some(seed) = opts.seed {
        plan.seed = seed;
    }
    Ok(plan)
}

/// Applies `--infra`: the API URL becomes the target; the outputs are kept for the report.
fn apply_infra(opts: &RunOptions, plan: &mut Plan) -> Result<Option<serde_json::Value>, RunError> {
    let Some(dir) = &opts.infra else { return Ok(None) };
    let outputs = target::infra_outputs(dir)?;
    let url = outputs["api_url"].as_str().unwrap_or_default().trim_end_matches('/').to_owned();
    plan.target.url = Some(url);
    Ok(Some(outputs))
}

/// Runs a scenario end to end.
pub async fn run(opts: RunOptions) -> Result<RunOutcome, RunError> {
    let mut plan = load_plan(&opts)?;
    let infra_outputs = apply_infra(&opts, &mut plan)?;
    let plan = Arc::new(plan);
    let prices = match &opts.prices {
        Some(p) => Prices::from_file(p).map_err(RunError::Usage)?,
        None => Prices::builtin(),
    };
    let started_wall = time::OffsetDateTime::now_utc();
    let dir = opts
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("reports").join(format!("{}-{}", plan.name, utc_stamp(started_wall))));
    std::fs::create_dir_all(&dir)?;

    // Target: a URL, or the local stack.
    let mut stack = None;
    let mut ctx;
    let (base, target_info) = match &plan.target.url {
        Some(url) => {
            ctx = costs::Context::for_url(infra_outputs.as_ref(), plan.target.aws.as_ref());
            if !is_loopback(url) {
                let timeout = infra_outputs.as_ref().and_then(|o| o.get("timeout_s")?.as_f64());
                costs::guard(&plan, &ctx, timeout, &prices, opts.max_cost_usd.unwrap_or(5.0), opts.quiet)?;
            }
            let info = TargetInfo {
                kind: "url".into(),
                url: url.clone(),
                stack: None,
                function_log: None,
                infra: infra_outputs.clone(),
            };
            (url.clone(), info)
        }
        None => {
            let binary = target::target_api_binary(opts.quiet)?;
            let config = target::stack_config(&plan, binary, &dir)?;
            let stack_json = serde_json::to_value(&config).ok();
            let s = target::start_stack(config.clone()).await?;
            ctx = costs::Context::for_stack(&s, &config);
            let url = s.endpoints().api_url.clone();
            let info = TargetInfo {
                kind: "local-stack".into(),
                url: url.clone(),
                stack: stack_json,
                function_log: Some(s.log_path().display().to_string()),
                infra: None,
            };
            stack = Some(s);
            (url, info)
        }
    };
    let client = client::build(plan.target.max_in_flight.min(4096), plan.target.http2)
        .map_err(|e| RunError::Setup(format!("cannot load the system's TLS root certificates: {e}")))?;
    target::seed(&plan, &client, &base, opts.quiet).await?;
    let window_start = costs::align_start(&ctx, plan.data.items > 0 && !opts.no_cloudwatch, opts.quiet).await;
    if let Some((path, offset)) = &mut ctx.log {
        *offset = std::fs::metadata(&*path).map(|m| m.len()).unwrap_or(0);
    }

    // Stop on Ctrl-C or SIGTERM; the run still writes what it measured.
    let (stop_tx, stop_rx) = watch::channel(false);
    let abort_reason: Arc<Mutex<Option<(String, bool)>>> = Arc::new(Mutex::new(None));
    {
        let (stop_tx, abort_reason) = (stop_tx.clone(), abort_reason.clone());
        tokio::spawn(async move {
            let reason = wait_for_signal().await;
            abort_reason.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert((reason, false));
            let _ = stop_tx.send(true);
        });
    }

    let cpu_before = cpu_seconds();
    let engine = Arc::new(Engine::new(plan.clone(), base.clone(), client, stop_rx));
    let ticker = tokio::spawn(tick(engine.clone(), stop_tx.clone(), abort_reason.clone(), opts.quiet));
    engine.run().await;
    // The measured duration ends with the phases, not after the drain: rates divide by it.
    let elapsed = engine
        .phases_end
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .map_or_else(|| engine.start.elapsed(), |end| end.saturating_duration_since(engine.start));
    ticker.abort();
    let _ = stop_tx.send(true);
    let cpu = cpu_seconds() - cpu_before;
    let finished_wall = time::OffsetDateTime::now_utc();
    let window_end = std::time::SystemTime::now();

    let abort = abort_reason.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut results = {
        let mut rec = engine.recorder.lock().unwrap_or_else(|e| e.into_inner());
        rec.close_seconds_before(usize::MAX);
        let reason = abort.as_ref().map(|a| a.0.clone());
        build_results(&plan, &rec, elapsed, cpu, reason, target_info, started_wall, finished_wall)
    };
    // Before the stack stops: its CloudWatch endpoint and function log are still there.
    let (pulled, cost) =
        costs::after_run(&ctx, &results, (window_start, window_end), &prices, opts.no_cloudwatch, opts.quiet).await;
    match cost {
        Ok(c) => results.cost = Some(c),
        Err(e) => eprintln!("loadgen: no cost estimate: {e}"),
    }
    results.cloudwatch = pulled;
    {
        let rec = engine.recorder.lock().unwrap_or_else(|e| e.into_inner());
        results.thresholds = gates::evaluate(&plan, &rec, results.duration_s, results.cost.as_ref());
        results.passed = results.thresholds.iter().all(|t| t.passed);
    }
    let path = dir.join("results.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&results).map_err(std::io::Error::other)?)?;
    crate::report::write_all(&results, &dir)?;
    if let Some(s) = stack {
        s.stop();
    }
    if !opts.quiet {
        print!("{}", summary::render(&results));
        println!("  results: {}", path.display());
        println!("  report:  {}", dir.join("report.html").display());
    }
    let exit_code = match &abort {
        Some((_, true)) => EXIT_GATE_FAILED,
        Some((_, false)) => EXIT_NOT_RUN,
        None if results.passed => EXIT_PASS,
        None => EXIT_GATE_FAILED,
    };
    Ok(RunOutcome { exit_code, results, dir })
}

async fn wait_for_signal() -> String {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return "interrupted (Ctrl-C)".into(),
                _ = term.recv() => return "terminated (SIGTERM)".into(),
            }
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    "interrupted (Ctrl-C)".into()
}

/// Once a fifth of a second: close finished seconds, note in-flight, show progress, and stop
/// the run on an abort-on-fail threshold or a dead target.
async fn tick(engine: Arc<Engine>, stop: watch::Sender<bool>, abort: Arc<Mutex<Option<(String, bool)>>>, quiet: bool) {
    let plan = engine.plan.clone();
    let total = plan.duration();
    let tty = std::io::stderr().is_terminal() && !quiet;
    let bar = tty.then(|| {
        let b = indicatif::ProgressBar::new(total.as_secs().max(1));
        b.set_style(
            indicatif::ProgressStyle::with_template("{prefix:>12} [{bar:24}] {pos}/{len}s {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let mut last_plain = Instant::now();
    let mut dead_seconds = 0;
    let mut last_checked = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let elapsed = engine.start.elapsed();
        let now_s = elapsed.as_secs() as usize;
        let phase = engine.phase_now.load(Ordering::Relaxed) as usize;
        let in_flight = engine.in_flight.load(Ordering::Relaxed);
        let (line, abort_now) = {
            let mut rec = engine.recorder.lock().unwrap_or_else(|e| e.into_inner());
            rec.in_flight(now_s, in_flight);
            rec.close_seconds_before(now_s);
            // A second in which every answer was a connection failure counts toward a dead target.
            if now_s > last_checked {
                for t in last_checked..now_s {
                    if let Some(s) = rec.series.get(t) {
                        let done: u64 = s.completed.iter().sum();
                        let transport = s.completed[Class::TransportError.index()];
                        if done > 0 && transport == done {
                            dead_seconds += 1
                        } else if done > 0 {
                            dead_seconds = 0
                        }
                    }
                }
                last_checked = now_s;
            }
            let last = now_s.checked_sub(1).and_then(|t| rec.series.get(t)).cloned().unwrap_or_default();
            let counts = rec.counts(None, None);
            let errors: u64 = crate::outcome::ALL.iter().filter(|c| c.is_error()).map(|c| counts[c.index()]).sum();
            let throttles: u64 =
                crate::outcome::ALL.iter().filter(|c| c.is_throttle()).map(|c| counts[c.index()]).sum();
            let target = plan
                .phases
                .get(phase)
                .and_then(|p| p.load.peak_rate())
                .map(|r| format!("{r:.0}/s"))
                .unwrap_or_else(|| "closed".into());
            let line = format!(
                "{} | target {target} sent {}/s | p99 {:.1}ms | in flight {in_flight} | errors {errors} throttles {throttles} cold {}",
                plan.phases.get(phase).map(|p| p.name.as_str()).unwrap_or(""),
                last.sent,
                last.p99_ms,
                rec.cold_starts()
            );
            (line, gates::abort_check(&plan, &rec, elapsed.as_secs_f64()))
        };
        if let Some(reason) = abort_now {
            abort.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert((reason, true));
            let _ = stop.send(true);
        }
        if dead_seconds >= 5 {
            abort
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert(("target unreachable: every request failed to connect for 5 s".into(), false));
            let _ = stop.send(true);
        }
        match &bar {
            Some(b) => {
                b.set_prefix(plan.name.clone());
                b.set_position(elapsed.as_secs().min(total.as_secs()));
                b.set_message(line);
            }
            None if !quiet && last_plain.elapsed() >= Duration::from_secs(5) => {
                eprintln!("[{:>5.0}s/{}s] {line}", elapsed.as_secs_f64(), total.as_secs());
                last_plain = Instant::now();
            }
            None => {}
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn build_results(
    plan: &Plan,
    rec: &Recorder,
    elapsed: Duration,
    cpu: f64,
    abort_reason: Option<String>,
    target: TargetInfo,
    started: time::OffsetDateTime,
    finished: time::OffsetDateTime,
) -> Results {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let sent: u64 = rec.sent.iter().sum();
    let thresholds = gates::evaluate(plan, rec, secs, None);
    let lag_ms = |q: f64| rec.lag.value_at_quantile(q) as f64 / 1000.0;
    let generator = GeneratorHealth {
        late_sends: rec.late_sends,
        saturated: lag_ms(0.99) > 10.0 || (sent > 0 && rec.late_sends as f64 / sent as f64 > 0.01),
        lag_p50_ms: lag_ms(0.5),
        lag_p99_ms: lag_ms(0.99),
        lag_max_ms: rec.lag.max() as f64 / 1000.0,
        cpu_seconds: cpu,
        max_in_flight: plan.target.max_in_flight,
        heuristic_mismatches: rec.heuristic_mismatches,
    };
    let open: Vec<_> =
        plan.phases.iter().filter_map(|p| p.load.mean_rate().map(|r| (r, p.duration.as_secs_f64()))).collect();
    let open_secs: f64 = open.iter().map(|(_, d)| d).sum();
    let target_rate = (open_secs > 0.0).then(|| open.iter().map(|(r, d)| r * d).sum::<f64>() / open_secs);
    let mut phase_start = 0.0;
    let phases = plan
        .phases
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let planned = p.duration.as_secs_f64();
            let ran = (secs - phase_start).clamp(0.0, planned);
            phase_start += planned;
            let mut summary = results::summarize(rec, None, Some(i));
            let from = (phase_start - planned) as usize;
            summary.cold_starts =
                rec.series.iter().skip(from).take(planned.ceil() as usize).map(|s| s.cold_starts).sum();
            PhaseResult {
                name: p.name.clone(),
                duration_s: planned,
                target_rate: p.load.mean_rate(),
                sent: rec.sent[i],
                achieved_rate: if ran > 0.0 { rec.sent[i] as f64 / ran } else { 0.0 },
                summary,
            }
        })
        .collect();
    let requests = plan
        .requests
        .iter()
        .enumerate()
        .map(|(i, r)| RequestResult {
            name: r.name.clone(),
            method: r.method.clone(),
            path: r.path_text.clone(),
            summary: results::summarize(rec, Some(i), None),
            cold_latency: Stats::of(&rec.cold[i]),
            warm_latency: Stats::of(&rec.warm[i]),
            diagnostics: rec.diag[i].into(),
        })
        .collect();
    let passed = thresholds.iter().all(|t| t.passed);
    Results {
        schema: results::SCHEMA.into(),
        status: if abort_reason.is_some() { Status::Aborted } else { Status::Completed },
        abort_reason,
        passed,
        scenario: serde_json::to_value(plan).unwrap_or_default(),
        target,
        environment: Environment {
            loadgen_version: env!("CARGO_PKG_VERSION").into(),
            os: format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH),
            cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            started_at: rfc3339(started),
            finished_at: rfc3339(finished),
        },
        duration_s: secs,
        target_rate,
        achieved_rate: sent as f64 / secs,
        generator,
        totals: results::summarize(rec, None, None),
        phases,
        requests,
        thresholds,
        series: rec.series.clone(),
        cost: None,
        cloudwatch: None,
        histograms: results::histogram_cells(plan, rec),
    }
}
