//! How large a fleet worker's answer can get, bounded before anything is sent: a synchronous
//! invoke returns at most 6 MB, and a worker whose results do not fit says so instead of cutting
//! them — its shard is then lost. So a plan whose answers could outgrow the limit is refused up
//! front, with the fix (more workers, shorter segments).
//!
//! The bound is sound, not an estimate. Every histogram holds at most one distinct value per
//! sample it was given, and at most the values its range has; in HdrHistogram's V2 encoding each
//! distinct value costs a varint count (1 byte, plus one per 64 samples it holds beyond) after at
//! most one run of empty values (1 byte, plus one for each run of 64 or more — of which a
//! histogram of L values has at most L/64 — and one more for each of 8,192 or more); deflate
//! never grows a stream by more than its stored-block overhead; base64 adds a third. A target
//! choosing its latencies to be costly cannot get past it. Samples are bounded by the shard's arrivals in its segment
//! (times the longest flow), which the schedule gives exactly. A closed model has no such bound
//! (its users send as fast as the target answers), so only the histograms' ranges bound it.

use std::time::Duration;

use super::Segment;
use crate::attack::pacer::Pacer;
use crate::attack::phase_seed;
use crate::record::checks::{BODY_CHARS, CheckFailure, CheckSum, KEPT};
use crate::record::histogram as hist;
use crate::record::recorder::{DiagSum, Second};
use crate::scenario::{Load, Plan};

/// Bytes of JSON a number can take at most (`-1.2345678901234567e-300`; `u64::MAX` is 20).
const NUMBER: u64 = 24;

/// A bound on the JSON bytes of `n` encoded histograms (as strings, with their quotes and
/// comma) holding `samples` samples in all — `None` when nothing bounds them — each of at most
/// `len` distinct values.
pub fn histograms(n: u64, samples: Option<u64>, len: u64) -> u64 {
    let (n, entries, counts) = match samples {
        Some(s) => {
            let n = n.min(s.max(1));
            let entries = s.min(n * len);
            (n, entries, entries + s / 64)
        }
        // A count is a 9-byte varint at most.
        None => (n, n * len, n * len * 9),
    };
    // V2: a 40-byte header; each distinct value's count after at most one run of zeros.
    let runs = entries + n * (len / 64 + len / 8192 + 1);
    let v2 = 40 * n + runs + counts;
    // zlib at its worst (stored blocks) and V2-deflate's 8-byte header, generously.
    let deflated = v2 + v2 / 2048 + 40 * n;
    4 * (deflated / 3 + n + 1) + 3 * n
}

/// The most distinct values a latency histogram has (1 µs – 60 s at 3 digits).
fn fine_len() -> u64 {
    hist::new().distinct_values() as u64
}

/// The same for a second's histogram (2 digits).
fn coarse_len() -> u64 {
    hist::coarse().distinct_values() as u64
}

/// The most bytes `value`'s JSON takes with every number at its widest.
fn widest<T: serde::Serialize>(value: &T) -> u64 {
    let v = serde_json::to_value(value).unwrap_or_default();
    fn numbers(v: &serde_json::Value) -> u64 {
        match v {
            serde_json::Value::Number(_) => 1,
            serde_json::Value::Array(a) => a.iter().map(numbers).sum(),
            serde_json::Value::Object(o) => o.values().map(numbers).sum(),
            _ => 0,
        }
    }
    serde_json::to_vec(&v).map_or(0, |b| b.len() as u64) + numbers(&v) * NUMBER
}

/// What one worker sends in one segment: its arrivals at most (`None`: a closed phase runs in
/// it), the phases it touches and its seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Share {
    /// The most arrivals any shard has in the segment.
    pub arrivals: Option<u64>,
    /// Phases the segment overlaps.
    pub phases: u64,
    /// Seconds its results cover: the segment and its drain.
    pub seconds: u64,
}

/// The plan's schedule as the fleet splits it: each shard's arrivals in each second, from one
/// walk of each open phase's schedule, so any cut into segments is priced without another.
#[derive(Debug)]
pub struct Schedule {
    /// Arrivals by second, then by shard.
    per_second: Vec<Vec<u64>>,
    /// Each phase's span in the plan, and whether it is a closed model.
    phases: Vec<(Duration, Duration, bool)>,
    total: Duration,
    drain: Duration,
}

