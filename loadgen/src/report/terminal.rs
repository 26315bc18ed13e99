//! What the terminal shows: the summary at the end of a run and the table of a comparison.

use std::fmt::Write;

use crate::compare::{Comparison, notable};
use crate::results::{CostResult, Results, Stats};

fn stats_row(label: &str, s: &Stats) -> String {
    if s.count == 0 {
        return format!("  {label:<14} none answered ok");
    }
    format!(
        "  {label:<14} p50 {:>9.2}  p90 {:>9.2}  p99 {:>9.2}  p99.9 {:>9.2}  max {:>9.2} ms",
        s.p50_ms, s.p90_ms, s.p99_ms, s.p999_ms, s.max_ms
    )
}

/// The run's first lines: what ran against what, from where, and why it stopped when it did.
fn heading(r: &Results, out: &mut String) {
    let _ = writeln!(
        out,
        "\n{} — {:?}, {:.1} s against {} ({})",
        r.name(),
        r.status,
        r.duration_s,
        r.target.url,
        r.target.kind.as_str()
    );
    if let Some(f) = &r.fleet {
        let _ = writeln!(
            out,
            "  sent from a fleet of {} workers ({}), arrival k of each phase by worker k mod {}",
            f.workers, f.function, f.workers
        );
    }
    if let Some(reason) = &r.abort_reason {
        let word = if r.status == crate::results::Status::Partial { "partial" } else { "aborted" };
        let _ = writeln!(out, "  {word}: {reason}");
    }
}

/// The run's summary as text.
pub fn summary(r: &Results) -> String {
    let mut out = String::new();
    heading(r, &mut out);
    let t = &r.totals;
    let target = r.target_rate.map(|x| format!("{x:.1}")).unwrap_or_else(|| "closed model".into());
    let unit = super::rate_unit(r);
    let _ = writeln!(out, "  requests {}   achieved {:.1} {unit} (target {target})", t.requests, r.achieved_rate);
    let _ = writeln!(out, "{}", stats_row("ok latency", &t.latency));
    let _ = writeln!(out, "{}", stats_row("ok service", &t.service_time));
    // The rest answered too, often much faster (a throttle in a few ms): apart, never mixed in.
    let others: Vec<String> =
        t.class_latency.iter().map(|(c, s)| format!("{} p50 {:.1} p99 {:.1}", c.name(), s.p50_ms, s.p99_ms)).collect();
    if !others.is_empty() {
        let _ = writeln!(out, "  {:<14} {} ms", "not ok", others.join(", "));
    }
    let _ = writeln!(
        out,
        "  errors {:.2}%   throttles {:.2}%   cold starts {}",
        t.error_rate * 100.0,
        t.throttle_rate * 100.0,
        t.cold_starts
    );
    let classes: Vec<String> =
        t.by_class.iter().filter(|(_, n)| *n > 0).map(|(c, n)| format!("{} {n}", c.name())).collect();
    let _ = writeln!(out, "  outcomes: {}", classes.join(", "));
    let _ = writeln!(
        out,
        "\n  {:<22} {:>8} {:>9} {:>9} {:>9} {:>8} {:>8} {:>7} {:>7}",
        "request", "count", "ok p50", "ok p99", "cold p50", "err %", "thr %", "rcu/req", "calls"
    );
    for q in &r.requests {
        let cold = if q.cold_latency.count > 0 { format!("{:.1}", q.cold_latency.p50_ms) } else { "-".into() };
        let _ = writeln!(
            out,
            "  {:<22} {:>8} {:>9} {:>9} {:>9} {:>8.2} {:>8.2} {:>7} {:>7}",
            q.name,
            q.summary.requests,
            super::ok_ms(&q.summary.latency, |s| s.p50_ms),
            super::ok_ms(&q.summary.latency, |s| s.p99_ms),
            cold,
            q.summary.error_rate * 100.0,
            q.summary.throttle_rate * 100.0,
            super::units(q.diagnostics.rcu_per_request, q.diagnostics.responses > 0),
            super::units(q.diagnostics.ddb_calls_per_request, q.diagnostics.responses > 0)
        );
    }
    checks(&mut out, r);
    targets(&mut out, r);
    flows(&mut out, r);
    let _ = writeln!(
        out,
        "\n  {:<22} {:>8} {:>10} {:>10} {:>9} {:>8}",
        "phase", "sent", "target/s", "achieved/s", "ok p99", "thr %"
    );
    for p in &r.phases {
        let target = p.target_rate.map(|x| format!("{x:.1}")).unwrap_or_else(|| "closed".into());
        let _ = writeln!(
            out,
            "  {:<22} {:>8} {:>10} {:>10.1} {:>9} {:>8.2}",
            p.name,
            p.sent,
            target,
            p.achieved_rate,
            super::ok_ms(&p.summary.latency, |s| s.p99_ms),
            p.summary.throttle_rate * 100.0
        );
    }
    generator(&mut out, &r.generator);
    if let Some(c) = &r.cost {
        cost(&mut out, c, super::rate_unit(r));
        // Off the local stack some figures may be the client's estimates: say which.
        if r.target.kind == crate::results::TargetKind::Url {
            let _ = writeln!(out, "    where the figures came from:");
            for s in &c.sources {
                let _ = writeln!(out, "      {s}");
            }
        }
        for n in &c.notes {
            let _ = writeln!(out, "    note: {n}");
        }
    } else if let Some(why) = &r.cost_unknown {
        let _ = writeln!(out, "\n  cost unknown: {why}");
    }
    if !r.thresholds.is_empty() {
        let _ = writeln!(out, "\n  thresholds:");
        for th in &r.thresholds {
            let measured = match th.measured.is_nan() {
                true => "nothing measured".to_owned(),
                false => format!("measured {}", super::shown(th.measured, th.unit)),
            };
            let _ = writeln!(
                out,
                "    {} {:<32} {:<12} {measured}",
                if th.passed { "PASS" } else { "FAIL" },
                th.key,
                th.condition
            );
        }
    }
    let _ = writeln!(out, "\n  verdict: {}", verdict(r));
    out
}

