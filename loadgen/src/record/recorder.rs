//! Measurement: `HdrHistogram`s per request × phase × outcome class, for corrected latency
//! (from the intended send time) and service time (from the actual send); cold-start latency
//! apart from warm; diagnostic-header sums per request; a per-second series; and the
//! generator's own scheduling lag.

use std::collections::{BTreeMap, HashMap};

use hdrhistogram::Histogram;

use super::histogram::{self as hist, quantile_ms};
use super::outcome::{Class, ClassCounts};

/// A send this far behind its intended time counts as late, µs. The dispatcher wakes within
/// about half a millisecond of a send's time (wrk2 has a millisecond grain), so 5 ms is
/// lateness the timer cannot explain.
pub const LATE_US: u64 = 5_000;

/// Seconds a closed second keeps its histograms for a request completed in it but recorded
/// after the close.
const GRACE_S: usize = 3;

/// Diagnostic headers of one response.
#[derive(Debug, Clone, Copy, Default)]
pub struct Diag {
    /// `x-ddb-calls`.
    pub ddb_calls: f64,
    /// `x-ddb-rcu`.
    pub rcu: f64,
    /// `x-ddb-wcu`.
    pub wcu: f64,
    /// `x-handler-us`.
    pub handler_us: f64,
}

/// One completed request.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Index of the request kind.
    pub request: usize,
    /// Index of the phase it was sent in.
    pub phase: usize,
    /// Outcome class.
    pub class: Class,
    /// Intended send → response complete, µs.
    pub latency_us: u64,
    /// Actual send → response complete, µs.
    pub service_us: u64,
    /// The invocation paid an INIT: the local stack's `x-local-stack-init-ms` (any function),
    /// or the function's own `x-cold-start: true` (target-api, on AWS too).
    pub cold: bool,
    /// Billed duration of the invocation, ms, when the local stack said it
    /// (`x-local-stack-billed-ms`, as its REPORT line has it).
    pub billed_ms: Option<f64>,
    /// Diagnostic headers, when the function sent them.
    pub diag: Option<Diag>,
    /// Second of the run in which it completed.
    pub second: usize,
    /// The emulator's true cause disagreed with the AWS heuristic.
    pub heuristic_mismatch: bool,
    /// API Gateway refused it at authorization (IAM or a JWT authorizer): not billed.
    pub gateway_denied: bool,
}

/// Histograms of one request × phase × class cell.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Corrected latency.
    pub latency: Histogram<u64>,
    /// Service time.
    pub service: Histogram<u64>,
}

/// Sums of diagnostic headers for one request kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DiagSum {
    /// Responses that carried diagnostics.
    pub responses: u64,
    /// Sum of `x-ddb-calls`.
    pub ddb_calls: f64,
    /// Sum of `x-ddb-rcu`.
    pub rcu: f64,
    /// Sum of `x-ddb-wcu`.
    pub wcu: f64,
    /// Sum of `x-handler-us`.
    pub handler_us: f64,
    /// Of them, the ones the table served (any class but `dynamodb_throttled`, a 404 among
    /// them): what a request asks of the table — a throttled one reports only the calls that
    /// got through.
    pub served_responses: u64,
    /// Their `x-ddb-calls`.
    pub served_ddb_calls: f64,
    /// Their `x-ddb-rcu`.
    pub served_rcu: f64,
    /// Their `x-ddb-wcu`.
    pub served_wcu: f64,
    /// Responses whose billed duration the local stack said (any function's).
    pub billed_responses: u64,
    /// Their billed duration summed, ms.
    pub billed_ms: f64,
}

