//! `simulate.html`: a simulation as a self-contained page like report.html — the
//! recommendation, every configuration's throttles, cold starts, ok latency and cost, each
//! plan window of the recommended one, and the curves the grid allows: cost against p99 per
//! memory size (the power-tuning curve under real concurrency), throttle share against
//! reserved concurrency, and monthly cost against traffic.

use crate::simulate::output::{SimulatedConfiguration, Simulation};

use super::charts::{self, Line};
use super::page::{Cell, Chart, Page, Section, Table, ms, pct};

/// Lines a chart draws at most (the palette's colours).
const MAX_LINES: usize = 8;

/// The verdict line: the recommended configuration, or that none qualifies.
pub fn verdict(s: &Simulation) -> (String, &'static str) {
    match s.recommended.and_then(|i| s.configurations.get(i)) {
        Some(c) => (format!("RECOMMENDED: {}", c.label()), "pass"),
        None => ("NO RECOMMENDATION".into(), "warn"),
    }
}

/// Renders the page.
pub fn render(s: &Simulation) -> String {
    let (verdict, class) = verdict(s);
    let mut page = Page::new(
        format!("loadgen simulate: {}", s.scenario),
        verdict,
        class,
        format!(
            "calibrated from {} ({} invocations of {}) · traffic {} · {} replication(s) of {:.0} s · {}",
            s.calibrated_from,
            s.calibration_invocations,
            s.calibration_scenario,
            s.traffic.iter().map(|t| format!("{t}x")).collect::<Vec<_>>().join(", "),
            s.replications,
            s.duration_s,
            s.region
        ),
    );
    let mut sec = Section { id: "configurations", heading: "Configurations".into(), ..Section::default() };
    sec.notes.push(format!(
        "Recommendation: {}. Per replication on average; ok latency is of the admitted requests, exact percentiles \
         of every replication's HdrHistogram.",
        s.recommendation
    ));
    if !s.thresholds_not_simulated.is_empty() {
        sec.notes.push(format!("Thresholds not simulated, not checked: {}.", s.thresholds_not_simulated.join("; ")));
    }
    sec.notes.extend(s.notes.iter().cloned());
    sec.tables.push(configurations(s));
    sec.tables.extend(failures(s));
    page.sections.push(sec);
    if let Some(c) = s.recommended.and_then(|i| s.configurations.get(i)).or(s.configurations.first()) {
        let mut sec = Section { id: "windows", heading: format!("By phase: {}", c.label()), ..Section::default() };
        let mut t = Table::new(
            "Each stretch of the plan at one offered rate",
            &[
                "phase",
                "#offered /s",
                "#API Gateway 429",
                "#Lambda throttled",
                "#DynamoDB throttled",
                "#cold starts",
                "#peak",
                "#ok p50 ms",
                "#ok p99 ms",
            ],
        );
        for w in &c.windows {
            t.rows.push(vec![
                Cell::text(&w.phase),
                Cell::num(format!("{:.1}", w.rate)),
                Cell::num(pct(w.apigw_throttled)),
                Cell::num(pct(w.lambda_throttled)),
                Cell::num(if c.table.is_some() { pct(w.dynamodb_throttled) } else { "–".into() }),
                Cell::num(format!("{:.1}", w.cold_starts)),
                Cell::num(w.peak_concurrency.to_string()),
                Cell::num(ms(w.ok_latency.p50_ms)),
                Cell::num(ms(w.ok_latency.p99_ms)),
            ]);
        }
        sec.tables.push(t);
        page.sections.push(sec);
    }
    let mut sec = Section { id: "curves", heading: "Curves".into(), ..Section::default() };
    sec.charts.extend(curves(s));
    if sec.charts.is_empty() {
        sec.notes.push(
            "Give a setting two or more values (--set memory_mb=256,512,1024, --set reserved_concurrency=10,50,100 or \
             --traffic 1x,2x,10x) to draw its curve."
                .into(),
        );
    }
    page.sections.push(sec);
    page.footer = format!("loadgen {} · simulation {} · seed {}", env!("CARGO_PKG_VERSION"), s.schema, s.seed);
    page.html()
}

fn configurations(s: &Simulation) -> Table {
    let mut t = Table::new(
        "Every configuration of the grid",
        &[
            "configuration",
            "#requests",
            "#API Gateway 429",
            "#Lambda throttled",
            "#DynamoDB throttled",
            "#cold starts",
            "#peak",
            "#ok p50 ms",
            "#ok p99 ms",
            "#$ per run",
            "#$ per million",
            "#$ per month",
            "thresholds",
        ],
    );
    for (i, c) in s.configurations.iter().enumerate() {
        let money = |f: fn(&crate::simulate::output::SimulatedCost) -> f64| {
            c.cost.as_ref().map_or_else(|| "–".to_owned(), |k| usd(f(k)))
        };
        let name = if s.recommended == Some(i) { format!("★ {}", c.label()) } else { c.label() };
        t.rows.push(vec![
            Cell::text(name),
            Cell::num(format!("{:.0}", c.requests)),
            Cell { text: pct(c.apigw_throttled), class: if c.apigw_throttled < 0.01 { "num" } else { "num warn" } },
            Cell { text: pct(c.lambda_throttled), class: if c.lambda_throttled < 0.01 { "num" } else { "num warn" } },
            match &c.table {
                None => Cell::num("–"),
                Some(_) => Cell {
                    text: pct(c.dynamodb_throttled),
                    class: if c.dynamodb_throttled < 0.01 { "num" } else { "num warn" },
                },
            },
            Cell::num(format!("{:.1}", c.cold_starts)),
            Cell::num(c.peak_concurrency.to_string()),
            Cell::num(ms(c.ok_latency.p50_ms)),
            Cell::num(ms(c.ok_latency.p99_ms)),
            Cell::num(money(|k| k.run_usd)),
            Cell::num(money(|k| k.per_million_usd)),
            Cell::num(money(|k| k.month_usd)),
            thresholds(c),
        ]);
    }
    t
}

