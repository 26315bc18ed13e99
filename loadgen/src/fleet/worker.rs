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

/// Why a worker did not run its shard.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
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

/// Runs `order`'s shard and reports it.
pub async fn run_shard(order: ShardOrder) -> Result<ShardReport, ShardError> {
    let received_unix_ms = unix_ms();
    let plan = Arc::new(order.plan);
    if plan.target.auth.is_some() || plan.targets.iter().any(|t| t.auth.is_some()) {
        return Err(ShardError::Refused("a fleet does not yet authorize requests ([target.auth])".into()));
    }
    let client =
        http::client::build(plan.target.max_in_flight.min(4096), plan.target.http2).map_err(ShardError::Client)?;
    let switch = crate::attack::switch::StopSwitch::new();
    let engine = Engine::new(plan.clone(), &order.base_url, client, switch.clone()).with_shard(order.shard);
    engine.recorder.lock().unwrap_or_else(|e| e.into_inner()).keep_seconds = true;
    // Connections first, as a single host opens them, then the common start.
    let mut engine = engine.open_connections().await;
    let now = unix_ms();
    if now > order.start_unix_ms + LATE_START.as_millis() as u64 {
        return Err(ShardError::Late { late_ms: now - order.start_unix_ms });
    }
    let wait = Duration::from_millis(order.start_unix_ms.saturating_sub(now));
    tokio::time::sleep(wait).await;
    engine.start = Instant::now();
    let engine = Arc::new(engine);
    let cpu_before = cpu::seconds();
    let gate_plan = plan.clone();
    let abort: AbortCheck = Box::new(move |rec: &Recorder, secs| gates::abort_check(&gate_plan, rec, secs));
    let watcher = tokio::spawn(monitor::watch(engine.clone(), Arc::new(Silent), abort, None));
    engine.run().await;
    watcher.abort();
    let _ = watcher.await;
    switch.finish();
    let partial = engine.recorder.lock().unwrap_or_else(|e| e.into_inner()).to_partial();
    let (opened_before, opened_during, connect_times) = engine.connects.export();
    Ok(ShardReport {
        shard: order.shard,
        partial,
        measured_s: engine.measured().as_secs_f64(),
        cpu_seconds: cpu::seconds() - cpu_before,
        opened_before,
        opened_during,
        connect_times,
        stop: switch.reason().map(|r| r.to_string()),
        stop_is_gate: switch.reason().is_some_and(|r| r.is_gate()),
        clock: WorkerClock { received_unix_ms, answered_unix_ms: unix_ms() },
    })
}
