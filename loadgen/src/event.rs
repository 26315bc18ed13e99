//! What the stages tell the person running them, as data. Code below `cmd/` reports through a
//! [`Sink`] and never prints; `cmd/` decides what reaches the terminal and how (`--quiet` drops
//! [`Level::Info`] events, never a warning).

use std::time::Duration;

/// How much an event matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Progress: shown unless `--quiet`.
    Info,
    /// Something the results will lack or estimate: always shown.
    Warning,
}

/// The worst case of a run against a real stack, shown before any request is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct WorstCase {
    /// Requests the plan may send at most (seeding included).
    pub requests: f64,
    /// Every request billed for API Gateway, a Lambda request, the whole function timeout and a
    /// read and a write unit, USD.
    pub per_request_usd: f64,
    /// `requests × per_request_usd`, plus `fleet_usd`.
    pub total_usd: f64,
    /// What the fleet the load is sent from costs itself (`--fleet`; 0 without one).
    pub fleet_usd: f64,
    /// Function memory priced, MB.
    pub memory_mb: u32,
    /// Function timeout priced, s.
    pub timeout_s: f64,
    /// The timeout is assumed (no `--infra` outputs to read it from).
    pub timeout_assumed: bool,
    /// `--max-cost-usd`.
    pub limit_usd: f64,
}

/// A view of the run in progress, five times a second.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    /// The phase running now.
    pub phase: String,
    /// Its place among the phases, from 0.
    pub phase_index: usize,
    /// How many phases the plan has.
    pub phases: usize,
    /// Time since the measured phases began.
    pub elapsed: Duration,
    /// Planned duration of all phases.
    pub planned: Duration,
    /// The phase the last whole second belongs to: the one its figures are of.
    pub window_phase: String,
    /// The last whole second: sent, completed by class, the ok responses' p50/p99, cold starts.
    pub window: crate::record::Second,
    /// Arrivals the schedule meant to send in that same second (`None`: a closed model).
    pub window_scheduled: Option<f64>,
    /// Requests in flight now.
    pub in_flight: u64,
    /// Completed so far, by class.
    pub totals: crate::record::ClassCounts,
    /// Arrivals sent so far.
    pub sent: u64,
    /// Cold starts so far.
    pub cold_starts: u64,
    /// Ok and refused (throttled by any layer) responses per second over the last seconds,
    /// oldest first: the sparkline.
    pub recent: Vec<(u64, u64)>,
}

/// Something a stage wants the user to know.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A workspace binary the local stack runs (target-api, the fleet worker) is missing and
    /// cargo is building it (first run only).
    BuildingBinary(&'static str),
    /// Seeding `[data]` before the measured phases.
    Seeding {
        /// Items to write.
        items: u64,
        /// Approximate size of each, bytes (generated items).
        item_size: usize,
        /// Items per second.
        rate: f64,
        /// Where to: `table orders (BatchWriteItem)`, `POST /items`.
        into: String,
    },
    /// `[data]` not written into a URL target: `--seed-data` was not given.
    NotSeeded {
        /// Items the scenario would have written.
        items: u64,
        /// The target.
        url: String,
    },
    /// Something about how the local stack runs the described stack: a route left out, an
    /// authorizer not checked, a resource not emulated, a Python runtime on another version.
    StackNote {
        /// One line.
        note: String,
    },
    /// How the local stack gives each environment its CPU share.
    CpuModel {
        /// One line: the share and how it is enforced.
        description: String,
        /// Measured and held for rather than enforced by the kernel.
        approximated: bool,
    },
    /// The run's worst-case cost against a real stack.
    WorstCase(WorstCase),
    /// Waiting for the next whole minute so CloudWatch separates seeding from the run.
    AligningToMinute {
        /// How long.
        wait: Duration,
    },
    /// CloudWatch has not published every data point yet; polling again.
    CloudWatchLate {
        /// Requests CloudWatch has counted so far.
        seen: f64,
        /// Requests the client completed.
        expected: f64,
        /// Time spent waiting so far.
        waited: Duration,
        /// The most loadgen waits.
        max_wait: Duration,
    },
    /// The CloudWatch pull failed; the cost comes from what the client saw.
    CloudWatchFailed {
        /// Why.
        reason: String,
    },
    /// The deployed function's log could not be read: the run has no calibration.
    LogsFailed {
        /// Why.
        reason: String,
    },
    /// The run could not be priced.
    NoCost {
        /// Why.
        reason: String,
    },
    /// How requests are authorized, or a token or credentials that could not be fetched again
    /// (the last good one is kept).
    Auth {
        /// One line, with no secret in it.
        note: String,
        /// A refresh failed.
        failed: bool,
    },
    /// The report directory could not be written at the end (removed and replaced, or its
    /// permissions taken away during the run): the outputs went to a fresh one instead.
    OutputMoved {
        /// The directory asked for.
        wanted: std::path::PathBuf,
        /// Why it could not be written.
        reason: String,
        /// Where the outputs are.
        written: std::path::PathBuf,
    },
    /// The open-file limit, even raised to the hard one, is below what the plan may hold
    /// open: requests beyond it are not sent (the generator is then saturated).
    FileLimit {
        /// The limit in force.
        limit: u64,
        /// What the plan may need: its most requests in flight and the process's own files.
        wanted: u64,
    },
    /// `--metrics-addr`: the live metrics are served at this URL.
    MetricsServed {
        /// `http://ADDR/metrics`.
        url: String,
    },
    /// The run in progress (boxed: a snapshot carries the sparkline's seconds).
    Tick(Box<Snapshot>),
    /// About the fleet the load is sent from: its plan before the run, a worker's clock or a
    /// lost shard after it.
    Fleet {
        /// One line.
        note: String,
        /// Something went wrong (a lost shard, a skewed clock).
        warning: bool,
    },
}

impl Event {
    /// How much it matters.
    pub fn level(&self) -> Level {
        match self {
            Event::CloudWatchFailed { .. }
            | Event::LogsFailed { .. }
            | Event::NoCost { .. }
            | Event::NotSeeded { .. }
            | Event::OutputMoved { .. }
            | Event::FileLimit { .. }
            | Event::Auth { failed: true, .. } => Level::Warning,
            Event::CpuModel { approximated: true, .. } | Event::Fleet { warning: true, .. } => Level::Warning,
            _ => Level::Info,
        }
    }
}

/// Where events go.
pub trait Sink: Send + Sync {
    /// Takes one event.
    fn event(&self, event: Event);
}

/// A sink that drops everything (library callers and benchmarks that want no output).
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Sink for Silent {
    fn event(&self, _: Event) {}
}
