//! report.html's cost section (the run, a month at the average and peak rates, per request
//! kind, reconciliation, the knee) and the batch-vs-per-item comparison.

use crate::report::page::{Cell, Section, Table, ms, pct, usd};
use crate::report::units;
use crate::results::Results;

/// The cost of the run, a month, each request kind; reconciliation; the knee.
pub(super) fn section(r: &Results) -> Option<Section> {
    let Some(c) = r.cost.as_ref() else {
        // No figure where nothing measured one: the section says why and how to get one.
        let why = r.cost_unknown.as_ref()?;
        let mut s = Section { id: "cost", heading: "Cost unknown".into(), ..Section::default() };
        s.notes.push(why.clone());
        return Some(s);
    };
    let mut s = Section { id: "cost", heading: "Cost".into(), ..Section::default() };
    let unit = crate::report::rate_unit(r);
    s.notes.push(format!(
        "Prices for {} (checked {}). This run: {}; {} per million requests; {} a month at the average {:.1} {unit}, \
         {} at the peak {:.1} {unit} (before the free tier, worth up to {} a month).",
        c.region,
        c.prices_checked,
        usd(c.run.total),
        usd(c.per_million_usd),
        usd(c.monthly_average.total),
        c.average_rate,
        usd(c.monthly_peak.total),
        c.peak_rate,
        usd(c.free_tier_monthly_usd)
    ));
    let mut t = Table::new("Cost by component", &["component", "#this run", "#month at average", "#month at peak"]);
    for (part, run) in c.run.components() {
        let (avg, peak) = (c.monthly_average.of(part), c.monthly_peak.of(part));
        t.rows.push(vec![Cell::text(part.label()), Cell::num(usd(run)), Cell::num(usd(avg)), Cell::num(usd(peak))]);
    }
    t.rows.push(vec![
        Cell::text("total"),
        Cell::num(usd(c.run.total)),
        Cell::num(usd(c.monthly_average.total)),
        Cell::num(usd(c.monthly_peak.total)),
    ]);
    s.tables.push(t);
    if !c.by_request.is_empty() {
        let mut t = Table::new(
            "Cost per request kind",
            &["request", "#Lambda ms/req", "#DynamoDB calls/req", "#RRU/req", "#WRU/req", "#USD per million"],
        );
        for q in &c.by_request {
            t.rows.push(vec![
                Cell::text(&q.name),
                Cell::num(format!("{:.2}", q.lambda_ms_per_request)),
                Cell::num(units(q.ddb_calls_per_request, q.units_reported)),
                Cell::num(units(q.read_units_per_request, q.units_reported)),
                Cell::num(units(q.write_units_per_request, q.units_reported)),
                Cell::num(usd(q.per_million_usd)),
            ]);
        }
        s.tables.push(t);
    }
    s.tables.extend(functions_and_sources(c));
    if !c.reconciliation.is_empty() {
        let mut t = Table::new(
            "Reconciliation: what the client counted against what the service reported",
            &["quantity", "#client", "#service", "#gap"],
        );
        for x in &c.reconciliation {
            t.rows.push(vec![
                Cell::text(&x.what),
                Cell::num(format!("{:.1}", x.client)),
                Cell::num(format!("{:.1}", x.server)),
                Cell { text: format!("{:.2}%", x.gap_pct), class: if x.flagged { "warn" } else { "num" } },
            ]);
        }
        s.tables.push(t);
    }
    if let Some(k) = &c.knee {
        s.notes.push(format!(
            "Knee: {} ÷ mean duration {:.1} ms = {:.0} req/s by Little's law; highest offered \
             rate with < 1% Lambda throttles: {}.",
            crate::report::knee_concurrency(k),
            k.mean_duration_ms,
            k.littles_law_max_rate,
            k.highest_sustainable_rate.map(|x| format!("{x:.0} req/s")).unwrap_or_else(|| "none".into())
        ));
        s.notes.extend(crate::report::knee_limits(k));
        s.notes.extend(k.simulation.as_ref().map(|how| format!("Simulated: {how}.")));
        let mut t = Table::new(
            "Throttling against offered rate: measured, simulated, Little's law, Erlang B (Poisson arrivals only)",
            &["phase", "#offered req/s", "#seconds", "#measured", "#simulated", "#Little's law", "#Erlang B"],
        );
        for p in &k.points {
            t.rows.push(vec![
                Cell::text(p.phase.clone()),
                Cell::num(format!("{:.0}{}", p.rate, if p.ramp { " (ramp mean)" } else { "" })),
                Cell::num(p.seconds.to_string()),
                Cell::num(pct(p.measured)),
                Cell::num(crate::report::knee_pct(p.simulated)),
                Cell::num(pct(p.littles_law)),
                Cell::num(crate::report::knee_pct(p.erlang_b)),
            ]);
        }
        s.tables.push(t);
    }
    s.notes.extend(c.notes.iter().cloned());
    Some(s)
}

