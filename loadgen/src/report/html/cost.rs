//! report.html's cost section (the run, a month at the average and peak rates, per request
//! kind, reconciliation, the knee) and the batch-vs-per-item comparison.

use crate::report::charts::{self, Line};
use crate::report::page::{Cell, Chart, Section, Table, pct, usd};
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
    s.notes.push(crate::report::cost_headline(c, unit));
    let mut t = Table::new("Cost by component", &["component", "#this run", "#month at average", "#month at peak"]);
    for (part, run) in c.run.components() {
        let (avg, peak) = (c.monthly_average.of(part), c.monthly_peak.of(part));
        t.rows.push(vec![Cell::text(part.label()), Cell::num(usd(run)), Cell::num(usd(avg)), Cell::num(usd(peak))]);
    }
    t.rows.push(vec![
        Cell::text("total: the target stack"),
        Cell::num(usd(c.run.total)),
        Cell::num(usd(c.monthly_average.total)),
        Cell::num(usd(c.monthly_peak.total)),
    ]);
    t.rows.push(vec![
        Cell::text("apart: loadgen's own (GetMetricData, seeding)"),
        Cell::num(usd(c.harness_usd)),
        Cell::num("–"),
        Cell::num("–"),
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
        s.charts.push(knee_chart(k));
    }
    s.notes.extend(c.notes.iter().cloned());
    Some(s)
}

/// The knee as a chart: the throttle share each offered rate met, measured against simulated,
/// Little's law and (Poisson arrivals only) Erlang B — by rate, so a plan that comes back down
/// (a spike's recovery at its warm-up's rate) draws one point there, the stretches' mean
/// weighted by their seconds, named for all of them.
fn knee_chart(k: &crate::results::cost::Knee) -> Chart {
    type Pick = fn(&crate::results::cost::KneePoint) -> Option<f64>;
    let mut rates: Vec<f64> = k.points.iter().map(|p| p.rate).collect();
    rates.sort_by(f64::total_cmp);
    rates.dedup_by(|a, b| (*a - *b).abs() < 1e-6);
    let at = |rate: f64| k.points.iter().filter(move |p| (p.rate - rate).abs() < 1e-6);
    let share = |pick: Pick| -> Vec<(f64, f64)> {
        rates
            .iter()
            .filter_map(|r| {
                let (sum, secs) = at(*r)
                    .filter_map(|p| pick(p).map(|v| (v * f64::from(p.seconds.max(1)), f64::from(p.seconds.max(1)))))
                    .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
                (secs > 0.0).then(|| (*r, sum / secs * 100.0))
            })
            .collect()
    };
    let mut lines =
        vec![Line { label: "measured".into(), points: share(|p| Some(p.measured)), dashed: false, colour: 3 }];
    let predicted: [(&str, Pick, usize); 3] = [
        ("simulated", |p| p.simulated, 0),
        ("Little's law", |p| Some(p.littles_law), 6),
        ("Erlang B", |p| p.erlang_b, 4),
    ];
    for (label, pick, colour) in predicted {
        let points = share(pick);
        if !points.is_empty() {
            lines.push(Line { label: label.into(), points, dashed: true, colour });
        }
    }
    let names = vec![rates.iter().map(|r| at(*r).map(|p| p.phase.as_str()).collect::<Vec<_>>().join(", ")).collect()];
    Chart {
        id: "chart-knee",
        title: "The knee: throttled share against offered rate".into(),
        read: "each point is a stretch of the plan at one offered rate (its phase named): the solid line is what Lambda \
               throttled, the dashed ones what the simulation, Little's law and Erlang B predicted. Where the solid line \
               leaves zero is the knee; a simulation that tracks it is one to trust at rates not run."
            .into(),
        svg: charts::xy("offered rate, req/s", "Lambda throttled, % of requests", &lines, &names),
    }
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
        &["request", "#requests", "#ok p50 ms", "#ok p99 ms", "#DynamoDB calls/req", "#RRU/req", "#USD per million"],
    );
    for name in [&v.batch, &v.per_item] {
        let Some(q) = r.requests.iter().find(|q| &q.name == name) else { continue };
        let per_m = r.cost.as_ref()?.by_request.iter().find(|c| &c.name == name).map(|c| c.per_million_usd);
        t.rows.push(vec![
            Cell::text(name.as_str()),
            Cell::num(q.summary.requests.to_string()),
            Cell::num(crate::report::ok_ms(&q.summary.latency, |s| s.p50_ms)),
            Cell::num(crate::report::ok_ms(&q.summary.latency, |s| s.p99_ms)),
            Cell::num(units(q.diagnostics.ddb_calls_per_request, q.diagnostics.responses > 0)),
            Cell::num(units(q.diagnostics.rcu_per_request, q.diagnostics.responses > 0)),
            Cell::num(per_m.map(usd).unwrap_or_else(|| "–".into())),
        ]);
    }
    s.tables.push(t);
    Some(s)
}