/// The verdict line's word: a run stopped early has none of its own, whatever its thresholds
/// said of the part that ran (as report.html, summary.md and junit.xml say).
fn verdict(r: &Results) -> &'static str {
    match (&r.status, r.passed, r.generator.saturated) {
        (crate::results::Status::Aborted, ..) => "ABORTED (stopped early: not a pass)",
        (crate::results::Status::Partial, ..) => "PARTIAL (results of part of the load are missing: not a pass)",
        (_, true, true) => "PASS — but the generator was SATURATED: the figures understate the plan",
        (_, true, false) => "PASS",
        (_, false, _) => "FAIL",
    }
}

/// What `--quiet` still says, on standard error, about a run that did not pass: the verdict,
/// why it stopped early and each failed threshold — so a CI log never shows a bare non-zero exit.
pub fn quiet_failure(r: &Results) -> Option<String> {
    if r.passed && r.abort_reason.is_none() && !r.generator.saturated {
        return None;
    }
    let mut out = format!("loadgen: {} — {:?}", r.name(), r.status);
    match &r.abort_reason {
        // A stopped run has no verdict of its own to give, whatever its thresholds say.
        Some(reason) => out.push_str(&format!(", no verdict: stopped early: {reason}\n")),
        None if r.passed => out.push_str(", verdict PASS — but not a plain one:\n"),
        None => out.push_str(", verdict FAIL\n"),
    }
    if let Some(s) = super::saturation(r) {
        let _ = writeln!(out, "  {s}");
    }
    for th in r.thresholds.iter().filter(|t| !t.passed) {
        let measured = match th.measured.is_nan() {
            true => "nothing measured".to_owned(),
            false => format!("measured {}", super::shown(th.measured, th.unit)),
        };
        let _ = writeln!(out, "  FAIL {} {} ({measured})", th.key, th.condition);
    }
    Some(out)
}

/// A line per checked request kind: how many failed, and the first failure.
fn checks(out: &mut String, r: &Results) {
    for q in &r.requests {
        if let Some(c) = &q.checks {
            let first = c.failures.first().map(|f| format!(" — first: {} {}", f.status, f.reason)).unwrap_or_default();
            let _ = writeln!(
                out,
                "  checks {:<15} {} of {} failed ({:.2}%){first}",
                q.name,
                c.failed,
                c.checked,
                c.rate * 100.0
            );
        }
    }
}

/// The generator's health line: lag, late and unsent arrivals, CPU, and whether it fell behind.
fn generator(out: &mut String, g: &crate::results::GeneratorHealth) {
    let _ = writeln!(
        out,
        "\n  generator: lag p99 {:.2} ms, {} late sends{}{}, {:.1} CPU s{}",
        g.lag_p99_ms,
        g.late_sends,
        match g.not_sent {
            0 => String::new(),
            n => format!(", {n} arrivals NOT SENT (held back until their phase ended)"),
        },
        match g.out_of_files {
            0 => String::new(),
            n => format!(", {n} requests found NO FILE DESCRIPTOR (too many open files: raise `ulimit -n`)"),
        },
        g.cpu_seconds,
        if g.saturated {
            " — SATURATED: the generator could not keep the schedule; latency includes its lag"
        } else {
            ""
        }
    );
    if let Some(c) = super::connections(&g.connections) {
        let _ = writeln!(out, "  connections: {c}");
    }
}

/// A line per target, when the scenario names any: what its requests came to.
fn targets(out: &mut String, r: &Results) {
    for t in &r.targets {
        let m = &t.summary;
        let _ = writeln!(
            out,
            "  target {:<15} {} requests, ok p50 {} ms p99 {} ms, errors {:.2}%, throttles {:.2}% ({})",
            t.name,
            m.requests,
            super::ok_ms(&m.latency, |s| s.p50_ms),
            super::ok_ms(&m.latency, |s| s.p99_ms),
            m.error_rate * 100.0,
            m.throttle_rate * 100.0,
            t.url
        );
    }
}

