//! `simulation.md`: a simulation in Markdown for a pull-request comment or a CI step summary —
//! the recommendation, one row per configuration, and the notes on what was assumed.

use std::fmt::Write;

use super::escape::markdown_cell as cell;
use super::simulate_html::verdict;
use crate::simulate::output::Simulation;

/// Renders the Markdown.
pub fn render(s: &Simulation) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "## loadgen simulate: {} — {}\n", cell(&s.scenario), cell(&verdict(s).0));
    let _ = writeln!(
        o,
        "Calibrated from {} invocations of `{}`; traffic {}; {} replication(s) of {:.0} s; {}.\n",
        s.calibration_invocations,
        cell(&s.calibration_scenario),
        s.traffic.iter().map(|t| format!("{t}x")).collect::<Vec<_>>().join(", "),
        s.replications,
        s.duration_s,
        cell(&s.region)
    );
    let _ = writeln!(
        o,
        "| configuration | requests | API Gateway 429 | Lambda throttled | DynamoDB throttled | cold starts | peak | ok p50 ms | ok p99 ms | per run | per million | per month |"
    );
    let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (i, c) in s.configurations.iter().enumerate() {
        let money = |f: fn(&crate::simulate::output::SimulatedCost) -> f64| {
            c.cost.as_ref().map_or_else(|| "–".to_owned(), |k| crate::money::usd(f(k)))
        };
        let star = if s.recommended == Some(i) { " ★" } else { "" };
        let _ = writeln!(
            o,
            "| {}{star} | {:.0} | {:.2}% | {:.2}% | {} | {:.1} | {} | {:.2} | {:.2} | {} | {} | {} |",
            cell(&c.label()),
            c.requests,
            c.apigw_throttled * 100.0,
            c.lambda_throttled * 100.0,
            c.table
                .as_ref()
                .map_or_else(|| "not simulated".to_owned(), |_| format!("{:.2}%", c.dynamodb_throttled * 100.0)),
            c.cold_starts,
            c.peak_concurrency,
            c.ok_latency.p50_ms,
            c.ok_latency.p99_ms,
            money(|k| k.run_usd),
            money(|k| k.per_million_usd),
            money(|k| k.month_usd)
        );
    }
    o.push('\n');
    for n in &s.notes {
        let _ = writeln!(o, "- {}", cell(n));
    }
    o
}
