//! report.html's environment section: target, stack settings, machine, and the generator's
//! own health.

use crate::report::page::{Cell, Section, Table, ms};
use crate::results::{InfraOutputs, Results};

/// A rate as results.json writes it (`1000.0`), so the page reads like the document.
fn json_number(v: f64) -> String {
    format!("{v:?}")
}

/// The deployed stack's outputs that are known, `name = value`.
fn deployed(o: &InfraOutputs) -> String {
    let mut parts = vec![format!("api_url = {}", o.api_url)];
    let text = [
        ("api_id", &o.api_id),
        ("stage", &o.stage),
        ("function_name", &o.function_name),
        ("table_name", &o.table_name),
        ("region", &o.region),
    ];
    parts.extend(text.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k} = {v}"))));
    if let Some(v) = o.memory_mb {
        parts.push(format!("memory_mb = {v}"));
    }
    if let Some(v) = o.timeout_s {
        parts.push(format!("timeout_s = {v}"));
    }
    if let Some(v) = o.architecture {
        parts.push(format!("architecture = {}", v.as_str()));
    }
    if let Some(v) = o.reserved_concurrency {
        parts.push(format!("reserved_concurrency = {v}"));
    }
    parts.join(" · ")
}

/// The run's settings and the generator's health.
pub(super) fn section(r: &Results) -> Section {
    let mut s = Section { id: "environment", heading: "Environment".into(), ..Section::default() };
    let mut t = Table::new("Run", &["setting", "value"]);
    let e = &r.environment;
    let mut kv = |k: &str, v: String| t.rows.push(vec![Cell::text(k), Cell::text(v)]);
    kv("scenario file", r.scenario.file.display().to_string());
    kv("seed", r.scenario.seed.to_string());
    kv("target", format!("{} ({})", r.target.url, r.target.kind.as_str()));
    kv("loadgen", e.loadgen_version.clone());
    kv("machine", format!("{}, {} CPUs", e.os, e.cpus));
    kv("started", super::super::when(&e.started_at));
    kv("finished", super::super::when(&e.finished_at));
    kv("status", format!("{:?}", r.status).to_lowercase());
    if let Some(stack) = &r.target.stack {
        let f = &stack.function;
        kv(
            "function",
            format!(
                "{} · {} MB · {} · timeout {} s · {}",
                f.name,
                f.memory_mb,
                f.architecture.as_str(),
                f.timeout.as_secs(),
                crate::report::concurrency_setting(stack)
            ),
        );
        let a = &stack.api;
        kv(
            "API Gateway",
            format!(
                "stage throttle {} req/s (burst {}), account {} req/s",
                json_number(a.stage_throttle.rate),
                a.stage_throttle.burst,
                json_number(a.account_throttle.rate)
            ),
        );
        let d = &stack.dynamodb;
        kv(
            "DynamoDB",
            format!(
                "{} · {} RCU/s · {} WCU/s",
                d.table_name,
                json_number(d.read_units_per_s),
                json_number(d.write_units_per_s)
            ),
        );
        if let Some(cpu) = r.target.cpu {
            let refused = match r.target.cpu_refused {
                0 => String::new(),
                n => format!("; {n} environment(s) refused by the kernel, their CPU time measured instead"),
            };
            kv("function CPU", format!("{}{refused}", cpu.describe(f.memory_mb)));
        }
        kv("latency profile", stack.latency_profile.clone());
        kv("region", stack.region.clone());
    }
    if let Some(infra) = &r.target.infra {
        kv("deployed stack", deployed(infra));
    }
    s.tables.push(t);
    let g = &r.generator;
    let mut t = Table::new("Generator health (a generator that falls behind measures itself)", &["measure", "#value"]);
    for (k, v) in [
        ("scheduling lag p50", format!("{} ms", ms(g.lag_p50_ms))),
        ("scheduling lag p99", format!("{} ms", ms(g.lag_p99_ms))),
        ("scheduling lag max", format!("{} ms", ms(g.lag_max_ms))),
        ("sends more than 5 ms late", g.late_sends.to_string()),
        ("arrivals not sent (held back until their phase ended)", g.not_sent.to_string()),
        ("requests without a file descriptor (too many open files)", g.out_of_files.to_string()),
        ("saturated", if g.saturated { "yes".into() } else { "no".into() }),
        ("CPU seconds used", format!("{:.2}", g.cpu_seconds)),
        ("in-flight bound", g.max_in_flight.to_string()),
        ("heuristic mismatches", g.heuristic_mismatches.to_string()),
    ] {
        t.rows.push(vec![Cell::text(k), Cell::num(v)]);
    }
    let c = &g.connections;
    if !c.is_empty() {
        for (k, v) in [
            ("connections opened before the start", c.opened_before.to_string()),
            ("connections opened during the run (connect time in their first request)", c.opened_during.to_string()),
            (
                "connect time p50 / p99 / max (TCP, and TLS on https)",
                format!("{} / {} / {} ms", ms(c.connect_p50_ms), ms(c.connect_p99_ms), ms(c.connect_max_ms)),
            ),
        ] {
            t.rows.push(vec![Cell::text(k), Cell::num(v)]);
        }
    }
    s.tables.push(t);
    if let Some(cw) = &r.cloudwatch {
        s.notes.push(format!(
            "CloudWatch ({}): {} metrics requested over {} poll(s), window {} s.",
            cw.source.as_str(),
            cw.metrics_requested,
            cw.polls,
            cw.window.1 - cw.window.0
        ));
    }
    s
}
