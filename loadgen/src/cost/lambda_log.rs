//! The function log of the local stack, read as Lambda's REPORT lines are: the billed duration and
//! the invocations of the measured window, the distributions of handler and INIT durations a
//! simulation draws hold times from, and the bytes logged in it — with the CPU time of the same
//! invocations from the Lambda Insights log beside it (matched by request id).

use std::collections::HashSet;
use std::path::Path;

use hdrhistogram::Histogram;

/// Billed time and invocations summed from REPORT lines.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ReportLines {
    /// `Billed Duration` summed, ms (INIT included on cold starts, as Lambda bills it).
    pub billed_ms: f64,
    /// REPORT lines read.
    pub invocations: f64,
    /// `Billed Duration` of the lines without `Init Duration` (warm or provisioned), ms.
    pub warm_billed_ms: f64,
    /// Lines without `Init Duration`.
    pub warm_invocations: f64,
}

/// What the log gained in the measured window.
#[derive(Debug, Clone)]
pub struct LogWindow {
    /// Its REPORT lines summed; `None` when there were no invocations.
    pub report: Option<ReportLines>,
    /// Bytes logged.
    pub bytes: f64,
    /// `Duration` of every REPORT line, µs.
    pub durations_us: Histogram<u64>,
    /// `Init Duration` of the cold ones, µs; when the window had none, of the whole log's
    /// (INIT takes what it takes whatever the traffic, so the seeding's cold starts say it).
    pub inits_us: Histogram<u64>,
    /// `Duration` of the REPORT lines before the window — the seeding's writes — µs.
    pub seeding_us: Histogram<u64>,
    /// Invocations of the window found in the Lambda Insights log, and their CPU time summed,
    /// ms; `None` without such a log.
    pub cpu_ms: Option<(u64, f64)>,
}

/// The Lambda Insights log the local stack writes beside the function log.
pub const INSIGHTS_LOG: &str = "lambda-insights.log";

/// The part of a performance event read.
#[derive(serde::Deserialize)]
struct Performance {
    request_id: String,
    cpu_total_time: f64,
}

/// CPU time of the invocations `ids` from Lambda Insights performance events, one JSON
/// document per line: how many were found and their sum, ms. Lines that are not performance
/// events are skipped.
fn cpu_of(text: &str, ids: &HashSet<&str>) -> (u64, f64) {
    let mut found = (0u64, 0.0);
    for line in text.lines() {
        if let Ok(p) = serde_json::from_str::<Performance>(line)
            && p.cpu_total_time.is_finite()
            && p.cpu_total_time >= 0.0
            && ids.contains(p.request_id.as_str())
        {
            found.0 += 1;
            found.1 += p.cpu_total_time;
        }
    }
    found
}

/// The `record` of a `platform.report` event, the part read.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlatformReport {
    request_id: String,
    metrics: ReportMetrics,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReportMetrics {
    duration_ms: f64,
    billed_duration_ms: f64,
    #[serde(rename = "memorySizeMB")]
    memory_size_mb: Option<f64>,
    #[serde(rename = "maxMemoryUsedMB")]
    max_memory_used_mb: Option<f64>,
    init_duration_ms: Option<f64>,
}

/// A log event as a REPORT line: a text-format REPORT line as it is, and the JSON log format's
/// `platform.report` event (`{"time", "type": "platform.report", "record": {"requestId",
/// "metrics": {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB",
/// "initDurationMs"?}}}`, the Telemetry API's schema, which a function configured with
/// `log_format = "JSON"` writes to CloudWatch Logs) written as the line the text format has.
/// Anything else is `None`.
pub fn report_line(message: &str) -> Option<String> {
    if message.starts_with("REPORT ") {
        return Some(message.to_owned());
    }
    #[derive(serde::Deserialize)]
    struct Event {
        #[serde(rename = "type")]
        kind: String,
        record: serde_json::Value,
    }
    let e: Event = serde_json::from_str(message.trim_start()).ok()?;
    if e.kind != "platform.report" {
        return None;
    }
    let r: PlatformReport = serde_json::from_value(e.record).ok()?;
    // The id goes into a tab-separated line: one that could split it is no request id.
    if r.request_id.chars().any(char::is_control) {
        return None;
    }
    let m = r.metrics;
    let mut line = format!(
        "REPORT RequestId: {}\tDuration: {:.2} ms\tBilled Duration: {:.0} ms",
        r.request_id, m.duration_ms, m.billed_duration_ms
    );
    if let Some(v) = m.memory_size_mb {
        line.push_str(&format!("\tMemory Size: {v:.0} MB"));
    }
    if let Some(v) = m.max_memory_used_mb {
        line.push_str(&format!("\tMax Memory Used: {v:.0} MB"));
    }
    if let Some(v) = m.init_duration_ms {
        line.push_str(&format!("\tInit Duration: {v:.2} ms"));
    }
    Some(line)
}