use crate::money::usd;

/// `pass`, how many thresholds failed, or a dash when none was simulated (the failures are
/// listed in their own table).
fn thresholds(c: &SimulatedConfiguration) -> Cell {
    match c.failed_thresholds() {
        None => Cell::text("–"),
        Some(f) if f.is_empty() => Cell::verdict(true),
        Some(f) => Cell { text: format!("FAIL {}", f.len()), class: "fail" },
    }
}

/// Every failed threshold of every configuration, with what the model gave.
fn failures(s: &Simulation) -> Option<Table> {
    let mut t = Table::new("Thresholds that failed", &["configuration", "threshold", "#simulated"]);
    for c in &s.configurations {
        for th in c.thresholds.iter().filter(|t| !t.passed) {
            t.rows.push(vec![
                Cell::text(c.label()),
                Cell::text(format!("{} {}", th.key, th.condition)),
                Cell::num(th.simulated.map_or_else(|| "nothing measured".into(), |v| format!("{v:.4}"))),
            ]);
        }
    }
    (!t.rows.is_empty()).then_some(t)
}

/// The configurations that differ only in `axis`, grouped by their other settings (first
/// appearance order), each group sorted by `x`; only when the axis has two values or more.
fn groups<'a>(
    s: &'a Simulation,
    axis: &str,
    x: impl Fn(&SimulatedConfiguration) -> f64,
) -> Vec<(String, Vec<&'a SimulatedConfiguration>)> {
    let values: Vec<&str> = s.configurations.iter().filter_map(|c| c.setting(axis)).collect();
    if values.iter().enumerate().filter(|(i, v)| !values[..*i].contains(v)).count() < 2 {
        return Vec::new();
    }
    let mut out: Vec<(String, Vec<&SimulatedConfiguration>)> = Vec::new();
    for c in &s.configurations {
        let key = c.label_without(axis);
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(c),
            None => out.push((key, vec![c])),
        }
    }
    for (_, v) in &mut out {
        v.sort_by(|a, b| x(a).total_cmp(&x(b)));
    }
    out.truncate(MAX_LINES);
    out
}

fn curve(
    s: &Simulation,
    axis: &str,
    x: fn(&SimulatedConfiguration) -> f64,
    y: fn(&SimulatedConfiguration) -> Option<f64>,
) -> (Vec<Line>, Vec<Vec<String>>) {
    let mut lines = Vec::new();
    let mut labels = Vec::new();
    for (i, (key, cs)) in groups(s, axis, x).into_iter().enumerate() {
        let points: Vec<(f64, f64)> = cs.iter().filter_map(|c| y(c).map(|v| (x(c), v))).collect();
        let unit = if axis == "memory_mb" { " MB" } else { "" };
        labels.push(cs.iter().map(|c| format!("{}{unit}", c.setting(axis).unwrap_or_default())).collect());
        lines.push(Line { label: key, points, dashed: false, colour: i });
    }
    (lines, labels)
}

fn curves(s: &Simulation) -> Vec<Chart> {
    let mut out = Vec::new();
    // The power-tuning curve: x the p99 a memory size gives, y what it costs per million.
    let (lines, labels) =
        curve(s, "memory_mb", |c| c.ok_latency.p99_ms, |c| c.cost.as_ref().map(|k| k.per_million_usd));
    if !lines.is_empty() {
        out.push(Chart {
            id: "chart-memory",
            title: "Cost against ok p99, per memory size".into(),
            read: "each point a memory size (MB) under the plan's real concurrency: left is faster, down is cheaper; \
                   the knee of the curve is where more memory stops buying latency."
                .into(),
            svg: charts::xy("ok p99 latency, ms", "$ per million requests", &lines, &labels),
        });
    }
    let (lines, labels) =
        curve(s, "reserved_concurrency", |c| f64::from(c.concurrency), |c| Some(c.lambda_throttled * 100.0));
    if !lines.is_empty() {
        out.push(Chart {
            id: "chart-reserved",
            title: "Lambda throttles against reserved concurrency".into(),
            read: "the share of requests Lambda refuses at each reservation (\"unreserved\" at the account's \
                   concurrency): the first point at zero is the smallest reservation that carries the plan."
                .into(),
            svg: charts::xy("environments the function may run", "throttled, % of requests", &lines, &labels),
        });
    }
    let (lines, labels) = curve(s, "traffic", |c| c.traffic, |c| c.cost.as_ref().map(|k| k.month_usd));
    if !lines.is_empty() {
        out.push(Chart {
            id: "chart-traffic",
            title: "Monthly cost against traffic".into(),
            read: "a 30-day month of the plan at each traffic factor; a bend downwards is throttled traffic Lambda \
                   does not bill, or a volume tier."
                .into(),
            svg: charts::xy("traffic factor", "$ per month", &lines, &labels),
        });
    }
    out
}
