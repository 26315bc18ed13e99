//! What the run looks like while it runs: on a terminal a block of lines redrawn in place — the
//! last whole second's target against its sends, ok/s, the ok responses' p50/p99, throttles per
//! second by layer, cold starts, in flight against the reservation, a sparkline — cut to the
//! terminal's width; elsewhere (CI) one plain line; and at the end one line that stays.
//! Pure text from a [`Snapshot`], so every view is tested without a terminal.

use crate::event::Snapshot;
use crate::record::Class;

/// The block for a terminal `width` columns wide, every line cut to fit (a wrapped line would
/// break the redraw in place).
pub fn view(name: &str, s: &Snapshot, width: usize, limit: Option<u32>) -> Vec<String> {
    let w = &s.window;
    let elapsed = s.elapsed.as_secs().min(s.planned.as_secs());
    let head = format!(
        "{name} · {} ({}/{}) {:>4}s/{}s",
        s.phase,
        s.phase_index + 1,
        s.phases.max(1),
        elapsed,
        s.planned.as_secs()
    );
    let room = width.saturating_sub(head.chars().count() + 3).min(40);
    let bar = if room >= 10 {
        let done = (room as f64 * s.elapsed.as_secs_f64() / s.planned.as_secs_f64().max(1e-9)).round() as usize;
        format!(" [{}{}]", "#".repeat(done.min(room)), "-".repeat(room - done.min(room)))
    } else {
        String::new()
    };
    let target = s.window_scheduled.map_or_else(|| "closed model".to_owned(), |x| format!("target {x:.0}/s"));
    let mut lines = vec![
        format!("{head}{bar}"),
        if s.window_phase.is_empty() {
            "  last second: – (the first is not over yet)".to_owned()
        } else {
            format!(
                "  last second ({}): {target}  sent {}/s  ok {}/s  errors {}/s",
                s.window_phase,
                w.sent,
                w.completed[Class::Ok],
                w.completed.errors()
            )
        },
        if w.completed[Class::Ok] > 0 {
            format!("  ok latency   p50 {:.1} ms  p99 {:.1} ms", w.p50_ms, w.p99_ms)
        } else {
            "  ok latency   – (no ok response in the last second)".to_owned()
        },
        format!(
            "  throttled/s  API Gateway {}  Lambda {}  DynamoDB {}",
            w.completed[Class::ApigwThrottled],
            w.completed[Class::LambdaThrottled],
            w.completed[Class::DynamodbThrottled],
        ),
        format!(
            "  in flight    {}{}   cold starts {}/s, {} in all",
            s.in_flight,
            limit.map(|r| format!(" (concurrency limit {r})")).unwrap_or_default(),
            w.cold_starts,
            s.cold_starts
        ),
        format!("  ok/s      {}", spark(s.recent.iter().map(|r| r.0))),
    ];
    if s.recent.iter().any(|r| r.1 > 0) {
        lines.push(format!("  refused/s {}", spark(s.recent.iter().map(|r| r.1))));
    }
    lines.into_iter().map(|l| fit(&crate::stdout::terminal_safe(&l), width)).collect()
}

/// One plain line, for a log that is no terminal (CI): the same figures, nothing redrawn.
pub fn plain(s: &Snapshot) -> String {
    let w = &s.window;
    let target = s.window_scheduled.map_or_else(|| "closed model".to_owned(), |x| format!("target {x:.0}/s"));
    let layers: Vec<String> =
        [("apigw", Class::ApigwThrottled), ("lambda", Class::LambdaThrottled), ("dynamodb", Class::DynamodbThrottled)]
            .into_iter()
            .filter(|(_, c)| w.completed[*c] > 0)
            .map(|(name, c)| format!("{name} {}", w.completed[c]))
            .collect();
    let latency = if w.completed[Class::Ok] > 0 {
        format!("ok p50 {:.1} ms p99 {:.1} ms", w.p50_ms, w.p99_ms)
    } else {
        "no ok response".to_owned()
    };
    format!(
        "[{:>5.0}s/{}s] {} | {target} sent {}/s ok {}/s | {latency} | throttled/s {} | errors/s {} | in flight {} | cold starts {}",
        s.elapsed.as_secs_f64(),
        s.planned.as_secs(),
        s.window_phase,
        w.sent,
        w.completed[Class::Ok],
        if layers.is_empty() { "0".to_owned() } else { layers.join(", ") },
        w.completed.errors(),
        s.in_flight,
        s.cold_starts
    )
}

