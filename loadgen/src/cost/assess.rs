//! What a run cost and why: usage assembled from the best source at hand (REPORT lines and
//! CloudWatch over client-side headers), priced for the run, per million requests and for a
//! month at the average and peak rates, with the reconciliation, the cost per request kind, the
//! batch-vs-per-item verdict and the knee.

use local_stack::config::Architecture;

use super::by_request::{Serving, ServingFunction, batch_vs_item, costs};
use super::calibrate;
use super::client_view::ClientView;
use super::knee::knee;
use super::lambda_log::ReportLines;
use super::prices::{MONTH_SECONDS, PriceError, Prices, free_tier_value, price};
use super::reconcile;
use crate::record::Class;
use crate::results::calibration::{Calibration, FunctionLimits};
use crate::results::cost::{CostResult, Usage};
use crate::results::{MetricId, Pulled, Results};

/// Log bytes per invocation when the real log is not at hand (AWS without a log pull): one
/// JSON request line (~260 B) plus START, END and REPORT (~250 B), as the local stack writes them.
pub const LOG_BYTES_PER_INVOCATION: f64 = 520.0;

/// What is known about the function's billing.
#[derive(Debug, Clone, Default)]
pub struct FunctionFacts {
    /// Memory, MB.
    pub memory_mb: u32,
    /// Instruction set.
    pub architecture: Architecture,
    /// The concurrency limit (the reservation, or the account's quota), when known.
    pub reserved_concurrency: Option<u32>,
    /// Provisioned concurrency configured.
    pub provisioned_concurrency: u32,
    /// Billed time and invocations from the REPORT lines of the measured window (local stack).
    pub report: Option<ReportLines>,
    /// Log bytes written in the measured window (local stack).
    pub log_bytes: Option<f64>,
    /// The function's limits as Lambda admits invocations, when all are known (local stack).
    pub limits: Option<FunctionLimits>,
    /// What holds an environment beyond the REPORT lines: the invoke overhead and a cold
    /// start's platform part, mean ms (the local stack's latency profile).
    pub overheads_ms: (f64, f64),
    /// The cold-start platform time's spread (the latency profile's log-normal).
    pub platform_spread: Option<crate::results::calibration::Spread>,
    /// Share of a core each environment had, capped at one (1 when not limited; local stack).
    pub cpu_share: Option<f64>,
    /// API Gateway's throttling (local stack).
    pub gateway: Option<crate::results::calibration::GatewayLimits>,
    /// The table's throughput limits, when the stack's are known.
    pub table: Option<crate::results::calibration::TableLimits>,
    /// What the knee's simulation draws from (the measured window's REPORT lines).
    pub calibration: Option<Calibration>,
    /// A stack of several functions: each one's routes, memory and architecture, the first's
    /// first (what serves each request kind, so it is priced at its own memory).
    pub functions: Vec<ServingFunction>,
    /// The first function's own REPORT lines, when the stack has several (its knee is its own).
    pub main_report: Option<ReportLines>,
}

