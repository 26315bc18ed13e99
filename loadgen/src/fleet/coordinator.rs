//! The coordinator: invokes one worker per shard through Lambda's Invoke API, all at once, and
//! merges what they report into one recorder, as if one host had sent the whole schedule. A
//! worker that fails, times out or answers with something that does not fit the plan is a lost
//! shard: it is named, and its scheduled arrivals are counted as lost — unmeasured, and whether
//! the target got some of them is not known.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

use super::{ShardOrder, ShardReport, unix_ms};
use crate::attack::pacer::{Pacer, Shard};
use crate::attack::phase_seed;
use crate::http::connects::Connects;
use crate::record::{Recorder, Stop};
use crate::results::ConnectionStats;
use crate::scenario::Plan;

/// The fleet a run is spread over.
#[derive(Debug, Clone, PartialEq)]
pub struct Fleet {
    /// Workers (shards).
    pub workers: u32,
    /// The worker function's name (or ARN).
    pub function: String,
    /// Time from the invokes to the common start: the workers' cold starts and connection set-up
    /// fit in it.
    pub lead: Duration,
}

/// A shard whose results are not in the run.
#[derive(Debug, Clone, PartialEq)]
pub struct LostShard {
    /// Which.
    pub shard: Shard,
    /// Why.
    pub reason: String,
}

/// A worker's clock against the coordinator's, from the invoke's four timestamps (NTP's
/// estimate): `offset_ms` ± `uncertainty_ms`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClockOffset {
    /// Which worker.
    pub shard: Shard,
    /// How far its clock is ahead of the coordinator's, ms.
    pub offset_ms: f64,
    /// Half the round trip not spent in the worker: the estimate's bound, ms.
    pub uncertainty_ms: f64,
}

impl ClockOffset {
    /// A worker whose clock is surely more than `tolerance_ms` off the coordinator's: its
    /// schedule started that far from the others'.
    pub fn skewed(&self, tolerance_ms: f64) -> bool {
        self.offset_ms.abs() - self.uncertainty_ms > tolerance_ms
    }
}

/// What the fleet measured, merged.
#[derive(Debug)]
pub struct FleetRun {
    /// Every worker's recorder, merged.
    pub recorder: Recorder,
    /// The longest worker's measured time.
    pub measured: Duration,
    /// CPU time of every worker, s.
    pub cpu_seconds: f64,
    /// Connections every worker opened.
    pub connections: ConnectionStats,
    /// The first reason a worker stopped early.
    pub stop: Option<Stop>,
    /// Shards whose results are missing.
    pub lost: Vec<LostShard>,
    /// Each reporting worker's clock.
    pub clocks: Vec<ClockOffset>,
}

/// Why a worker's shard is lost, in words for the report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Lost(pub String);

/// A worker's answer: its report and the coordinator's send and receive times (Unix ms).
type Answer = Result<(ShardReport, u64, u64), Lost>;

/// What a plan must not have to be run by a fleet, as a message; `None` when it may.
pub fn unsupported(plan: &Plan) -> Option<String> {
    if plan.target.auth.is_some() || plan.targets.iter().any(|t| t.auth.is_some()) {
        return Some("[target.auth] is not yet supported with a fleet: run it from one host".into());
    }
    if !plan.data.files.is_empty() || plan.data.rows.is_some() {
        return Some("[[data.file]] rows are not yet sent to fleet workers: run it from one host".into());
    }
    let env = |t: &crate::scenario::Template| !t.env_values().is_empty();
    let headers = plan.target.headers.iter().chain(plan.targets.iter().flat_map(|t| &t.headers));
    if headers.chain(plan.requests.iter().flat_map(|r| &r.headers)).any(|(_, v)| env(v)) {
        return Some(
            "header values from the environment (${VAR}) are not yet sent to fleet workers: run it from one host"
                .into(),
        );
    }
    // The order as a worker reads it must give back this very plan: anything else it lost would
    // be sent other than written.
    let order = ShardOrder::new(plan, Shard::WHOLE, "", 0);
    let back = serde_json::to_string(&order).ok().and_then(|t| serde_json::from_str::<ShardOrder>(&t).ok());
    let mut expected = plan.clone();
    expected.stack = Default::default();
    if back.map(ShardOrder::plan_as_written).as_ref() != Some(&expected) {
        return Some("the plan does not reach a worker unchanged: run it from one host".into());
    }
    None
}