/// A field of a REPORT line in ms (`Duration: 2.50 ms`).
fn field_ms(line: &str, name: &str) -> Option<f64> {
    line.split('\t')
        .find_map(|f| f.strip_prefix(name))
        .and_then(|v| v.trim_end_matches(" ms").parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
}

/// What the log gained since `offset`; `None` when the log cannot be read.
pub fn read_since(path: &Path, offset: u64) -> Option<LogWindow> {
    let bytes = std::fs::read(path).ok()?;
    let tail = bytes.get(offset as usize..)?;
    let head = String::from_utf8_lossy(&bytes[..offset as usize]);
    let insights = std::fs::read_to_string(path.with_file_name(INSIGHTS_LOG)).ok();
    Some(from_text(&head, &String::from_utf8_lossy(tail), insights.as_deref()))
}

/// The window of a function log whose lines before the measured window are `head` and in it
/// `tail` (REPORT lines, local stack or CloudWatch Logs alike), with the Lambda Insights
/// performance events `insights` when there are any.
pub fn from_text(head: &str, tail: &str, insights: Option<&str>) -> LogWindow {
    let mut r = ReportLines::default();
    // 1 µs to an hour (beyond Lambda's 15-minute timeout), three significant digits.
    let histogram = || Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds");
    let (mut durations_us, mut inits_us) = (histogram(), histogram());
    let us = |ms: f64| (ms * 1000.0).round().max(1.0) as u64;
    let mut ids = HashSet::new();
    for line in tail.lines().filter(|l| l.starts_with("REPORT ")) {
        if let Some(ms) = field_ms(line, "Billed Duration: ") {
            if let Some(id) = line.split('\t').next().and_then(|f| f.strip_prefix("REPORT RequestId: ")) {
                ids.insert(id.trim());
            }
            r.billed_ms += ms;
            r.invocations += 1.0;
            let init = field_ms(line, "Init Duration: ");
            if init.is_none() {
                r.warm_billed_ms += ms;
                r.warm_invocations += 1.0;
            }
            if let Some(d) = field_ms(line, "Duration: ") {
                durations_us.saturating_record(us(d));
            }
            if let Some(i) = init {
                inits_us.saturating_record(us(i));
            }
        }
    }
    let mut seeding_us = histogram();
    for line in head.lines().filter(|l| l.starts_with("REPORT ")) {
        if let Some(d) = field_ms(line, "Duration: ") {
            seeding_us.saturating_record(us(d));
        }
    }
    if inits_us.is_empty() {
        for i in head.lines().filter(|l| l.starts_with("REPORT ")).filter_map(|l| field_ms(l, "Init Duration: ")) {
            inits_us.saturating_record(us(i));
        }
    }
    LogWindow {
        report: (r.invocations > 0.0).then_some(r),
        bytes: tail.len() as f64,
        durations_us,
        inits_us,
        seeding_us,
        cpu_ms: insights.map(|text| cpu_of(text, &ids)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_log_formats_report_reads_as_the_text_line() {
        let json = r#"{"time":"2026-12-02T10:00:00.000Z","type":"platform.report","record":{"requestId":"r-1","metrics":{"durationMs":12.345,"billedDurationMs":13,"memorySizeMB":512,"maxMemoryUsedMB":70,"initDurationMs":180.5},"status":"success"}}"#;
        let line = report_line(json).unwrap();
        assert_eq!(
            line,
            "REPORT RequestId: r-1\tDuration: 12.35 ms\tBilled Duration: 13 ms\tMemory Size: 512 MB\tMax Memory Used: 70 MB\tInit Duration: 180.50 ms"
        );
        let w = from_text("", &line, None);
        assert_eq!(w.report.map(|r| (r.billed_ms, r.invocations)), Some((13.0, 1.0)));
        assert_eq!(w.inits_us.len(), 1);
        // A warm one has no INIT; other events and other formats are not reports.
        let warm = json.replace(r#","initDurationMs":180.5"#, "");
        assert!(!report_line(&warm).unwrap().contains("Init Duration"));
        assert_eq!(report_line(r#"{"time":"t","type":"platform.start","record":{"requestId":"r-1"}}"#), None);
        assert_eq!(report_line(r#"{"type":"platform.report","record":{"requestId":"x"}}"#), None);
        assert_eq!(report_line("START RequestId: r-1"), None);
        let forged = json.replace("r-1", "r-1\\nREPORT RequestId: x\\tBilled Duration: 99999 ms");
        assert_eq!(report_line(&forged), None, "an id with a line break would forge a line");
        let text = "REPORT RequestId: a\tDuration: 1.00 ms\tBilled Duration: 2 ms";
        assert_eq!(report_line(text).as_deref(), Some(text));
    }

    #[test]
    fn report_lines_after_the_offset_are_summed() {
        let dir = std::env::temp_dir().join(format!("loadgen-report-lines-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("fn.log");
        let seeding = "REPORT RequestId: a\tDuration: 1.00 ms\tBilled Duration: 2 ms\tMemory Size: 256 MB\n";
        let run = "START RequestId: b\nREPORT RequestId: b\tDuration: 2.50 ms\tBilled Duration: 3 ms\tMemory Size: 256 MB\tInit Duration: 7.10 ms\nREPORT RequestId: c\tDuration: 0.40 ms\tBilled Duration: 1 ms\n";
        std::fs::write(&log, format!("{seeding}{run}")).unwrap();
        let _ = std::fs::remove_file(dir.join(INSIGHTS_LOG));
        assert_eq!(read_since(&log, 0).unwrap().cpu_ms, None, "no insights log, no CPU time");
        let insights = [
            r#"{"event_type":"performance","request_id":"a","cpu_total_time":9.0}"#,
            r#"{"event_type":"performance","request_id":"b","cpu_total_time":1.5}"#,
            "not json",
            r#"{"event_type":"performance","request_id":"c","cpu_total_time":0.25}"#,
        ];
        std::fs::write(dir.join(INSIGHTS_LOG), insights.join("\n")).unwrap();
        let w = read_since(&log, seeding.len() as u64).unwrap();
        assert_eq!(w.cpu_ms, Some((2, 1.75)), "b and c are the window's; a was the seeding's");
        assert_eq!(
            w.report,
            Some(ReportLines { billed_ms: 4.0, invocations: 2.0, warm_billed_ms: 1.0, warm_invocations: 1.0 })
        );
        assert_eq!(w.bytes, run.len() as f64);
        // Durations 2.5 and 0.4 ms (not the billed ones), INIT 7.1 ms.
        assert_eq!((w.durations_us.len(), w.inits_us.len()), (2, 1));
        assert!((w.durations_us.mean() - 1450.0).abs() < 2.0, "{}", w.durations_us.mean());
        assert!((w.inits_us.mean() - 7100.0).abs() < 8.0, "{}", w.inits_us.mean());
        let none = read_since(&log, (seeding.len() + run.len()) as u64).unwrap();
        assert_eq!(none.report, None, "no invocations in the window");
        assert!(none.durations_us.is_empty());
        assert_eq!(none.inits_us.len(), 1, "a window without a cold start takes INIT from the earlier log");
        assert_eq!(w.seeding_us.len(), 1, "the seeding's write, before the window");
        assert!(read_since(&dir.join("missing.log"), 0).is_none());
    }
}
