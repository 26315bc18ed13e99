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
pub mod cut;
pub mod size;
pub mod worker;

use serde::{Deserialize, Serialize};

use crate::attack::pacer::Shard;
use crate::record::partial::Partial;
use std::sync::Arc;

use crate::scenario::Plan;
use crate::scenario::seed_data::SeedRows;
use crate::scenario::template::{Template, Wire};

/// A header list in the wire form.
type Headers = Vec<(String, Wire)>;

/// What a plan loses where it is written down and a worker needs to send it as written,
/// carried beside it in the order. results.json redacts header values, leaves bodies out and
/// keeps each template as text, which has lost its `${VAR}` values and its captures' slots.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Unredacted {
    /// Each request kind's path.
    #[serde(default)]
    pub paths: Vec<Wire>,
    /// Each request kind's body.
    pub bodies: Vec<Option<Wire>>,
    /// Each request kind's own headers.
    pub request_headers: Vec<Headers>,
    /// `[target]`'s headers.
    pub target_headers: Headers,
    /// Each `[targets.NAME]`'s headers, in the plan's order.
    pub named_headers: Vec<Headers>,
    /// Each `[[data.file]]`'s rows, read where the scenario is.
    #[serde(default)]
    pub file_rows: Vec<Option<SeedRows>>,
    /// The seeded file's rows (`[data] seed_from`), whose keys `{id}` draws.
    #[serde(default)]
    pub seed_rows: Option<SeedRows>,
}

fn wire(headers: &[(String, Template)]) -> Headers {
    headers.iter().map(|(k, v)| (k.clone(), Wire::from(v))).collect()
}

fn unwire(headers: Headers) -> Vec<(String, Template)> {
    headers.into_iter().map(|(k, v)| (k, Template::from(v))).collect()
}

impl Unredacted {
    /// What `plan` would lose.
    pub fn of(plan: &Plan) -> Unredacted {
        Unredacted {
            paths: plan.requests.iter().map(|r| Wire::from(&r.path)).collect(),
            bodies: plan.requests.iter().map(|r| r.body.as_ref().map(Wire::from)).collect(),
            request_headers: plan.requests.iter().map(|r| wire(&r.headers)).collect(),
            target_headers: wire(&plan.target.headers),
            named_headers: plan.targets.iter().map(|t| wire(&t.headers)).collect(),
            file_rows: plan.data.files.iter().map(|f| f.rows.as_deref().cloned()).collect(),
            seed_rows: plan.data.rows.as_deref().cloned(),
        }
    }

    /// Puts it back into `plan`.
    pub fn restore(self, plan: &mut Plan) {
        for (r, path) in plan.requests.iter_mut().zip(self.paths) {
            r.path = path.into();
        }
        for (r, (body, headers)) in plan.requests.iter_mut().zip(self.bodies.into_iter().zip(self.request_headers)) {
            r.body = body.map(Template::from);
            r.headers = unwire(headers);
        }
        plan.target.headers = unwire(self.target_headers);
        for (t, headers) in plan.targets.iter_mut().zip(self.named_headers) {
            t.headers = unwire(headers);
        }
        for (f, rows) in plan.data.files.iter_mut().zip(self.file_rows) {
            f.rows = rows.map(Arc::new);
        }
        plan.data.rows = self.seed_rows.map(Arc::new);
    }
}

/// The version of the order and the report. A worker and a coordinator of other versions
/// refuse each other's, so a worker deployed from an older loadgen never sends a plan it
/// would read otherwise (a segment it did not know of would be sent whole).
pub const PROTOCOL: u32 = 2;

/// What one worker is asked to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardOrder {
    /// [`PROTOCOL`] of the coordinator that sent it.
    #[serde(default)]
    pub protocol: u32,
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
    /// The stretch of the plan's time this worker sends: the whole plan but when it is longer
    /// than one invoke may run.
    #[serde(default)]
    pub segment: Segment,
}

/// A stretch of the plan's time, `[from_ms, to_ms)` from the common start: a plan longer than a
/// Lambda may run is sent in back-to-back segments, each by its own invokes, on one absolute
/// schedule — arrival by arrival the same as one host's, with no gap between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// Which segment, from 0.
    pub index: u32,
    /// Of how many.
    pub count: u32,
    /// Where it starts, ms into the plan.
    pub from_ms: u64,
    /// Where it ends, ms into the plan (`u64::MAX` for the last: the plan's end).
    pub to_ms: u64,
}

impl Default for Segment {
    fn default() -> Self {
        Segment::WHOLE
    }
}

