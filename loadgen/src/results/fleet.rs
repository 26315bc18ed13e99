//! results.json's `fleet`: how a `--fleet` run's load was sent — the workers, the ones lost and
//! why, and each worker's clock against the coordinator's.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How far off the coordinator's a worker's clock may surely be (beyond its estimate's bound)
/// before the run is marked saturated, ms: the lag p99 that marks one host saturated — its
/// arrivals went out that much off the schedule.
pub const CLOCK_TOLERANCE_MS: f64 = 10.0;

impl super::Results {
    /// Records the fleet a run was sent from; a worker whose clock was off the schedule makes
    /// the generator saturated, as late sends would.
    pub fn set_fleet(&mut self, fleet: Option<FleetResult>) {
        if let Some(skewed) = fleet.as_ref().map(FleetResult::skewed).filter(|n| *n > 0) {
            self.generator.clock_skewed = skewed;
            self.generator.saturated = true;
        }
        self.fleet = fleet;
    }
}

/// Whether a clock estimated `offset_ms` ± `uncertainty_ms` off is surely more than
/// `tolerance_ms` off: even the estimate's nearest bound is beyond it.
pub fn surely_off(offset_ms: f64, uncertainty_ms: f64, tolerance_ms: f64) -> bool {
    offset_ms.abs() - uncertainty_ms > tolerance_ms
}

impl FleetResult {
    /// The workers (invokes) whose clock was surely more than [`CLOCK_TOLERANCE_MS`] off.
    pub fn skewed(&self) -> u32 {
        self.clocks.iter().filter(|c| surely_off(c.offset_ms, c.uncertainty_ms, CLOCK_TOLERANCE_MS)).count() as u32
    }
}

/// The fleet a run was sent from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FleetResult {
    /// Workers (shards): arrival k of each phase was worker k mod `workers`'s.
    pub workers: u32,
    /// The worker function invoked.
    pub function: String,
    /// Back-to-back segments the plan was cut into, each sent by its own invokes (1: one invoke
    /// per worker sent the whole plan).
    #[serde(default = "one")]
    pub segments: u32,
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
    /// The segment (from 0) whose invoke was lost.
    #[serde(default)]
    pub segment: u32,
    /// Why.
    pub reason: String,
}

/// A worker's clock against the coordinator's, estimated from its invoke's four timestamps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WorkerClockResult {
    /// Its shard index.
    pub index: u32,
    /// The segment (from 0) of the invoke.
    #[serde(default)]
    pub segment: u32,
    /// How far its clock was ahead of the coordinator's, ms.
    pub offset_ms: f64,
    /// The estimate's bound (half the round trip not spent in the worker), ms.
    pub uncertainty_ms: f64,
}

fn one() -> u32 {
    1
}
