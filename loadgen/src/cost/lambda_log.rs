//! The function log of the local stack, read as Lambda's REPORT lines are: the billed duration and
//! the invocations of the measured window, and the bytes logged in it.

use std::path::Path;

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

/// What the log gained since `offset`: its REPORT lines (none when there were no invocations)
/// and its size in bytes. `None` when the log cannot be read.
pub fn read_since(path: &Path, offset: u64) -> Option<(Option<ReportLines>, f64)> {
    let bytes = std::fs::read(path).ok()?;
    let tail = bytes.get(offset as usize..)?;
    let text = String::from_utf8_lossy(tail);
    let mut r = ReportLines::default();
    for line in text.lines().filter(|l| l.starts_with("REPORT ")) {
        if let Some(ms) = line
            .split('\t')
            .find_map(|f| f.strip_prefix("Billed Duration: "))
            .and_then(|v| v.trim_end_matches(" ms").parse::<f64>().ok())
        {
            r.billed_ms += ms;
            r.invocations += 1.0;
            if !line.contains("\tInit Duration: ") {
                r.warm_billed_ms += ms;
                r.warm_invocations += 1.0;
            }
        }
    }
    Some(((r.invocations > 0.0).then_some(r), tail.len() as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines_after_the_offset_are_summed() {
        let dir = std::env::temp_dir().join(format!("loadgen-report-lines-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("fn.log");
        let seeding = "REPORT RequestId: a\tDuration: 1.00 ms\tBilled Duration: 2 ms\tMemory Size: 256 MB\n";
        let run = "START RequestId: b\nREPORT RequestId: b\tDuration: 2.50 ms\tBilled Duration: 3 ms\tMemory Size: 256 MB\tInit Duration: 7.10 ms\nREPORT RequestId: c\tDuration: 0.40 ms\tBilled Duration: 1 ms\n";
        std::fs::write(&log, format!("{seeding}{run}")).unwrap();
        let (report, bytes) = read_since(&log, seeding.len() as u64).unwrap();
        assert_eq!(
            report,
            Some(ReportLines { billed_ms: 4.0, invocations: 2.0, warm_billed_ms: 1.0, warm_invocations: 1.0 })
        );
        assert_eq!(bytes, run.len() as f64);
        let (none, _) = read_since(&log, (seeding.len() + run.len()) as u64).unwrap();
        assert_eq!(none, None, "no invocations in the window");
        assert!(read_since(&dir.join("missing.log"), 0).is_none());
    }
}
