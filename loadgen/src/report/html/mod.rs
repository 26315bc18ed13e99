//! `report.html`: the run on one self-contained page — verdict, key numbers, the five charts
//! ([`over_time`]), per-request and per-phase tables ([`breakdown`]), cost and batch vs
//! per-item ([`cost`]), environment ([`environment`]). No network of any kind: inline CSS,
//! inline SVG, and a Content-Security-Policy that forbids every fetch.

mod breakdown;
mod checks;
mod cost;
mod environment;
mod flows;
mod over_time;
mod targets;

use crate::record::{ALL, Class};
use crate::results::{Results, Stats, Status};

use super::charts::Mark;
use super::page::{Cell, Figure, Page, Section, Table, ms, pct, usd};

/// Phase boundaries for the time charts.
pub fn marks(r: &Results) -> Vec<Mark> {
    let mut at = 0.0;
    r.phases
        .iter()
        .map(|p| {
            let m = Mark { at, name: p.name.clone() };
            at += p.duration_s;
            m
        })
        .collect()
}

/// Verdict text and class.
pub fn verdict(r: &Results) -> (String, &'static str) {
    match (r.status, r.passed, r.generator.saturated) {
        (Status::Aborted, ..) => ("ABORTED".into(), "warn"),
        (Status::Partial, ..) => ("PARTIAL — results of part of the load are missing".into(), "warn"),
        (_, true, true) => ("PASS — generator saturated, figures understated".into(), "warn"),
        (_, true, false) => ("PASS".into(), "pass"),
        (_, false, _) => ("FAIL".into(), "fail"),
    }
}

/// Renders the report.
pub fn render(r: &Results) -> String {
    let (v, class) = verdict(r);
    let mut page = Page::new(
        format!("loadgen: {}", r.name()),
        v,
        class,
        format!(
            "{} · {} · {:.0} s measured · {} → {}",
            r.scenario.description,
            r.target.url,
            r.duration_s,
            super::when(&r.environment.started_at),
            super::when(&r.environment.finished_at)
        ),
    );
    page.sections.push(verdict_section(r));
    page.sections.push(key_numbers(r));
    page.sections.push(over_time::section(r));
    page.sections.push(breakdown::section(r));
    if let Some(s) = targets::section(r) {
        page.sections.push(s);
    }
    if let Some(s) = flows::section(r) {
        page.sections.push(s);
    }
    if let Some(s) = checks::section(r) {
        page.sections.push(s);
    }
    if let Some(s) = cost::section(r) {
        page.sections.push(s);
    }
    if let Some(s) = cost::batch_section(r) {
        page.sections.push(s);
    }
    page.sections.push(environment::section(r));
    page.footer = format!(
        "loadgen {} · schema {} · rendered from results.json; `loadgen report results.json` rewrites this file byte for byte.",
        r.environment.loadgen_version, r.schema
    );
    page.html()
}

fn verdict_section(r: &Results) -> Section {
    let mut s = Section { id: "verdict", heading: "Verdict".into(), ..Section::default() };
    if let Some(reason) = &r.abort_reason {
        s.notes.push(match r.status {
            Status::Partial => format!("Part of the load has no results: {reason}. What the rest measured is below."),
            _ => format!("The run was stopped early: {reason}. Everything measured until then is below."),
        });
    }
    if let Some(f) = &r.fleet {
        s.notes.push(format!(
            "The load was sent from a fleet of {} workers ({}): arrival k of each phase by worker k mod {}, merged \
             exactly.{}",
            f.workers,
            f.function,
            f.workers,
            f.lost.iter().map(|l| format!(" Worker {} was lost: {}.", l.index, l.reason)).collect::<String>()
        ));
    }
    if let Some(why) = super::saturation(r) {
        s.notes.push(format!("Not a plain pass: the {why}."));
    }
    if r.thresholds.is_empty() {
        s.notes.push(
            "The scenario sets no thresholds, so nothing can fail; add a [thresholds] table to gate on this run."
                .into(),
        );
        return s;
    }
    let mut t =
        Table::new("Thresholds (the CI gate: any FAIL exits 1)", &["threshold", "limit", "#measured", "result"]);
    for th in &r.thresholds {
        t.rows.push(vec![
            Cell::text(&th.key),
            Cell::text(&th.condition),
            Cell::num(super::shown(th.measured, th.unit)),
            Cell::verdict(th.passed),
        ]);
    }
    s.tables.push(t);
    s
}

