//! The cost stage of a run: the worst-case guard before load goes to a real target, the
//! alignment of the measured window with CloudWatch's periods, and — after the run — the
//! CloudWatch pull, the REPORT-line billing of the local stack, and the priced result.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use local_stack::config::Architecture;

use super::assess::{FunctionFacts, assess};
use super::calibrate;
use super::cloudwatch::{self, Names, Pull, Source};
use super::lambda_log;
use super::prices::{PriceError, Prices};
use crate::event::{Event, Sink, WorstCase};
use crate::record::Class;
use crate::results::calibration::Calibration;
use crate::results::cost::FunctionBill;
use crate::results::{CostResult, InfraOutputs, Pulled, Results};
use crate::scenario::{AwsNames, Load, Plan};

/// The function timeout the guard assumes when the deployed stack's is unknown, s.
const ASSUMED_TIMEOUT_S: f64 = 10.0;

/// What the cost stage knows about the target: where its metrics are, what its function is
/// billed by, the local stack's function log, the region priced.
#[derive(Debug, Clone, Default)]
pub struct TargetFacts {
    /// Where CloudWatch is, when it can be pulled.
    pub source: Option<Source>,
    /// Resource names for the metric dimensions.
    pub names: Option<Names>,
    /// Memory, architecture, reserved concurrency.
    pub facts: FunctionFacts,
    /// The local stack's function log and its size when the measured phases began.
    pub log: Option<(PathBuf, u64)>,
    /// The stack's other functions' logs, likewise, with each function's name and memory.
    pub more_logs: Vec<MoreLog>,
    /// Region priced.
    pub region: String,
}

/// Another function's log in a stack of several.
#[derive(Debug, Clone, Default)]
pub struct MoreLog {
    /// Function name.
    pub name: String,
    /// Its memory, MB.
    pub memory_mb: u32,
    /// The log, and its size when the measured phases began.
    pub log: (PathBuf, u64),
}

/// Why a run has no cost.
#[derive(Debug, thiserror::Error)]
pub enum NoCost {
    /// The region cannot be priced.
    #[error(transparent)]
    Prices(#[from] PriceError),
    /// Nothing measured what the function billed, so any figure would be made up.
    #[error(
        "nothing measured what the function billed — no REPORT lines, no CloudWatch metrics and no \
         diagnostic headers from the function. To price the run, name the deployed stack so CloudWatch can be read: \
         --infra DIR (its terraform outputs), or [target] function_name, api_id, stage, table_name and region"
    )]
    Unknown,
    /// Signals stopped the stage (the CloudWatch pull may poll for minutes on AWS).
    #[error("not priced: signals stopped the cost stage (CloudWatch pull) before it finished")]
    Interrupted,
}

/// Why a run is refused before it starts.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// The region cannot be priced.
    #[error(transparent)]
    Prices(#[from] PriceError),
    /// The worst case is above the limit.
    #[error(
        "the worst-case cost of this run is {}, above --max-cost-usd {limit_usd}; shorten the scenario or raise the limit", crate::money::usd(*worst_usd)
    )]
    TooCostly {
        /// The worst case, USD.
        worst_usd: f64,
        /// `--max-cost-usd`.
        limit_usd: f64,
    },
}

