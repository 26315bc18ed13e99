//! The target-api binary the local stack runs: found where cargo puts it, or built on the
//! first run.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::TargetError;
use crate::event::{Event, Sink};

/// Finds the target-api binary the local stack runs, building it when it is missing.
///
/// Looks at `LOADGEN_TARGET_API`, then next to the loadgen executable (where `cargo run`
/// puts both), then `target/release/`. Building needs cargo and this workspace.
pub fn target_api(sink: &Arc<dyn Sink>) -> Result<PathBuf, TargetError> {
    if let Some(p) = std::env::var_os("LOADGEN_TARGET_API") {
        let p = PathBuf::from(p);
        return if p.is_file() { Ok(p) } else { Err(TargetError::BinaryMissing(p)) };
    }
    let beside = std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.join("target-api")));
    let release = PathBuf::from("target/release/target-api");
    for candidate in beside.iter().chain(std::iter::once(&release)) {
        if candidate.is_file() {
            return Ok(candidate.clone());
        }
    }
    if !Path::new("target-api/Cargo.toml").is_file() {
        return Err(TargetError::NoBinary);
    }
    sink.event(Event::BuildingTargetApi);
    let status = std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--release", "-p", "target-api", "--bin", "target-api"])
        .status()
        .map_err(TargetError::Cargo)?;
    if !status.success() {
        return Err(TargetError::BuildFailed);
    }
    let dir = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target"));
    let built = dir.join("release/target-api");
    if built.is_file() { Ok(built) } else { Err(TargetError::BuiltMissing(built)) }
}
