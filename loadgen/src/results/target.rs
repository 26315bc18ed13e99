//! Where the load went, as results.json records it: the local stack with the settings in force,
//! or a URL — with the deployed stack's `terraform output` when `--infra` named it.

use local_stack::StackConfig;
use local_stack::config::Architecture;
use local_stack::lambda::cpu::CpuEnforcement;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What kind of target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    /// The embedded local stack on loopback.
    LocalStack,
    /// A base URL (AWS or any HTTP server).
    Url,
}

impl TargetKind {
    /// As results.json and the reports write it.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::LocalStack => "local-stack",
            TargetKind::Url => "url",
        }
    }
}

/// The outputs of the deployed `infra/` (`terraform output -json`) loadgen reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InfraOutputs {
    /// The API's base URL.
    pub api_url: String,
    /// HTTP API id.
    pub api_id: Option<String>,
    /// Stage name.
    pub stage: Option<String>,
    /// Lambda function name.
    pub function_name: Option<String>,
    /// DynamoDB table name.
    pub table_name: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// Function memory, MB.
    pub memory_mb: Option<u32>,
    /// Function timeout, s.
    pub timeout_s: Option<f64>,
    /// Function architecture.
    pub architecture: Option<Architecture>,
    /// Reserved concurrency.
    pub reserved_concurrency: Option<u32>,
    /// The HTTP API's route keys (`GET /items/{id}`).
    pub routes: Option<Vec<String>>,
    /// The stage's default route throttle, requests per second.
    pub throttling_rate_limit: Option<f64>,
    /// The stage's default route burst.
    pub throttling_burst_limit: Option<f64>,
    /// The table's capacity mode (`PAY_PER_REQUEST` or `PROVISIONED`).
    pub table_billing_mode: Option<String>,
}

/// Where the load went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TargetInfo {
    /// Local stack or URL.
    pub kind: TargetKind,
    /// Base URL.
    pub url: String,
    /// The local stack's settings in force.
    pub stack: Option<StackConfig>,
    /// The local stack's function log (START/END/REPORT lines).
    pub function_log: Option<String>,
    /// How the local stack gave each environment the CPU share of its memory.
    #[serde(default)]
    pub cpu: Option<CpuEnforcement>,
    /// Environments the kernel would not put under a cgroup, whose CPU time was measured
    /// instead (`cpu` then holds only for the others).
    #[serde(default)]
    pub cpu_refused: u64,
    /// The deployed stack's outputs (`--infra`).
    pub infra: Option<InfraOutputs>,
}

impl TargetInfo {
    /// The function's concurrency limit, when the run knows it: the local stack's settings, or
    /// the deployed stack's `reserved_concurrency` output.
    pub fn concurrency_limit(&self) -> Option<u32> {
        self.stack.as_ref().map(|s| s.concurrency_limit()).or(self.infra.as_ref().and_then(|o| o.reserved_concurrency))
    }
}