impl TargetFacts {
    /// A context for a deployed stack known through `terraform output`, or a bare URL.
    pub fn for_url(infra: Option<&InfraOutputs>, names: Option<&AwsNames>) -> TargetFacts {
        if let (None, Some(n)) = (infra, names) {
            return TargetFacts {
                source: Some(Source::Aws),
                names: Some(Names {
                    function: n.function_name.clone(),
                    api_id: n.api_id.clone(),
                    stage: n.stage.clone(),
                    table: n.table_name.clone(),
                    region: n.region.clone(),
                    ..Names::default()
                }),
                facts: FunctionFacts { memory_mb: n.memory_mb, ..Default::default() },
                log: None,
                more_logs: Vec::new(),
                region: n.region.clone(),
            };
        }
        let region = infra
            .and_then(|o| o.region.clone())
            .or_else(|| std::env::var("AWS_REGION").ok())
            .unwrap_or_else(|| "us-east-1".into());
        let Some(o) = infra else {
            return TargetFacts {
                region,
                facts: FunctionFacts { memory_mb: 256, ..Default::default() },
                ..Default::default()
            };
        };
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        TargetFacts {
            source: Some(Source::Aws),
            names: Some(Names {
                function: text(&o.function_name),
                api_id: text(&o.api_id),
                stage: text(&o.stage),
                table: text(&o.table_name),
                region: region.clone(),
                ..Names::default()
            }),
            facts: {
                let (gateway, table) = super::aws_calibration::deployed_limits(o);
                FunctionFacts {
                    memory_mb: o.memory_mb.unwrap_or(256),
                    architecture: o.architecture.unwrap_or(Architecture::X86_64),
                    reserved_concurrency: o.reserved_concurrency,
                    gateway,
                    table,
                    ..Default::default()
                }
            },
            log: None,
            more_logs: Vec::new(),
            region,
        }
    }

    /// A context for the local stack.
    pub fn for_stack(stack: &local_stack::Stack, config: &local_stack::StackConfig) -> TargetFacts {
        let e = stack.endpoints();
        TargetFacts {
            source: Some(Source::Local(e.cloudwatch_url.clone())),
            names: Some(Names {
                function: e.function_name.clone(),
                more_functions: config.extra_functions.iter().map(|f| f.name.clone()).collect(),
                api_id: e.api_id.clone(),
                stage: e.stage.clone(),
                table: e.table_name.clone(),
                more_tables: config.extra_tables.iter().map(|t| t.table_name.clone()).collect(),
                region: e.region.clone(),
            }),
            facts: FunctionFacts {
                memory_mb: config.function.memory_mb,
                architecture: config.function.architecture,
                reserved_concurrency: Some(config.concurrency_limit()),
                provisioned_concurrency: config.function.provisioned_concurrency,
                limits: Some(calibrate::limits(config)),
                gateway: Some(calibrate::gateway(config)),
                table: Some(calibrate::table(config)),
                overheads_ms: local_stack::profile::Profile::load(&config.latency_profile)
                    .map(|p| (p.lambda.invoke_overhead.mean_ms(), p.lambda.cold_start_platform.mean_ms()))
                    .unwrap_or_default(),
                platform_spread: local_stack::profile::Profile::load(&config.latency_profile).ok().map(|p| {
                    let d = p.lambda.cold_start_platform;
                    crate::results::calibration::Spread { median_ms: d.median_ms, p99_ms: d.p99_ms }
                }),
                functions: if config.extra_functions.is_empty() {
                    Vec::new()
                } else {
                    config
                        .functions()
                        .map(|f| super::by_request::ServingFunction {
                            name: f.name.clone(),
                            routes: if f.name == config.function.name {
                                config.api.routes.clone()
                            } else {
                                f.routes.clone()
                            },
                            memory_mb: f.memory_mb,
                            architecture: f.architecture,
                            provisioned_concurrency: f.provisioned_concurrency,
                        })
                        .collect()
                },
                // A single-threaded handler cannot use more than one core, whatever the share.
                cpu_share: Some(match stack.lambda().cpu_enforcement() {
                    local_stack::lambda::cpu::CpuEnforcement::Off => 1.0,
                    _ => local_stack::rules::cpu_share(config.function.memory_mb).min(1.0),
                }),
                ..Default::default()
            },
            log: Some((stack.log_path().to_path_buf(), 0)),
            more_logs: config
                .extra_functions
                .iter()
                .zip(stack.log_paths().iter().skip(1))
                .map(|(f, p)| MoreLog { name: f.name.clone(), memory_mb: f.memory_mb, log: (p.clone(), 0) })
                .collect(),
            region: e.region.clone(),
        }
    }
}

