//! Why `loadgen simulate` cannot simulate as asked: a run without calibration, or a bad
//! what-if.

use std::path::PathBuf;

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
    /// A what-if is invalid.
    #[error(transparent)]
    WhatIf(#[from] WhatIfError),
}
