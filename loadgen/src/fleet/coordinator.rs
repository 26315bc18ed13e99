//! The coordinator: invokes one worker per shard through Lambda's Invoke API, all at once, and
//! merges what they report into one recorder, as if one host had sent the whole schedule. A
//! worker that fails, times out or answers with something that does not fit the plan is a lost
//! shard: it is named, and its scheduled arrivals are counted as lost — unmeasured, and whether
//! the target got some of them is not known.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

use super::{Segment, ShardOrder, ShardReport, unix_ms};
use crate::attack::StopSwitch;
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
    /// Time from the invokes to the common start (and from each later segment's invokes to its
    /// start): the workers' cold starts and connection set-up fit in it.
    pub lead: Duration,
    /// The longest segment one invoke sends: a longer plan is cut into back-to-back segments.
    pub segment: Duration,
}

/// A shard whose results are not in the run.
#[derive(Debug, Clone, PartialEq)]
pub struct LostShard {
    /// Which.
    pub shard: Shard,
    /// Of which segment.
    pub segment: Segment,
    /// Why.
    pub reason: String,
}

/// A worker's clock against the coordinator's, from the invoke's four timestamps (NTP's
/// estimate): `offset_ms` ± `uncertainty_ms`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClockOffset {
    /// Which worker.
    pub shard: Shard,
    /// Of which segment.
    pub segment: Segment,
    /// How far its clock is ahead of the coordinator's, ms.
    pub offset_ms: f64,
    /// Half the round trip not spent in the worker: the estimate's bound, ms.
    pub uncertainty_ms: f64,
}

