//! The calibration of a run against a deployed stack: its function's REPORT lines and Lambda
//! Insights events from CloudWatch Logs ([`super::aws_logs`]) drawn into the same
//! [`Calibration`] a local-stack run keeps, so `loadgen simulate` works on an AWS run too.
//!
//! What CloudWatch Logs cannot say is taken from what the run knows, each named in the
//! calibration's `source`: the reservation and memory from `--infra` or `[target]` (without a
//! reservation, the account's pool of AWS's default 1,000); the scaling rate, AWS's documented
//! 1,000 new environments per 10 s; keep-warm, unpublished by AWS, the local stack's 5 minutes;
//! the invoke overhead and a cold start's platform time, which REPORT lines do not show, 0 (the
//! client's wait beyond the hold absorbs them, so ok latency keeps its mean but a cold start's
//! penalty is INIT alone). API Gateway's throttling and the table's limits are not read, so
//! neither is simulated.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::assess::FunctionFacts;
use super::aws_logs::{self, LogsQuery};
use super::calibrate::{self, RunFacts};
use super::cloudwatch::Names;
use super::lambda_log;
use crate::event::{Event, Sink};
use crate::results::Results;
use crate::results::calibration::{Calibration, FunctionLimits};

/// How far before the measured window the seeding's REPORT lines are looked for: the seeding's
/// own time at its rate, and a minute more for the alignment to CloudWatch's minute.
fn seeding_lead(results: &Results) -> Duration {
    let plan = &results.scenario;
    let rate = plan.data.seeding_rate(None);
    let seconds = if plan.data.items > 0 && rate > 0.0 { plan.data.items as f64 / rate } else { 0.0 };
    Duration::from_secs_f64(seconds.min(3_600.0) + 60.0)
}

/// The function's limits as far as the run knows them.
fn limits(facts: &FunctionFacts) -> FunctionLimits {
    let account = local_stack::rules::ACCOUNT_CONCURRENCY;
    FunctionLimits {
        concurrency: facts.reserved_concurrency.unwrap_or(account),
        reserved: facts.reserved_concurrency.is_some(),
        account_concurrency: account,
        provisioned: facts.provisioned_concurrency,
        scaling_per_10s: local_stack::rules::NEW_ENVIRONMENTS_PER_10_S,
        keep_warm_s: 300.0,
        rate_limits: true,
        memory_mb: facts.memory_mb,
    }
}

/// The calibration of an AWS run whose measured window was `window`, its function named in
/// `names`; `endpoint` replaces AWS's (a test's). `None`, said on `sink`, when the log cannot
/// be read or holds no REPORT line of the window.
pub async fn calibrate(
    facts: &FunctionFacts,
    names: &Names,
    endpoint: Option<&str>,
    results: &Results,
    window: (SystemTime, SystemTime),
    sink: &Arc<dyn Sink>,
) -> Option<Calibration> {
    let group = format!("/aws/lambda/{}", names.function);
    let query = LogsQuery {
        endpoint,
        region: &names.region,
        function: &names.function,
        times: (window.0 - seeding_lead(results), window.0, window.1),
    };
    let log = match aws_logs::fetch(&query).await {
        Ok(log) => log,
        Err(e) => {
            sink.event(Event::LogsFailed { reason: e.to_string() });
            return None;
        }
    };
    let w = lambda_log::from_text(&log.head, &log.tail, log.insights.as_deref());
    // REPORT lines say the memory the function ran with; it beats what the run was told.
    let logged_mb = log.tail.lines().find_map(|l| {
        l.split('\t')
            .find_map(|f| f.strip_prefix("Memory Size: "))
            .and_then(|v| v.trim_end_matches(" MB").parse::<u32>().ok())
    });
    let facts = &FunctionFacts { memory_mb: logged_mb.unwrap_or(facts.memory_mb), ..facts.clone() };
    let run = RunFacts {
        overheads_ms: (0.0, 0.0),
        // Lambda's CPU share: memory ÷ 1,769 MB, a single-threaded handler using one core at most.
        cpu_share: Some(local_stack::rules::cpu_share(facts.memory_mb).min(1.0)),
        ok_latency: calibrate::ok_latency(results),
        gateway: None,
        table: None,
        platform_spread: None,
    };
    let Some(mut c) = calibrate::calibration(&limits(facts), &w, &run) else {
        sink.event(Event::LogsFailed {
            reason: format!(
                "{group} has no REPORT line (or JSON platform.report event) in the measured window{}",
                if log.truncated { ", and its read stopped at the limit" } else { "" }
            ),
        });
        return None;
    };
    let answered = results.totals.requests - results.totals.by_class[crate::record::Class::TransportError];
    c.assumed = [
        (facts.reserved_concurrency.is_none(), "reservation (the account's pool)"),
        (logged_mb.is_none(), "memory"),
        (true, "account concurrency and scaling rate (AWS's defaults)"),
        (true, "keep-warm (300 s)"),
        (true, "invoke overhead and cold-start platform time (0: a cold start costs INIT alone)"),
    ]
    .into_iter()
    .filter(|(assumed, _)| *assumed)
    .map(|(_, what)| what.to_owned())
    .collect();
    c.source = format!(
        "REPORT lines of CloudWatch Logs {group}, measured window ({} read for {answered} responses the client saw{}{}); \
         {}, {} MB",
        c.invocations,
        if log.truncated { ", truncated at the read limit" } else { "" },
        log.insights_error.as_ref().map(|e| format!("; Lambda Insights not read: {e}")).unwrap_or_default(),
        match facts.reserved_concurrency {
            Some(r) => format!("reserved concurrency {r}"),
            None => "no reservation known".to_owned(),
        },
        facts.memory_mb,
    );
    if let Some(cpu) = c.cpu.as_mut() {
        cpu.source = "Lambda Insights performance events (cpu_total_time) of /aws/lambda-insights".into();
    }
    Some(c)
}