/// One second of the run.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Second {
    /// Seconds since the measured phases began.
    pub t: usize,
    /// Requests sent.
    pub sent: u64,
    /// Requests completed, by class (an array in [`super::ALL`] order).
    #[serde(with = "super::outcome::array")]
    #[schemars(with = "[u64; 8]")]
    pub completed: ClassCounts,
    /// Corrected latency percentiles of the ok responses completed in this second, ms: the
    /// headline, which a flood of fast throttles must not pull down.
    pub p50_ms: f64,
    /// p90, ms.
    pub p90_ms: f64,
    /// p99, ms.
    pub p99_ms: f64,
    /// Max, ms.
    pub max_ms: f64,
    /// p50 of every other class's responses completed in this second (throttles, errors), ms;
    /// 0 when none.
    #[serde(default)]
    pub other_p50_ms: f64,
    /// Their p99, ms.
    #[serde(default)]
    pub other_p99_ms: f64,
    /// Most requests in flight.
    pub in_flight: u64,
    /// Cold starts.
    pub cold_starts: u64,
}

/// Everything measured in one run.
#[derive(Debug)]
pub struct Recorder {
    /// Histograms by (request, phase, class).
    pub cells: HashMap<(usize, usize, Class), Cell>,
    /// Cold-start latency per request kind, made at its first cold start: a histogram is
    /// ~136 KB, and a plan of thousands of kinds most of which never see one must not pay it.
    pub cold: Vec<Option<Histogram<u64>>>,
    /// Cold starts by (request, phase the request was sent in).
    pub(super) cold_cells: HashMap<(usize, usize), u64>,
    /// Warm latency (responses with `x-cold-start: false`) per request kind, made at its
    /// first such response.
    pub warm: Vec<Option<Histogram<u64>>>,
    /// Diagnostic sums per request kind.
    pub diag: Vec<DiagSum>,
    /// What each request kind's checks found.
    pub checks: Vec<super::checks::CheckSum>,
    /// The series, by second.
    pub series: Vec<Second>,
    /// The ok latencies of the seconds closed since the live metrics last took them, when a
    /// run serves them (`--metrics-addr`).
    pub export_ok: Option<Histogram<u64>>,
    /// Latency of the seconds still open, by (second, whether ok).
    pub(super) open: BTreeMap<(usize, bool), Histogram<u64>>,
    /// Of the seconds closed in the last [`GRACE_S`], their histograms, for a straggler.
    pub(super) recent: BTreeMap<(usize, bool), Histogram<u64>>,
    /// A fleet worker keeps each closed second's histogram, encoded, for the coordinator to
    /// merge: a second's percentiles cannot be merged, its histograms can.
    pub keep_seconds: bool,
    /// Those histograms: (second, whether ok, [`super::histogram::encode`]d).
    pub(super) kept: Vec<(usize, bool, String)>,
    /// Histograms of closed seconds, reset for reuse: no allocation churn once running.
    spare: Vec<Histogram<u64>>,
    /// Scheduling lag: actual send − intended send, µs.
    pub lag: Histogram<u64>,
    /// Sends more than [`LATE_US`] late.
    pub late_sends: u64,
    /// Arrivals sent, per phase: each standalone request, and each flow instance's first step
    /// (what the phase's rate schedules).
    pub sent: Vec<u64>,
    /// Arrivals of each phase's schedule still unsent when it ended: the in-flight bound or
    /// the machine held them back (open model).
    pub not_sent: Vec<u64>,
    /// Arrivals of each phase that lost fleet workers were to send: unmeasured, fate unknown.
    pub lost: Vec<u64>,
    /// Requests that could not open a connection because this process (or the system) had
    /// no file descriptor left: never sent, and no result of the target's.
    pub out_of_files: u64,
    /// What each flow's instances came to (empty until the engine sizes it).
    pub flows: Vec<super::flows::FlowSum>,
    /// Disagreements between the AWS heuristic and the emulator's cause.
    pub heuristic_mismatches: u64,
    /// Responses API Gateway gave at authorization (refused before any integration).
    pub gateway_denied: u64,
    /// Of them, per request kind (a target's are its kinds').
    pub denied: Vec<u64>,
}

impl Recorder {
    /// Takes everything recorded, leaving an empty recorder of the same shape (kinds, phases,
    /// flows): a task that outlives the run — a flow instance waking after the drain, a
    /// request answering late — then records into that, not out of bounds.
    pub fn take(&mut self) -> Recorder {
        let mut empty = Recorder::new(self.diag.len(), self.sent.len());
        empty.flows = vec![super::flows::FlowSum::default(); self.flows.len()];
        std::mem::replace(self, empty)
    }