/// Requests a plan may send at most (closed models: one per user per millisecond).
fn planned_requests(plan: &Plan) -> f64 {
    plan.phases
        .iter()
        .map(|p| match &p.load {
            Load::Closed { users, .. } => *users as f64 * p.duration.as_secs_f64() * 1000.0,
            load => load.mean_rate().unwrap_or(0.0) * p.duration.as_secs_f64(),
        })
        .sum::<f64>()
        + plan.data.seeded_items() as f64
}

/// Refuses a run against a non-loopback target whose worst case — every request billed for
/// API Gateway, a Lambda request and the whole function timeout, plus a write and a read unit —
/// costs more than `max_usd`. Returns the worst case, USD.
pub fn guard(
    plan: &Plan,
    ctx: &TargetFacts,
    timeout_s: Option<f64>,
    (prices, fleet_usd): (&Prices, f64),
    max_usd: f64,
    sink: &Arc<dyn Sink>,
) -> Result<f64, GuardError> {
    let p = prices.region(&ctx.region)?;
    let requests = planned_requests(plan);
    let timeout = timeout_s.unwrap_or(ASSUMED_TIMEOUT_S);
    let gb = ctx.facts.memory_mb as f64 / 1024.0;
    let per_request = p.apigw_http_per_million.usd / 1e6
        + p.lambda_requests_per_million.usd / 1e6
        + gb * timeout * p.gb_second(ctx.facts.architecture).0.usd
        + p.dynamodb_read_request_units_per_million.usd / 1e6
        + p.dynamodb_write_request_units_per_million.usd / 1e6;
    let worst = requests * per_request + fleet_usd;
    sink.event(Event::WorstCase(WorstCase {
        requests,
        per_request_usd: per_request,
        total_usd: worst,
        fleet_usd,
        memory_mb: ctx.facts.memory_mb,
        timeout_s: timeout,
        timeout_assumed: timeout_s.is_none(),
        limit_usd: max_usd,
    }));
    if worst > max_usd {
        return Err(GuardError::TooCostly { worst_usd: worst, limit_usd: max_usd });
    }
    Ok(worst)
}

/// Waits for the next whole second (local stack) or minute (AWS) so the measured window
/// starts on a CloudWatch period boundary, clear of the seeding traffic. Returns the start.
pub async fn align_start(ctx: &TargetFacts, seeded: bool, sink: &Arc<dyn Sink>) -> SystemTime {
    let now = SystemTime::now();
    if !seeded || ctx.source.is_none() {
        return now;
    }
    let unit = if matches!(ctx.source, Some(Source::Aws)) { 60 } else { 1 };
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let next = Duration::from_secs((since.as_secs() / unit + 1) * unit) + Duration::from_millis(5);
    let wait = next.saturating_sub(since);
    if unit == 60 {
        sink.event(Event::AligningToMinute { wait });
    }
    tokio::time::sleep(wait).await;
    UNIX_EPOCH + next
}

