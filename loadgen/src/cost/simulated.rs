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
}

/// Prices `c` with the calibrating run's usage `measured` supplying the per-invocation log
/// bytes and DynamoDB units — or `units`, `(read, write)` per invocation, for another mix.
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
        read_units: read * c.invocations,
        write_units: write * c.invocations,
        cloudwatch_metrics: 0.0,
        log_bytes: per_invocation(measured.log_bytes) * c.invocations,
        provisioned_concurrency: c.provisioned,
        provisioned_seconds: c.duration_s,
        provisioned_billed_ms: c.provisioned_billed_ms,
    };
    let run = price(&usage, p);
    let month = price(&usage.month(MONTH_SECONDS / c.duration_s.max(1e-9)), p);
    let per_request = run.total - run.lambda_provisioned_concurrency;
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
}