/// The usage of the run from the best source for each figure, with where each came from and
/// the caveats of the estimate.
fn usage(
    results: &Results,
    pulled: Option<&Pulled>,
    facts: &FunctionFacts,
    client: &ClientView,
) -> (Usage, Vec<String>, Vec<String>) {
    let cw = |id| pulled.and_then(|x| x.get(id));
    let mut sources = Vec::new();
    let mut notes = Vec::new();
    // API Gateway bills what reached the integration; its own 429s and refusals at
    // authorization are free.
    let api_requests = match cw(MetricId::ApiCount) {
        Some(count) => {
            sources.push(
                "API requests: CloudWatch Count minus the 429s and authorization refusals API Gateway answered itself"
                    .into(),
            );
            (count - results.totals.by_class[Class::ApigwThrottled] as f64 - results.gateway_denied as f64).max(0.0)
        }
        None => {
            sources
                .push("API requests: client-side (completed minus API Gateway throttles and transport errors)".into());
            client.api
        }
    };
    let lambda_requests = match cw(MetricId::Invocations) {
        Some(n) => {
            sources.push("Lambda requests: CloudWatch Invocations".into());
            n
        }
        None => {
            sources.push("Lambda requests: client-side (reached the integration, not throttled by Lambda)".into());
            client.invocations
        }
    };
    let lambda_billed_ms = if let Some(report) = facts.report {
        sources.push("Lambda billed duration: REPORT lines of the measured window (exact, INIT included)".into());
        report.billed_ms
    } else if let Some(sum) = cw(MetricId::DurationSum) {
        sources.push(
            "Lambda billed duration: CloudWatch Duration sum + 0.5 ms rounding per invocation + INIT durations".into(),
        );
        notes.push("Billed duration is estimated: CloudWatch's Duration excludes INIT and 1 ms rounding; read REPORT lines for the exact figure.".into());
        sum + 0.5 * lambda_requests + cw(MetricId::InitSum).unwrap_or(0.0)
    } else {
        sources.push(
            "Lambda billed duration: x-handler-us headers + 1 ms per invocation (no CloudWatch, no REPORT lines)"
                .into(),
        );
        notes.push("Billed duration is a client-side floor: handler time excludes runtime and INIT time.".into());
        client.handler_ms + lambda_requests
    };
    let read_units = cw(MetricId::ReadUnits)
        .inspect(|_| sources.push("DynamoDB units: CloudWatch ConsumedRead/WriteCapacityUnits".into()))
        .unwrap_or_else(|| {
            if client.diagnosed > 0.0 && client.units_complete {
                sources.push("DynamoDB units: x-ddb-rcu / x-ddb-wcu headers".into());
            } else if client.diagnosed > 0.0 {
                sources.push("DynamoDB units: x-ddb-rcu / x-ddb-wcu headers of the kinds that send them".into());
                notes.push(
                    "DynamoDB is a floor: without CloudWatch, only the request kinds whose function reports its units \
                     (x-ddb-* headers) are priced."
                        .into(),
                );
            } else {
                sources.push(
                    "DynamoDB units: unknown (no CloudWatch table metrics, no x-ddb-* headers), priced as 0".into(),
                );
                notes.push(
                    "DynamoDB is priced as 0: neither CloudWatch nor the function said what the table consumed.".into(),
                );
            }
            client.rcu
        });
    let write_units = cw(MetricId::WriteUnits).unwrap_or(client.wcu);
    let log_bytes = facts.log_bytes.unwrap_or_else(|| {
        notes.push(format!("Log ingestion is estimated at {LOG_BYTES_PER_INVOCATION} bytes per invocation."));
        lambda_requests * LOG_BYTES_PER_INVOCATION
    });
    let provisioned_billed_ms = provisioned_share(pulled, facts, lambda_billed_ms, &mut sources, &mut notes);
    let usage = Usage {
        provisioned_concurrency: facts.provisioned_concurrency,
        provisioned_seconds: if facts.provisioned_concurrency > 0 { results.duration_s } else { 0.0 },
        provisioned_billed_ms,
        api_requests,
        lambda_requests,
        lambda_billed_ms,
        memory_mb: facts.memory_mb,
        architecture: facts.architecture,
        read_units,
        write_units,
        cloudwatch_metrics: pulled.map_or(0.0, |x| x.metrics_requested as f64),
        log_bytes,
        // The local stack's table, and the one Terraform describes, bill on demand.
        table_read_capacity: 0.0,
        table_write_capacity: 0.0,
    };
    (usage, sources, notes)
}