fn latency_rows(t: &mut Table, label: &str, a: &Stats, b: &Stats) {
    for (name, x, y) in [
        ("p50", a.p50_ms, b.p50_ms),
        ("p90", a.p90_ms, b.p90_ms),
        ("p99", a.p99_ms, b.p99_ms),
        ("p99.9", a.p999_ms, b.p999_ms),
        ("max", a.max_ms, b.max_ms),
    ] {
        t.rows.push(vec![Cell::text(format!("{label}{name}")), Cell::num(ms(x)), Cell::num(ms(y))]);
    }
}

fn key_numbers(r: &Results) -> Section {
    let t = &r.totals;
    let mut s = Section { id: "numbers", heading: "Key numbers".into(), ..Section::default() };
    let fig = |label: &str, value: String, note: String, class: &'static str| Figure {
        label: label.into(),
        value,
        note,
        class,
    };
    let rate_note = match r.target_rate {
        Some(x) => format!("target {x:.1} req/s"),
        None => "closed model (users)".into(),
    };
    s.figures.push(fig("requests", t.requests.to_string(), format!("{:.0} s measured", r.duration_s), ""));
    let short = r.target_rate.is_some_and(|x| r.achieved_rate < x * 0.98);
    s.figures.push(fig(
        "achieved rate",
        format!("{:.1} req/s", r.achieved_rate),
        rate_note,
        if short { "warn" } else { "" },
    ));
    s.figures.push(if t.latency.count > 0 {
        fig(
            "p99 latency, ok",
            format!("{} ms", ms(t.latency.p99_ms)),
            format!("of {} ok responses; service time {} ms", t.latency.count, ms(t.service_time.p99_ms)),
            "",
        )
    } else {
        fig("p99 latency, ok", "–".into(), "no response was ok".into(), "fail")
    });
    s.figures.push(fig(
        "errors",
        pct(t.error_rate),
        "client, function, timeout, transport".into(),
        if t.error_rate > 0.0 { "fail" } else { "" },
    ));
    s.figures.push(fig(
        "throttled",
        pct(t.throttle_rate),
        "API Gateway, Lambda or DynamoDB".into(),
        if t.throttle_rate > 0.0 { "warn" } else { "" },
    ));
    s.figures.push(fig(
        "cold starts",
        t.cold_starts.to_string(),
        format!("{} of responses", pct(t.cold_start_rate())),
        "",
    ));
    if let Some(c) = &r.cost {
        s.figures.push(fig(
            "per million requests",
            usd(c.per_million_usd),
            format!("this run {}", usd(c.run.total)),
            "",
        ));
        s.figures.push(fig(
            "per month",
            usd(c.monthly_average.total),
            format!("at the average {:.1} {}", c.average_rate, super::rate_unit(r)),
            "",
        ));
    } else if r.cost_unknown.is_some() {
        s.figures.push(fig("cost", "unknown".into(), "see the Cost unknown section".into(), ""));
    }
    let mut lat = Table::new(
        "Latency of the ok responses, ms — corrected: from each request's intended send time (what a user waits, free of coordinated omission); service: from the actual send. Other classes' latency is in the table below, never mixed in",
        &["percentile", "#corrected", "#service time"],
    );
    latency_rows(&mut lat, "", &t.latency, &t.service_time);
    s.tables.push(lat);
    let mut classes = Table::new(
        "Responses by outcome class, with each class's own corrected latency",
        &["class", "#responses", "#share", "#p50 ms", "#p99 ms"],
    );
    for c in ALL {
        let n = t.by_class[c];
        if n > 0 {
            let lat = if c == Class::Ok { Some(&t.latency) } else { t.class_latency.get(&c) };
            let at = |f: fn(&Stats) -> f64| lat.map(|s| ms(f(s))).unwrap_or_else(|| "–".into());
            classes.rows.push(vec![
                Cell::text(c.name()),
                Cell::num(n.to_string()),
                Cell::num(pct(n as f64 / t.requests.max(1) as f64)),
                Cell::num(at(|s| s.p50_ms)),
                Cell::num(at(|s| s.p99_ms)),
            ]);
        }
    }
    s.tables.push(classes);
    s
}