    /// An empty recorder for `requests` kinds and `phases` phases.
    pub fn new(requests: usize, phases: usize) -> Self {
        Self {
            cells: HashMap::new(),
            cold: vec![None; requests],
            cold_cells: HashMap::new(),
            warm: vec![None; requests],
            diag: vec![DiagSum::default(); requests],
            checks: vec![super::checks::CheckSum::default(); requests],
            series: Vec::new(),
            export_ok: None,
            open: BTreeMap::new(),
            recent: BTreeMap::new(),
            keep_seconds: false,
            kept: Vec::new(),
            spare: Vec::new(),
            lag: hist::new(),
            late_sends: 0,
            sent: vec![0; phases],
            not_sent: vec![0; phases],
            lost: vec![0; phases],
            out_of_files: 0,
            flows: Vec::new(),
            heuristic_mismatches: 0,
            gateway_denied: 0,
            denied: vec![0; requests],
        }
    }

    fn second(&mut self, t: usize) -> &mut Second {
        while self.series.len() <= t {
            let t = self.series.len();
            self.series.push(Second { t, ..Second::default() });
        }
        &mut self.series[t]
    }

    /// An arrival's request left at `second`, `lag_us` after its intended time.
    pub fn sent(&mut self, phase: usize, second: usize, lag_us: u64) {
        self.sent[phase] += 1;
        self.second(second).sent += 1;
        self.lag.saturating_record(lag_us.max(1));
        if lag_us > LATE_US {
            self.late_sends += 1;
        }
    }

    /// A request of `phase` that found no file descriptor for its connection. An arrival's
    /// (counted as sent at `second`) was not sent after all; one of an open phase's schedule
    /// is counted as not sent (a closed phase has no schedule: its user simply tries again).
    pub fn out_of_files(&mut self, phase: usize, arrival: Option<(usize, bool)>) {
        self.out_of_files += 1;
        if let Some((t, scheduled)) = arrival {
            self.sent[phase] = self.sent[phase].saturating_sub(1);
            let s = self.second(t);
            s.sent = s.sent.saturating_sub(1);
            if scheduled {
                self.not_sent[phase] += 1;
            }
        }
    }

    /// Notes the in-flight count seen at `second`.
    pub fn in_flight(&mut self, second: usize, n: u64) {
        let s = self.second(second);
        s.in_flight = s.in_flight.max(n);
    }

    /// Records one completed request.
    pub fn record(&mut self, s: &Sample) {
        let cell = self
            .cells
            .entry((s.request, s.phase, s.class))
            .or_insert_with(|| Cell { latency: hist::new(), service: hist::new() });
        cell.latency.saturating_record(s.latency_us.max(1));
        cell.service.saturating_record(s.service_us.max(1));
        if let Some(d) = s.diag {
            let sum = &mut self.diag[s.request];
            sum.responses += 1;
            sum.ddb_calls += d.ddb_calls;
            sum.rcu += d.rcu;
            sum.wcu += d.wcu;
            sum.handler_us += d.handler_us;
            if s.class != Class::DynamodbThrottled {
                sum.served_responses += 1;
                sum.served_ddb_calls += d.ddb_calls;
                sum.served_rcu += d.rcu;
                sum.served_wcu += d.wcu;
            }
        }
        if let Some(ms) = s.billed_ms {
            let sum = &mut self.diag[s.request];
            sum.billed_responses += 1;
            sum.billed_ms += ms;
        }
        // Cold against warm among the responses a function gave (a throttle has neither).
        if s.diag.is_some() || s.billed_ms.is_some() {
            if s.cold {
                self.cold[s.request].get_or_insert_with(hist::new).saturating_record(s.latency_us.max(1));
                *self.cold_cells.entry((s.request, s.phase)).or_default() += 1;
            } else {
                self.warm[s.request].get_or_insert_with(hist::new).saturating_record(s.latency_us.max(1));
            }
        }
        if s.heuristic_mismatch {
            self.heuristic_mismatches += 1;
        }
        if s.gateway_denied {
            self.gateway_denied += 1;
            if let Some(n) = self.denied.get_mut(s.request) {
                *n += 1;
            }
        }
        let sec = self.second(s.second);
        sec.completed.add(s.class, 1);
        if s.cold {
            sec.cold_starts += 1;
        }
        if s.class == Class::Ok
            && let Some(x) = self.export_ok.as_mut()
        {
            x.saturating_record(s.latency_us.max(1));
        }
        // A straggler of a second already closed (its completion time taken before the lock)
        // takes that second's histogram back, so the second's figures are recomputed with it
        // rather than replaced by it.
        let key = (s.second, s.class == Class::Ok);
        let (spare, recent) = (&mut self.spare, &mut self.recent);
        self.open
            .entry(key)
            .or_insert_with(|| recent.remove(&key).or_else(|| spare.pop()).unwrap_or_else(hist::coarse))
            .saturating_record(s.latency_us.max(1));
    }

