//! The workspace binaries the local stack runs — target-api, and the fleet's worker — found
//! where cargo puts them, or built on the first run that needs them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::TargetError;
use crate::event::{Event, Sink};

/// Finds the target-api binary the local stack runs, building it when it is missing.
///
/// Looks at `LOADGEN_TARGET_API`, then next to the loadgen executable (where `cargo run`
/// puts both), then `target/release/`. Building needs cargo and this workspace.
pub fn target_api(sink: &Arc<dyn Sink>) -> Result<PathBuf, TargetError> {
    workspace_binary("target-api", "LOADGEN_TARGET_API", sink)
}

/// Finds the fleet worker's binary (`LOADGEN_WORKER` overrides), building it when missing.
pub fn worker(sink: &Arc<dyn Sink>) -> Result<PathBuf, TargetError> {
    workspace_binary("loadgen-worker", "LOADGEN_WORKER", sink)
}

fn workspace_binary(bin: &'static str, var: &'static str, sink: &Arc<dyn Sink>) -> Result<PathBuf, TargetError> {
    if let Some(p) = std::env::var_os(var) {
        let p = PathBuf::from(p);
        return if p.is_file() { Ok(p) } else { Err(TargetError::BinaryMissing(var, p)) };
    }
    let beside = std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.join(bin)));
    let release = PathBuf::from("target/release").join(bin);
    for candidate in beside.iter().chain(std::iter::once(&release)) {
        if candidate.is_file() {
            return Ok(candidate.clone());
        }
    }
    if !Path::new(bin).join("Cargo.toml").is_file() {
        return Err(TargetError::NoBinary(bin, var));
    }
    sink.event(Event::BuildingBinary(bin));
    let mut cargo = std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    // `cargo run` hands loadgen its package's variables (CARGO_PKG_NAME=loadgen, …). Build
    // scripts such as ring's say to rerun when those change, and cargo reads them from its own
    // environment: inherited, they would make this build recompile ring, rustls and everything
    // above them — and the next `cargo loadgen` recompile them back.
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("CARGO_PKG_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_MANIFEST_LINKS",
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
            ]
            .contains(&k.as_ref())
        {
            cargo.env_remove(&key);
        }
    }
    let status = cargo
        // With loadgen in the selection, features resolve as for `cargo loadgen` itself, so the
        // graph the two share is the one already compiled (loadgen/Cargo.toml says how).
        .args(["build", "--release", "-p", "loadgen", "-p", bin, "--bin", bin])
        .status()
        .map_err(|e| TargetError::Cargo(bin, e))?;
    if !status.success() {
        return Err(TargetError::BuildFailed(bin));
    }
    let dir = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target"));
    let built = dir.join("release").join(bin);
    if built.is_file() { Ok(built) } else { Err(TargetError::BuiltMissing(bin, built)) }
}
