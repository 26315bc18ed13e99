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
//! penalty is INIT alone). API Gateway's throttling and the table's limits come from the
//! Terraform outputs where they say them ([`deployed_limits`]); without them neither is
//! simulated.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::assess::FunctionFacts;
use super::aws_logs::{self, LogsQuery};
use super::calibrate::{self, RunFacts};
use super::cloudwatch::Names;
use super::lambda_log;
use crate::event::{Event, Sink};
use crate::results::InfraOutputs;
use crate::results::Results;
use crate::results::calibration::{Calibration, FunctionLimits, GatewayLimits, TableLimits, Throttle};

/// API Gateway's throttling and the table's limits of a deployed stack, as its Terraform outputs
/// say them, with AWS's defaults — the local stack's own — for what no output says: the stage's
/// default route throttle over its route keys, behind the account's 10,000 req/s (burst 5,000);
/// an on-demand table serving what a new one sustains at once, 12,000 read and 4,000 write
/// units a second, 3,000 and 1,000 per partition-key value. Each is `None` when its outputs are
/// missing, and a provisioned table (its capacity is no output) is `None`.
///
/// Doubt, listed in the calibration's `assumed`: an on-demand table that has served more
/// before serves up to twice its previous peak at once, so the model may throttle it sooner
/// than AWS would; the account's throttle may have been raised.
pub fn deployed_limits(o: &InfraOutputs) -> (Option<GatewayLimits>, Option<TableLimits>) {
    let aws = local_stack::StackConfig::new("");
    let gateway = match (&o.routes, o.throttling_rate_limit, o.throttling_burst_limit) {
        (Some(routes), Some(rate), Some(burst)) if rate.is_finite() && rate >= 0.0 && burst >= 0.0 => {
            let account = aws.api.account_throttle;
            Some(GatewayLimits {
                routes: routes.clone(),
                // API Gateway's burst is a whole number of requests; a fraction still lets one in.
                stage: Throttle { rate, burst: burst.ceil().min(f64::from(u32::MAX)) as u32 },
                overrides: Vec::new(),
                account: Throttle { rate: account.rate, burst: account.burst },
            })
        }
        _ => None,
    };
    let table = (o.table_billing_mode.as_deref() == Some("PAY_PER_REQUEST")).then(|| calibrate::table(&aws));
    (gateway, table)
}

/// How far before the measured window the seeding's REPORT lines are looked for: the seeding's
/// own time at its rate, and a minute more for the alignment to CloudWatch's minute.
fn seeding_lead(results: &Results) -> Duration {
    let plan = &results.scenario;
    let rate = plan.data.seeding_rate(None);
    let through_api = plan.data.seed_via == crate::scenario::seed_data::SeedVia::Api;
    let items = if through_api { plan.data.seeded_items() } else { 0 };
    let seconds = if items > 0 && rate > 0.0 { items as f64 / rate } else { 0.0 };
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
        gateway: facts.gateway.clone(),
        table: facts.table,
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
        (facts.gateway.is_some(), "API Gateway's account throttle (AWS's default 10,000 req/s, burst 5,000)"),
        (
            facts.table.is_some(),
            "table throughput (a new on-demand table's 12,000 read and 4,000 write units/s; one that served more \
             before serves up to twice that peak)",
        ),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outputs_say_the_gateway_and_an_on_demand_table() {
        let o = InfraOutputs {
            routes: Some(vec!["GET /items/{id}".into()]),
            throttling_rate_limit: Some(100.0),
            throttling_burst_limit: Some(50.0),
            table_billing_mode: Some("PAY_PER_REQUEST".into()),
            ..InfraOutputs::default()
        };
        let (g, t) = deployed_limits(&o);
        let g = g.expect("a gateway");
        assert_eq!((g.routes.len(), g.stage.rate, g.stage.burst), (1, 100.0, 50));
        assert_eq!((g.account.rate, g.account.burst), (10_000.0, 5_000));
        let t = t.expect("an on-demand table");
        assert_eq!((t.read_units_per_s, t.write_units_per_s), (12_000.0, 4_000.0));
        assert_eq!((t.partition_read_units_per_s, t.partition_write_units_per_s), (3_000.0, 1_000.0));
        // Without the routes, or with a provisioned table, neither is known.
        let partial = InfraOutputs { routes: None, table_billing_mode: Some("PROVISIONED".into()), ..o };
        assert_eq!(deployed_limits(&partial), (None, None));
    }
}
