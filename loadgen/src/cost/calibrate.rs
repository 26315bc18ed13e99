//! From a run to what its simulation draws from and back: the measured window's REPORT lines
//! and the function's limits become results.json's [`Calibration`], and a calibration becomes
//! the simulator's function and hold times. The knee goes through both, so it uses exactly what
//! results.json keeps.

use super::lambda_log::LogWindow;
use crate::results::calibration::{Calibration, FunctionLimits};
use crate::results::{decode, encode};
use crate::simulate::hold::Empirical;
use crate::simulate::lambda::{FunctionSpec, Holds};

/// The calibration of a local-stack run: `None` without invocations in the window.
pub fn calibration(limits: &FunctionLimits, window: &LogWindow, overheads_ms: (f64, f64)) -> Option<Calibration> {
    let invocations = window.durations_us.len();
    (invocations > 0).then(|| Calibration {
        source: "REPORT lines of the local stack's function log, measured window".into(),
        function: limits.clone(),
        invocations,
        durations_us: encode(&window.durations_us),
        inits_us: encode(&window.inits_us),
        invoke_overhead_ms: overheads_ms.0,
        cold_platform_ms: overheads_ms.1,
    })
}

/// The simulator's function and hold times for `c`; `None` when its durations do not decode
/// or are empty.
pub fn model(c: &Calibration) -> Option<(FunctionSpec, Holds)> {
    let durations = decode(&c.durations_us)?;
    // A document edited by hand may disagree with itself; a count that does not match its own
    // histogram is not a calibration.
    if c.invocations == 0 || durations.len() != c.invocations {
        return None;
    }
    let inits = decode(&c.inits_us);
    let spec = c.function.clone();
    let holds = Holds {
        warm: Empirical::from_histogram(&durations, 1e-6)?,
        init: inits.as_ref().and_then(|h| Empirical::from_histogram(h, 1e-6)),
        overhead_s: c.invoke_overhead_ms / 1e3,
        platform_s: c.cold_platform_ms / 1e3,
    };
    Some((spec, holds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_calibration_round_trips_into_the_model() {
        let mut window = LogWindow {
            report: None,
            bytes: 0.0,
            durations_us: hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap(),
            inits_us: hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap(),
        };
        let limits = FunctionLimits {
            concurrency: 8,
            reserved: true,
            account_concurrency: 1000,
            provisioned: 2,
            scaling_per_10s: 1000,
            keep_warm_s: 300.0,
            rate_limits: true,
            memory_mb: 256,
        };
        assert!(calibration(&limits, &window, (1.0, 100.0)).is_none(), "no invocations, nothing to draw from");
        window.durations_us.record_n(20_000, 10).unwrap();
        window.inits_us.record(50_000).unwrap();
        let c = calibration(&limits, &window, (1.0, 100.0)).unwrap();
        assert_eq!(c.invocations, 10);
        let (spec, holds) = model(&c).unwrap();
        assert_eq!((spec.concurrency, spec.provisioned, spec.reserved), (8, 2, true));
        assert!((holds.warm.mean() - 0.020).abs() < 1e-4);
        assert!((holds.init.unwrap().mean() - 0.050).abs() < 1e-4);
        assert_eq!((holds.overhead_s, holds.platform_s), (0.001, 0.1));
        let tampered = Calibration { invocations: 0, ..c.clone() };
        assert!(model(&tampered).is_none());
        let broken = Calibration { durations_us: "not base64".into(), ..c };
        assert!(model(&broken).is_none());
    }
}
