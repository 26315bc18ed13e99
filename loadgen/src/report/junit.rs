//! `junit.xml`: one test case per threshold (failures carry measured vs limit), plus one for
//! the run itself, which fails when the run was aborted, and one for the generator, which fails
//! when it could not keep the schedule (saturated: every figure understates the plan).

use std::fmt::Write;

use super::escape::xml as esc;
use crate::results::{Results, Status};
use crate::scenario::Unit;

/// Renders the JUnit XML.
pub fn render(r: &Results) -> String {
    let name = r.name();
    let saturated = super::saturation(r);
    let failures = r.thresholds.iter().filter(|t| !t.passed).count()
        + usize::from(r.status != Status::Completed)
        + usize::from(saturated.is_some());
    let tests = r.thresholds.len() + 2;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"loadgen\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{:.3}\">",
        r.duration_s
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{:.3}\" timestamp=\"{}\">",
        esc(name),
        r.duration_s,
        esc(&r.environment.started_at)
    );
    let _ = write!(
        out,
        "    <testcase classname=\"loadgen.{}\" name=\"run completes\" time=\"{:.3}\"",
        esc(name),
        r.duration_s
    );
    match (&r.status, &r.abort_reason) {
        (status @ (Status::Aborted | Status::Partial), reason) => {
            let kind = if *status == Status::Partial { "partial" } else { "aborted" };
            let reason = reason.as_deref().unwrap_or(kind);
            let _ = writeln!(
                out,
                ">\n      <failure message=\"{}\" type=\"{kind}\">{}</failure>\n    </testcase>",
                esc(reason),
                esc(reason)
            );
        }
        _ => out.push_str("/>\n"),
    }
    let _ = write!(
        out,
        "    <testcase classname=\"loadgen.{}\" name=\"generator keeps the schedule\" time=\"0\"",
        esc(name)
    );
    match &saturated {
        Some(why) => {
            let _ = writeln!(
                out,
                ">\n      <failure message=\"{}\" type=\"saturated\">{}</failure>\n    </testcase>",
                esc(why),
                esc(why)
            );
        }
        None => out.push_str("/>\n"),
    }
    for t in &r.thresholds {
        let _ = write!(
            out,
            "    <testcase classname=\"loadgen.{}.thresholds\" name=\"{} {}\" time=\"0\"",
            esc(name),
            esc(&t.key),
            esc(&t.condition)
        );
        if t.passed {
            out.push_str("/>\n");
        } else {
            let msg = format!(
                "measured {}, limit {} {}",
                super::shown(t.measured, t.unit),
                t.condition,
                if t.unit == Unit::Fraction { "(as a share)" } else { "" }
            );
            let _ = writeln!(
                out,
                ">\n      <failure message=\"{}\" type=\"threshold\">{}</failure>\n    </testcase>",
                esc(msg.trim()),
                esc(msg.trim())
            );
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
