//! Load from a fleet of worker Lambdas: the coordinator cuts the plan's schedule into shards
//! ([`crate::attack::pacer::Shard`]: arrival k is shard k mod N's), invokes one worker per
//! shard with a [`ShardOrder`], and merges their [`ShardReport`]s exactly
//! ([`crate::record::partial`]) into one run that the usual pipeline prices, gates and reports.
//!
//! Every worker starts at the same absolute UTC instant, so the union of their sends is the
//! single-host schedule. A worker that gets its order after that instant does not run late: it
//! refuses the shard, which the run then reports as lost.

pub mod coordinator;
pub mod worker;

use serde::{Deserialize, Serialize};

use crate::attack::pacer::Shard;
use crate::record::partial::Partial;
use crate::scenario::Plan;

/// What one worker is asked to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardOrder {
    /// The validated plan (the worker does not validate it again: it has no scenario file).
    pub plan: Plan,
    /// Which share of the schedule is this worker's.
    pub shard: Shard,
    /// Where `[target]`'s requests go (a named target's URL is in the plan).
    pub base_url: String,
    /// When the phases start, Unix ms (UTC), the same for every worker.
    pub start_unix_ms: u64,
    /// When the coordinator sent the order, Unix ms by its clock.
    pub sent_unix_ms: u64,
}

/// The worker's clock as it reports it, for the coordinator to estimate its offset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerClock {
    /// When the order arrived, Unix ms by the worker's clock.
    pub received_unix_ms: u64,
    /// When the worker answered, Unix ms by its clock.
    pub answered_unix_ms: u64,
}

/// What one worker measured and how its run went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardReport {
    /// The shard it ran.
    pub shard: Shard,
    /// Everything it recorded.
    pub partial: Partial,
    /// From the start to its last phase's end (or its stop), s.
    pub measured_s: f64,
    /// CPU time the worker process used over the phases, s.
    pub cpu_seconds: f64,
    /// Connections opened before the start.
    pub opened_before: u64,
    /// Connections opened during the run.
    pub opened_during: u64,
    /// Their connect times, µs, encoded.
    pub connect_times: String,
    /// Why it stopped early, when it did.
    pub stop: Option<String>,
    /// That reason was a failed `abort_on_fail` threshold.
    #[serde(default)]
    pub stop_is_gate: bool,
    /// Its clock.
    pub clock: WorkerClock,
}

/// Unix ms now, by this host's clock.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