/// The billed time served by provisioned environments. Neither REPORT lines nor CloudWatch's
/// `Duration` say which environment served an invocation, so it is apportioned: the billed time
/// of the warm invocations (those without INIT) in the share of them CloudWatch's
/// `ProvisionedConcurrencyInvocations` counts. Exact when provisioned and warm on-demand
/// invocations take as long on average, which they do when they run the same requests.
fn provisioned_share(
    pulled: Option<&Pulled>,
    facts: &FunctionFacts,
    billed_ms: f64,
    sources: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> f64 {
    if facts.provisioned_concurrency == 0 {
        return 0.0;
    }
    notes.push(format!(
        "Provisioned concurrency ({}) is priced for the measured window; AWS bills it from when it is enabled to when it is disabled, rounded up to 5 minutes.",
        facts.provisioned_concurrency
    ));
    let Some(on_provisioned) = pulled.and_then(|p| p.get(MetricId::ProvisionedInvocations)) else {
        notes.push("Without CloudWatch's ProvisionedConcurrencyInvocations every invocation is priced at the on-demand rate, an upper bound.".into());
        return 0.0;
    };
    let (warm_ms, warm_n) = match facts.report {
        Some(r) => (r.warm_billed_ms, r.warm_invocations),
        None => {
            let n = pulled.and_then(|p| p.get(MetricId::Invocations)).unwrap_or(0.0);
            let cold = pulled.and_then(|p| p.get(MetricId::InitCount)).unwrap_or(0.0);
            (billed_ms * (n - cold).max(0.0) / n.max(1.0), (n - cold).max(0.0))
        }
    };
    sources.push(
        "Lambda duration on provisioned environments: warm billed time in the share CloudWatch's ProvisionedConcurrencyInvocations counts".into(),
    );
    if warm_n <= 0.0 { 0.0 } else { warm_ms * (on_provisioned / warm_n).min(1.0) }
}

/// The highest target rate of the plan's phases (what a closed phase achieved, for those).
/// A flow sends several requests per arrival, paced by its answers: the knee's offered rate
/// (arrivals) and its simulation (one request each) would both be wrong, so there is none.
fn flows_note(results: &Results) -> Option<String> {
    let throttled = results.totals.by_class[crate::record::Class::LambdaThrottled] > 0;
    (!results.scenario.flows.is_empty() && throttled).then(|| {
        "No knee: the scenario's flows send several requests per arrival, which neither the offered rate nor the \
         simulation of the knee counts."
            .to_owned()
    })
}

/// With `[targets.NAME]`s, what the cost leaves out (the per-second series the knee reads
/// counts every target's requests): their requests, and the knee.
fn named_targets_note(results: &Results) -> Option<String> {
    if !results.sends_elsewhere() {
        return None;
    }
    let others = &results.targets[1.min(results.targets.len())..];
    let elsewhere = others.iter().map(|t| t.summary.requests).sum::<u64>();
    Some(format!(
        "Only [target]'s requests are priced: the {elsewhere} sent to [targets.*] ({}) go to stacks loadgen does not \
         know, and are left out of the cost and the reconciliation{}.",
        others.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", "),
        if results.totals.by_class[crate::record::Class::LambdaThrottled] > 0 { " (and of the knee)" } else { "" }
    ))
}

/// Per million leaves out the configured provisioned concurrency, and says so.
fn provisioned_note(run: &crate::results::cost::Breakdown) -> Option<String> {
    (run.lambda_provisioned_concurrency > 0.0).then(|| {
        format!(
            "Per million requests leaves out the provisioned concurrency configured ({} in this run), which \
             is paid for the time it is configured, not per request; the monthly figures include it.",
            crate::money::usd(run.lambda_provisioned_concurrency)
        )
    })
}

/// `month` (the run's mix at some rate) as if the requests a layer throttled had been served as
/// the served ones were: the function's side (invocations, duration, the table's units, its
/// logs) scaled by `up` — (invoked + throttled) ÷ invoked — and `api_requests`, every request
/// billed once by API Gateway. Nothing invoked leaves the run's mix: no served request to repeat.
fn served_mix(month: &Usage, up: f64, api_requests: f64) -> Usage {
    if !up.is_finite() || up <= 1.0 {
        return month.clone();
    }
    Usage {
        api_requests,
        lambda_requests: month.lambda_requests * up,
        lambda_billed_ms: month.lambda_billed_ms * up,
        read_units: month.read_units * up,
        write_units: month.write_units * up,
        log_bytes: month.log_bytes * up,
        ..month.clone()
    }
}