impl Schedule {
    /// `plan`'s schedule split among `workers`.
    pub fn of(plan: &Plan, workers: u32) -> Schedule {
        let total = plan.duration();
        let mut per_second = vec![vec![0u64; workers as usize]; total.as_secs() as usize + 1];
        let mut phases = Vec::new();
        let mut start = Duration::ZERO;
        for (i, phase) in plan.phases.iter().enumerate() {
            let end = start + phase.duration;
            phases.push((start, end, matches!(phase.load, Load::Closed { .. })));
            if let Some(mut p) = Pacer::new(&phase.load, phase.duration, phase.arrivals, phase_seed(plan.seed, i)) {
                while let Some((k, t)) = p.next_arrival() {
                    let second = ((start + t).as_secs() as usize).min(per_second.len() - 1);
                    per_second[second][(k % u64::from(workers)) as usize] += 1;
                }
            }
            start = end;
        }
        Schedule { per_second, phases, total, drain: plan.longest_timeout() + Duration::from_secs(1) }
    }

    /// The largest share any worker gets in each of `segments` (its arrivals counted over the
    /// whole seconds the segment touches: never fewer than it has).
    pub fn shares(&self, segments: &[Segment]) -> Vec<Share> {
        let shares = segments.iter().map(|seg| {
            let (from, to) = (seg.from(), seg.to().min(self.total));
            let touched = self.phases.iter().filter(|(start, end, _)| *start < to && *end > from);
            let closed = touched.clone().any(|p| p.2);
            let seconds = &self.per_second[(from.as_secs() as usize).min(self.per_second.len())
                ..((to.as_secs_f64().ceil() as usize) + 1).min(self.per_second.len())];
            let most = (0..self.per_second[0].len()).map(|w| seconds.iter().map(|s| s[w]).sum::<u64>()).max();
            Share {
                arrivals: (!closed).then(|| most.unwrap_or(0)),
                phases: touched.count() as u64,
                seconds: (seg.length(self.total) + self.drain).as_secs() + 2,
            }
        });
        shares.collect()
    }
}

