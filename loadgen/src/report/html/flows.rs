//! report.html's flows section: per flow, how its instances ended and how long the completed
//! ones took; each step's own latency is in the request breakdown under `<flow>/<step>`.

use crate::report::page::{Cell, Section, Table, ms};
use crate::results::Results;

/// The flows, when the scenario has any.
pub(super) fn section(r: &Results) -> Option<Section> {
    if r.flows.is_empty() {
        return None;
    }
    let mut s = Section { id: "flows", heading: "Flows".into(), ..Section::default() };
    s.notes.push(
        "Each arrival started one flow instance; its steps are request kinds of their own in the breakdown \
         (flow/step). Failed: a step got no response (timeout, transport error) or its capture found nothing, so \
         the flow could not go on (a capture is also counted in that step's checks). Cut: the run, or a closed \
         phase, ended between its steps. Duration: from the arrival's intended time to the \
         last answer, think time included."
            .into(),
    );
    let mut t = Table::new(
        "Flows",
        &["flow", "steps", "#started", "#completed", "#failed", "#cut", "#p50 ms", "#p99 ms", "#max ms"],
    );
    for f in &r.flows {
        t.rows.push(vec![
            Cell::text(&f.name),
            Cell::text(f.steps.join(" → ")),
            Cell::num(f.started.to_string()),
            Cell::num(f.completed.to_string()),
            Cell { text: f.failed.to_string(), class: if f.failed > 0 { "warn" } else { "num" } },
            Cell::num(f.cut.to_string()),
            Cell::num(ms(f.duration.p50_ms)),
            Cell::num(ms(f.duration.p99_ms)),
            Cell::num(ms(f.duration.max_ms)),
        ]);
    }
    s.tables.push(t);
    Some(s)
}