impl Segment {
    /// The whole plan in one.
    pub const WHOLE: Segment = Segment { index: 0, count: 1, from_ms: 0, to_ms: u64::MAX };

    /// The `count` equal segments (to the ms) of a plan lasting `total`, none longer than
    /// `longest` (at least 1 s).
    pub fn cut(total: std::time::Duration, longest: std::time::Duration) -> Vec<Segment> {
        let (total_ms, longest_ms) = (total.as_millis() as u64, (longest.as_millis() as u64).max(1_000));
        let count = total_ms.div_ceil(longest_ms).max(1);
        (0..count)
            .map(|i| Segment {
                index: i as u32,
                count: count as u32,
                from_ms: total_ms * i / count,
                to_ms: if i + 1 == count { u64::MAX } else { total_ms * (i + 1) / count },
            })
            .collect()
    }

    /// Where it starts.
    pub fn from(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.from_ms)
    }

    /// Where it ends (`Duration::MAX` for the last).
    pub fn to(self) -> std::time::Duration {
        match self.to_ms {
            u64::MAX => std::time::Duration::MAX,
            ms => std::time::Duration::from_millis(ms),
        }
    }

    /// The most of `segments`' invokes alive at once, each from `lead` before its segment to
    /// `drain` after it: a segment's workers are invoked before it starts and answer after its
    /// requests drain, so neighbours overlap, and the fleet's concurrency is this many times its
    /// workers.
    pub fn overlap(
        segments: &[Segment],
        total: std::time::Duration,
        (lead, drain): (std::time::Duration, std::time::Duration),
    ) -> u32 {
        let span = |s: &Segment| (s.from().saturating_sub(lead), s.to().min(total) + drain);
        (segments.iter())
            .map(|s| {
                let at = span(s).0;
                segments.iter().filter(|o| span(o).0 <= at && at < span(o).1).count() as u32
            })
            .max()
            .unwrap_or(1)
    }

    /// How long it lasts in a plan lasting `total`.
    pub fn length(self, total: std::time::Duration) -> std::time::Duration {
        self.to().min(total).saturating_sub(self.from())
    }
}

impl ShardOrder {
    /// An order for `shard` of `plan`.
    pub fn new(plan: &Plan, shard: Shard, base_url: &str, start_unix_ms: u64) -> ShardOrder {
        let mut sent = plan.clone();
        sent.stack = Default::default();
        ShardOrder {
            protocol: PROTOCOL,
            unredacted: Unredacted::of(plan),
            plan: sent,
            shard,
            base_url: base_url.to_owned(),
            start_unix_ms,
            sent_unix_ms: 0,
            segment: Segment::WHOLE,
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
    /// [`PROTOCOL`] of the worker.
    #[serde(default)]
    pub protocol: u32,
    /// The shard it ran.
    pub shard: Shard,
    /// Of which segment.
    #[serde(default)]
    pub segment: Segment,
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

#[cfg(test)]
impl ShardReport {
    /// One worker's report of the whole plan holding `partial`, for tests.
    pub(crate) fn whole(partial: Partial, measured_s: f64) -> ShardReport {
        ShardReport {
            protocol: PROTOCOL,
            shard: Shard::WHOLE,
            segment: Segment::WHOLE,
            partial,
            measured_s,
            cpu_seconds: 1.0,
            opened_before: 0,
            opened_during: 0,
            connect_times: String::new(),
            stop: None,
            stop_is_gate: false,
            clock: WorkerClock::default(),
        }
    }
}

/// Unix ms now, by this host's clock.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Segment;

    #[test]
    fn segments_overlap_by_their_lead_and_drain() {
        let s = |secs| Duration::from_secs(secs);
        let three = Segment::cut(s(30), s(10));
        // Invoked 2 s early, drained 3 s late: only neighbours meet.
        assert_eq!(Segment::overlap(&three, s(30), (s(2), s(3))), 2);
        // Led by more than a segment: three at once.
        assert_eq!(Segment::overlap(&three, s(30), (s(12), s(3))), 3);
        assert_eq!(Segment::overlap(&Segment::cut(s(30), s(60)), s(30), (s(12), s(3))), 1);
        // 10.5 s in 10 s pieces: two of 5.25 s.
        let two = Segment::cut(Duration::from_millis(10_500), s(10));
        assert_eq!((two[0].from_ms, two[0].to_ms, two[1].from_ms), (0, 5_250, 5_250));
        assert_eq!(two[1].length(Duration::from_millis(10_500)), Duration::from_millis(5_250));
    }
}