/// What seeding the table cost, at on-demand prices, when loadgen seeded the local stack's
/// table (a deployed stack is written to only with --seed-data, which results do not record):
/// one write per item per KB, and through the API an API Gateway and a Lambda request more.
/// The harness's own: before the measured window, in none of the target's figures.
fn seeding_usd(results: &Results, p: &super::prices::RegionPrices, notes: &mut Vec<String>) -> f64 {
    let items = results.scenario.data.seeded_items() as f64;
    if items == 0.0 || results.target.kind != crate::results::TargetKind::LocalStack {
        return 0.0;
    }
    let units_per_item = (results.scenario.data.item_size as f64 / 1024.0).ceil().max(1.0);
    let mut usd = items * units_per_item / 1e6 * p.dynamodb_write_request_units_per_million.usd;
    if results.scenario.data.seed_via == crate::scenario::seed_data::SeedVia::Api {
        usd += items / 1e6 * (p.apigw_http_per_million.usd + p.lambda_requests_per_million.usd);
    }
    notes.push(format!(
        "Seeding {items:.0} items before the measured window cost about {} on AWS: loadgen's own, with its \
         GetMetricData calls, apart from the target's figures.",
        crate::money::usd(usd)
    ));
    usd
}

fn peak_rate(results: &Results) -> f64 {
    results
        .phases
        .iter()
        .filter_map(|ph| {
            let planned = results.scenario.phases.iter().find(|x| x.name == ph.name)?;
            Some(planned.load.peak_rate().unwrap_or(ph.achieved_rate))
        })
        .fold(0.0, f64::max)
}

