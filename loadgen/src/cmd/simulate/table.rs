//! The terminal table of `loadgen simulate`: one row per configuration — API Gateway's 429s,
//! Lambda's and DynamoDB's throttles, cold starts, peak concurrency, ok latency and cost — then the
//! recommendation and the notes.

use std::fmt::Write as _;

use crate::simulate::output::{SimulatedConfiguration, SimulatedCost, Simulation};

/// The table, ready to print.
pub fn table(s: &Simulation) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "\nsimulate {} — traffic {}, {} replication{} of {:.0} s, calibrated from {} invocations in {}",
        s.scenario,
        s.traffic.iter().map(|t| format!("{t}x")).collect::<Vec<_>>().join(", "),
        s.replications,
        if s.replications == 1 { "" } else { "s" },
        s.duration_s,
        s.calibration_invocations,
        s.calibrated_from
    );
    let width = s.configurations.iter().map(|c| c.label().chars().count()).max().unwrap_or(0).max(13);
    let _ = writeln!(
        o,
        "  {:<width$} {:>10} {:>7} {:>8} {:>8} {:>8} {:>5} {:>8} {:>8} {:>11} {:>10} {:>11}  thresholds",
        "configuration",
        "requests",
        "429 %",
        "thr %",
        "ddb %",
        "cold",
        "peak",
        "p50 ms",
        "p99 ms",
        "per run",
        "per M",
        "per month",
    );
    for (i, c) in s.configurations.iter().enumerate() {
        let money =
            |f: fn(&SimulatedCost) -> f64| c.cost.as_ref().map_or_else(|| "–".to_owned(), |k| crate::money::usd(f(k)));
        let ms = |v: f64| if c.ok_latency.count == 0 { "–".to_owned() } else { format!("{v:.1}") };
        let _ = writeln!(
            o,
            "{} {:<width$} {:>10.0} {:>6.2}% {:>7.2}% {:>8} {:>8.1} {:>5} {:>8} {:>8} {:>11} {:>10} {:>11}  {}",
            if s.recommended == Some(i) { "*" } else { " " },
            c.label(),
            c.requests,
            c.apigw_throttled * 100.0,
            c.lambda_throttled * 100.0,
            // Not simulated is not zero.
            c.table.as_ref().map_or_else(|| "–".to_owned(), |_| format!("{:.2}%", c.dynamodb_throttled * 100.0)),
            c.cold_starts,
            c.peak_concurrency,
            ms(c.ok_latency.p50_ms),
            ms(c.ok_latency.p99_ms),
            money(|k| k.run_usd),
            money(|k| k.per_million_usd),
            money(|k| k.month_usd),
            gate(c)
        );
    }
    match s.recommended {
        Some(_) => {
            let _ = writeln!(o, "  * recommended: {}", s.recommendation);
        }
        None => {
            let _ = writeln!(o, "  no recommendation: {}", s.recommendation);
        }
    }
    if !s.thresholds_not_simulated.is_empty() {
        let _ = writeln!(o, "  not simulated, not checked: {}", s.thresholds_not_simulated.join("; "));
    }
    for n in &s.notes {
        let _ = writeln!(o, "  note: {n}");
    }
    o
}

/// `pass`, `FAIL key, key`, or `–` when no threshold was simulated.
fn gate(c: &SimulatedConfiguration) -> String {
    match c.failed_thresholds() {
        None => "–".into(),
        Some(f) if f.is_empty() => "pass".into(),
        Some(f) => format!("FAIL {}", f.join(", ")),
    }
}
