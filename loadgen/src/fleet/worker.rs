//! A fleet worker's run of one shard: wait for the common start, send the shard's arrivals
//! with the same engine a single host uses, and hand back what was recorded.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{ShardOrder, ShardReport, WorkerClock, unix_ms};
use crate::attack::Engine;
use crate::attack::monitor::{self, AbortCheck};
use crate::event::Silent;
use crate::record::{Recorder, cpu};
use crate::{gates, http};

/// How late an order may arrive and still be run: later, the shard's first arrivals would go
/// out in a burst, which is not the schedule.
pub const LATE_START: Duration = Duration::from_secs(1);

/// The most requests a worker holds in flight: a Lambda has 1,024 file descriptors, one per
/// connection, and the runtime keeps a few of its own. A plan's `max_in_flight` above it is
/// lowered to it on each worker; a schedule that needs more shows as late sends (saturated).
pub const MAX_IN_FLIGHT: usize = 1_000;

/// The largest answer a synchronous invoke may return: 6 MB (6,291,456 bytes), Lambda's limit.
pub const RESPONSE_LIMIT: usize = 6 * 1024 * 1024;

/// The environment variable that sets a worker's clock off by this many ms (negative: behind):
/// a fault to inject, to see what a fleet with a skewed worker reports. Nothing else reads it.
pub const CLOCK_SKEW_VAR: &str = "LOADGEN_WORKER_CLOCK_SKEW_MS";

/// The worker's clock, Unix ms: the host's, set off by [`CLOCK_SKEW_VAR`] when it is given.
fn clock_ms() -> u64 {
    static SKEW: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let skew = *SKEW.get_or_init(|| std::env::var(CLOCK_SKEW_VAR).ok().and_then(|v| v.parse().ok()).unwrap_or(0));
    unix_ms().saturating_add_signed(skew)
}

/// Why a worker did not run its shard, or cannot hand back what it measured.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    /// The report does not fit in an invoke's answer.
    #[error(
        "the shard's results take {bytes} bytes, more than Lambda's {RESPONSE_LIMIT}-byte response limit: \
         use more workers or fewer request kinds × phases"
    )]
    TooLarge {
        /// The report's size.
        bytes: usize,
    },
    /// The order came after the start.
    #[error("the order arrived {late_ms} ms after the start (more than {} ms): the shard was not run", LATE_START.as_millis())]
    Late {
        /// By how much, ms.
        late_ms: u64,
    },
    /// The order asks for what a worker cannot do.
    #[error("the order cannot be run: {0}")]
    Refused(String),
    /// The HTTP client could not be built.
    #[error("no HTTP client: {0}")]
    Client(std::io::Error),
}

/// The report as the invoke's answer, or why it cannot be one: a report larger than Lambda
/// allows is said so, never cut.
pub fn answer(report: &ShardReport) -> Result<Vec<u8>, ShardError> {
    let bytes =
        serde_json::to_vec(report).map_err(|e| ShardError::Refused(format!("the report does not serialize: {e}")))?;
    if bytes.len() > RESPONSE_LIMIT {
        return Err(ShardError::TooLarge { bytes: bytes.len() });
    }
    Ok(bytes)
}

