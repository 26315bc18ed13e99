//! One flow instance: its steps sent in order, each when the one before has answered and its
//! think time has passed; what a step captures feeds the next ones' templates. A step whose
//! capture finds nothing ends the instance (counted as failed, and in that step's checks);
//! the run's end or a stop cuts it between steps.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::Engine;
use super::mix::{Exhausted, Instance, Prepared};
use super::send::Part;
use crate::record::Stop;

impl Engine {
    /// Runs flow `f` from its rendered first step, due at `due` (the arrival's intended time);
    /// the caller has counted the first step in `in_flight`. `seed` seeds the later steps'
    /// renderings.
    pub(super) async fn flow(
        &self,
        phase: usize,
        f: usize,
        first: Prepared,
        mut inst: Instance,
        due: Instant,
        seed: u64,
    ) {
        let flow = &self.plan.flows[f];
        let mut rng = fastrand::Rng::with_seed(seed);
        self.recorder.lock().unwrap_or_else(|e| e.into_inner()).flows[f].started += 1;
        let mut next = Some(first);
        let mut intended = due;
        for (k, step) in flow.steps.iter().enumerate() {
            let (p, phase) = match next.take() {
                Some(p) => (p, phase),
                None => {
                    // Counted before looking at the end, so the final drain, which looks the
                    // other way round, either waits for this step or it is never sent.
                    self.in_flight.fetch_add(1, Ordering::SeqCst);
                    if self.over() {
                        self.in_flight.fetch_sub(1, Ordering::SeqCst);
                        return;
                    }
                    match self.mix.render(step.request, &mut rng, &mut inst) {
                        Ok(p) => (p, self.phase_now.load(Ordering::Relaxed) as usize),
                        Err(Exhausted(file)) => {
                            self.in_flight.fetch_sub(1, Ordering::SeqCst);
                            self.stop.stop(Stop::DataExhausted { file });
                            return;
                        }
                    }
                }
            };
            let sent = self.send(phase, p, intended, Part::Step { first: k == 0, vars: &mut inst.vars }).await;
            if !sent.captured {
                self.recorder.lock().unwrap_or_else(|e| e.into_inner()).flows[f].failed += 1;
                return;
            }
            // The next step is due a think time after this answer; waking late shows in its
            // latency, as a late arrival's does.
            intended = sent.done + step.think;
            if k + 1 < flow.steps.len() && !step.think.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep_until(intended.into()) => {}
                    _ = self.stop.stopped() => return,
                }
            }
        }
        let took = Instant::now().saturating_duration_since(due).as_micros() as u64;
        let mut rec = self.recorder.lock().unwrap_or_else(|e| e.into_inner());
        let sum = &mut rec.flows[f];
        sum.completed += 1;
        sum.duration.saturating_record(took.max(1));
    }
}
