//! results.json's `fleet`: how a `--fleet` run's load was sent — the workers, the ones lost and
//! why, and each worker's clock against the coordinator's.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The fleet a run was sent from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FleetResult {
    /// Workers (shards): arrival k of each phase was worker k mod `workers`'s.
    pub workers: u32,
    /// The worker function invoked.
    pub function: String,
    /// Workers whose results are missing: their arrivals are in `not_sent`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lost: Vec<LostWorker>,
    /// Each reporting worker's clock.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clocks: Vec<WorkerClockResult>,
}

/// A worker whose results are missing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LostWorker {
    /// Its shard index.
    pub index: u32,
    /// Why.
    pub reason: String,
}

/// A worker's clock against the coordinator's, estimated from its invoke's four timestamps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WorkerClockResult {
    /// Its shard index.
    pub index: u32,
    /// How far its clock was ahead of the coordinator's, ms.
    pub offset_ms: f64,
    /// The estimate's bound (half the round trip not spent in the worker), ms.
    pub uncertainty_ms: f64,
}