/// Runs `order`'s shard and reports it.
pub async fn run_shard(order: ShardOrder) -> Result<ShardReport, ShardError> {
    let received_unix_ms = clock_ms();
    let shard = crate::attack::pacer::Shard::new(order.shard.index, order.shard.count).ok_or_else(|| {
        ShardError::Refused(format!("shard {} of {} is no shard", order.shard.index, order.shard.count))
    })?;
    if order.protocol != super::PROTOCOL {
        return Err(ShardError::Refused(format!(
            "this worker speaks fleet protocol {} and the coordinator {}: deploy the worker built from the same loadgen",
            super::PROTOCOL,
            order.protocol
        )));
    }
    let segment = order.segment;
    if segment.from_ms >= segment.to_ms || segment.index >= segment.count {
        return Err(ShardError::Refused(format!("segment {segment:?} is no segment")));
    }
    // This worker's schedule starts where its segment does.
    let (base_url, start_unix_ms) = (order.base_url.clone(), order.start_unix_ms.saturating_add(segment.from_ms));
    let mut plan = order.plan_as_written();
    plan.target.max_in_flight = plan.target.max_in_flight.min(MAX_IN_FLIGHT);
    let plan = Arc::new(plan);
    if plan.target.auth.is_some() || plan.targets.iter().any(|t| t.auth.is_some()) {
        return Err(ShardError::Refused("a fleet does not yet authorize requests ([target.auth])".into()));
    }
    let client = http::client::build(plan.target.max_in_flight, plan.target.http2).map_err(ShardError::Client)?;
    let switch = crate::attack::switch::StopSwitch::new();
    let engine = Engine::new(plan.clone(), &base_url, client, switch.clone())
        .with_shard(shard)
        .with_window(segment.from(), segment.to());
    engine.recorder.lock().unwrap_or_else(|e| e.into_inner()).keep_seconds = true;
    // Connections first, as a single host opens them; then, in a later segment, the schedule
    // advanced to it (in the lead: a worker that cannot finish that by its start is late);
    // then the common start.
    let mut engine = engine.open_connections().await;
    engine.prepare_window();
    let now = clock_ms();
    if now > start_unix_ms + LATE_START.as_millis() as u64 {
        return Err(ShardError::Late { late_ms: now - start_unix_ms });
    }
    // The schedule is anchored to the common start, not to whenever this worker got there: a
    // worker up to LATE_START late sends its overdue arrivals at once, and they count as late
    // sends (lag) as on one host.
    let (ahead, behind) = (start_unix_ms.saturating_sub(now), now.saturating_sub(start_unix_ms));
    let at = Instant::now() + Duration::from_millis(ahead);
    engine.start = at.checked_sub(Duration::from_millis(behind)).unwrap_or(at);
    tokio::time::sleep_until(engine.start.into()).await;
    let engine = Arc::new(engine);
    let cpu_before = cpu::seconds();
    let gate_plan = plan.clone();
    // Rates over this worker's own window, not the plan's time so far.
    let from_s = segment.from().as_secs_f64();
    let abort: AbortCheck =
        Box::new(move |rec: &Recorder, secs| gates::abort_check(&gate_plan, rec, (secs - from_s).max(0.001)));
    let watcher = tokio::spawn(monitor::watch(engine.clone(), Arc::new(Silent), abort, None));
    engine.run().await;
    watcher.abort();
    let _ = watcher.await;
    switch.finish();
    let partial = engine.recorder.lock().unwrap_or_else(|e| e.into_inner()).to_partial();
    let (opened_before, opened_during, connect_times) = engine.connects.export();
    Ok(ShardReport {
        protocol: super::PROTOCOL,
        shard,
        segment,
        partial,
        measured_s: engine.measured().as_secs_f64(),
        cpu_seconds: cpu::seconds() - cpu_before,
        opened_before,
        opened_during,
        connect_times,
        stop: switch.reason().map(|r| r.to_string()),
        stop_is_gate: switch.reason().is_some_and(|r| r.is_gate()),
        clock: WorkerClock { received_unix_ms, answered_unix_ms: clock_ms() },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::recorder::{Diag, Sample};
    use crate::record::{Class, Recorder};

    /// A report of `kinds` request kinds, each answered ok and throttled in every one of
    /// `phases` phases with latencies spread over four decades, and every second of a
    /// 14-minute shard with its histograms.
    fn report(kinds: usize, phases: usize, per_cell: u64) -> ShardReport {
        let mut rec = Recorder::new(kinds, phases);
        rec.keep_seconds = true;
        let mut rng = fastrand::Rng::with_seed(5);
        for r in 0..kinds {
            for p in 0..phases {
                for (i, class) in (0..per_cell).flat_map(|i| [(i, Class::Ok), (i, Class::LambdaThrottled)]) {
                    // Log-uniform from 100 µs to 1 s: the spread of a real cell, and more.
                    let latency_us = (100.0 * 10f64.powf(rng.f64() * 4.0)) as u64;
                    let second = ((r * phases + p) as u64 * per_cell + i) as usize % 840;
                    rec.sent(p, second, rng.u64(1..3_000));
                    rec.record(&Sample {
                        request: r,
                        phase: p,
                        class,
                        latency_us,
                        service_us: latency_us / 2 + 1,
                        cold: i == 0,
                        billed_ms: Some(latency_us as f64 / 1000.0),
                        diag: Some(Diag { ddb_calls: 1.0, rcu: 0.5, wcu: 0.0, handler_us: 300.0 }),
                        second,
                        heuristic_mismatch: false,
                        gateway_denied: false,
                    });
                }
            }
            rec.close_seconds_before(840);
        }
        ShardReport::whole(rec.to_partial(), 840.0)
    }

    #[test]
    fn results_that_fit_an_invoke_answer_are_answered_and_larger_ones_are_refused() {
        // 50 kinds, each with 100 ok and 100 throttled answers spread over four decades in each
        // of three phases (300 populated cells), and 14 minutes of per-second histograms.
        let bytes = answer(&report(50, 3, 100)).expect("fits").len();
        eprintln!(
            "50 kinds x 3 phases: {bytes} bytes ({:.0}% of the limit)",
            100.0 * bytes as f64 / RESPONSE_LIMIT as f64
        );
        assert!(bytes < RESPONSE_LIMIT, "{bytes}");
        // 1,000 kinds (the validator's most) in one phase: past the limit, which the worker
        // says rather than cuts.
        match answer(&report(1_000, 1, 100)) {
            Err(ShardError::TooLarge { bytes }) => {
                eprintln!("1,000 kinds x 1 phase: {bytes} bytes");
                assert!(bytes > RESPONSE_LIMIT)
            }
            other => panic!("{:?}", other.map(|b| b.len())),
        }
    }
}
