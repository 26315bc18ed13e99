//! Why `loadgen simulate` cannot simulate as asked: a run without calibration, or a bad
//! what-if.

use std::path::PathBuf;

use super::curve::CurveError;
use super::whatif::WhatIfError;

/// Why a simulation cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// The run has no calibration.
    #[error(
        "{}: no calibration — the run has no REPORT lines to draw hold times from (a URL target, or a \
         document from before calibration was recorded). Run the scenario on the local stack (`loadgen run \
         <scenario.toml>` without --target) and simulate that run's results.json",
        .0.display()
    )]
    NoCalibration(PathBuf),
    /// The calibration's histograms do not decode, or disagree with its counts.
    #[error(
        "{}: its calibration is damaged (the duration histograms do not decode or disagree with its invocation count); \
         rerun the scenario for a fresh results.json",
        .0.display()
    )]
    BadCalibration(PathBuf),
    /// A memory what-if without the CPU time it scales.
    #[error(
        "{}: --set memory_mb needs the function's CPU time per invocation, which this run did not record          (no Lambda Insights events in the measured window). Rerun the scenario on the local stack, which writes          lambda-insights.log beside the function log, and simulate that run's results.json",
        .0.display()
    )]
    NoCpuTime(PathBuf),
    /// The plan simulated has a request the run did not measure.
    #[error(
        "{}: request {request} was not measured by the calibrating run, whose request kinds are: {}. Calibrate          from a run whose scenario sends it (same method and path template)",
        .file.display(), if .known.is_empty() { "none".to_owned() } else { .known.join(", ") }
    )]
    Uncalibrated {
        /// The scenario simulated.
        file: PathBuf,
        /// The request.
        request: String,
        /// What the run measured.
        known: Vec<String>,
    },
    /// A what-if is invalid.
    #[error(transparent)]
    WhatIf(#[from] WhatIfError),
    /// The traffic curve cannot be read.
    #[error("--traffic-curve {0}")]
    Curve(#[from] CurveError),
}
