//! Per-invocation performance events in the shape CloudWatch Lambda Insights writes to the
//! `/aws/lambda-insights` log group — one JSON object per invocation with `request_id`,
//! `duration`, `cold_start` and `cpu_total_time` — so a run can learn how much of a handler's
//! time is CPU (what memory buys) from the same kind of record a user gets on AWS.
//!
//! Only the fields the harness reads are written (not the embedded-metric `_aws` block, memory
//! or network counters). `cpu_total_time` is in milliseconds with fractions: AWS's examples
//! show whole milliseconds, which would round a 2 ms handler's CPU to nothing.

use std::fs::File;
use std::io::Write as _;
use std::sync::Mutex;

use serde::Serialize;

/// One invocation's event.
#[derive(Debug, Clone, Serialize)]
pub struct PerformanceEvent<'a> {
    /// Always `"performance"`.
    pub event_type: &'static str,
    /// The function.
    pub function_name: &'a str,
    /// Lambda request id, as in the REPORT line.
    pub request_id: &'a str,
    /// Handler duration, ms.
    pub duration: f64,
    /// Billed duration, ms.
    pub billed_duration: u64,
    /// Whether the invocation started a new environment.
    pub cold_start: bool,
    /// INIT on a cold start, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_duration: Option<f64>,
    /// Configured memory, MB.
    pub total_memory: u32,
    /// CPU time the environment's process used during the invocation (user + system), ms.
    pub cpu_total_time: f64,
}

/// The name of the events' log, beside the function logs (no function may be named
/// `lambda-insights`, whose log it would be).
pub const LOG_NAME: &str = "lambda-insights.log";

/// Where the events go: `lambda-insights.log` beside the function log.
#[derive(Debug)]
pub struct InsightsLog {
    file: Mutex<File>,
}

impl InsightsLog {
    /// Appends to `file`.
    pub fn new(file: File) -> Self {
        InsightsLog { file: Mutex::new(file) }
    }

    /// Writes one event as a line; a full disk loses the line, not the invocation.
    pub fn write(&self, event: &PerformanceEvent<'_>) {
        // Plain numbers, strings and booleans: serializing cannot fail.
        let mut line = serde_json::to_vec(event).expect("performance event serializes");
        line.push(b'\n');
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        let _ = f.write_all(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_one_json_line_with_insights_field_names() {
        let path = std::env::temp_dir().join(format!("insights-{}.log", std::process::id()));
        let log = InsightsLog::new(File::create(&path).unwrap());
        let e = PerformanceEvent {
            event_type: "performance",
            function_name: "f",
            request_id: "r1",
            duration: 12.5,
            billed_duration: 13,
            cold_start: false,
            init_duration: None,
            total_memory: 256,
            cpu_total_time: 1.25,
        };
        log.write(&e);
        log.write(&PerformanceEvent { request_id: "r2", cold_start: true, init_duration: Some(80.0), ..e });
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["cpu_total_time"], 1.25);
        assert!(lines[0].get("init_duration").is_none());
        assert_eq!(lines[1]["init_duration"], 80.0);
        assert_eq!(lines[1]["cold_start"], true);
        let _ = std::fs::remove_file(path);
    }
}
