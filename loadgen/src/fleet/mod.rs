//! Load from a fleet of worker Lambdas: the coordinator cuts the plan's schedule into shards
//! ([`crate::attack::pacer::Shard`]: arrival k is shard k mod N's), invokes one worker per
//! shard with a [`ShardOrder`], and merges their [`ShardReport`]s exactly
//! ([`crate::record::partial`]) into one run that the usual pipeline prices, gates and reports.
//!
//! Every worker starts at the same absolute UTC instant, so the union of their sends is the
//! single-host schedule. A worker's schedule is anchored to that instant: one that got there up
//! to a second late sends its overdue arrivals at once, counted as late sends; one later still
//! refuses the shard, which the run then reports as lost.

pub mod coordinator;
pub mod worker;

use serde::{Deserialize, Serialize};

use crate::attack::pacer::Shard;
use crate::record::partial::Partial;
use crate::scenario::{Plan, Template};

/// What a plan loses where it is written down (results.json redacts header values and leaves
/// bodies out) and a worker needs to send it as written: carried beside it in the order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Unredacted {
    /// Each request kind's body.
    pub bodies: Vec<Option<Template>>,
    /// Each request kind's own headers.
    pub request_headers: Vec<Vec<(String, Template)>>,
    /// `[target]`'s headers.
    pub target_headers: Vec<(String, Template)>,
    /// Each `[targets.NAME]`'s headers, in the plan's order.
    pub named_headers: Vec<Vec<(String, Template)>>,
}

impl Unredacted {
    /// What `plan` would lose.
    pub fn of(plan: &Plan) -> Unredacted {
        Unredacted {
            bodies: plan.requests.iter().map(|r| r.body.clone()).collect(),
            request_headers: plan.requests.iter().map(|r| r.headers.clone()).collect(),
            target_headers: plan.target.headers.clone(),
            named_headers: plan.targets.iter().map(|t| t.headers.clone()).collect(),
        }
    }

    /// Puts it back into `plan`.
    pub fn restore(self, plan: &mut Plan) {
        for (r, (body, headers)) in plan.requests.iter_mut().zip(self.bodies.into_iter().zip(self.request_headers)) {
            r.body = body;
            r.headers = headers;
        }
        plan.target.headers = self.target_headers;
        for (t, headers) in plan.targets.iter_mut().zip(self.named_headers) {
            t.headers = headers;
        }
    }
}

/// What one worker is asked to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardOrder {
    /// The validated plan (the worker does not validate it again: it has no scenario file),
    /// without its `[stack]` (the workers start none).
    pub plan: Plan,
    /// What the plan's serialized form leaves out; [`ShardOrder::plan_as_written`] restores it.
    pub unredacted: Unredacted,
    /// Which share of the schedule is this worker's.
    pub shard: Shard,
    /// Where `[target]`'s requests go (a named target's URL is in the plan).
    pub base_url: String,
    /// When the phases start, Unix ms (UTC), the same for every worker.
    pub start_unix_ms: u64,
    /// When the coordinator sent the order, Unix ms by its clock.
    pub sent_unix_ms: u64,
}

impl ShardOrder {
    /// An order for `shard` of `plan`.
    pub fn new(plan: &Plan, shard: Shard, base_url: &str, start_unix_ms: u64) -> ShardOrder {
        let mut sent = plan.clone();
        sent.stack = Default::default();
        ShardOrder {
            unredacted: Unredacted::of(plan),
            plan: sent,
            shard,
            base_url: base_url.to_owned(),
            start_unix_ms,
            sent_unix_ms: 0,
        }
    }

    /// The plan as the scenario wrote it (its `[stack]` aside).
    pub fn plan_as_written(self) -> Plan {
        let mut plan = self.plan;
        self.unredacted.restore(&mut plan);
        plan
    }
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