/// A bound on the bytes of the answer of a worker sending `share` of `plan`.
pub fn answer_bound(plan: &Plan, share: Share) -> u64 {
    let kinds = plan.requests.len() as u64;
    let flows = plan.flows.len() as u64;
    let steps = plan.flows.iter().map(|f| f.steps.len() as u64).max().unwrap_or(1).max(1);
    // Every response is one sample in each group of histograms it lands in.
    let responses = share.arrivals.map(|a| a * steps);
    let classes = crate::record::ALL.len() as u64;
    let cells = kinds * share.phases * classes;
    let (fine, coarse) = (fine_len(), coarse_len());
    // Cells: a key and two histograms (latency, service time) each.
    let cell_keys = responses.map_or(cells, |r| r.min(cells)) * 80;
    let cells_bytes = cell_keys + 2 * histograms(cells, responses, fine);
    // Cold and warm latency per kind ("null" when none).
    let cold_warm = 2 * kinds * 5 + histograms(2 * kinds, responses, fine);
    // Each second: its counts, and its ok and other latencies.
    let series = share.seconds * widest(&Second::default());
    let seconds = share.seconds * 2 * 3 * NUMBER + histograms(2 * share.seconds, responses, coarse);
    // Per kind: diagnostics, checks with their first failures, denials, cold starts per phase.
    let failure = CheckFailure { status: 0, reason: String::new(), body: String::new() };
    let check = widest(&CheckSum { first: vec![failure; KEPT], ..CheckSum::default() })
        + KEPT as u64 * 2 * (BODY_CHARS as u64 + 1) * 4;
    let per_kind = widest(&DiagSum::default()) + check + NUMBER + share.phases * 3 * NUMBER;
    // The scheduling lag (one sample per arrival), each flow's durations, the connect times.
    let connections = responses.map(|r| r + plan.opening_connections() as u64);
    let rest = histograms(1, share.arrivals, fine)
        + flows * 4 * NUMBER
        // Every flow's durations are encoded, empty or not: the bound counts those it fills.
        + flows * histograms(1, Some(0), fine)
        + histograms(flows, share.arrivals, fine)
        + histograms(1, connections, fine)
        + plan.phases.len() as u64 * 3 * NUMBER;
    // The report around them: the shard, segment, clock, counts and a stop reason.
    let report = 8 * 1024;
    cells_bytes + cold_warm + series + seconds + kinds * per_kind + rest + report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::ShardReport;
    use crate::fleet::worker::{RESPONSE_LIMIT, answer};
    use crate::record::recorder::{Diag, Sample};
    use crate::record::{ALL, Recorder};

    /// A value spread evenly over the histogram's buckets (log-uniform from 1 µs to 60 s): every
    /// bucket as likely as any, the fewest repeats.
    fn spread(rng: &mut fastrand::Rng) -> u64 {
        (10f64.powf(rng.f64() * (hist::MAX_US as f64).log10()) as u64).clamp(1, hist::MAX_US)
    }

    fn plan(kinds: usize, rate: u64) -> Plan {
        let mut text = format!("name = \"s\"\n[[phase]]\nname = \"p\"\nduration = \"60s\"\nrate = {rate}\n");
        for k in 0..kinds {
            text += &format!("[[request]]\nname = \"r{k}\"\npath = \"/{k}\"\n");
        }
        Plan::from_str(std::path::Path::new("s.toml"), &text, &|_| None).unwrap()
    }

    fn bound(p: &Plan) -> u64 {
        answer_bound(p, Schedule::of(p, 1).shares(&[Segment::WHOLE])[0])
    }

    /// What a worker sending `plan` whole answers when every response is as costly to encode as
    /// it can be: a latency, service time and lag of its own, spread over the whole range;
    /// every class, kind and second populated; cold and warm; checks failing with the longest
    /// bodies and reasons.
    fn worst_answer(plan: &Plan) -> usize {
        let share = Schedule::of(plan, 1).shares(&[Segment::WHOLE])[0];
        let (kinds, arrivals) = (plan.requests.len(), share.arrivals.unwrap());
        let mut rec = Recorder::new(kinds, 1);
        rec.keep_seconds = true;
        let mut rng = fastrand::Rng::with_seed(3);
        let long = "\u{1F600}\"".repeat(BODY_CHARS);
        for i in 0..arrivals {
            let second = (i * 60 / arrivals.max(1)) as usize;
            rec.sent(0, second, spread(&mut rng));
            let latency_us = spread(&mut rng);
            rec.record(&Sample {
                request: i as usize % kinds,
                phase: 0,
                class: ALL[i as usize % ALL.len()],
                latency_us,
                service_us: spread(&mut rng),
                cold: i % 2 == 0,
                billed_ms: Some(latency_us as f64 / 1000.0),
                diag: Some(Diag { ddb_calls: 1.0, rcu: 0.5, wcu: 0.5, handler_us: 300.0 }),
                second: second + rng.usize(0..3),
                heuristic_mismatch: false,
                gateway_denied: false,
            });
            rec.checks[i as usize % kinds].record(500, Some((&long, long.as_bytes())), &[]);
            rec.close_seconds_before(second.saturating_sub(2));
        }
        let report = ShardReport::whole(rec.to_partial(), 60.0);
        match answer(&report) {
            Ok(bytes) => bytes.len(),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn the_largest_plan_the_bound_accepts_answers_within_the_limit_at_its_worst() {
        // With few kinds over a minute the histograms' own size bounds the answer whatever the
        // rate: a 3-kind plan fits at 100,000 requests a second.
        assert!(bound(&plan(3, 100_000)) <= RESPONSE_LIMIT as u64);
        // With 40 kinds the rate decides: the highest (to 1%) whose bound fits over one 60 s phase.
        let (mut lo, mut hi) = (1u64, 20_000u64);
        while hi - lo > lo / 100 {
            let mid = (lo + hi) / 2;
            if bound(&plan(40, mid)) <= RESPONSE_LIMIT as u64 { lo = mid } else { hi = mid }
        }
        let largest = plan(40, lo);
        let (worst, b) = (worst_answer(&largest), bound(&largest));
        eprintln!(
            "largest accepted: {lo}/s for 60 s; its worst answer {worst} bytes, bound {b}, limit {RESPONSE_LIMIT}"
        );
        assert!(worst as u64 <= b && b <= RESPONSE_LIMIT as u64, "{worst} {b}");
        // Not a bound that refuses everything: even values deflate squeezes fivefold fill a
        // sixth of it (the bound takes every stream as incompressible, which a target choosing
        // its latencies could come close to).
        assert!(worst as u64 * 8 > b, "the bound is {b}, the worst answer only {worst}");
        assert!(bound(&plan(40, hi + hi / 50)) > RESPONSE_LIMIT as u64, "a higher rate is refused");
    }

    #[test]
    fn a_histogram_bound_holds_for_its_worst_values() {
        // Every sample a value of its own, spread over the whole range with uneven gaps: no run
        // of zeros repeats, the deflate has little to find.
        let mut rng = fastrand::Rng::with_seed(9);
        for samples in [1u64, 100, 5_000, 40_000] {
            let mut h = hist::new();
            for _ in 0..samples {
                let _ = h.record(spread(&mut rng));
            }
            let actual = serde_json::to_vec(&hist::encode(&h)).unwrap().len() as u64;
            let bound = histograms(1, Some(samples), fine_len());
            assert!(actual <= bound, "{samples} samples: {actual} > {bound}");
        }
    }
}
