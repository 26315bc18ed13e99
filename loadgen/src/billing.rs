//! What a run cost and why: usage assembled from the best source at hand (REPORT lines and
//! CloudWatch over client-side headers), reconciled client-vs-server, priced with
//! [`crate::cost`]; cost per request kind with the batch-vs-per-item verdict; and the
//! concurrency knee against Little's law and the Erlang loss formula.

use serde::{Deserialize, Serialize};

use crate::cloudwatch::Pulled;
use crate::cost::{self, Breakdown, Prices, Usage};
use crate::results::Results;

/// Log bytes per invocation when the real log is not at hand (AWS without a log pull): one
/// JSON request line (~260 B) plus START, END and REPORT (~250 B), as the local stack writes them.
pub const LOG_BYTES_PER_INVOCATION: f64 = 520.0;

/// What is known about the function's billing.
#[derive(Debug, Clone, Default)]
pub struct FunctionFacts {
    /// Memory, MB.
    pub memory_mb: u32,
    /// `x86_64` or `arm64`.
    pub architecture: String,
    /// Reserved concurrency, when known.
    pub reserved_concurrency: Option<u32>,
    /// Billed ms and invocations from REPORT lines of the measured window (local stack).
    pub report: Option<(f64, f64)>,
    /// Log bytes written in the measured window (local stack).
    pub log_bytes: Option<f64>,
}

/// One client-vs-server comparison.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Reconciliation {
    /// What is compared.
    pub what: String,
    /// What the client saw.
    pub client: f64,
    /// What the server side (CloudWatch) counted.
    pub server: f64,
    /// |client − server| ÷ server, %.
    pub gap_pct: f64,
    /// Gap over 1%.
    pub flagged: bool,
}

/// Cost of one request kind.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RequestCost {
    /// Request name.
    pub name: String,
    /// Estimated billed Lambda ms per request: handler time plus the run's mean overhead.
    pub lambda_ms_per_request: f64,
    /// DynamoDB calls per request.
    pub ddb_calls_per_request: f64,
    /// Read units per request.
    pub read_units_per_request: f64,
    /// Write units per request.
    pub write_units_per_request: f64,
    /// Cost per million of these requests, USD.
    pub per_million_usd: f64,
}

/// BatchGetItem against one GetItem per id, when a run has both.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BatchVsItem {
    /// The batch request kind.
    pub batch: String,
    /// The per-item request kind.
    pub per_item: String,
    /// per-item ÷ batch, cost per request.
    pub cost_factor: f64,
    /// per-item ÷ batch, latency p50.
    pub latency_p50_factor: f64,
    /// per-item ÷ batch, billed Lambda ms per request.
    pub lambda_ms_factor: f64,
    /// Whether both consumed the same read units per request (within 1%), as DynamoDB's
    /// rules say they must.
    pub equal_read_units: bool,
    /// One sentence.
    pub verdict: String,
}

/// One point of the throttle curve.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KneePoint {
    /// Offered rate, req/s (seconds grouped to the nearest 10 req/s).
    pub rate: f64,
    /// Seconds in the group.
    pub seconds: u32,
    /// Measured share of Lambda throttles.
    pub measured: f64,
    /// Little's law: max(0, 1 − c ÷ (rate × mean duration)).
    pub littles_law: f64,
    /// Erlang B blocking probability with c servers and load rate × mean duration.
    pub erlang_b: f64,
}

/// Where throttling starts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Knee {
    /// Reserved concurrency (servers).
    pub reserved_concurrency: u32,
    /// Mean function duration, ms.
    pub mean_duration_ms: f64,
    /// c ÷ mean duration, req/s.
    pub littles_law_max_rate: f64,
    /// Highest offered rate whose Lambda throttle share stayed under 1%.
    pub highest_sustainable_rate: Option<f64>,
    /// The curve.
    pub points: Vec<KneePoint>,
}

/// The cost section of the results.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CostResult {
    /// Region priced.
    pub region: String,
    /// When the price list was checked.
    pub prices_checked: String,
    /// The usage priced, for this run.
    pub usage: Usage,
    /// Where each usage figure came from.
    pub sources: Vec<String>,
    /// This run.
    pub run: Breakdown,
    /// Run cost ÷ requests × 1,000,000.
    pub per_million_usd: f64,
    /// Average target rate, req/s.
    pub average_rate: f64,
    /// Peak target rate, req/s.
    pub peak_rate: f64,
    /// A 30-day month at the average rate.
    pub monthly_average: Breakdown,
    /// A 30-day month at the peak rate.
    pub monthly_peak: Breakdown,
    /// What the monthly free tier would take off the average month (shown, not applied).
    pub free_tier_monthly_usd: f64,
    /// Client-vs-server comparisons (CloudWatch present).
    pub reconciliation: Vec<Reconciliation>,
    /// Per request kind.
    pub by_request: Vec<RequestCost>,
    /// Batch vs per-item, when both ran.
    pub batch_vs_item: Option<BatchVsItem>,
    /// The knee, when reserved concurrency is known and Lambda throttled.
    pub knee: Option<Knee>,
    /// Caveats of this estimate.
    pub notes: Vec<String>,
}