/// Each function's bill from its REPORT lines (a stack of several), and where every usage
/// figure came from.
fn functions_and_sources(c: &crate::results::CostResult) -> Vec<Table> {
    let mut out = Vec::new();
    if !c.functions.is_empty() {
        let mut t = Table::new(
            "Each function, as its REPORT lines bill it",
            &["function", "#memory MB", "#invocations", "#cold starts", "#billed ms", "#billed ms/invocation"],
        );
        for f in &c.functions {
            t.rows.push(vec![
                Cell::text(&f.name),
                Cell::num(f.memory_mb.to_string()),
                Cell::num(format!("{:.0}", f.invocations)),
                Cell::num(format!("{:.0}", f.cold_starts)),
                Cell::num(format!("{:.0}", f.billed_ms)),
                Cell::num(if f.invocations > 0.0 {
                    format!("{:.2}", f.billed_ms / f.invocations)
                } else {
                    "–".into()
                }),
            ]);
        }
        out.push(t);
    }
    if !c.sources.is_empty() {
        let mut t = Table::new("Where each figure came from", &["source"]);
        t.rows.extend(c.sources.iter().map(|x| vec![Cell::text(x)]));
        out.push(t);
    }
    out
}

/// BatchGetItem against per-item GetItem, when the run has both.
pub(super) fn batch_section(r: &Results) -> Option<Section> {
    let v = r.cost.as_ref()?.batch_vs_item.as_ref()?;
    let mut s = Section { id: "batch", heading: "BatchGetItem vs per-item GetItem".into(), ..Section::default() };
    s.notes.push(v.verdict.clone());
    let mut t = Table::new(
        "The two read patterns side by side",
        &["request", "#requests", "#p50 ms", "#p99 ms", "#DynamoDB calls/req", "#RRU/req", "#USD per million"],
    );
    for name in [&v.batch, &v.per_item] {
        let Some(q) = r.requests.iter().find(|q| &q.name == name) else { continue };
        let per_m = r.cost.as_ref()?.by_request.iter().find(|c| &c.name == name).map(|c| c.per_million_usd);
        t.rows.push(vec![
            Cell::text(name.as_str()),
            Cell::num(q.summary.requests.to_string()),
            Cell::num(ms(q.summary.latency.p50_ms)),
            Cell::num(ms(q.summary.latency.p99_ms)),
            Cell::num(units(q.diagnostics.ddb_calls_per_request, q.diagnostics.responses > 0)),
            Cell::num(units(q.diagnostics.rcu_per_request, q.diagnostics.responses > 0)),
            Cell::num(per_m.map(usd).unwrap_or_else(|| "–".into())),
        ]);
    }
    s.tables.push(t);
    s.notes.push(format!(
        "Per-item costs {:.2}× the batch per request and {:.2}× its Lambda time; read units are {}.",
        v.cost_factor,
        v.lambda_ms_factor,
        if v.equal_read_units { "the same" } else { "different" }
    ));
    Some(s)
}
