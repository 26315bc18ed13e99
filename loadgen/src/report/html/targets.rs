//! report.html's targets section: with `[targets.NAME]`s, what each target's requests came
//! to, `[target]` as `default`; each request kind's own figures are in the breakdown.

use crate::report::page::{Cell, Section, Table, pct};
use crate::results::Results;

/// The targets, when the scenario names any.
pub(super) fn section(r: &Results) -> Option<Section> {
    if r.targets.is_empty() {
        return None;
    }
    let mut s = Section { id: "targets", heading: "Targets".into(), ..Section::default() };
    s.notes.push(
        "The scenario sends to several APIs. Each row is every request kind sent to one of them (default is \
         [target]). Only default's stack is priced and compared with CloudWatch."
            .into(),
    );
    let mut t = Table::new(
        "Targets",
        &["target", "url", "request kinds", "#requests", "#ok p50 ms", "#ok p99 ms", "#errors", "#throttles"],
    );
    for x in &r.targets {
        let m = &x.summary;
        t.rows.push(vec![
            Cell::text(&x.name),
            Cell::text(&x.url),
            Cell::text(x.requests.join(", ")),
            Cell::num(m.requests.to_string()),
            Cell::num(crate::report::ok_ms(&m.latency, |s| s.p50_ms)),
            Cell::num(crate::report::ok_ms(&m.latency, |s| s.p99_ms)),
            Cell { text: pct(m.error_rate), class: if m.error_rate > 0.0 { "warn" } else { "num" } },
            Cell::num(pct(m.throttle_rate)),
        ]);
    }
    s.tables.push(t);
    Some(s)
}
