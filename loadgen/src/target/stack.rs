//! The local stack's settings — those of `infra/` when run from the repository root (the same
//! Terraform the real stack is deployed with), else the built-in defaults that mirror it — with
//! the scenario's `[stack]` overrides applied.

use std::path::{Path, PathBuf};

use local_stack::{Stack, StackConfig};

use super::TargetError;
use crate::scenario::Plan;

/// The settings the local stack starts with for `plan`, writing its function log to `log_dir`.
pub fn config(plan: &Plan, binary: PathBuf, log_dir: &Path) -> Result<StackConfig, TargetError> {
    let infra = Path::new("infra");
    let mut c = if infra.join("variables.tf").is_file() {
        StackConfig::from_infra(infra, binary).map_err(TargetError::InfraSettings)?
    } else {
        StackConfig::new(binary)
    };
    plan.stack.apply_to(&mut c);
    c.seed = plan.seed;
    c.log_dir = Some(log_dir.to_path_buf());
    Ok(c)
}

/// Starts the local stack.
pub async fn start(config: StackConfig) -> Result<Stack, TargetError> {
    Ok(Stack::start(config).await?)
}
