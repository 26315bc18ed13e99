//! `summary.md`: the run in Markdown, for a CI step summary or a pull-request comment.

use std::fmt::Write;

use super::escape::markdown_cell as cell;
use crate::results::{CostResult, Results, Status};

/// The verdict heading, and what the run was sent from and why it stopped when it did.
fn heading(r: &Results, o: &mut String) {
    let verdict = match (r.status, r.passed, r.generator.saturated) {
        (Status::Aborted, ..) => "⚠️ aborted",
        (Status::Partial, ..) => "⚠️ partial — results of part of the load are missing",
        (_, true, true) => "⚠️ pass — generator saturated, figures understated",
        (_, true, false) => "✅ pass",
        (_, false, _) => "❌ fail",
    };
    let _ = writeln!(o, "## loadgen: {} — {verdict}\n", cell(r.name()));
    if let Some(f) = &r.fleet {
        let _ = writeln!(o, "Sent from a fleet of {} workers ({}).\n", f.workers, cell(&f.function));
    }
    if let Some(reason) = &r.abort_reason {
        let word = if r.status == Status::Partial { "Partial" } else { "Aborted" };
        let _ = writeln!(o, "{word}: {}\n", cell(reason));
    }
}

/// Renders the Markdown summary.
pub fn render(r: &Results) -> String {
    let mut o = String::new();
    heading(r, &mut o);
    if let Some(s) = super::saturation(r) {
        let _ = writeln!(o, "> ⚠️ {}.\n", cell(&s));
    }
    let t = &r.totals;
    let target = r.target_rate.map(|x| format!("{x:.1}")).unwrap_or_else(|| "closed model".into());
    let _ = writeln!(
        o,
        "| requests | achieved req/s | target req/s | ok p50 ms | ok p90 ms | ok p99 ms | ok p99.9 ms | ok max ms | errors | throttles | cold starts |"
    );
    let _ = writeln!(o, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let _ = writeln!(
        o,
        "| {} | {:.1} | {target} | {} | {} | {} | {} | {} | {:.2}% | {:.2}% | {} |\n",
        t.requests,
        r.achieved_rate,
        super::ok_ms(&t.latency, |s| s.p50_ms),
        super::ok_ms(&t.latency, |s| s.p90_ms),
        super::ok_ms(&t.latency, |s| s.p99_ms),
        super::ok_ms(&t.latency, |s| s.p999_ms),
        super::ok_ms(&t.latency, |s| s.max_ms),
        t.error_rate * 100.0,
        t.throttle_rate * 100.0,
        t.cold_starts
    );
    let others: Vec<String> = t
        .class_latency
        .iter()
        .map(|(c, s)| format!("{} p50 {:.2} ms, p99 {:.2} ms", c.name(), s.p50_ms, s.p99_ms))
        .collect();
    let _ = writeln!(
        o,
        "Latency is of the {} ok responses, measured from each request's intended send time; service time (from the actual send) p99: {:.2} ms.{}\n",
        t.latency.count,
        t.service_time.p99_ms,
        if others.is_empty() { String::new() } else { format!(" Not ok, apart: {}.", others.join("; ")) }
    );
    if !r.thresholds.is_empty() {
        let _ = writeln!(o, "| threshold | limit | measured | result |\n|---|---|---:|---|");
        for th in &r.thresholds {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} |",
                cell(&th.key),
                cell(&th.condition),
                super::shown(th.measured, th.unit),
                if th.passed { "pass" } else { "**FAIL**" }
            );
        }
        o.push('\n');
    }
    let _ = writeln!(
        o,
        "| request | count | ok p50 ms | ok p99 ms | cold p50 ms | errors | throttles | RRU/req | DynamoDB calls/req |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for q in &r.requests {
        let cold = if q.cold_latency.count > 0 { format!("{:.1}", q.cold_latency.p50_ms) } else { "–".into() };
        let _ = writeln!(
            o,
            "| {} | {} | {:.2} | {:.2} | {cold} | {:.2}% | {:.2}% | {} | {} |",
            cell(&q.name),
            q.summary.requests,
            super::ok_ms(&q.summary.latency, |s| s.p50_ms),
            super::ok_ms(&q.summary.latency, |s| s.p99_ms),
            q.summary.error_rate * 100.0,
            q.summary.throttle_rate * 100.0,
            super::units(q.diagnostics.rcu_per_request, q.diagnostics.responses > 0),
            super::units(q.diagnostics.ddb_calls_per_request, q.diagnostics.responses > 0)
        );
    }
    let checked: Vec<_> = r.requests.iter().filter_map(|q| q.checks.as_ref().map(|c| (q, c))).collect();
    if !checked.is_empty() {
        let _ = writeln!(o, "\n| checks | checked | failed | first failure |\n|---|---:|---:|---|");
        for (q, c) in checked {
            let first = c.failures.first().map(|f| format!("{} {}", f.status, cell(&f.reason))).unwrap_or_default();
            let _ = writeln!(o, "| {} | {} | {} | {first} |", cell(&q.name), c.checked, c.failed);
        }
    }
    targets(&mut o, r);
    if !r.flows.is_empty() {
        let _ = writeln!(
            o,
            "\n| flow | started | completed | failed | cut | p50 ms | p99 ms |\n|---|---:|---:|---:|---:|---:|---:|"
        );
        for f in &r.flows {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {:.1} | {:.1} |",
                cell(&f.name),
                f.started,
                f.completed,
                f.failed,
                f.cut,
                f.duration.p50_ms,
                f.duration.p99_ms
            );
        }
    }
    if let Some(c) = &r.cost {
        cost(&mut o, c, super::rate_unit(r));
    } else if let Some(why) = &r.cost_unknown {
        let _ = writeln!(o, "\n**Cost unknown:** {}", super::escape::markdown_cell(why));
    }
    o
}