/// Prices a finished run.
pub fn assess(
    results: &Results,
    pulled: Option<&Pulled>,
    facts: &FunctionFacts,
    prices: &Prices,
    region: &str,
) -> Result<CostResult, PriceError> {
    let p = prices.region(region)?;
    let client = ClientView::of(results);
    let (usage, sources, mut notes) = usage(results, pulled, facts, &client);
    let completed = client.completed;
    let run = price(&usage, p);
    // The configured provisioned concurrency is paid by the hour whatever the traffic: per
    // request it would depend on the run's length, so per million leaves it out and says so.
    let per_request_total = run.total - run.lambda_provisioned_concurrency;
    let per_million_usd = if completed > 0.0 { per_request_total / completed * 1e6 } else { 0.0 };
    notes.extend(provisioned_note(&run));
    let peak_rate = peak_rate(results);
    let average_rate = results.target_rate.unwrap_or(results.achieved_rate);
    // A month at `rate` repeats the run's usage per unit of that rate: a request, or with flows
    // an arrival (a flow instance sends several requests); with named targets too, as an
    // arrival's share of [target]'s usage is what the rate (of every target's arrivals) repeats.
    let per_unit = if results.scenario.flows.is_empty() && !results.sends_elsewhere() {
        completed
    } else {
        results.phases.iter().map(|ph| ph.sent as f64).sum::<f64>()
    };
    let month_factor = |rate: f64| if per_unit > 0.0 { rate * MONTH_SECONDS / per_unit } else { 0.0 };
    let month = |rate: f64| price(&usage.month(month_factor(rate)), p);
    // Throttles only: a connection that failed or a request refused at authorization would not
    // be served at any traffic.
    let by_class = &results.totals.by_class;
    let throttled = (by_class[Class::ApigwThrottled] + by_class[Class::LambdaThrottled]) as f64;
    let refused_share = if completed > 0.0 { throttled / completed } else { 0.0 };
    let up = (client.invocations + throttled) / client.invocations;
    let per_unit_requests = if per_unit > 0.0 { completed / per_unit } else { 0.0 };
    let served_month =
        |rate| price(&served_mix(&usage.month(month_factor(rate)), up, rate * MONTH_SECONDS * per_unit_requests), p);
    let harness_usd = run.cloudwatch_metrics + seeding_usd(results, p, &mut notes);
    let free_tier_monthly_usd = free_tier_value(&usage.month(month_factor(average_rate)), p, &prices.free_tier);
    let reconciliation = match pulled {
        Some(pulled) => reconcile::rows(results, &client, pulled),
        None => {
            notes.push(
                "No CloudWatch pull (--no-cloudwatch, or a URL target without --infra): no reconciliation.".into(),
            );
            Vec::new()
        }
    };
    // Per request kind: handler time plus the run's mean per-invocation overhead over it.
    let per_invocation = usage.lambda_requests.max(1.0);
    let overhead_ms = if client.diagnosed > 0.0 {
        ((usage.lambda_billed_ms - client.handler_ms) / per_invocation).max(0.0)
    } else {
        0.0
    };
    let serving = Serving { memory_mb: facts.memory_mb, architecture: facts.architecture, functions: &facts.functions };
    let by_request = costs(results, &serving, overhead_ms, p);
    let timed_out = results.totals.by_class[crate::record::Class::Timeout];
    if timed_out > 0 && results.requests.iter().any(|q| q.diagnostics.billed_responses > 0) {
        notes.push(format!(
            "The billed ms per request kind leave out the {timed_out} invocation(s) the gateway timed out (no response said \
             what they were billed); the run's Lambda duration has them, from the REPORT lines."
        ));
    }
    let unpriced: Vec<&str> =
        facts.functions.iter().skip(1).filter(|f| f.provisioned_concurrency > 0).map(|f| f.name.as_str()).collect();
    if !unpriced.is_empty() {
        notes.push(format!(
            "The provisioned concurrency of {} is not priced: the cost prices the first function's only.",
            unpriced.join(", ")
        ));
    }
    if by_request.iter().any(|q| !q.units_reported) {
        notes.push(
            "The function does not report its DynamoDB units per response (target-api's x-ddb-rcu/x-ddb-wcu headers), \
             so the per-request costs leave DynamoDB out and the read/write units are compared with nothing; the run's \
             cost prices the table's consumed units from CloudWatch."
                .into(),
        );
    }
    let batch_vs_item = batch_vs_item(results, &by_request);
    let cw_mean = pulled.and_then(|x| x.get(MetricId::DurationSum)).map(|s| s / per_invocation);
    notes.extend(flows_note(results));
    notes.extend(named_targets_note(results));
    let no_knee = !results.scenario.flows.is_empty() || results.sends_elsewhere();
    let knee = facts.reserved_concurrency.filter(|_| !no_knee).and_then(|c| {
        let model = facts.calibration.as_ref().and_then(|c| calibrate::model(c).ok());
        let gateway = facts.calibration.as_ref().and_then(|c| c.gateway.as_ref());
        let model = model.as_ref().map(|(f, h)| (f, h));
        // With several functions the knee is the first's: its own REPORT lines, not the mix.
        let (mean_ms, cw_mean) = match facts.main_report.filter(|r| r.invocations > 0.0) {
            Some(r) => (r.billed_ms / r.invocations, None),
            None => (usage.lambda_billed_ms / per_invocation, cw_mean),
        };
        knee(results, c, mean_ms, cw_mean, pulled, model, gateway)
    });
    Ok(CostResult {
        region: region.into(),
        prices_checked: prices.checked.clone(),
        sources,
        run,
        per_million_usd,
        average_rate,
        peak_rate,
        monthly_average: month(average_rate),
        monthly_peak: served_month(peak_rate),
        refused_share,
        harness_usd,
        free_tier_monthly_usd,
        reconciliation,
        by_request,
        batch_vs_item,
        knee,
        notes,
        usage,
        functions: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_month_at_peak_prices_every_request_served() {
        // A run that refused 80%: its 1,000 requests invoked the function 200 times.
        let run = Usage {
            api_requests: 1_000.0,
            lambda_requests: 200.0,
            lambda_billed_ms: 20_000.0,
            read_units: 100.0,
            log_bytes: 4_000.0,
            cloudwatch_metrics: 0.0,
            ..Usage::default()
        };
        let served = served_mix(&run, (200.0 + 800.0) / 200.0, 1_000.0);
        assert_eq!(served.api_requests, 1_000.0, "each request billed once by API Gateway");
        assert!((served.lambda_requests - 1_000.0).abs() < 1e-9, "every request invokes the function");
        assert!((served.lambda_billed_ms - 100_000.0).abs() < 1e-6 && (served.read_units - 500.0).abs() < 1e-9);
        assert!((served.log_bytes - 20_000.0).abs() < 1e-6);
        assert_eq!(served_mix(&run, 1.0, 5.0), run, "nothing refused: the run's own mix");
        assert_eq!(served_mix(&run, f64::INFINITY, 5.0), run, "nothing served: no served request to repeat");
    }
}
