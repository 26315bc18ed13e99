//! Client against server: what loadgen saw next to what CloudWatch counted — requests,
//! Lambda throttles, invocations, cold starts, read and write units — each gap over 1% flagged.

use super::client_view::ClientView;
use crate::record::Class;
use crate::results::cost::Reconciliation;
use crate::results::{CloudWatchSource, MetricId, Pulled, Results};

/// A gap above this share is flagged.
const FLAG_PCT: f64 = 1.0;

fn row(what: &str, client: f64, server: Option<f64>) -> Option<Reconciliation> {
    let server = server?;
    let gap_pct = if server == 0.0 && client == 0.0 { 0.0 } else { (client - server).abs() / server.max(1.0) * 100.0 };
    Some(Reconciliation { what: what.into(), client, server, gap_pct, flagged: gap_pct > FLAG_PCT })
}

/// The comparisons that CloudWatch's figures allow.
pub fn rows(results: &Results, client: &ClientView, pulled: &Pulled) -> Vec<Reconciliation> {
    let cw = |id| pulled.get(id);
    let class = |c| results.totals.by_class[c] as f64;
    [
        row(
            "API requests (client, excluding transport errors) vs API Gateway Count",
            client.api + class(Class::ApigwThrottled),
            cw(MetricId::ApiCount),
        ),
        // A counter with no data points counted nothing.
        row(
            "Lambda throttles (client lambda_throttled) vs Lambda Throttles",
            class(Class::LambdaThrottled),
            cw(MetricId::Throttles).or(Some(0.0)),
        ),
        row(
            "Invocations (client, reached the function) vs Lambda Invocations",
            client.invocations,
            cw(MetricId::Invocations),
        ),
        row(
            "Cold starts (client) vs INIT durations",
            results.totals.cold_starts as f64,
            cw(MetricId::InitCount).or((pulled.source == CloudWatchSource::LocalStack).then_some(0.0)),
        ),
        // Units only where every function reports them (target-api's headers): a client that
        // saw none, or some kinds' only, has nothing to compare.
        row("Read units (x-ddb-rcu) vs ConsumedReadCapacityUnits", client.rcu, cw(MetricId::ReadUnits).or(Some(0.0)))
            .filter(|_| client.diagnosed > 0.0 && client.units_complete),
        row(
            "Write units (x-ddb-wcu) vs ConsumedWriteCapacityUnits",
            client.wcu,
            cw(MetricId::WriteUnits).or(Some(0.0)),
        )
        .filter(|_| client.diagnosed > 0.0 && client.units_complete),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconciliation_flags_gaps_over_one_percent() {
        assert!(!row("x", 100.0, Some(100.5)).unwrap().flagged);
        assert!(row("x", 100.0, Some(98.0)).unwrap().flagged);
        assert!(row("x", 0.0, None).is_none());
        assert_eq!(row("x", 0.0, Some(0.0)).unwrap().gap_pct, 0.0);
    }
}
