//! One flow instance: its steps sent in order, each when the one before has answered and its
//! think time has passed; what a step captures feeds the next ones' templates. A step that
//! gets no response, or whose capture finds nothing, ends the instance as failed (a capture
//! is counted in that step's checks too); the run's end, a stop, or a closed phase's end cuts
//! it between steps.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::Engine;
use super::mix::{Exhausted, Instance, Prepared};
use super::send::Part;
use crate::record::Stop;

/// What one instance is: its flow, where and when it started.
pub(super) struct Run {
    /// The phase its arrival fell in.
    pub phase: usize,
    /// Which flow.
    pub flow: usize,
    /// The arrival's intended time.
    pub due: Instant,
    /// The seed of its later steps' renderings.
    pub seed: u64,
    /// No step starts after this (a closed phase's end).
    pub deadline: Option<Instant>,
}

/// How an instance ended.
enum End {
    Completed,
    Failed,
    Cut,
    /// Its first step found no file descriptor: never started (the arrival is not sent).
    NotStarted,
}

impl Engine {
    /// Runs one instance from its rendered first step; the caller has counted that step in
    /// `in_flight`. False when the first step found no file descriptor (never started).
    pub(super) async fn flow(&self, run: Run, first: Prepared, mut inst: Instance) -> bool {
        self.recorder.lock().unwrap_or_else(|e| e.into_inner()).flows[run.flow].started += 1;
        // Held while a step is out and until its outcome is recorded, so the final drain,
        // which waits for `in_flight` to reach 0, never ends between a last answer and the
        // instance's outcome. Not held while thinking: the run's end cuts a thinking instance.
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let end = self.steps(&run, first, &mut inst).await;
        let started = !matches!(end, End::NotStarted);
        let mut rec = self.recorder.lock().unwrap_or_else(|e| e.into_inner());
        // After the drain the run has taken what was recorded (`Recorder::take`): an instance
        // cut when it wakes then writes into the empty one left behind.
        let sum = &mut rec.flows[run.flow];
        match end {
            End::Completed => {
                sum.completed += 1;
                let took = Instant::now().saturating_duration_since(run.due).as_micros() as u64;
                sum.duration.saturating_record(took.max(1));
            }
            End::Failed => sum.failed += 1,
            End::Cut => {}
            End::NotStarted => sum.started = sum.started.saturating_sub(1),
        }
        drop(rec);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        started
    }

    /// Sends the steps; returns holding the instance's count in `in_flight`.
    async fn steps(&self, run: &Run, first: Prepared, inst: &mut Instance) -> End {
        let flow = &self.plan.flows[run.flow];
        let mut rng = fastrand::Rng::with_seed(run.seed);
        let mut next = Some(first);
        let mut intended = run.due;
        let past_deadline = |t: Instant| run.deadline.is_some_and(|d| t >= d);
        for (k, step) in flow.steps.iter().enumerate() {
            let (p, phase) = match next.take() {
                Some(p) => (p, run.phase),
                None => {
                    // Counted before looking at the end, so the final drain, which looks the
                    // other way round, either waits for this step or it is never sent.
                    self.in_flight.fetch_add(1, Ordering::SeqCst);
                    if self.over() || past_deadline(Instant::now()) {
                        self.in_flight.fetch_sub(1, Ordering::SeqCst);
                        return End::Cut;
                    }
                    match self.mix.render(step.request, &mut rng, inst) {
                        Ok(p) => (p, self.phase_now.load(Ordering::Relaxed) as usize),
                        Err(Exhausted(file)) => {
                            self.in_flight.fetch_sub(1, Ordering::SeqCst);
                            self.stop.stop(Stop::DataExhausted { file });
                            return End::Cut;
                        }
                    }
                }
            };
            let sent = self.send(phase, p, intended, Part::Step { first: k == 0, vars: &mut inst.vars }).await;
            // No socket is the generator's failure, not the flow's: cut, never failed.
            if sent.no_socket {
                return if k == 0 { End::NotStarted } else { End::Cut };
            }
            if !sent.answered || !sent.captured {
                return End::Failed;
            }
            if k + 1 == flow.steps.len() {
                break;
            }
            // The next step is due a think time after this answer; waking late shows in its
            // latency, as a late arrival's does.
            intended = sent.done + step.think;
            if !step.think.is_zero() {
                // A closed phase's user thinks until the phase's end at most, as between
                // requests, and is cut there.
                let wake = run.deadline.map_or(intended, |d| intended.min(d));
                let holds = self.holds_while_thinking();
                if !holds {
                    self.in_flight.fetch_sub(1, Ordering::SeqCst);
                }
                let woke = tokio::select! {
                    _ = tokio::time::sleep_until(wake.into()) => true,
                    _ = self.stop.stopped() => false,
                };
                if !holds {
                    self.in_flight.fetch_add(1, Ordering::SeqCst);
                }
                if !woke || past_deadline(intended) {
                    return End::Cut;
                }
            }
        }
        End::Completed
    }
}