/// The cost paragraph and tables.
fn cost(o: &mut String, c: &CostResult, unit: &str) {
    let _ = writeln!(o, "\n**Cost** — {}", cell(&super::cost_headline(c, unit)));
    if let Some(v) = &c.batch_vs_item {
        let _ = writeln!(o, "\nBatch vs per-item: {}.", cell(&v.verdict));
    }
    let b = &c.run;
    let _ = writeln!(o, "\n| component | this run |\n|---|---:|");
    for (c, v) in b.components() {
        let _ = writeln!(o, "| {} | {} |", c.label(), crate::money::usd(v));
    }
    let _ = writeln!(o, "| **total: the target stack** | **{}** |", crate::money::usd(b.total));
    let _ = writeln!(o, "| apart: loadgen's own (GetMetricData, seeding) | {} |", crate::money::usd(c.harness_usd));
    if !c.functions.is_empty() {
        let _ = writeln!(
            o,
            "\n| function | memory MB | invocations | cold starts | billed ms |\n|---|---:|---:|---:|---:|"
        );
        for f in &c.functions {
            let _ = writeln!(
                o,
                "| {} | {} | {:.0} | {:.0} | {:.0} |",
                cell(&f.name),
                f.memory_mb,
                f.invocations,
                f.cold_starts,
                f.billed_ms
            );
        }
    }
    if !c.reconciliation.is_empty() {
        let _ = writeln!(o, "\n| reconciliation | client | CloudWatch | gap |\n|---|---:|---:|---:|");
        for x in &c.reconciliation {
            let flag = if x.flagged { " ⚠️" } else { "" };
            let _ = writeln!(o, "| {} | {:.1} | {:.1} | {:.2}%{flag} |", cell(&x.what), x.client, x.server, x.gap_pct);
        }
    }
    if let Some(k) = &c.knee {
        let sustainable = k.highest_sustainable_rate.map(|x| format!("{x:.0} req/s")).unwrap_or_else(|| "none".into());
        let _ = writeln!(
            o,
            "\n**Knee**: {} ÷ mean duration {:.1} ms = {:.0} req/s by Little's law; highest offered rate with < 1% Lambda throttles: {sustainable}.{}\n",
            super::knee_concurrency(k),
            k.mean_duration_ms,
            k.littles_law_max_rate,
            super::knee_limits(k).map(|l| format!(" {}", cell(&l))).unwrap_or_default()
        );
        let _ = writeln!(
            o,
            "| phase | offered req/s | measured throttles | simulated | Little's law | Erlang B |\n|---|---:|---:|---:|---:|---:|"
        );
        for p in &k.points {
            let _ = writeln!(
                o,
                "| {} | {:.0}{} | {:.2}% | {} | {:.2}% | {} |",
                cell(&p.phase),
                p.rate,
                if p.ramp { " (ramp mean)" } else { "" },
                p.measured * 100.0,
                super::knee_pct(p.simulated),
                p.littles_law * 100.0,
                super::knee_pct(p.erlang_b)
            );
        }
        if let Some(how) = &k.simulation {
            let _ = writeln!(o, "\nSimulated: {}.", cell(how));
        }
    }
}

/// The targets table, when the scenario names any.
fn targets(o: &mut String, r: &Results) {
    if r.targets.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "\n| target | url | requests | ok p50 ms | ok p99 ms | errors | throttles |\n|---|---|---:|---:|---:|---:|---:|"
    );
    for t in &r.targets {
        let m = &t.summary;
        let _ = writeln!(
            o,
            "| {} | {} | {} | {:.1} | {:.1} | {:.2}% | {:.2}% |",
            cell(&t.name),
            cell(&t.url),
            m.requests,
            super::ok_ms(&m.latency, |s| s.p50_ms),
            super::ok_ms(&m.latency, |s| s.p99_ms),
            m.error_rate * 100.0,
            m.throttle_rate * 100.0
        );
    }
}
