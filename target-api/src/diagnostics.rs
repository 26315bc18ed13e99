//! Diagnostic response headers: cold start, init time, environment id, DynamoDB usage and
//! handler time — what the harness reads to tell cold from warm and to price a request.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::store::Usage;

/// Per-process diagnostic state. One per execution environment.
#[derive(Debug)]
pub struct Diagnostics {
    enabled: bool,
    env_id: String,
    init: Duration,
    first_invocation: AtomicBool,
}

impl Diagnostics {
    /// `init` is process start → handler ready. Headers are on unless `DIAGNOSTICS=off`. An
    /// environment Lambda initialised for provisioned concurrency
    /// (`AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency`) did its INIT before any
    /// request waited for it, so none of its invocations is a cold start.
    pub fn from_env(init: Duration) -> Self {
        let enabled = !std::env::var("DIAGNOSTICS").is_ok_and(|v| v.eq_ignore_ascii_case("off"));
        let d = Self::new(enabled, init);
        if std::env::var("AWS_LAMBDA_INITIALIZATION_TYPE").is_ok_and(|v| v == "provisioned-concurrency") {
            d.take_cold_start();
        }
        d
    }

    /// Explicit constructor (tests, embedding).
    pub fn new(enabled: bool, init: Duration) -> Self {
        let env_id = format!("{:016x}", fastrand::u64(..));
        Self { enabled, env_id, init, first_invocation: AtomicBool::new(true) }
    }

    /// This process's random id, the `x-env-id` header.
    pub fn env_id(&self) -> &str {
        &self.env_id
    }

    /// True exactly once: on the process's first invocation.
    pub fn take_cold_start(&self) -> bool {
        self.first_invocation.swap(false, Ordering::Relaxed)
    }

    /// Headers for one response. Empty when diagnostics are off.
    pub fn headers(&self, cold: bool, usage: &Usage, handler: Duration) -> Vec<(&'static str, String)> {
        if !self.enabled {
            return Vec::new();
        }
        let mut h = vec![("x-cold-start", cold.to_string())];
        if cold {
            h.push(("x-init-ms", format!("{:.3}", self.init.as_secs_f64() * 1e3)));
        }
        h.push(("x-env-id", self.env_id.clone()));
        h.push(("x-ddb-calls", usage.calls.to_string()));
        h.push(("x-ddb-rcu", fmt_units(usage.rcu)));
        h.push(("x-ddb-wcu", fmt_units(usage.wcu)));
        h.push(("x-handler-us", handler.as_micros().to_string()));
        h
    }
}

/// Capacity units are multiples of 0.5; print them without float noise ("1.5", "3").
fn fmt_units(units: f64) -> String {
    let rounded = (units * 1000.0).round() / 1000.0;
    if rounded.fract() == 0.0 { format!("{rounded:.0}") } else { format!("{rounded}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cold_only_once_and_init_only_when_cold() {
        let d = Diagnostics::new(true, Duration::from_micros(7_250));
        assert!(d.take_cold_start());
        assert!(!d.take_cold_start());
        let usage = Usage { calls: 2, rcu: 1.5, wcu: 0.0 };
        let cold = d.headers(true, &usage, Duration::from_micros(900));
        assert!(cold.contains(&("x-init-ms", "7.250".into())));
        assert!(cold.contains(&("x-ddb-rcu", "1.5".into())));
        assert!(cold.contains(&("x-ddb-wcu", "0".into())));
        assert!(cold.contains(&("x-handler-us", "900".into())));
        let warm = d.headers(false, &usage, Duration::ZERO);
        assert!(warm.iter().all(|(k, _)| *k != "x-init-ms"));
        assert!(warm.contains(&("x-cold-start", "false".into())));
    }

    #[test]
    fn off_means_no_headers() {
        let d = Diagnostics::new(false, Duration::ZERO);
        assert!(d.headers(true, &Usage::default(), Duration::ZERO).is_empty());
        assert_eq!(d.env_id().len(), 16);
    }
}
