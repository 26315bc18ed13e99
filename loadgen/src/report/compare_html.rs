//! `compare.html`: two runs overlaid — the diff table with the gate's verdict per metric, the
//! exact percentile distributions of both, and their p99 and throughput over time.

use crate::compare::{Comparison, notable};
use crate::record::{Class, Second};
use crate::results::Results;

use super::charts::{self, Line};
use super::page::{Cell, Chart, Page, Section, Table};

/// Renders the comparison page.
pub fn render(base: &Results, new: &Results, c: &Comparison) -> String {
    let (verdict, class) = if c.regressed() { ("REGRESSED", "fail") } else { ("NO REGRESSION", "pass") };
    let mut page = Page::new(
        format!("loadgen compare: {} → {}", c.names.0, c.names.1),
        verdict.into(),
        class,
        format!(
            "baseline {} ({}) · new {} ({})",
            super::when(&base.environment.started_at),
            base.target.url,
            super::when(&new.environment.started_at),
            new.target.url
        ),
    );
    let mut s = Section { id: "diff", heading: "What changed".into(), ..Section::default() };
    s.notes.push(
        "Latency figures come from both runs' histograms merged exactly. Metrics with an allowance are the gate; \
         the others are shown when they moved by more than 5% (or 0.1 percentage points)."
            .into(),
    );
    if !c.unmatched.is_empty() {
        s.notes.push(format!("Allowances that matched no metric in these runs: {}.", c.unmatched.join(", ")));
    }
    for w in &c.warnings {
        s.notes.push(format!("Warning: {w}."));
    }
    s.notes.push(format!(
        "Samples: the responses (or requests, for rates) behind each side's figure; a change resting on fewer than \
         {} is marked noise.",
        crate::compare::NOISE_BELOW
    ));
    let mut t =
        Table::new("Baseline vs new", &["metric", "#baseline", "#new", "#change", "#allowed", "#samples", "verdict"]);
    for r in c.rows.iter().filter(|r| r.allowance.is_some() || notable(r) || !r.key.contains('.') || is_overall(&r.key))
    {
        t.rows.push(vec![
            Cell::text(&r.key),
            Cell::num(r.shown(r.base)),
            Cell::num(r.shown(r.new)),
            Cell::num(r.change()),
            Cell::num(r.allowance.map(|a| a.to_string()).unwrap_or_else(|| "–".into())),
            Cell { text: r.samples_shown(), class: if r.noisy() { "warn" } else { "num" } },
            match (r.allowance.is_some(), r.regressed) {
                (_, true) => Cell { text: "REGRESSED".into(), class: "fail" },
                (true, false) => Cell { text: "ok".into(), class: "pass" },
                (false, false) => Cell::text(""),
            },
        ]);
    }
    s.tables.push(t);
    page.sections.push(s);

    let mut s = Section { id: "overlay", heading: "Both runs overlaid".into(), ..Section::default() };
    let mut lines = Vec::new();
    for (run, label, dashed) in [(base, "baseline", true), (new, "new", false)] {
        match run.merged(|c| c.class == crate::record::Class::Ok) {
            Ok((lat, _)) => lines.push(Line {
                label: format!("{label}: ok, corrected"),
                points: charts::distribution_points(&lat),
                dashed,
                colour: if dashed { 6 } else { 0 },
            }),
            Err(e) => s.notes.push(format!("The {label} distribution is missing: {e}.")),
        }
    }
    s.charts.push(Chart {
        id: "chart-distribution",
        title: "Latency of the ok responses by percentile, both runs".into(),
        read: "exact distributions on the 1/(1-q) axis: where the solid line rises above the dashed one, the new run \
               is slower at that percentile."
            .into(),
        svg: charts::distribution(&lines),
    });
    let x_max = base.series.len().max(new.series.len()) as f64;
    let over_time = |f: fn(&Second) -> f64, what: &str| -> Vec<Line> {
        [(base, "baseline", true), (new, "new", false)]
            .iter()
            .map(|(run, label, dashed)| {
                let k = charts::bucket_seconds(run.series.len());
                Line {
                    label: format!("{label}: {what}"),
                    points: run
                        .series
                        .chunks(k)
                        .map(|c| (c[0].t as f64, c.iter().map(f).fold(0.0, f64::max)))
                        .filter(|p| p.1 > 0.0)
                        .collect(),
                    dashed: *dashed,
                    colour: if *dashed { 6 } else { 0 },
                }
            })
            .collect()
    };
    s.charts.push(Chart {
        id: "chart-latency",
        title: "p99 latency of the ok responses over time, both runs".into(),
        read: "the corrected p99 of each second's ok responses; the runs are aligned at their start.".into(),
        svg: charts::time_lines(x_max, "p99 latency, ms", &over_time(|s| s.p99_ms, "p99"), &[]),
    });
    s.charts.push(Chart {
        id: "chart-throughput",
        title: "Successful responses per second, both runs".into(),
        read: "ok responses per second; a gap between the lines at the same offered load is throttling or errors."
            .into(),
        svg: charts::time_lines(x_max, "ok per second", &over_time(|s| s.completed[Class::Ok] as f64, "ok/s"), &[]),
    });
    page.sections.push(s);
    page.footer = format!(
        "loadgen {} · compared {} (schema {}) against {}",
        new.environment.loadgen_version,
        super::when(&new.environment.started_at),
        new.schema,
        super::when(&base.environment.started_at)
    );
    page.html()
}

fn is_overall(key: &str) -> bool {
    [
        "latency.",
        "service_time.",
        "errors.rate",
        "throttles.rate",
        "cold_starts.rate",
        "requests.count",
        "rate.achieved",
        "cost.per_million",
    ]
    .iter()
    .any(|p| key.starts_with(p))
}