fn class(r: &Results, name: &str) -> f64 {
    r.totals.by_class.get(name).copied().unwrap_or(0) as f64
}

fn row(what: &str, client: f64, server: Option<f64>) -> Option<Reconciliation> {
    let server = server?;
    let gap_pct = if server == 0.0 && client == 0.0 { 0.0 } else { (client - server).abs() / server.max(1.0) * 100.0 };
    Some(Reconciliation { what: what.into(), client, server, gap_pct, flagged: gap_pct > 1.0 })
}

/// Erlang B blocking probability with `c` servers and offered load `a` (erlangs).
pub fn erlang_b(c: u32, a: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (k as f64 + a * b);
    }
    b
}

/// Prices a finished run.
pub fn assess(
    results: &Results,
    pulled: Option<&Pulled>,
    facts: &FunctionFacts,
    prices: &Prices,
    region: &str,
) -> Result<CostResult, String> {
    let p = prices.region(region)?;
    let cw = |k: &str| pulled.and_then(|x| x.values.get(k).copied());
    let mut sources = Vec::new();
    let mut notes = Vec::new();
    let completed = results.totals.requests as f64;
    let client_api = completed - class(results, "apigw_throttled") - class(results, "transport_error");
    let client_invocations = client_api - class(results, "lambda_throttled");
    let (rcu_headers, wcu_headers, handler_ms, diag_responses) =
        results.requests.iter().fold((0.0, 0.0, 0.0, 0.0), |a, q| {
            let d = &q.diagnostics;
            (a.0 + d.rcu, a.1 + d.wcu, a.2 + d.handler_ms_mean * d.responses as f64, a.3 + d.responses as f64)
        });

    // API Gateway bills what reached the integration; its own 429s are free.
    let api_requests = match cw("api_count") {
        Some(count) => {
            sources.push("API requests: CloudWatch Count minus the 429s API Gateway answered itself".into());
            (count - class(results, "apigw_throttled")).max(0.0)
        }
        None => {
            sources
                .push("API requests: client-side (completed minus API Gateway throttles and transport errors)".into());
            client_api
        }
    };
    let lambda_requests = match cw("invocations") {
        Some(n) => {
            sources.push("Lambda requests: CloudWatch Invocations".into());
            n
        }
        None => {
            sources.push("Lambda requests: client-side (reached the integration, not throttled by Lambda)".into());
            client_invocations
        }
    };
    let lambda_billed_ms = if let Some((billed, _)) = facts.report {
        sources.push("Lambda billed duration: REPORT lines of the measured window (exact, INIT included)".into());
        billed
    } else if let Some(sum) = cw("duration_sum") {
        sources.push(
            "Lambda billed duration: CloudWatch Duration sum + 0.5 ms rounding per invocation + INIT durations".into(),
        );
        notes.push("Billed duration is estimated: CloudWatch's Duration excludes INIT and 1 ms rounding; read REPORT lines for the exact figure.".into());
        sum + 0.5 * lambda_requests + cw("init_sum").unwrap_or(0.0)
    } else {
        sources.push(
            "Lambda billed duration: x-handler-us headers + 1 ms per invocation (no CloudWatch, no REPORT lines)"
                .into(),
        );
        notes.push("Billed duration is a client-side floor: handler time excludes runtime and INIT time.".into());
        handler_ms + lambda_requests
    };
    let read_units = cw("read_units")
        .inspect(|_| sources.push("DynamoDB units: CloudWatch ConsumedRead/WriteCapacityUnits".into()))
        .unwrap_or_else(|| {
            sources.push("DynamoDB units: x-ddb-rcu / x-ddb-wcu headers".into());
            rcu_headers
        });
    let write_units = cw("write_units").unwrap_or(wcu_headers);
    let log_bytes = facts.log_bytes.unwrap_or_else(|| {
        notes.push(format!("Log ingestion is estimated at {LOG_BYTES_PER_INVOCATION} bytes per invocation."));
        lambda_requests * LOG_BYTES_PER_INVOCATION
    });
    let usage = Usage {
        api_requests,
        lambda_requests,
        lambda_billed_ms,
        memory_mb: facts.memory_mb,
        architecture: facts.architecture.clone(),
        read_units,
        write_units,
        cloudwatch_metrics: pulled.map_or(0.0, |x| x.metrics_requested as f64),
        log_bytes,
    };
    let run = cost::price(&usage, p);
    let per_million_usd = if completed > 0.0 { run.total / completed * 1e6 } else { 0.0 };
    let peak_rate = results
        .phases
        .iter()
        .filter_map(|ph| {
            let plan = results.scenario["phases"].as_array()?.iter().find(|x| x["name"] == ph.name.as_str())?;
            match plan["load"]["kind"].as_str()? {
                "constant" => plan["load"]["rate"].as_f64(),
                "ramp" => Some(plan["load"]["from"].as_f64()?.max(plan["load"]["to"].as_f64()?)),
                "steps" => plan["load"]["rates"].as_array()?.iter().filter_map(|v| v.as_f64()).reduce(f64::max),
                _ => Some(ph.achieved_rate),
            }
        })
        .fold(0.0, f64::max);
    let average_rate = results.target_rate.unwrap_or(results.achieved_rate);
    let month = |rate: f64| {
        let factor = if completed > 0.0 { rate * cost::MONTH_SECONDS / completed } else { 0.0 };
        cost::price(&usage.scaled(factor), p)
    };
    let avg_factor = if completed > 0.0 { average_rate * cost::MONTH_SECONDS / completed } else { 0.0 };
    let free_tier_monthly_usd = cost::free_tier_value(&usage.scaled(avg_factor), p, &prices.free_tier);

    let reconciliation: Vec<Reconciliation> = if pulled.is_some() {
        [
            row(
                "API requests (client, excluding transport errors) vs API Gateway Count",
                client_api + class(results, "apigw_throttled"),
                cw("api_count"),
            ),
            // A counter with no data points counted nothing.
            row(
                "Lambda throttles (client lambda_throttled) vs Lambda Throttles",
                class(results, "lambda_throttled"),
                cw("throttles").or(Some(0.0)),
            ),
            row(
                "Invocations (client, reached the function) vs Lambda Invocations",
                client_invocations,
                cw("invocations"),
            ),
            row(
                "Cold starts (x-cold-start) vs INIT durations",
                results.totals.cold_starts as f64,
                cw("init_count").or(pulled.filter(|x| x.source == "local-stack").map(|_| 0.0)),
            ),
            row("Read units (x-ddb-rcu) vs ConsumedReadCapacityUnits", rcu_headers, cw("read_units").or(Some(0.0))),
            row("Write units (x-ddb-wcu) vs ConsumedWriteCapacityUnits", wcu_headers, cw("write_units").or(Some(0.0))),
        ]
        .into_iter()
        .flatten()
        .collect()
    } else {
        notes.push("No CloudWatch pull (--no-cloudwatch, or a URL target without --infra): no reconciliation.".into());
        Vec::new()
    };

    // Per request kind: handler time plus the run's mean per-invocation overhead over it.
    let overhead_ms =
        if diag_responses > 0.0 { ((lambda_billed_ms - handler_ms) / lambda_requests.max(1.0)).max(0.0) } else { 0.0 };
    let by_request: Vec<RequestCost> = results
        .requests
        .iter()
        .map(|q| {
            let d = &q.diagnostics;
            let ms = d.handler_ms_mean + overhead_ms;
            let one = Usage {
                api_requests: 1.0,
                lambda_requests: 1.0,
                lambda_billed_ms: ms,
                memory_mb: facts.memory_mb,
                architecture: facts.architecture.clone(),
                read_units: d.rcu_per_request,
                write_units: d.wcu_per_request,
                ..Usage::default()
            };
            RequestCost {
                name: q.name.clone(),
                lambda_ms_per_request: ms,
                ddb_calls_per_request: d.ddb_calls_per_request,
                read_units_per_request: d.rcu_per_request,
                write_units_per_request: d.wcu_per_request,
                per_million_usd: cost::price(&one.scaled(1e6), p).total,
            }
        })
        .collect();
    let batch_vs_item = batch_vs_item(results, &by_request);
    let knee = facts.reserved_concurrency.and_then(|c| {
        knee(
            results,
            c,
            lambda_billed_ms / lambda_requests.max(1.0),
            cw("duration_sum").map(|s| s / lambda_requests.max(1.0)),
        )
    });
    let (monthly_average, monthly_peak) = (month(average_rate), month(peak_rate));
    Ok(CostResult {
        region: region.into(),
        prices_checked: prices.checked.clone(),
        usage,
        sources,
        run,
        per_million_usd,
        average_rate,
        peak_rate,
        monthly_average,
        monthly_peak,
        free_tier_monthly_usd,
        reconciliation,
        by_request,
        batch_vs_item,
        knee,
        notes,
    })
}

