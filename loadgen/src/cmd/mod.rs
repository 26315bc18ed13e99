//! The subcommands, one file each: the only code that prints to the terminal or picks an exit
//! code. Each returns `Ok(exit code)` when it ran (a failed gate is a result, not an error) and
//! `Err` when it could not; `main` prints the error once.

pub mod compare;
pub mod fleet;
pub mod live_view;
mod nofile;
mod outputs;
pub mod progress;
mod ready;
pub mod report;
pub mod run;
pub mod simulate;
pub mod stack;
pub mod validate;

use std::path::{Path, PathBuf};

/// `out`, or else the directory `file` is in.
fn dir_or_beside(out: Option<&Path>, file: &Path) -> PathBuf {
    out.map(Path::to_path_buf).unwrap_or_else(|| file.parent().map(Path::to_path_buf).unwrap_or_default())
}

/// What the attack left behind, from this host or merged from a fleet's workers.
pub(crate) struct Attacked {
    pub(crate) recorder: crate::record::Recorder,
    pub(crate) measured: std::time::Duration,
    pub(crate) connections: crate::results::ConnectionStats,
    pub(crate) stop: Option<crate::record::Stop>,
    pub(crate) cpu_seconds: f64,
    pub(crate) finished: time::OffsetDateTime,
    pub(crate) window_end: std::time::SystemTime,
    /// The fleet it was sent from, when it was.
    pub(crate) fleet: Option<crate::results::fleet::FleetResult>,
}
