//! The run's watcher, once a fifth of a second: closes finished seconds of the series, notes
//! the requests in flight, stops the run on a dead target or a failing `abort_on_fail`
//! threshold, and hands a [`Snapshot`] to the event sink for the progress line.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::Engine;
use crate::event::{Event, Sink, Snapshot};
use crate::live_metrics::LiveMetrics;
use crate::record::{Class, Recorder, Second, Stop};
use crate::scenario::Plan;

/// Seconds in a row in which no request got an answer (every one failed to connect or timed
/// out) before the target counts as dead: one that accepts connections and never answers is
/// as dead as one that refuses them, and its run must not end as a pass.
const DEAD_SECONDS: u32 = 5;

/// How often the monitor looks.
const PERIOD: Duration = Duration::from_millis(200);

/// Decides, from what was recorded so far and the seconds elapsed, whether a gate stops the run.
pub type AbortCheck = Box<dyn Fn(&Recorder, f64) -> Option<Stop> + Send + Sync>;

/// Counts the closed seconds in a row in which no completed request got an answer.
#[derive(Debug, Default)]
struct DeadTarget {
    seconds: u32,
    checked_to: usize,
}

impl DeadTarget {
    /// Looks at the seconds closed since the last call; true once the target counts as dead.
    fn update(&mut self, series: &[Second], now: usize) -> bool {
        for t in self.checked_to..now {
            if let Some(s) = series.get(t) {
                let done = s.completed.total();
                let unanswered = s.completed[Class::TransportError] + s.completed[Class::Timeout];
                if done > 0 && unanswered == done {
                    self.seconds += 1;
                } else if done > 0 {
                    self.seconds = 0;
                }
            }
        }
        self.checked_to = self.checked_to.max(now);
        self.seconds >= DEAD_SECONDS
    }
}

/// Seconds of history the live view's sparkline shows.
const RECENT: usize = 40;

/// What the live view shows `now_s` seconds in: the last whole second's figures beside what the
/// schedule meant to send in that same second, so a phase change or a ramp's step never sets
/// one second's sends against another's rate.
pub fn snapshot(
    plan: &Plan,
    rec: &Recorder,
    now_s: usize,
    (elapsed, planned, in_flight): (Duration, Duration, u64),
) -> Snapshot {
    let phase_of = |t: f64| plan.phase_at(t).map(|(i, p)| (i, p.name.clone())).unwrap_or_default();
    let (phase_index, phase) = phase_of(elapsed.as_secs_f64());
    let window_t = now_s.checked_sub(1);
    let window = window_t.and_then(|t| rec.series.get(t)).cloned().unwrap_or_default();
    let window_scheduled = window_t.and_then(|t| plan.scheduled_between(t as f64, t as f64 + 1.0));
    let from = now_s.saturating_sub(RECENT);
    let recent = (from..now_s)
        .map(|t| rec.series.get(t).map_or((0, 0), |s| (s.completed[Class::Ok], s.completed.throttles())))
        .collect();
    Snapshot {
        phase,
        phase_index,
        phases: plan.phases.len(),
        elapsed,
        planned,
        window_phase: window_t.map(|t| phase_of(t as f64 + 0.5).1).unwrap_or_default(),
        window,
        window_scheduled,
        in_flight,
        totals: rec.counts(None, None),
        sent: rec.sent_total(),
        cold_starts: rec.cold_starts(),
        recent,
    }
}

/// The view once the phases (and the drain after them) are over: every request counted.
pub fn final_snapshot(engine: &Engine) -> Snapshot {
    // The phases' time, not the drain's after them: what the run's rates divide by.
    let measured = engine.measured();
    let rec = engine.recorder.lock().unwrap_or_else(|e| e.into_inner());
    snapshot(&engine.plan, &rec, measured.as_secs() as usize, (measured, engine.plan.duration(), 0))
}

/// Watches `engine` until the task is dropped.
pub async fn watch(engine: Arc<Engine>, sink: Arc<dyn Sink>, abort: AbortCheck, metrics: Option<Arc<LiveMetrics>>) {
    let plan = engine.plan.clone();
    let planned = plan.duration();
    let mut dead = DeadTarget::default();
    loop {
        tokio::time::sleep(PERIOD).await;
        let elapsed = engine.plan_time(std::time::Instant::now());
        let now_s = elapsed.as_secs() as usize;
        let in_flight = engine.in_flight.load(Ordering::Relaxed);
        let (snapshot, stop, ok) = {
            let mut rec = engine.recorder.lock().unwrap_or_else(|e| e.into_inner());
            rec.in_flight(now_s, in_flight);
            rec.close_seconds_before(now_s);
            // Only the phases' seconds are judged: in the drain after them, the requests that
            // will time out finish alone (seconds after the ones that answered), which says
            // nothing of a target that answered all along.
            let judged = engine.phases_ended_second().map_or(now_s, |end| now_s.min(end));
            let target_dead = dead.update(&rec.series, judged);
            let snapshot = snapshot(&plan, &rec, now_s, (elapsed, planned, in_flight));
            let stop = abort(&rec, elapsed.as_secs_f64()).or(target_dead.then_some(Stop::TargetDead));
            // The closed seconds' ok latencies, taken out so the lock is held no longer.
            let ok = rec.export_ok.as_mut().filter(|h| !h.is_empty()).map(|h| {
                let taken = h.clone();
                h.reset();
                taken
            });
            (snapshot, stop, ok)
        };
        if let Some(m) = &metrics {
            m.update(&snapshot, ok.as_ref());
        }
        if let Some(why) = stop {
            engine.stop.stop(why);
        }
        sink.event(Event::Tick(Box::new(snapshot)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::ClassCounts;

    fn second(ok: u64, transport: u64) -> Second {
        let mut completed = ClassCounts::default();
        completed.add(Class::Ok, ok);
        completed.add(Class::TransportError, transport);
        Second { completed, ..Second::default() }
    }

    #[test]
    fn five_seconds_of_only_connection_failures_is_a_dead_target() {
        let mut d = DeadTarget::default();
        let mut series = vec![second(0, 3); 4];
        assert!(!d.update(&series, 4));
        series.push(second(0, 0)); // nothing completed: neither dead nor alive
        series.push(second(1, 2)); // one answer: the target lives
        assert!(!d.update(&series, 6));
        series.extend(vec![second(0, 1); 5]);
        assert!(d.update(&series, 11));
    }

    #[test]
    fn five_seconds_of_only_timeouts_is_a_dead_target_too() {
        let mut d = DeadTarget::default();
        let mut timeouts = ClassCounts::default();
        timeouts.add(Class::Timeout, 4);
        let series = vec![Second { completed: timeouts, ..Second::default() }; 5];
        assert!(d.update(&series, 5));
    }
}