impl ClockOffset {
    /// A worker whose clock is surely more than `tolerance_ms` off the coordinator's: its
    /// schedule started that far from the others'.
    pub fn skewed(&self, tolerance_ms: f64) -> bool {
        crate::results::fleet::surely_off(self.offset_ms, self.uncertainty_ms, tolerance_ms)
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

/// The largest order sent: a synchronous invoke's payload is at most 6 MB (6,291,456 bytes), less
/// room for the shard's own fields.
const ORDER_LIMIT: usize = 6 * 1024 * 1024 - 64 * 1024;

/// What a plan must not have to be run by a fleet, as a message; `None` when it may.
pub fn unsupported(plan: &Plan) -> Option<String> {
    if plan.target.auth.is_some() || plan.targets.iter().any(|t| t.auth.is_some()) {
        return Some("[target.auth] is not yet supported with a fleet: run it from one host".into());
    }
    // The order as a worker reads it must give back this very plan: anything else it lost would
    // be sent other than written.
    let order = ShardOrder::new(plan, Shard::WHOLE, "", 0);
    let text = serde_json::to_string(&order).unwrap_or_default();
    // An invoke's payload is 6 MB at most; data files travel in it.
    if text.len() > ORDER_LIMIT {
        return Some(format!(
            "the plan with its data files' rows takes {:.1} MB, more than the {:.1} MB a worker's invoke carries: use \
             smaller data files, or run it from one host",
            text.len() as f64 / 1e6,
            ORDER_LIMIT as f64 / 1e6
        ));
    }
    let back = serde_json::from_str::<ShardOrder>(&text).ok();
    let mut expected = plan.clone();
    expected.stack = Default::default();
    if back.map(ShardOrder::plan_as_written).as_ref() != Some(&expected) {
        return Some("the plan does not reach a worker unchanged: run it from one host".into());
    }
    None
}

/// Runs `plan` against `base` on `fleet`, invoking through `client`: each segment's workers
/// are invoked a lead before the segment starts, so segments run back to back on one absolute
/// schedule (a segment's workers drain while the next one's send: for a moment both hold
/// concurrency).
///
/// A stop — `stop` thrown (Ctrl-C), or a worker that stopped its shard (an `abort_on_fail`
/// threshold, a dead target) — invokes no later segment, as one host would send nothing more.
/// On `stop` the answers already in are kept and the invokes still running are lost shards: a
/// Lambda invoke cannot be called back, so they send on, unmeasured.
pub async fn run(
    plan: &Arc<Plan>,
    base: &str,
    (client, stop): (&aws_sdk_lambda::Client, &StopSwitch),
    fleet: &Fleet,
) -> FleetRun {
    let start_unix_ms = unix_ms() + fleet.lead.as_millis() as u64;
    let segments = Segment::cut(plan.duration(), fleet.segment);
    let longest = plan.longest_timeout();
    let halted = &AtomicBool::new(false);
    // The invokes under way: on a stop, these are the lost ones.
    let running = &Mutex::new(BTreeSet::new());
    let invokes = segments.iter().flat_map(|&segment| {
        // Each worker's deadline: the lead, its segment, the drain and the answer's way back.
        let deadline = fleet.lead + segment.length(plan.duration()) + longest + Duration::from_secs(30);
        let invoke_at = (start_unix_ms + segment.from_ms).saturating_sub(fleet.lead.as_millis() as u64);
        (0..fleet.workers).map(move |i| {
            let shard = Shard::new(i, fleet.workers).expect("index below count");
            let mut order = ShardOrder::new(plan, shard, base, start_unix_ms);
            order.segment = segment;
            async move {
                tokio::time::sleep(Duration::from_millis(invoke_at.saturating_sub(unix_ms()))).await;
                if halted.load(Ordering::SeqCst) {
                    return ((shard, segment), None);
                }
                let key = (segment.index, i);
                running.lock().unwrap_or_else(|e| e.into_inner()).insert(key);
                let answer = tokio::time::timeout(deadline, invoke(client, &fleet.function, order)).await;
                let answer = answer.unwrap_or_else(|_| Err(Lost(format!("no answer within {} s", deadline.as_secs()))));
                running.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
                ((shard, segment), Some(answer))
            }
        })
    });
    let mut pending: FuturesUnordered<_> = invokes.collect();
    let mut answers = Vec::new();
    loop {
        tokio::select! {
            next = pending.next() => match next {
                Some((key, Some(answer))) => {
                    if matches!(&answer, Ok((report, ..)) if report.stop.is_some()) {
                        halted.store(true, Ordering::SeqCst);
                    }
                    answers.push((key, answer));
                }
                // A segment after a stop: never invoked, nothing of it is owed.
                Some((_, None)) => {}
                None => break,
            },
            _ = stop.stopped() => {
                halted.store(true, Ordering::SeqCst);
                // Those not yet invoked never will be; those under way are lost.
                let lost = "stopped before it answered: a Lambda invoke cannot be called back, so it sent on, unmeasured";
                let under_way = std::mem::take(&mut *running.lock().unwrap_or_else(|e| e.into_inner()));
                for (s, i) in under_way {
                    let shard = Shard::new(i, fleet.workers).expect("index below count");
                    answers.push(((shard, segments[s as usize]), Err(Lost(lost.into()))));
                }
                break;
            }
        }
    }
    // Off the runtime: counting a lost shard's arrivals walks the whole schedule.
    let (plan, workers) = (plan.clone(), fleet.workers);
    match tokio::task::spawn_blocking(move || merge(&plan, (workers, &segments), answers)).await {
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
        .map_err(|e| Lost(format!("the invoke failed: {}", invoke_error(&e))))?;
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

/// An invoke's error in a line: Lambda's own code and message when it answered (a throttle,
/// a missing function), the transport's story otherwise.
fn invoke_error<R>(e: &aws_sdk_lambda::error::SdkError<aws_sdk_lambda::operation::invoke::InvokeError, R>) -> String
where
    R: std::fmt::Debug,
{
    use aws_sdk_lambda::error::ProvideErrorMetadata;
    match e.as_service_error() {
        Some(s) => format!("{}: {}", s.code().unwrap_or("error"), s.message().unwrap_or("no message")),
        None => aws_sdk_lambda::error::DisplayErrorContext(e).to_string().chars().take(300).collect(),
    }
}

/// Merges the answers; what is missing is a lost shard with its arrivals counted as lost.
fn merge(plan: &Plan, (workers, segments): (u32, &[Segment]), answers: Vec<((Shard, Segment), Answer)>) -> FleetRun {
    let mut recorder = Recorder::new(plan.requests.len(), plan.phases.len());
    recorder.flows = vec![crate::record::flows::FlowSum::default(); plan.flows.len()];
    let connects = Connects::default();
    let secrets = plan.secrets();
    let mut run = FleetRun {
        recorder,
        measured: Duration::ZERO,
        cpu_seconds: 0.0,
        connections: ConnectionStats::default(),
        stop: None,
        lost: Vec::new(),
        clocks: Vec::new(),
    };
    for ((shard, segment), answer) in answers {
        let merged = answer.and_then(|(report, sent, received)| {
            if report.protocol != super::PROTOCOL {
                return Err(Lost(format!(
                    "the worker speaks fleet protocol {} and this loadgen {}: redeploy it from this loadgen \
                     (scripts/build-lambda.sh, then terraform apply in infra/fleet/)",
                    report.protocol,
                    super::PROTOCOL
                )));
            }
            if report.shard != shard || report.segment != segment {
                return Err(Lost(format!(
                    "the worker ran shard {} of {} (segment {} of {})",
                    report.shard.index, report.shard.count, report.segment.index, report.segment.count
                )));
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
                run.clocks.push(offset((shard, segment), &report, sent, received));
                if run.stop.is_none() {
                    let gate = report.stop_is_gate;
                    run.stop = report.stop.map(|reason| Stop::Worker { index: shard.index, reason, gate });
                }
            }
            Err(reason) => {
                // A worker's error may quote what it was sent: the plan's secrets stay hidden.
                let reason =
                    secrets.iter().fold(reason.0, |r, s| r.replace(s.as_str(), crate::record::checks::REDACTED));
                run.lost.push(LostShard { shard, segment, reason })
            }
        }
    }
    if !run.lost.is_empty() {
        let lost: Vec<(u32, u32)> = run.lost.iter().map(|l| (l.shard.index, l.segment.index)).collect();
        run.recorder.lost = lost_arrivals(plan, (workers, segments), &lost);
    }
    if run.measured.is_zero() {
        run.measured = plan.duration();
    }
    run.recorder.close_seconds_before(usize::MAX);
    run.connections = connects.stats();
    run
}

/// The scheduled arrivals of the `lost` (shard, segment) pairs, per phase, in one walk of each
/// phase's schedule (a closed phase has none: its lost users are simply missing).
fn lost_arrivals(plan: &Plan, (workers, segments): (u32, &[Segment]), lost: &[(u32, u32)]) -> Vec<u64> {
    let mut is_lost = vec![vec![false; segments.len()]; workers as usize];
    for &(i, s) in lost {
        if let Some(x) = is_lost.get_mut(i as usize).and_then(|v| v.get_mut(s as usize)) {
            *x = true;
        }
    }
    // The segment an arrival at plan time `t` is sent in.
    let segment_of = |t: Duration| segments.iter().position(|s| t < s.to()).unwrap_or(segments.len() - 1);
    let mut phase_start = Duration::ZERO;
    (plan.phases.iter().enumerate())
        .map(|(i, phase)| {
            let from = phase_start;
            phase_start += phase.duration;
            match Pacer::new(&phase.load, phase.duration, phase.arrivals, phase_seed(plan.seed, i)) {
                Some(mut p) => std::iter::from_fn(|| p.next_arrival())
                    .filter(|(k, t)| is_lost[(k % u64::from(workers)) as usize][segment_of(from + *t)])
                    .count() as u64,
                None => 0,
            }
        })
        .collect()
}

fn offset((shard, segment): (Shard, Segment), r: &ShardReport, sent: u64, received: u64) -> ClockOffset {
    let (t0, t1, t2, t3) =
        (sent as f64, r.clock.received_unix_ms as f64, r.clock.answered_unix_ms as f64, received as f64);
    ClockOffset {
        shard,
        segment,
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
        // A value from the environment travels resolved, and stays a secret on the worker.
        let from_env = plan("headers = { authorization = \"Bearer ${TOKEN}\" }\n");
        assert_eq!(unsupported(&from_env), None);
        let back: ShardOrder =
            serde_json::from_str(&serde_json::to_string(&ShardOrder::new(&from_env, Shard::WHOLE, "", 0)).unwrap())
                .unwrap();
        let written = back.plan_as_written();
        assert_eq!(written.requests[0].headers, from_env.requests[0].headers);
        assert_eq!(written.secrets(), from_env.secrets());
        assert!(written.secrets().iter().any(|s| s == "s3cr3t"), "{:?}", written.secrets());
    }

    #[test]
    fn a_lost_invoke_loses_its_shards_arrivals_in_its_segment_only() {
        // 3 s at 10/s, evenly: arrivals every 100 ms; 2 workers, three 1 s segments.
        let text = "name = \"l\"\n[[phase]]\nname = \"a\"\nduration = \"2s\"\nrate = 10\n[[phase]]\nname = \"b\"\n\
                    duration = \"1s\"\nrate = 10\n[[request]]\nname = \"r\"\npath = \"/\"\n";
        let p = Plan::from_str(std::path::Path::new("l.toml"), text, &|_| None).unwrap();
        let segments = Segment::cut(p.duration(), Duration::from_secs(1));
        assert_eq!(segments.len(), 3);
        // Worker 1 of segment 2 (1–2 s, phase a): the odd arrivals of that second.
        assert_eq!(lost_arrivals(&p, (2, &segments), &[(1, 1)]), [5, 0]);
        // Both workers of the last segment: phase b whole.
        assert_eq!(lost_arrivals(&p, (2, &segments), &[(0, 2), (1, 2)]), [0, 10]);
    }

    #[test]
    fn a_clock_ahead_shows_as_its_offset_within_the_round_trip() {
        let report = |received, answered| ShardReport {
            clock: super::super::WorkerClock { received_unix_ms: received, answered_unix_ms: answered },
            ..ShardReport::whole(Recorder::new(0, 0).to_partial(), 0.0)
        };
        // Sent at 1000, 40 ms each way, the worker's clock 500 ms ahead, 10 s of work.
        let c = offset((Shard::WHOLE, Segment::WHOLE), &report(1_540, 11_540), 1_000, 11_080);
        assert_eq!((c.offset_ms, c.uncertainty_ms), (500.0, 40.0));
        assert!(c.skewed(100.0) && !c.skewed(470.0));
        let in_step = offset((Shard::WHOLE, Segment::WHOLE), &report(1_040, 11_040), 1_000, 11_080);
        assert!(!in_step.skewed(0.0));
    }
}
