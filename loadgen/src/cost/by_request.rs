//! Cost per request kind — its billed time (as the local stack billed each response, else its
//! handler time plus the run's mean per-invocation overhead), its read and write units — and, when a run has both of target-api's read patterns, the verdict
//! of BatchGetItem against one GetItem per id.

use local_stack::config::Architecture;

use super::prices::{RegionPrices, price};
use crate::results::Results;
use crate::results::cost::{BatchVsItem, RequestCost, Usage};
use crate::scenario::ReadPattern;

/// A function of a stack of several, as its request kinds are priced.
#[derive(Debug, Clone, Default)]
pub struct ServingFunction {
    /// Its name.
    pub name: String,
    /// The route keys it serves.
    pub routes: Vec<String>,
    /// Memory, MB.
    pub memory_mb: u32,
    /// Instruction set.
    pub architecture: Architecture,
    /// Provisioned concurrency.
    pub provisioned_concurrency: u32,
}

/// What request kinds are priced at: the function's memory and architecture, and in a stack
/// of several each function's.
#[derive(Debug, Clone, Copy)]
pub struct Serving<'a> {
    /// The (first) function's memory, MB.
    pub memory_mb: u32,
    /// Its instruction set.
    pub architecture: Architecture,
    /// Every function of a stack of several, the first first.
    pub functions: &'a [ServingFunction],
}

/// The memory and architecture of the function that serves request kind `i`: in a stack of
/// several, the one whose route its path selects; else the function's.
fn serving(results: &Results, facts: &Serving<'_>, i: usize) -> (u32, Architecture) {
    let own = (facts.memory_mb, facts.architecture);
    let Some(q) = results.scenario.requests.get(i).filter(|_| facts.functions.len() > 1) else { return own };
    // The path as sent, every placeholder an id: enough to select a route.
    let path = q.path.filled("x");
    let path = path.split('?').next().unwrap_or("/");
    facts
        .functions
        .iter()
        .find(|f| {
            local_stack::apigw::routes::RouteTable::new(&f.routes)
                .ok()
                .is_some_and(|t| t.select(&q.method, path).is_some())
        })
        .map_or(own, |f| (f.memory_mb, f.architecture))
}

/// The cost of each request kind, in the plan's order, each at the memory and architecture of
/// the function that serves it; `overhead_ms` is the billed time per invocation beyond the
/// handler's own.
pub fn costs(results: &Results, facts: &Serving<'_>, overhead_ms: f64, p: &RegionPrices) -> Vec<RequestCost> {
    results
        .requests
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let (memory_mb, arch) = serving(results, facts, i);
            let d = &q.diagnostics;
            // What the local stack billed each of them, where it said; else the handler's own
            // time plus the run's mean overhead.
            let ms = if d.billed_responses > 0 { d.billed_ms_mean } else { d.handler_ms_mean + overhead_ms };
            let one = Usage {
                api_requests: 1.0,
                lambda_requests: 1.0,
                lambda_billed_ms: ms,
                memory_mb,
                architecture: arch,
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
                per_million_usd: price(&one.scaled(1e6), p).total,
                units_reported: d.responses > 0,
            }
        })
        .collect()
}

/// Batch against per-item reads, when the run has a request kind of each.
pub fn batch_vs_item(results: &Results, costs: &[RequestCost]) -> Option<BatchVsItem> {
    let find = |want| results.scenario.requests.iter().position(|q| q.read_pattern() == Some(want));
    let (b, i) = (find(ReadPattern::Batch)?, find(ReadPattern::PerItem)?);
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
        // The one sentence every output prints: its factors are written once, here.
        verdict: format!(
            "per-item costs {cost_factor:.2}× as much as batch per request ({} vs {} per million), bills {:.2}× its \
             Lambda time and takes {:.2}× as long at p50 (ok responses); read units per request are {} ({:.2} vs {:.2}) \
             because DynamoDB charges BatchGetItem per item — the difference is {:.0} DynamoDB round trips per \
             request billed as Lambda time",
            crate::money::usd(ci.per_million_usd),
            crate::money::usd(cb.per_million_usd),
            ratio(ci.lambda_ms_per_request, cb.lambda_ms_per_request),
            ratio(qi.summary.latency.p50_ms, qb.summary.latency.p50_ms),
            if equal_read_units { "equal" } else { "NOT equal" },
            ci.read_units_per_request,
            cb.read_units_per_request,
            ci.ddb_calls_per_request - cb.ddb_calls_per_request
        ),
    })
}
