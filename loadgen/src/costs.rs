//! The cost stage of a run: the worst-case guard before load goes to a real target, the
//! alignment of the measured window with CloudWatch's periods, and — after the run — the
//! CloudWatch pull, the REPORT-line billing of the local stack, and the priced result.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::billing::{self, CostResult, FunctionFacts};
use crate::cloudwatch::{self, Names, Pulled, Source};
use crate::cost::Prices;
use crate::error::RunError;
use crate::results::Results;
use crate::scenario::{Load, Plan};

/// What the cost stage knows about the target.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Where CloudWatch is, when it can be pulled.
    pub source: Option<Source>,
    /// Resource names for the metric dimensions.
    pub names: Option<Names>,
    /// Memory, architecture, reserved concurrency.
    pub facts: FunctionFacts,
    /// The local stack's function log and its size when the measured phases began.
    pub log: Option<(PathBuf, u64)>,
    /// Region priced.
    pub region: String,
}

fn output<'a>(outputs: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    outputs.get(key).filter(|v| !v.is_null())
}

impl Context {
    /// A context for a deployed stack known through `terraform output`, or a bare URL.
    pub fn for_url(infra: Option<&serde_json::Value>, names: Option<&crate::scenario::AwsNames>) -> Context {
        if let (None, Some(n)) = (infra, names) {
            return Context {
                source: Some(Source::Aws),
                names: Some(Names {
                    function: n.function_name.clone(),
                    api_id: n.api_id.clone(),
                    stage: n.stage.clone(),
                    table: n.table_name.clone(),
                    region: n.region.clone(),
                }),
                facts: FunctionFacts { memory_mb: n.memory_mb, architecture: "x86_64".into(), ..Default::default() },
                log: None,
                region: n.region.clone(),
            };
        }
        let region = infra
            .and_then(|o| output(o, "region")?.as_str().map(str::to_owned))
            .or_else(|| std::env::var("AWS_REGION").ok())
            .unwrap_or_else(|| "us-east-1".into());
        let Some(o) = infra else {
            return Context {
                region,
                facts: FunctionFacts { memory_mb: 256, architecture: "x86_64".into(), ..Default::default() },
                ..Default::default()
            };
        };
        let s = |k: &str| output(o, k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        let n = |k: &str| output(o, k).and_then(|v| v.as_f64());
        Context {
            source: Some(Source::Aws),
            names: Some(Names {
                function: s("function_name"),
                api_id: s("api_id"),
                stage: s("stage"),
                table: s("table_name"),
                region: region.clone(),
            }),
            facts: FunctionFacts {
                memory_mb: n("memory_mb").unwrap_or(256.0) as u32,
                architecture: output(o, "architecture").and_then(|v| v.as_str()).unwrap_or("x86_64").to_owned(),
                reserved_concurrency: n("reserved_concurrency").map(|c| c as u32),
                ..Default::default()
            },
            log: None,
            region,
        }
    }

    /// A context for the local stack.
    pub fn for_stack(stack: &local_stack::Stack, config: &local_stack::StackConfig) -> Context {
        let e = stack.endpoints();
        Context {
            source: Some(Source::Local(e.cloudwatch_url.clone())),
            names: Some(Names {
                function: e.function_name.clone(),
                api_id: e.api_id.clone(),
                stage: e.stage.clone(),
                table: e.table_name.clone(),
                region: e.region.clone(),
            }),
            facts: FunctionFacts {
                memory_mb: config.function.memory_mb,
                architecture: match config.function.architecture {
                    local_stack::config::Architecture::X86_64 => "x86_64".into(),
                    local_stack::config::Architecture::Arm64 => "arm64".into(),
                },
                reserved_concurrency: Some(config.function.reserved_concurrency),
                ..Default::default()
            },
            log: Some((stack.log_path().to_path_buf(), 0)),
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
        + plan.data.items as f64
}

/// Refuses a run against a non-loopback target whose worst case — every request billed for
/// API Gateway, a Lambda request and the whole function timeout, plus a write and a read unit —
/// costs more than `max_usd`.
pub fn guard(
    plan: &Plan,
    ctx: &Context,
    timeout_s: Option<f64>,
    prices: &Prices,
    max_usd: f64,
    quiet: bool,
) -> Result<f64, RunError> {
    let p = prices.region(&ctx.region).map_err(RunError::Usage)?;
    let requests = planned_requests(plan);
    let timeout = timeout_s.unwrap_or(10.0);
    let gb = ctx.facts.memory_mb as f64 / 1024.0;
    let gb_rate =
        if ctx.facts.architecture == "arm64" { &p.lambda_gb_second_arm64 } else { &p.lambda_gb_second_x86_64 };
    let per_request = p.apigw_http_per_million.usd / 1e6
        + p.lambda_requests_per_million.usd / 1e6
        + gb * timeout * gb_rate.usd
        + p.dynamodb_read_request_units_per_million.usd / 1e6
        + p.dynamodb_write_request_units_per_million.usd / 1e6;
    let worst = requests * per_request;
    if !quiet {
        eprintln!(
            "loadgen: worst case for this run against a real stack: {requests:.0} requests × ${per_request:.8} = ${worst:.2} \
             ({} MB, {timeout} s timeout{}); limit --max-cost-usd {max_usd}",
            ctx.facts.memory_mb,
            if timeout_s.is_none() { " assumed: pass --infra for the real figures" } else { "" }
        );
    }
    if worst > max_usd {
        return Err(RunError::Usage(format!(
            "the worst-case cost of this run is ${worst:.2}, above --max-cost-usd {max_usd}; shorten the scenario or raise the limit"
        )));
    }
    Ok(worst)
}

/// Waits for the next whole second (local stack) or minute (AWS) so the measured window
/// starts on a CloudWatch period boundary, clear of the seeding traffic. Returns the start.
pub async fn align_start(ctx: &Context, seeded: bool, quiet: bool) -> SystemTime {
    let now = SystemTime::now();
    if !seeded || ctx.source.is_none() {
        return now;
    }
    let unit = if matches!(ctx.source, Some(Source::Aws)) { 60 } else { 1 };
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let next = Duration::from_secs((since.as_secs() / unit + 1) * unit) + Duration::from_millis(5);
    let wait = next.saturating_sub(since);
    if unit == 60 && !quiet {
        eprintln!(
            "loadgen: waiting {:.0} s for the next minute so CloudWatch separates seeding from the run…",
            wait.as_secs_f64()
        );
    }
    tokio::time::sleep(wait).await;
    UNIX_EPOCH + next
}

/// Billed ms and invocations from the REPORT lines written after `offset`, and the bytes.
fn read_report(path: &Path, offset: u64) -> Option<(f64, f64, f64)> {
    let bytes = std::fs::read(path).ok()?;
    let tail = bytes.get(offset as usize..)?;
    let text = String::from_utf8_lossy(tail);
    let (mut billed, mut n) = (0.0, 0.0);
    for line in text.lines().filter(|l| l.starts_with("REPORT ")) {
        if let Some(ms) = line
            .split('\t')
            .find_map(|f| f.strip_prefix("Billed Duration: "))
            .and_then(|v| v.trim_end_matches(" ms").parse::<f64>().ok())
        {
            billed += ms;
            n += 1.0;
        }
    }
    Some((billed, n, tail.len() as f64))
}

/// Pulls CloudWatch (unless disabled) and prices the run.
pub async fn after_run(
    ctx: &Context,
    results: &Results,
    window: (SystemTime, SystemTime),
    prices: &Prices,
    no_cloudwatch: bool,
    quiet: bool,
) -> (Option<Pulled>, Result<CostResult, String>) {
    let mut facts = ctx.facts.clone();
    if let Some((path, offset)) = &ctx.log
        && let Some((billed, n, bytes)) = read_report(path, *offset)
    {
        facts.report = (n > 0.0).then_some((billed, n));
        facts.log_bytes = Some(bytes);
    }
    let pulled = match (&ctx.source, &ctx.names, no_cloudwatch) {
        (Some(source), Some(names), false) => {
            let completed = results.totals.requests as f64
                - results.totals.by_class.get("transport_error").copied().unwrap_or(0) as f64;
            let max_wait = if matches!(source, Source::Aws) { Duration::from_secs(300) } else { Duration::ZERO };
            match cloudwatch::pull(source.clone(), names, window.0, window.1, Some(completed), max_wait, quiet).await {
                Ok(p) => Some(p),
                Err(e) => {
                    eprintln!("loadgen: {e} — pricing from what the client saw");
                    None
                }
            }
        }
        _ => None,
    };
    let cost = billing::assess(results, pulled.as_ref(), &facts, prices, &ctx.region);
    (pulled, cost)
}
