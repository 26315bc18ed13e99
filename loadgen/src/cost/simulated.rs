//! A simulated configuration priced like a run: its usage built from what the simulation
//! counted (requests offered, invocations admitted, billed milliseconds, provisioned
//! environments) and what the calibrating run measured per invocation (DynamoDB units, log
//! bytes), then [`price`] — the same code that prices `loadgen run`.

use local_stack::config::Architecture;

use super::prices::{MONTH_SECONDS, RegionPrices, price};
use crate::results::cost::Usage;
use crate::simulate::output::SimulatedCost;

/// What the simulation counted for one configuration, per replication.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Counted {
    /// Requests that reached the integration (API Gateway bills those, not its own 429s).
    pub requests: f64,
    /// Invocations admitted.
    pub invocations: f64,
    /// Billed ms.
    pub billed_ms: f64,
    /// Of them, on provisioned environments.
    pub provisioned_billed_ms: f64,
    /// Provisioned concurrency configured.
    pub provisioned: u32,
    /// Simulated time, s.
    pub duration_s: f64,
    /// Memory, MB.
    pub memory_mb: u32,
    /// Instruction set.
    pub architecture: Architecture,
    /// DynamoDB `(read, write)` units the admitted calls consumed, when the table was simulated.
    pub consumed_units: Option<(f64, f64)>,
    /// A provisioned table's `(read, write)` capacity units; zeros on demand.
    pub table_capacity: (f64, f64),
}

/// Prices `c` with the calibrating run's usage `measured` supplying the per-invocation log
/// bytes and DynamoDB units — or `units`, `(read, write)` per invocation, for another mix;
/// the table's own count when it was simulated.
pub fn cost(c: &Counted, measured: &Usage, units: Option<(f64, f64)>, p: &RegionPrices) -> SimulatedCost {
    let per_invocation =
        |total: f64| if measured.lambda_requests > 0.0 { total / measured.lambda_requests } else { 0.0 };
    let (read, write) =
        units.unwrap_or_else(|| (per_invocation(measured.read_units), per_invocation(measured.write_units)));
    let usage = Usage {
        api_requests: c.requests,
        lambda_requests: c.invocations,
        lambda_billed_ms: c.billed_ms,
        memory_mb: c.memory_mb,
        architecture: c.architecture,
        read_units: c.consumed_units.map_or(read * c.invocations, |u| u.0),
        write_units: c.consumed_units.map_or(write * c.invocations, |u| u.1),
        cloudwatch_metrics: 0.0,
        log_bytes: per_invocation(measured.log_bytes) * c.invocations,
        provisioned_concurrency: c.provisioned,
        provisioned_seconds: c.duration_s,
        provisioned_billed_ms: c.provisioned_billed_ms,
        table_read_capacity: c.table_capacity.0,
        table_write_capacity: c.table_capacity.1,
    };
    let run = price(&usage, p);
    let month = price(&usage.month(MONTH_SECONDS / c.duration_s.max(1e-9)), p);
    // Configured capacity is a fixed charge, not a request's: provisioned concurrency and a
    // provisioned table's capacity are left out of per million.
    let per_request = run.total - run.lambda_provisioned_concurrency - run.dynamodb_provisioned;
    SimulatedCost {
        run_usd: run.total,
        per_million_usd: if c.requests > 0.0 { per_request / c.requests * 1e6 } else { 0.0 },
        month_usd: month.total,
        month_provisioned_usd: month.lambda_provisioned_concurrency,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::prices::Prices;

    #[test]
    fn throttled_requests_cost_api_gateway_but_not_lambda() {
        let prices = Prices::builtin();
        let p = prices.region("us-east-1").unwrap();
        let measured = Usage { lambda_requests: 100.0, read_units: 50.0, memory_mb: 1024, ..Usage::default() };
        let all = Counted {
            requests: 1e6,
            invocations: 1e6,
            billed_ms: 1e8,
            provisioned_billed_ms: 0.0,
            provisioned: 0,
            duration_s: 1000.0,
            memory_mb: 1024,
            architecture: Architecture::X86_64,
            consumed_units: None,
            table_capacity: (0.0, 0.0),
        };
        let half = Counted { invocations: 5e5, billed_ms: 5e7, ..all };
        let (a, h) = (cost(&all, &measured, None, p), cost(&half, &measured, None, p));
        // $1/M API requests either way; Lambda and DynamoDB halve with the invocations.
        assert!(h.run_usd < a.run_usd && h.run_usd > a.run_usd / 2.0, "{} vs {}", h.run_usd, a.run_usd);
        // A month is 2,592 runs of 1,000 s, a little cheaper past the volume tiers.
        let ratio = a.month_usd / a.run_usd;
        assert!((2300.0..=2592.0 + 1e-6).contains(&ratio), "{ratio}");
        assert_eq!(a.month_provisioned_usd, 0.0);
        let provisioned = cost(&Counted { provisioned: 10, provisioned_billed_ms: 5e7, ..all }, &measured, None, p);
        assert!(provisioned.month_provisioned_usd > 0.0);
        // Per million leaves the configured charge out: cheaper than the whole run per request.
        assert!(provisioned.per_million_usd < provisioned.run_usd);
    }

    #[test]
    fn a_provisioned_table_bills_its_capacity_by_the_hour_not_its_requests() {
        let prices = Prices::builtin();
        let p = prices.region("us-east-1").unwrap();
        let measured = Usage { lambda_requests: 100.0, memory_mb: 128, ..Usage::default() };
        let base = Counted {
            requests: 3600.0,
            invocations: 3600.0,
            billed_ms: 0.0,
            provisioned_billed_ms: 0.0,
            provisioned: 0,
            duration_s: 3600.0,
            memory_mb: 128,
            architecture: Architecture::X86_64,
            consumed_units: Some((1e6, 1e6)),
            table_capacity: (0.0, 0.0),
        };
        let on_demand = cost(&base, &measured, None, p);
        let provisioned = cost(&Counted { table_capacity: (100.0, 10.0), ..base }, &measured, None, p);
        // On demand: $0.125 + $0.625 for the million units each; provisioned: an hour of 100 RCU
        // at $0.00013 and 10 WCU at $0.00065, whatever was consumed.
        let api = 3600.0 / 1e6 * 1.0 + 3600.0 / 1e6 * 0.2;
        assert!((on_demand.run_usd - api - 0.75).abs() < 1e-6, "{}", on_demand.run_usd);
        assert!((provisioned.run_usd - api - (0.013 + 0.0065)).abs() < 1e-6, "{}", provisioned.run_usd);
    }
}
