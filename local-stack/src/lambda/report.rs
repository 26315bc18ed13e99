//! REPORT lines and log-stream names in Lambda's formats.

use std::fmt;

/// One invocation's REPORT line.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    /// Lambda request id.
    pub request_id: &'a str,
    /// Handler duration, ms.
    pub duration_ms: f64,
    /// Billed duration, ms.
    pub billed_ms: u64,
    /// Configured memory, MB.
    pub memory_mb: u32,
    /// Peak resident memory of the environment, MB.
    pub max_memory_mb: u64,
    /// INIT duration on a cold start, ms.
    pub init_ms: Option<f64>,
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "REPORT RequestId: {}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB",
            self.request_id, self.duration_ms, self.billed_ms, self.memory_mb, self.max_memory_mb
        )?;
        if let Some(init) = self.init_ms {
            write!(f, "\tInit Duration: {init:.2} ms")?;
        }
        Ok(())
    }
}

/// `YYYY/MM/DD/[$LATEST]<32 hex>`, as Lambda names a new environment's log stream.
pub fn log_stream_name(env_id: u64) -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}/{:02}/{:02}/[$LATEST]{:016x}{:016x}",
        now.year(),
        now.month() as u8,
        now.day(),
        env_id,
        fastrand::u64(..)
    )
}

/// RFC 3339 UTC timestamp with milliseconds, as Lambda prefixes its own messages.
pub fn timestamp() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        now.year(),
        now.month() as u8,
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_line_matches_lambda_format() {
        let r = Report {
            request_id: "abc",
            duration_ms: 38.661,
            billed_ms: 39,
            memory_mb: 128,
            max_memory_mb: 54,
            init_ms: None,
        };
        assert_eq!(
            r.to_string(),
            "REPORT RequestId: abc\tDuration: 38.66 ms\tBilled Duration: 39 ms\tMemory Size: 128 MB\tMax Memory Used: 54 MB"
        );
        let cold = Report { init_ms: Some(203.694), ..r };
        assert!(cold.to_string().ends_with("\tInit Duration: 203.69 ms"));
    }

    #[test]
    fn names_have_lambda_shapes() {
        let s = log_stream_name(3);
        assert!(s.contains("/[$LATEST]") && s.len() == 10 + 10 + 32, "{s}");
        assert!(timestamp().ends_with('Z'));
    }
}