fn batch_vs_item(results: &Results, costs: &[RequestCost]) -> Option<BatchVsItem> {
    let find = |pat: &str| results.requests.iter().position(|q| q.path.contains(pat));
    let (b, i) = (find("pattern=batch")?, find("pattern=per-item")?);
    let (qb, qi) = (&results.requests[b], &results.requests[i]);
    let (cb, ci) = (&costs[b], &costs[i]);
    let ratio = |x: f64, y: f64| if y > 0.0 { x / y } else { 0.0 };
    let cost_factor = ratio(ci.per_million_usd, cb.per_million_usd);
    let equal_read_units =
        (ci.read_units_per_request - cb.read_units_per_request).abs() <= 0.01 * cb.read_units_per_request.max(1e-9);
    Some(BatchVsItem {
        batch: qb.name.clone(),
        per_item: qi.name.clone(),
        cost_factor,
        latency_p50_factor: ratio(qi.summary.latency.p50_ms, qb.summary.latency.p50_ms),
        lambda_ms_factor: ratio(ci.lambda_ms_per_request, cb.lambda_ms_per_request),
        equal_read_units,
        verdict: format!(
            "per-item costs {cost_factor:.1}x as much as batch per request ({:.2} vs {:.2} USD per million) and takes {:.1}x as long at p50; \
             read units per request are {} ({:.2} vs {:.2}) because DynamoDB charges BatchGetItem per item — the difference is {:.0} DynamoDB round trips per request billed as Lambda time",
            ci.per_million_usd,
            cb.per_million_usd,
            ratio(qi.summary.latency.p50_ms, qb.summary.latency.p50_ms),
            if equal_read_units { "equal" } else { "NOT equal" },
            ci.read_units_per_request,
            cb.read_units_per_request,
            ci.ddb_calls_per_request - cb.ddb_calls_per_request
        ),
    })
}

