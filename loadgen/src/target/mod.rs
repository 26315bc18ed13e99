//! Where the load goes: a URL ([`url`], [`infra`] for a deployed stack's outputs), or — with
//! none — the local stack started on loopback with the scenario's `[stack]` overrides
//! ([`stack`], running the target-api [`binary`]); and the `[data]` seeding that precedes the
//! measured phases ([`seed`]).

pub mod binary;
pub mod infra;
pub mod seed;
pub mod seed_table;
pub mod stack;
pub mod url;

use std::path::PathBuf;

/// Why the target could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// `LOADGEN_TARGET_API` (or the worker's variable) names no file.
    #[error("{}={} does not exist", .0, .1.display())]
    BinaryMissing(&'static str, PathBuf),
    /// No such binary and no workspace to build one in.
    #[error(
        "the {0} binary was not found; run loadgen from the repository root, build it with \
         `cargo build --release -p {0}`, or set {1} to its path"
    )]
    NoBinary(&'static str, &'static str),
    /// cargo could not be started.
    #[error("cannot run cargo to build {0}")]
    Cargo(&'static str, #[source] std::io::Error),
    /// cargo failed.
    #[error("building {0} failed; see cargo's output above")]
    BuildFailed(&'static str),
    /// cargo succeeded but the binary is not where it should be.
    #[error("cargo built {} but {} is missing", .0, .1.display())]
    BuiltMissing(&'static str, PathBuf),
    /// The stack's Terraform could not be read.
    #[error("cannot read the stack from its Terraform: {0}")]
    Terraform(String),
    /// The described stack is one AWS would refuse or the local stack cannot run.
    #[error("{0} cannot run locally: {1}")]
    StackInvalid(String, String),
    /// The local stack did not start.
    #[error(transparent)]
    StackStart(#[from] local_stack::StartError),
    /// `--infra`: terraform could not be run.
    #[error("--infra needs terraform on PATH (or add --local to run the stack it describes on the local stack)")]
    TerraformCli(#[source] std::io::Error),
    /// `--infra`: `terraform output` failed.
    #[error("--infra {}: terraform output failed: {}", dir.display(), stderr.trim())]
    TerraformFailed {
        /// The Terraform directory.
        dir: PathBuf,
        /// What terraform said.
        stderr: String,
    },
    /// `--infra`: its output is not JSON.
    #[error("--infra {}: terraform output is not JSON", dir.display())]
    NotJson {
        /// The Terraform directory.
        dir: PathBuf,
        /// Where it stops being JSON.
        #[source]
        source: serde_json::Error,
    },
    /// `--infra`: the directory has no `api_url` output (not applied yet, or not our `infra/`).
    #[error(
        "--infra {}: no api_url output; run `terraform apply` there first, or add --local to run the stack it \
         describes on the local stack",
        .0.display()
    )]
    NoApiUrl(PathBuf),
    /// `--fleet-function DIR` whose outputs name no worker.
    #[error(
        "--fleet-function {}: no fleet_function_arn output; run `terraform apply` in infra/fleet/ first, or name the \
         worker function itself",
        .0.display()
    )]
    NoFleetFunction(PathBuf),
    /// An item cannot be written into the table as `[data]` makes it.
    #[error("[data] cannot seed table {0}: {1}")]
    SeedItem(String, #[source] Box<seed_table::ItemError>),
    /// Seeding into the table was asked, but which table is not known.
    #[error("[data] seeds into the table, but {0}")]
    SeedTable(String),
    /// Seeding could not write every item.
    #[error("seeding failed for {failed} of {items} items (last error: {last})")]
    Seeding {
        /// Items not written.
        failed: u64,
        /// Items to write.
        items: u64,
        /// The last failure seen.
        last: String,
    },
}

impl TargetError {
    /// True when the user's input is at fault (a flag, a Terraform directory), not the setup.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            TargetError::Terraform(_)
                | TargetError::StackInvalid(..)
                | TargetError::SeedItem(..)
                | TargetError::SeedTable(_)
                | TargetError::StackStart(local_stack::StartError::Code(_))
                | TargetError::TerraformCli(_)
                | TargetError::TerraformFailed { .. }
                | TargetError::NotJson { .. }
                | TargetError::NoApiUrl(_)
                | TargetError::NoFleetFunction(_)
        )
    }
}
