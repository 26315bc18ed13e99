//! report.html's checks section: each checked request kind's failures against what it checked,
//! and the first failing responses — status, what was wrong, the body cut short and redacted.

use crate::report::page::{Cell, Section, Table, pct};
use crate::results::Results;

/// The checks, when any request kind has one.
pub(super) fn section(r: &Results) -> Option<Section> {
    let checked: Vec<_> = r.requests.iter().filter_map(|q| q.checks.as_ref().map(|c| (q, c))).collect();
    if checked.is_empty() {
        return None;
    }
    let mut s = Section { id: "checks", heading: "Checks".into(), ..Section::default() };
    s.notes.push(
        "What each response had to be beyond its outcome class (the request's check): a failed check is counted \
         here and in checks.rate, and never changes the class."
            .into(),
    );
    let mut t = Table::new("Checks by request", &["request", "#checked", "#failed", "#failed %"]);
    for (q, c) in &checked {
        t.rows.push(vec![
            Cell::text(&q.name),
            Cell::num(c.checked.to_string()),
            Cell::num(c.failed.to_string()),
            Cell { text: pct(c.rate), class: if c.failed > 0 { "warn" } else { "num" } },
        ]);
    }
    s.tables.push(t);
    let mut f = Table::new("First failing responses", &["request", "#status", "what was wrong", "body"]);
    for (q, c) in &checked {
        for x in &c.failures {
            f.rows.push(vec![
                Cell::text(&q.name),
                Cell::num(x.status.to_string()),
                Cell::text(&x.reason),
                Cell::text(&x.body),
            ]);
        }
    }
    if !f.rows.is_empty() {
        s.tables.push(f);
    }
    Some(s)
}