/// The line left on the terminal once the phases are over, or were stopped (`stopped`: why).
pub fn closing(name: &str, s: &Snapshot, stopped: Option<&str>) -> String {
    let t = &s.totals;
    let how = match stopped {
        Some(why) => format!("stopped after {:.1} s ({why})", s.elapsed.as_secs_f64()),
        None => format!("phases done in {:.1} s", s.elapsed.as_secs_f64()),
    };
    format!(
        "{name}: {how} — {} sent; ok {}, throttled {} (API Gateway {}, Lambda {}, DynamoDB {}), errors {}; {} cold start(s)",
        s.sent,
        t[Class::Ok],
        t.throttles(),
        t[Class::ApigwThrottled],
        t[Class::LambdaThrottled],
        t[Class::DynamodbThrottled],
        t.errors(),
        s.cold_starts
    )
}

/// A sparkline of `values`, scaled to their largest; a blank is none at all.
fn spark(values: impl Iterator<Item = u64> + Clone) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.clone().max().unwrap_or(0).max(1);
    values.map(|v| if v == 0 { ' ' } else { BARS[(v * 7 / max) as usize] }).collect()
}

/// `line` cut to `width` columns as the terminal counts them (a wide character takes two), so
/// no line wraps and the redraw erases exactly what it drew.
fn fit(line: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    if unicode_width::UnicodeWidthStr::width(line) <= width {
        return line.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in line.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{ClassCounts, Second};
    use std::time::Duration;

    fn snapshot() -> Snapshot {
        let mut completed = ClassCounts::default();
        completed.add(Class::Ok, 61);
        completed.add(Class::LambdaThrottled, 119);
        Snapshot {
            phase: "at-220".into(),
            phase_index: 5,
            phases: 8,
            elapsed: Duration::from_millis(50_200),
            planned: Duration::from_secs(80),
            window_phase: "at-180".into(),
            window: Second { sent: 180, completed, p50_ms: 129.8, p99_ms: 153.6, cold_starts: 0, ..Second::default() },
            window_scheduled: Some(180.0),
            in_flight: 9,
            totals: completed,
            sent: 7_000,
            cold_starts: 1,
            recent: vec![(20, 0), (60, 5), (61, 119), (0, 0)],
        }
    }

    #[test]
    fn the_block_says_the_window_and_fits_any_width() {
        let s = snapshot();
        let lines = view("ramp", &s, 80, Some(8));
        assert!(
            view("宽宽宽宽宽宽宽宽宽宽宽宽宽宽宽宽宽宽", &s, 30, None)
                .iter()
                .all(|l| unicode_width::UnicodeWidthStr::width(l.as_str()) <= 30)
        );
        let text = lines.join("\n");
        for want in [
            "at-220 (6/8)",
            "last second (at-180): target 180/s  sent 180/s  ok 61/s",
            "p99 153.6 ms",
            "Lambda 119",
            "concurrency limit 8",
            "refused/s",
        ] {
            assert!(text.contains(want), "{want:?} in\n{text}");
        }
        for width in [80, 60, 40, 20] {
            assert!(view("ramp", &s, width, None).iter().all(|l| l.chars().count() <= width), "{width} columns");
        }
    }

    #[test]
    fn the_plain_line_and_the_closing_line_split_throttles_by_layer() {
        let s = snapshot();
        let line = plain(&s);
        assert!(
            line.contains("at-180 | target 180/s sent 180/s ok 61/s") && line.contains("throttled/s lambda 119"),
            "{line}"
        );
        let closing = closing("ramp", &s, None);
        assert!(closing.contains("ok 61, throttled 119 (API Gateway 0, Lambda 119, DynamoDB 0)"), "{closing}");
        assert!(
            super::closing("ramp", &s, Some("interrupted (Ctrl-C)"))
                .contains("stopped after 50.2 s (interrupted (Ctrl-C))")
        );
        assert!(plain(&Snapshot { window_scheduled: None, ..s }).contains("closed model"));
    }

    #[test]
    fn a_sparkline_scales_to_its_largest() {
        assert_eq!(spark([0, 1, 7, 14].into_iter()), " ▁▄█");
    }
}
