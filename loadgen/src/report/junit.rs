//! `junit.xml`: one test case per threshold (failures carry measured vs limit), plus one for
//! the run itself, which fails when the run was aborted.

use std::fmt::Write;

use crate::results::{Results, Status};

/// XML text escaping. Five replacements: no crate needed for this.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Renders the JUnit XML.
pub fn render(r: &Results) -> String {
    let name = r.scenario["name"].as_str().unwrap_or("scenario");
    let failures = r.thresholds.iter().filter(|t| !t.passed).count() + usize::from(r.status == Status::Aborted);
    let tests = r.thresholds.len() + 1;
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
        (Status::Aborted, reason) => {
            let reason = reason.as_deref().unwrap_or("aborted");
            let _ = writeln!(
                out,
                ">\n      <failure message=\"{}\" type=\"aborted\">{}</failure>\n    </testcase>",
                esc(reason),
                esc(reason)
            );
        }
        _ => out.push_str("/>\n"),
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
                super::shown(t.measured, &t.unit),
                t.condition,
                if t.unit == "ratio" { "(as a share)" } else { "" }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_user_provided() {
        assert_eq!(esc("<script>&\"'"), "&lt;script&gt;&amp;&quot;&apos;");
        assert_eq!(esc("a\u{1}b"), "a\u{fffd}b");
    }
}
