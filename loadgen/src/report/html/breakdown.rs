//! report.html's tables per request kind (latency, outcomes, what the function did) and per phase.

use crate::report::page::{Cell, Section, Table, ms, pct};
use crate::report::units;
use crate::results::{Results, Stats, Summary};

fn summary_cells(name: String, s: &Summary) -> Vec<Cell> {
    vec![
        Cell::text(name),
        Cell::num(s.requests.to_string()),
        Cell::num(crate::report::ok_ms(&s.latency, |s| s.p50_ms)),
        Cell::num(crate::report::ok_ms(&s.latency, |s| s.p90_ms)),
        Cell::num(crate::report::ok_ms(&s.latency, |s| s.p99_ms)),
        Cell::num(crate::report::ok_ms(&s.latency, |s| s.max_ms)),
        Cell::num(crate::report::ok_ms(&s.service_time, |s| s.p99_ms)),
        Cell::num(pct(s.error_rate)),
        Cell::num(pct(s.throttle_rate)),
    ]
}

const SUMMARY_HEADERS: [&str; 8] = [
    "#requests",
    "#ok p50 ms",
    "#ok p90 ms",
    "#ok p99 ms",
    "#ok max ms",
    "#ok service p99 ms",
    "#errors",
    "#throttled",
];

/// Per request kind and per phase.
pub(super) fn section(r: &Results) -> Section {
    let mut s = Section { id: "breakdown", heading: "Per request and per phase".into(), ..Section::default() };
    let mut h = vec!["request"];
    h.extend(SUMMARY_HEADERS);
    let mut t = Table::new("Per request: corrected latency of the ok responses, and outcomes", &h);
    for q in &r.requests {
        t.rows.push(summary_cells(q.name.clone(), &q.summary));
    }
    s.tables.push(t);
    let mut t = Table::new(
        "Per request: what the function did",
        &[
            "request",
            "route",
            "#cold starts",
            "#cold p50 ms",
            "#warm p50 ms",
            "#handler ms",
            "#DynamoDB calls/req",
            "#RRU/req",
            "#WRU/req",
        ],
    );
    for q in &r.requests {
        let d = &q.diagnostics;
        let opt = |st: &Stats| if st.count > 0 { ms(st.p50_ms) } else { "–".into() };
        t.rows.push(vec![
            Cell::text(&q.name),
            Cell::text(format!("{} {}", q.method, q.path)),
            Cell::num(q.summary.cold_starts.to_string()),
            Cell::num(opt(&q.cold_latency)),
            Cell::num(opt(&q.warm_latency)),
            Cell::num(if d.responses > 0 { ms(d.handler_ms_mean) } else { "–".into() }),
            Cell::num(units(d.ddb_calls_per_request, d.responses > 0)),
            Cell::num(units(d.rcu_per_request, d.responses > 0)),
            Cell::num(units(d.wcu_per_request, d.responses > 0)),
        ]);
    }
    s.tables.push(t);
    let unit = crate::report::rate_unit(r);
    let (target, achieved) = (format!("#target {unit}"), format!("#achieved {unit}"));
    let mut t = Table::new(
        "Per phase",
        &[
            "phase",
            "#duration s",
            &target,
            &achieved,
            "#requests",
            "#ok p50 ms",
            "#ok p99 ms",
            "#ok max ms",
            "#errors",
            "#throttled",
        ],
    );
    for p in &r.phases {
        let x = &p.summary;
        t.rows.push(vec![
            Cell::text(&p.name),
            Cell::num(format!("{:.0}", p.duration_s)),
            Cell::num(p.target_rate.map(|x| format!("{x:.1}")).unwrap_or_else(|| "closed".into())),
            Cell::num(format!("{:.1}", p.achieved_rate)),
            Cell::num(x.requests.to_string()),
            Cell::num(crate::report::ok_ms(&x.latency, |s| s.p50_ms)),
            Cell::num(crate::report::ok_ms(&x.latency, |s| s.p99_ms)),
            Cell::num(crate::report::ok_ms(&x.latency, |s| s.max_ms)),
            Cell::num(pct(x.error_rate)),
            Cell::num(pct(x.throttle_rate)),
        ]);
    }
    s.tables.push(t);
    s
}
