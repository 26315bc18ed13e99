//! The local stack's settings — those of `infra/` when run from the repository root (the same
//! Terraform the real stack is deployed with), else the built-in defaults that mirror it — with
//! the scenario's `[stack]` overrides applied, in one place.

use std::path::{Path, PathBuf};

use local_stack::{Stack, StackConfig};

use super::TargetError;
use crate::scenario::{Plan, StackOverrides};

/// The settings the local stack starts with for `plan`, writing its function log to `log_dir`.
pub fn config(plan: &Plan, binary: PathBuf, log_dir: &Path) -> Result<StackConfig, TargetError> {
    let infra = Path::new("infra");
    let mut c = if infra.join("variables.tf").is_file() {
        StackConfig::from_infra(infra, binary).map_err(TargetError::InfraSettings)?
    } else {
        StackConfig::new(binary)
    };
    apply(&plan.stack, &mut c);
    c.seed = plan.seed;
    c.log_dir = Some(log_dir.to_path_buf());
    Ok(c)
}

/// Applies every `[stack]` override that is set.
fn apply(o: &StackOverrides, c: &mut StackConfig) {
    if let Some(v) = o.reserved_concurrency {
        c.function.reserved_concurrency = v;
    }
    if let Some(v) = o.memory_mb {
        c.function.memory_mb = v;
    }
    if let Some(v) = o.timeout {
        c.function.timeout = v;
    }
    if let Some(v) = o.keep_warm {
        c.function.keep_warm = v;
    }
    if let Some(v) = &o.latency_profile {
        c.latency_profile = v.clone();
    }
    if let Some(v) = o.api_rate {
        c.api.stage_throttle.rate = v;
    }
    if let Some(v) = o.api_burst {
        c.api.stage_throttle.burst = v;
    }
    if let Some(v) = o.integration_timeout {
        c.api.integration_timeout = v;
    }
    if let Some(v) = o.dynamodb_read_units {
        c.dynamodb.read_units_per_s = v;
    }
    if let Some(v) = o.dynamodb_write_units {
        c.dynamodb.write_units_per_s = v;
    }
}

/// Starts the local stack.
pub async fn start(config: StackConfig) -> Result<Stack, TargetError> {
    Ok(Stack::start(config).await?)
}
