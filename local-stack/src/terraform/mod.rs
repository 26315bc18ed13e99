//! The stack described by the user's Terraform: `aws_apigatewayv2_*`, `aws_lambda_function`
//! (and its provisioned concurrency) and `aws_dynamodb_table` resources, read with the
//! variables, locals and references they use, into the settings the local stack starts with.
//! Resources the local stack does not emulate are listed, not fatal. Our own `infra/` is one
//! such directory.
//!
//! [`load`] plans the directory as Terraform would (values only, nothing applied), [`stack`]
//! reads each resource, [`api`] puts routes, integrations and stages together.

mod api;
pub mod funcs;
mod load;
mod stack;

use std::path::Path;

use crate::config::StackConfig;

/// A stack read from Terraform, with what the reader wants the user to know.
#[derive(Debug, Clone)]
pub struct Described {
    /// The settings: functions, routes, tables, limits.
    pub config: StackConfig,
    /// What runs differently from the files (an authorizer not checked, a route left out).
    pub notes: Vec<String>,
    /// Resources read but not emulated, each with why.
    pub ignored: Vec<String>,
}

/// Reads the Terraform in `dir` over `base` (which gives what Terraform does not say: the
/// latency profile, seeds, Lambda's platform limits). What AWS would refuse, or the local
/// stack cannot run, is left to [`StackConfig::validate`] and the start.
pub fn read(dir: &Path, base: StackConfig) -> Result<Described, String> {
    let module = load::read(dir)?;
    let hint = |e: String| {
        let unset: Vec<&String> = module.unset_variables.iter().filter(|v| e.contains(v.as_str())).collect();
        if unset.is_empty() {
            format!("{}: {e}", dir.display())
        } else {
            let names: Vec<String> = unset.iter().map(|v| v.to_string()).collect();
            format!(
                "{}: {e} (variable {} has no value: give it a default, set it in terraform.tfvars, or export TF_VAR_{})",
                dir.display(),
                names.join(", "),
                names[0]
            )
        }
    };
    stack::build(&module, dir, base).map_err(hint)
}

impl StackConfig {
    /// The stack the Terraform in `dir` describes, over [`StackConfig::new`]'s defaults.
    pub fn from_terraform(dir: &Path) -> Result<Described, String> {
        read(dir, StackConfig::new(""))
    }
}