/// Pulls CloudWatch (unless disabled) and prices the run; a failed pull is reported and the
/// cost then comes from what the client saw. Also returns what a simulation of the run draws
/// from, for results.json.
pub async fn after_run(
    ctx: &TargetFacts,
    results: &Results,
    window: (SystemTime, SystemTime),
    prices: &Prices,
    no_cloudwatch: bool,
    sink: &Arc<dyn Sink>,
) -> (Option<Pulled>, Result<CostResult, NoCost>, Option<Calibration>) {
    let mut facts = ctx.facts.clone();
    if let Some((path, offset)) = &ctx.log
        && let Some(window) = lambda_log::read_since(path, *offset)
    {
        let run = calibrate::RunFacts {
            overheads_ms: facts.overheads_ms,
            platform_spread: facts.platform_spread,
            cpu_share: facts.cpu_share,
            ok_latency: calibrate::ok_latency(results),
            gateway: facts.gateway.clone(),
            table: facts.table,
        };
        facts.calibration = facts.limits.as_ref().and_then(|l| calibrate::calibration(l, &window, &run));
        facts.report = window.report;
        facts.log_bytes = Some(window.bytes);
    }
    let bills = more_functions(ctx, &mut facts);
    let pulled = match (&ctx.source, &ctx.names, no_cloudwatch) {
        (Some(source), Some(names), false) => {
            let completed = results.totals.requests as f64 - results.totals.by_class[Class::TransportError] as f64;
            let max_wait = if matches!(source, Source::Aws) { Duration::from_secs(300) } else { Duration::ZERO };
            let req = Pull { source: source.clone(), names, window, expect_count: Some(completed), max_wait };
            match cloudwatch::pull(req, sink).await {
                Ok(p) => Some(p),
                Err(e) => {
                    sink.event(Event::CloudWatchFailed { reason: e.to_string() });
                    None
                }
            }
        }
        _ => None,
    };
    // A deployed function's REPORT lines are in CloudWatch Logs, read once the metrics pull has
    // waited for CloudWatch to catch up.
    if ctx.log.is_none()
        && !no_cloudwatch
        && let (Some(Source::Aws), Some(names)) = (&ctx.source, &ctx.names)
    {
        facts.calibration = super::aws_calibration::calibrate(&facts, names, None, results, window, sink).await;
    }
    // The billed duration is what Lambda costs; without a server-side source or the handler
    // times the function reports (`x-handler-us`) it would be a 1 ms floor per request, a
    // figure nothing measured.
    let measured = facts.report.is_some()
        || pulled.as_ref().and_then(|p| p.get(crate::results::MetricId::DurationSum)).is_some()
        || super::client_view::ClientView::of(results).handler_ms > 0.0;
    let cost = match measured {
        true => assess(results, pulled.as_ref(), &facts, prices, &ctx.region).map_err(NoCost::from),
        false => Err(NoCost::Unknown),
    }
    .map(|mut c| {
        c.functions = bills;
        c
    });
    (pulled, cost, facts.calibration)
}

/// Adds the other functions' REPORT lines to the main one's in `facts` — their billed time at
/// the main function's memory, so the GB-seconds are the stack's — and returns every
/// function's own bill (none for a stack of one).
fn more_functions(ctx: &TargetFacts, facts: &mut FunctionFacts) -> Vec<FunctionBill> {
    if ctx.more_logs.is_empty() {
        return Vec::new();
    }
    let bill = |name: &str, memory_mb: u32, r: Option<lambda_log::ReportLines>| {
        let r = r.unwrap_or_default();
        FunctionBill {
            name: name.to_owned(),
            memory_mb,
            invocations: r.invocations,
            cold_starts: r.invocations - r.warm_invocations,
            billed_ms: r.billed_ms,
        }
    };
    let main = ctx.names.as_ref().map(|n| n.function.clone()).unwrap_or_default();
    facts.main_report = facts.report;
    let mut bills = vec![bill(&main, facts.memory_mb, facts.report)];
    let mut total = facts.report.unwrap_or_default();
    for m in &ctx.more_logs {
        let window = lambda_log::read_since(&m.log.0, m.log.1);
        let r = window.as_ref().and_then(|w| w.report);
        let ratio = f64::from(m.memory_mb) / f64::from(facts.memory_mb.max(1));
        if let Some(r) = r {
            total.billed_ms += r.billed_ms * ratio;
            total.warm_billed_ms += r.warm_billed_ms * ratio;
            total.invocations += r.invocations;
            total.warm_invocations += r.warm_invocations;
        }
        if let Some(w) = &window {
            facts.log_bytes = Some(facts.log_bytes.unwrap_or(0.0) + w.bytes);
        }
        bills.push(bill(&m.name, m.memory_mb, r));
    }
    if total.invocations > 0.0 {
        facts.report = Some(total);
    }
    bills
}