    /// Closes every second before `now`: computes its percentiles and keeps its histogram,
    /// reset, for a later second — so memory stays flat however long the run.
    pub fn close_seconds_before(&mut self, now: usize) {
        let done: Vec<(usize, bool)> = self.open.range(..(now, false)).map(|(k, _)| *k).collect();
        for (t, ok) in done {
            if let Some(h) = self.open.remove(&(t, ok)) {
                let s = self.second(t);
                if ok {
                    (s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms) =
                        (quantile_ms(&h, 0.5), quantile_ms(&h, 0.9), quantile_ms(&h, 0.99), hist::max_ms(&h));
                } else {
                    (s.other_p50_ms, s.other_p99_ms) = (quantile_ms(&h, 0.5), quantile_ms(&h, 0.99));
                }
                self.recent.insert((t, ok), h);
            }
        }
        // Seconds closed a while ago get no more stragglers: their histograms go back for reuse.
        let old: Vec<(usize, bool)> =
            self.recent.range(..(now.saturating_sub(GRACE_S), false)).map(|(k, _)| *k).collect();
        for k in old {
            if let Some(mut h) = self.recent.remove(&k) {
                if self.keep_seconds {
                    self.kept.push((k.0, k.1, hist::encode(&h)));
                }
                h.reset();
                self.spare.push(h);
            }
        }
    }

    /// Merged histograms over every cell matching the filters (`request`: the kinds to take,
    /// `None` = all).
    pub fn merged(
        &self,
        request: Option<&[usize]>,
        phase: Option<usize>,
        class: Option<Class>,
    ) -> (Histogram<u64>, Histogram<u64>) {
        let mut lat = hist::new();
        let mut svc = hist::new();
        for ((r, p, c), cell) in &self.cells {
            if request.is_none_or(|x| x.contains(r)) && phase.is_none_or(|x| x == *p) && class.is_none_or(|x| x == *c) {
                let _ = lat.add(&cell.latency);
                let _ = svc.add(&cell.service);
            }
        }
        (lat, svc)
    }

    /// Completed requests by class, filtered.
    pub fn counts(&self, request: Option<&[usize]>, phase: Option<usize>) -> ClassCounts {
        let mut out = ClassCounts::default();
        for ((r, p, c), cell) in &self.cells {
            if request.is_none_or(|x| x.contains(r)) && phase.is_none_or(|x| x == *p) {
                out.add(*c, cell.latency.len());
            }
        }
        out
    }

    /// Requests sent, over every phase.
    pub fn sent_total(&self) -> u64 {
        self.sent.iter().sum()
    }

    /// Cold starts of some request kinds and/or of the requests sent in one phase (`None` = all).
    pub fn cold_starts_of(&self, request: Option<&[usize]>, phase: Option<usize>) -> u64 {
        self.cold_cells
            .iter()
            .filter(|((r, p), _)| request.is_none_or(|x| x.contains(r)) && phase.is_none_or(|x| x == *p))
            .map(|(_, n)| n)
            .sum()
    }