/// A line per flow: how its instances ended, and how long the completed ones took.
fn flows(out: &mut String, r: &Results) {
    for f in &r.flows {
        let _ = writeln!(
            out,
            "  flow {:<17} {} started, {} completed, {} failed, {} cut at the end; duration p50 {:.1} ms p99 {:.1} ms",
            f.name, f.started, f.completed, f.failed, f.cut, f.duration.p50_ms, f.duration.p99_ms
        );
    }
}

/// `text` in lines of at most `width` characters, broken between words.
fn wrapped(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let last = lines.last_mut().expect("one line at least");
        if !last.is_empty() && last.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_owned());
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    lines
}

/// The cost lines of the summary.
fn cost(out: &mut String, c: &CostResult, unit: &str) {
    let _ = writeln!(out, "\n  cost:");
    let usd = crate::money::usd;
    for line in wrapped(&super::cost_headline(c, unit), 96) {
        let _ = writeln!(out, "    {line}");
    }
    let parts: Vec<String> = c.run.components().map(|(part, v)| format!("{} {}", part.label(), usd(v))).collect();
    for line in wrapped(&format!("this run {} = {}", usd(c.run.total), parts.join(" + ")), 96) {
        let _ = writeln!(out, "    {line}");
    }
    for q in &c.by_request {
        let _ = writeln!(
            out,
            "    {:<22} {:>10}/M   {:>7.2} billed ms   {:>6} calls   {:>6} RRU   {:>6} WRU",
            q.name,
            usd(q.per_million_usd),
            q.lambda_ms_per_request,
            super::units(q.ddb_calls_per_request, q.units_reported),
            super::units(q.read_units_per_request, q.units_reported),
            super::units(q.write_units_per_request, q.units_reported)
        );
    }
    for f in &c.functions {
        let _ = writeln!(
            out,
            "    function {:<20} {:>5} MB  {:>7.0} invocations  {:>4.0} cold  {:>9.0} billed ms",
            f.name, f.memory_mb, f.invocations, f.cold_starts, f.billed_ms
        );
    }
    if let Some(v) = &c.batch_vs_item {
        let _ = writeln!(out, "    batch vs per-item: {}", v.verdict);
    }
    if let Some(k) = &c.knee {
        let _ = writeln!(
            out,
            "    knee: {} ÷ mean duration {:.1} ms = {:.0} req/s (Little's law); highest rate with < 1% Lambda throttles: {}",
            super::knee_concurrency(k),
            k.mean_duration_ms,
            k.littles_law_max_rate,
            k.highest_sustainable_rate.map(|x| format!("{x:.0} req/s")).unwrap_or_else(|| "none".into())
        );
        if let Some(limits) = super::knee_limits(k) {
            let _ = writeln!(out, "      {limits}");
        }
        for p in &k.points {
            let _ = writeln!(
                out,
                "      {:<16} {:>6.0} req/s{}  measured {:>6.2}%  simulated {:>7}  Little {:>6.2}%  Erlang B {:>7}",
                super::clip(&p.phase, 16),
                p.rate,
                if p.ramp { " (ramp)" } else { "       " },
                p.measured * 100.0,
                super::knee_pct(p.simulated),
                p.littles_law * 100.0,
                super::knee_pct(p.erlang_b)
            );
        }
        if let Some(how) = &k.simulation {
            let _ = writeln!(out, "      simulated: {how}");
        }
    }
    if !c.reconciliation.is_empty() {
        let _ = writeln!(out, "    reconciliation (client vs CloudWatch):");
        for x in &c.reconciliation {
            let _ = writeln!(
                out,
                "      {} {:<70} {:>10.1} {:>10.1}  gap {:.2}%",
                if x.flagged { "GAP" } else { " ok" },
                x.what,
                x.client,
                x.server,
                x.gap_pct
            );
        }
    }
}

/// The comparison table: metrics with an allowance, then any other that changed by more than 5%.
pub fn comparison(c: &Comparison) -> String {
    let mut o = String::new();
    for w in &c.warnings {
        let _ = writeln!(o, "  warning: {w}");
    }
    if !c.warnings.is_empty() {
        o.push('\n');
    }
    let _ = writeln!(
        o,
        "  {:<34} {:>14} {:>14} {:>10} {:>9} {:>17}  verdict",
        "metric", "base", "new", "change", "allowed", "samples"
    );
    for r in c.rows.iter().filter(|r| r.allowance.is_some() || notable(r)) {
        let _ = writeln!(
            o,
            "  {:<34} {:>14} {:>14} {:>10} {:>9} {:>17}  {}",
            r.key,
            r.shown(r.base),
            r.shown(r.new),
            r.change(),
            r.allowance.map(|a| a.to_string()).unwrap_or_else(|| "–".into()),
            r.samples_shown(),
            match (r.allowance.is_some(), r.regressed) {
                (_, true) => "REGRESSED",
                (true, false) => "ok",
                (false, _) => "",
            }
        );
    }
    o
}