/// Runs `plan` against `base` on `fleet`, invoking through `client`.
pub async fn run(plan: &Arc<Plan>, base: &str, client: &aws_sdk_lambda::Client, fleet: &Fleet) -> FleetRun {
    let start_unix_ms = unix_ms() + fleet.lead.as_millis() as u64;
    // Each worker's deadline: the lead, the phases, the drain and the answer's way back.
    let longest = plan.longest_timeout();
    let deadline = fleet.lead + plan.duration() + longest + Duration::from_secs(30);
    let invokes = (0..fleet.workers).map(|i| {
        let shard = Shard::new(i, fleet.workers).expect("index below count");
        let order = ShardOrder::new(plan, shard, base, start_unix_ms);
        async move {
            let answer = tokio::time::timeout(deadline, invoke(client, &fleet.function, order)).await;
            let answer = answer.unwrap_or_else(|_| Err(Lost(format!("no answer within {} s", deadline.as_secs()))));
            (shard, answer)
        }
    });
    let answers = futures_util::future::join_all(invokes).await;
    // Off the runtime: counting a lost shard's arrivals walks the whole schedule.
    let (plan, workers) = (plan.clone(), fleet.workers);
    match tokio::task::spawn_blocking(move || merge(&plan, workers, answers)).await {
        Ok(run) => run,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// One worker's invoke.
async fn invoke(client: &aws_sdk_lambda::Client, function: &str, mut order: ShardOrder) -> Answer {
    order.sent_unix_ms = unix_ms();
    let sent = order.sent_unix_ms;
    let payload = serde_json::to_vec(&order).map_err(|e| Lost(format!("the order does not serialize: {e}")))?;
    let out = (client.invoke())
        .function_name(function)
        .invocation_type(InvocationType::RequestResponse)
        .payload(Blob::new(payload))
        .send()
        .await
        .map_err(|e| Lost(format!("the invoke failed: {}", aws_sdk_lambda::error::DisplayErrorContext(&e))))?;
    let received = unix_ms();
    let body = out.payload.map(Blob::into_inner).unwrap_or_default();
    if let Some(kind) = out.function_error {
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("errorMessage").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(300).collect());
        return Err(Lost(format!("the worker failed ({kind}): {message}")));
    }
    let report: ShardReport =
        serde_json::from_slice(&body).map_err(|e| Lost(format!("the worker's answer is not a shard report: {e}")))?;
    Ok((report, sent, received))
}

/// Merges the answers; what is missing is a lost shard with its arrivals counted as lost.
fn merge(plan: &Plan, workers: u32, answers: Vec<(Shard, Answer)>) -> FleetRun {
    let mut recorder = Recorder::new(plan.requests.len(), plan.phases.len());
    recorder.flows = vec![crate::record::flows::FlowSum::default(); plan.flows.len()];
    let connects = Connects::default();
    let mut run = FleetRun {
        recorder,
        measured: Duration::ZERO,
        cpu_seconds: 0.0,
        connections: ConnectionStats::default(),
        stop: None,
        lost: Vec::new(),
        clocks: Vec::new(),
    };
    for (shard, answer) in answers {
        let merged = answer.and_then(|(report, sent, received)| {
            if report.shard != shard {
                return Err(Lost(format!("the worker ran shard {} of {}", report.shard.index, report.shard.count)));
            }
            run.recorder.absorb(&report.partial).map_err(|e| Lost(e.to_string()))?;
            // Connect times are the generator's health, not the target's results: ones that do
            // not decode leave the shard in and its connections out.
            let _ = connects.absorb(report.opened_before, report.opened_during, &report.connect_times);
            Ok((report, sent, received))
        });
        match merged {
            Ok((report, sent, received)) => {
                run.measured = run.measured.max(Duration::from_secs_f64(report.measured_s.clamp(0.0, 1e9)));
                run.cpu_seconds += report.cpu_seconds;
                run.clocks.push(offset(shard, &report, sent, received));
                if run.stop.is_none() {
                    let gate = report.stop_is_gate;
                    run.stop = report.stop.map(|reason| Stop::Worker { index: shard.index, reason, gate });
                }
            }
            Err(reason) => run.lost.push(LostShard { shard, reason: reason.0 }),
        }
    }
    let lost: Vec<u32> = run.lost.iter().map(|l| l.shard.index).collect();
    if !lost.is_empty() {
        run.recorder.lost = lost_arrivals(plan, workers, &lost);
    }
    if run.measured.is_zero() {
        run.measured = plan.duration();
    }
    run.recorder.close_seconds_before(usize::MAX);
    run.connections = connects.stats();
    run
}

/// The scheduled arrivals of the `lost` shards (of `workers`), per phase, in one walk of each
/// phase's schedule (a closed phase has none: its lost users are simply missing).
fn lost_arrivals(plan: &Plan, workers: u32, lost: &[u32]) -> Vec<u64> {
    let mut is_lost = vec![false; workers as usize];
    for i in lost {
        if let Some(x) = is_lost.get_mut(*i as usize) {
            *x = true;
        }
    }
    (plan.phases.iter().enumerate())
        .map(|(i, phase)| match Pacer::new(&phase.load, phase.duration, phase.arrivals, phase_seed(plan.seed, i)) {
            Some(mut p) => std::iter::from_fn(|| p.next_arrival())
                .filter(|(k, _)| is_lost[(k % u64::from(workers)) as usize])
                .count() as u64,
            None => 0,
        })
        .collect()
}

fn offset(shard: Shard, r: &ShardReport, sent: u64, received: u64) -> ClockOffset {
    let (t0, t1, t2, t3) =
        (sent as f64, r.clock.received_unix_ms as f64, r.clock.answered_unix_ms as f64, received as f64);
    ClockOffset {
        shard,
        offset_ms: ((t1 - t0) + (t2 - t3)) / 2.0,
        uncertainty_ms: (((t3 - t0) - (t2 - t1)) / 2.0).max(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(extra: &str) -> Plan {
        let text = format!(
            "name = \"f\"\n[[phase]]\nname = \"p\"\nduration = \"1s\"\nrate = 1\n[[request]]\nname = \"r\"\n\
             method = \"POST\"\npath = \"/items\"\nbody = '{{{{\"id\":\"{{new_id}}\"}}}}'\n{extra}"
        );
        Plan::from_str(std::path::Path::new("f.toml"), &text, &|k| (k == "TOKEN").then(|| "s3cr3t".to_owned())).unwrap()
    }

    #[test]
    fn bodies_and_headers_reach_a_worker_as_written_and_what_cannot_is_refused() {
        let p = plan("headers = { x-api-key = \"literal-key\" }\n");
        assert_eq!(unsupported(&p), None);
        let back: ShardOrder =
            serde_json::from_str(&serde_json::to_string(&ShardOrder::new(&p, Shard::WHOLE, "", 0)).unwrap()).unwrap();
        let written = back.plan_as_written();
        assert!(written.requests[0].body.is_some(), "the body travels");
        assert_eq!(written.requests[0].body, p.requests[0].body, "as written");
        assert_eq!(written.requests[0].headers, p.requests[0].headers, "the header's value, not <redacted>");
        let from_env = plan("headers = { authorization = \"Bearer ${TOKEN}\" }\n");
        assert!(unsupported(&from_env).is_some_and(|m| m.contains("${VAR}")), "{:?}", unsupported(&from_env));
    }

    #[test]
    fn a_clock_ahead_shows_as_its_offset_within_the_round_trip() {
        let report = |received, answered| ShardReport {
            shard: Shard::WHOLE,
            partial: Recorder::new(0, 0).to_partial(),
            measured_s: 0.0,
            cpu_seconds: 0.0,
            opened_before: 0,
            opened_during: 0,
            connect_times: String::new(),
            stop: None,
            stop_is_gate: false,
            clock: super::super::WorkerClock { received_unix_ms: received, answered_unix_ms: answered },
        };
        // Sent at 1000, 40 ms each way, the worker's clock 500 ms ahead, 10 s of work.
        let c = offset(Shard::WHOLE, &report(1_540, 11_540), 1_000, 11_080);
        assert_eq!((c.offset_ms, c.uncertainty_ms), (500.0, 40.0));
        assert!(c.skewed(100.0) && !c.skewed(470.0));
        let in_step = offset(Shard::WHOLE, &report(1_040, 11_040), 1_000, 11_080);
        assert!(!in_step.skewed(0.0));
    }
}