fn knee(results: &Results, c: u32, billed_mean_ms: f64, duration_mean_ms: Option<f64>) -> Option<Knee> {
    let throttled_total = class(results, "lambda_throttled");
    if throttled_total == 0.0 || c == 0 {
        return None;
    }
    let d_ms = duration_mean_ms.unwrap_or(billed_mean_ms).max(0.001);
    let d = d_ms / 1000.0;
    let lt = crate::outcome::Class::LambdaThrottled.index();
    let mut groups: std::collections::BTreeMap<i64, (u32, f64, f64)> = Default::default();
    for s in &results.series {
        let done: u64 = s.completed.iter().sum();
        if s.sent == 0 || done == 0 {
            continue;
        }
        let key = ((s.sent as f64) / 10.0).round() as i64 * 10;
        let g = groups.entry(key).or_default();
        g.0 += 1;
        g.1 += s.completed[lt] as f64;
        g.2 += done as f64;
    }
    let points: Vec<KneePoint> = groups
        .into_iter()
        .map(|(rate, (n, thr, done))| {
            let rate = rate as f64;
            KneePoint {
                rate,
                seconds: n,
                measured: thr / done,
                littles_law: (1.0 - c as f64 / (rate * d)).max(0.0),
                erlang_b: erlang_b(c, rate * d),
            }
        })
        .collect();
    let highest_sustainable_rate = points.iter().filter(|p| p.measured < 0.01).map(|p| p.rate).reduce(f64::max);
    Some(Knee {
        reserved_concurrency: c,
        mean_duration_ms: d_ms,
        littles_law_max_rate: c as f64 / d,
        highest_sustainable_rate,
        points,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erlang_b_matches_textbook_values() {
        // B(1, 1) = 0.5; B(2, 1) = 0.2; B(10, 5) ≈ 0.01838.
        assert!((erlang_b(1, 1.0) - 0.5).abs() < 1e-12);
        assert!((erlang_b(2, 1.0) - 0.2).abs() < 1e-12);
        assert!((erlang_b(10, 5.0) - 0.018_384).abs() < 1e-5);
        assert!(erlang_b(100, 10.0) < 1e-12);
    }

    #[test]
    fn reconciliation_flags_gaps_over_one_percent() {
        assert!(!row("x", 100.0, Some(100.5)).unwrap().flagged);
        assert!(row("x", 100.0, Some(98.0)).unwrap().flagged);
        assert!(row("x", 0.0, None).is_none());
        assert_eq!(row("x", 0.0, Some(0.0)).unwrap().gap_pct, 0.0);
    }
}