    /// Cold starts seen in total.
    pub fn cold_starts(&self) -> u64 {
        self.cold.iter().flatten().map(|h| h.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(class: Class, latency_us: u64, second: usize, cold: bool) -> Sample {
        Sample {
            billed_ms: None,
            request: 0,
            phase: 0,
            class,
            latency_us,
            service_us: latency_us / 2,
            cold,
            diag: Some(Diag { rcu: 0.5, ..Diag::default() }),
            second,
            heuristic_mismatch: false,
            gateway_denied: false,
        }
    }

    #[test]
    fn a_plan_of_many_kinds_pays_only_for_the_kinds_it_hears_from() {
        let mut r = Recorder::new(1_000, 1);
        r.record(&sample(Class::Ok, 1_000, 0, false));
        r.record(&sample(Class::Ok, 2_000, 0, true));
        assert_eq!(r.warm.iter().flatten().count(), 1, "one warm histogram, the kind that answered");
        assert_eq!(r.cold.iter().flatten().count(), 1);
        assert_eq!(r.cold_starts(), 1);
    }

    #[test]
    fn a_request_without_a_file_descriptor_is_not_sent() {
        let mut r = Recorder::new(1, 1);
        r.sent(0, 0, 10);
        r.sent(0, 0, 10);
        r.sent(0, 0, 10);
        r.out_of_files(0, Some((0, true)));
        r.out_of_files(0, Some((0, false)));
        r.out_of_files(0, None);
        assert_eq!((r.sent[0], r.not_sent[0], r.out_of_files), (1, 1, 3), "a closed phase's try is no arrival");
        assert_eq!(r.series[0].sent, 1);
    }

    #[test]
    fn records_cells_series_and_cold_starts() {
        let mut r = Recorder::new(1, 1);
        r.sent(0, 0, 10);
        r.sent(0, 0, 6_000);
        r.record(&sample(Class::Ok, 1_000, 0, true));
        r.record(&sample(Class::LambdaThrottled, 3_000, 1, false));
        r.close_seconds_before(2);
        assert_eq!(r.late_sends, 1);
        assert_eq!(r.counts(None, None)[Class::Ok], 1);
        assert_eq!(r.counts(None, None)[Class::LambdaThrottled], 1);
        assert_eq!(r.cold_starts(), 1);
        assert_eq!(r.series.len(), 2);
        assert_eq!(r.series[0].sent, 2);
        assert!((r.series[0].p50_ms - 1.0).abs() < 0.05, "the ok response's second");
        assert_eq!(r.series[1].p50_ms, 0.0, "a throttle is no ok latency");
        assert!((r.series[1].other_p50_ms - 3.0).abs() < 0.05, "it is kept apart");
        let (lat, svc) = r.merged(None, None, None);
        assert_eq!(lat.len(), 2);
        assert!(svc.max() < lat.max());
        assert!((r.diag[0].rcu - 1.0).abs() < 1e-9);
        assert!(r.open.is_empty() && r.recent.len() == 2, "closed seconds keep their histograms a while");
        // A straggler of second 0, recorded after it closed: the second is recomputed with it.
        r.record(&sample(Class::Ok, 9_000, 0, false));
        r.close_seconds_before(2);
        assert!(
            (r.series[0].p50_ms - 1.0).abs() < 0.05 && (r.series[0].max_ms - 9.0).abs() < 0.05,
            "{:?}",
            r.series[0]
        );
        r.close_seconds_before(10);
        assert!(r.recent.is_empty() && r.spare.len() == 2, "then they go back for reuse");
        // What a served request asked: not a DynamoDB-throttled one's.
        r.record(&sample(Class::DynamodbThrottled, 2_000, 1, false));
        assert_eq!((r.diag[0].responses, r.diag[0].served_responses), (4, 3), "the straggler's too");
        assert!((r.diag[0].served_rcu - 1.5).abs() < 1e-9);
    }
}
