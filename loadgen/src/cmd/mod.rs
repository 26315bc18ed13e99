//! The subcommands, one file each: the only code that prints to the terminal or picks an exit
//! code. Each returns `Ok(exit code)` when it ran (a failed gate is a result, not an error) and
//! `Err` when it could not; `main` prints the error once.

pub mod compare;
pub mod live_view;
mod nofile;
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
