//! A fleet worker's measurements as it hands them to the coordinator, and their exact merge.
//!
//! Everything a [`Recorder`] holds is a count, a sum or a histogram, so the merge of N
//! workers' partials is what one recorder would have held had it seen every response: counts
//! and sums add, histograms (corrected latency, service time, cold and warm, flows, the
//! scheduling lag, and each second's — percentiles do not merge, histograms do) add cell by
//! cell at full resolution. Histograms travel in HdrHistogram's V2 deflate encoding, as
//! results.json keeps them. One figure does not merge exactly: a second's most requests in
//! flight is each worker's highest summed, an upper bound (the workers' peaks need not meet).

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::Class;
use super::checks::{CheckSum, KEPT};
use super::histogram::{self as hist, decode, encode};
use super::recorder::{Cell, DiagSum, Recorder, Second};

/// One request × phase × class cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartialCell {
    /// Request kind index.
    pub request: usize,
    /// Phase index.
    pub phase: usize,
    /// Outcome class.
    pub class: Class,
    /// Corrected latency, encoded.
    pub latency: String,
    /// Service time, encoded.
    pub service: String,
}

/// One flow's instances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartialFlow {
    /// Started.
    pub started: u64,
    /// Completed.
    pub completed: u64,
    /// Failed.
    pub failed: u64,
    /// Durations of the completed ones, encoded.
    pub duration: String,
}

/// Everything one worker measured, in the form it crosses the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Partial {
    /// The histogram cells.
    pub cells: Vec<PartialCell>,
    /// Cold-start latency per request kind, encoded (`None`: no cold start).
    pub cold: Vec<Option<String>>,
    /// Warm latency per request kind, encoded.
    pub warm: Vec<Option<String>>,
    /// Cold starts by (request, phase).
    pub cold_cells: Vec<(usize, usize, u64)>,
    /// Diagnostic sums per request kind.
    pub diag: Vec<DiagSum>,
    /// Checks per request kind.
    pub checks: Vec<CheckSum>,
    /// Flows.
    pub flows: Vec<PartialFlow>,
    /// The per-second counts (their percentiles are recomputed from `seconds`).
    pub series: Vec<Second>,
    /// Each second's latency histogram: (second, whether ok, encoded).
    pub seconds: Vec<(usize, bool, String)>,
    /// Scheduling lag, encoded.
    pub lag: String,
    /// Sends more than 5 ms late.
    pub late_sends: u64,
    /// Arrivals sent per phase.
    pub sent: Vec<u64>,
    /// Arrivals not sent per phase.
    pub not_sent: Vec<u64>,
    /// Requests that found no file descriptor.
    pub out_of_files: u64,
    /// Heuristic disagreements.
    pub heuristic_mismatches: u64,
    /// Refused at authorization.
    pub gateway_denied: u64,
    /// Of them, per request kind.
    pub denied: Vec<u64>,
}

/// A partial that does not fit the plan it claims to be of, or does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a worker's partial results do not fit the plan: {0}")]
pub struct MergeError(pub String);

impl Second {
    /// Nothing happened in it: a later segment's worker leaves such seconds out before its own.
    pub fn is_empty(&self) -> bool {
        self.sent == 0 && self.completed.total() == 0 && self.in_flight == 0 && self.cold_starts == 0
    }
}

impl Recorder {
    /// Everything recorded, for the coordinator. Closes every second first, so call it once
    /// the run is over; the recorder must have kept its seconds ([`Recorder::keep_seconds`]).
    pub fn to_partial(&mut self) -> Partial {
        self.close_seconds_before(usize::MAX);
        let mut seconds = std::mem::take(&mut self.kept);
        seconds.extend(self.recent.iter().map(|((t, ok), h)| (*t, *ok, encode(h))));
        seconds.sort_by_key(|(t, ok, _)| (*t, *ok));
        let mut cells: Vec<PartialCell> = (self.cells.iter())
            .map(|((request, phase, class), c)| PartialCell {
                request: *request,
                phase: *phase,
                class: *class,
                latency: encode(&c.latency),
                service: encode(&c.service),
            })
            .collect();
        cells.sort_by_key(|c| (c.request, c.phase, c.class));
        let mut cold_cells: Vec<(usize, usize, u64)> = self.cold_cells.iter().map(|((r, p), n)| (*r, *p, *n)).collect();
        cold_cells.sort_unstable();
        Partial {
            cells,
            cold: self.cold.iter().map(|h| h.as_ref().map(encode)).collect(),
            warm: self.warm.iter().map(|h| h.as_ref().map(encode)).collect(),
            cold_cells,
            diag: self.diag.clone(),
            checks: self.checks.clone(),
            flows: (self.flows.iter())
                .map(|f| PartialFlow {
                    started: f.started,
                    completed: f.completed,
                    failed: f.failed,
                    duration: encode(&f.duration),
                })
                .collect(),
            // A later segment's worker has nothing in the seconds before its own (the merge
            // fills the gap); a quiet second after its first is kept.
            series: self.series.iter().skip_while(|s| s.is_empty()).cloned().collect(),
            seconds,
            lag: encode(&self.lag),
            late_sends: self.late_sends,
            sent: self.sent.clone(),
            not_sent: self.not_sent.clone(),
            out_of_files: self.out_of_files,
            heuristic_mismatches: self.heuristic_mismatches,
            gateway_denied: self.gateway_denied,
            denied: self.denied.clone(),
        }
    }

    /// Adds a worker's partial. Checks every index against this recorder's plan and decodes
    /// every histogram first, so a partial that does not fit or does not decode changes
    /// nothing. Close the seconds ([`Recorder::close_seconds_before`]) after the last one to
    /// compute their percentiles.
    pub fn absorb(&mut self, p: &Partial) -> Result<(), MergeError> {
        self.check(p)?;
        let d = Decoded::of(p)?;
        for ((request, phase, class), (lat, svc)) in d.cells {
            let cell = (self.cells.entry((request, phase, class)))
                .or_insert_with(|| Cell { latency: hist::new(), service: hist::new() });
            add(&mut cell.latency, &lat);
            add(&mut cell.service, &svc);
        }
        for (mine, theirs) in self.cold.iter_mut().zip(d.cold).chain(self.warm.iter_mut().zip(d.warm)) {
            if let Some(h) = theirs {
                add(mine.get_or_insert_with(hist::new), &h);
            }
        }
        for (r, ph, n) in &p.cold_cells {
            *self.cold_cells.entry((*r, *ph)).or_default() += n;
        }
        for (mine, theirs) in self.diag.iter_mut().zip(&p.diag) {
            add_diag(mine, theirs);
        }
        for (mine, theirs) in self.checks.iter_mut().zip(&p.checks) {
            mine.checked += theirs.checked;
            mine.failed += theirs.failed;
            let room = KEPT.saturating_sub(mine.first.len());
            mine.first.extend(theirs.first.iter().take(room).cloned());
        }
        for ((mine, theirs), h) in self.flows.iter_mut().zip(&p.flows).zip(d.flows) {
            mine.started += theirs.started;
            mine.completed += theirs.completed;
            mine.failed += theirs.failed;
            add(&mut mine.duration, &h);
        }
        self.absorb_series(&p.series, d.seconds);
        add(&mut self.lag, &d.lag);
        self.late_sends += p.late_sends;
        let sum = |mine: &mut Vec<u64>, theirs: &[u64]| mine.iter_mut().zip(theirs).for_each(|(m, t)| *m += t);
        sum(&mut self.sent, &p.sent);
        sum(&mut self.not_sent, &p.not_sent);
        sum(&mut self.denied, &p.denied);
        self.out_of_files += p.out_of_files;
        self.heuristic_mismatches += p.heuristic_mismatches;
        self.gateway_denied += p.gateway_denied;
        Ok(())
    }

    /// The plan's shape: as many kinds, phases and flows as this recorder has.
    fn check(&self, p: &Partial) -> Result<(), MergeError> {
        let (kinds, phases) = (self.diag.len(), self.sent.len());
        let lengths = [
            ("kinds", p.cold.len(), kinds),
            ("kinds", p.warm.len(), kinds),
            ("kinds", p.diag.len(), kinds),
            ("kinds", p.checks.len(), kinds),
            ("kinds", p.denied.len(), kinds),
            ("phases", p.sent.len(), phases),
            ("phases", p.not_sent.len(), phases),
            ("flows", p.flows.len(), self.flows.len()),
        ];
        if let Some((what, got, want)) = lengths.iter().find(|(_, got, want)| got != want) {
            return Err(MergeError(format!("{got} {what} where the plan has {want}")));
        }
        let out_of_plan = |r: usize, ph: usize| r >= kinds || ph >= phases;
        if p.cells.iter().any(|c| out_of_plan(c.request, c.phase))
            || p.cold_cells.iter().any(|(r, ph, _)| out_of_plan(*r, *ph))
        {
            return Err(MergeError("a cell names a request kind or phase the plan does not have".into()));
        }
        // A second past a day of run is no run's: refuse it rather than grow the series to it.
        const DAY_S: usize = 86_400;
        if p.series.iter().any(|s| s.t > DAY_S) || p.seconds.iter().any(|(t, _, _)| *t > DAY_S) {
            return Err(MergeError("a second more than a day into the run".into()));
        }
        Ok(())
    }

    fn absorb_series(&mut self, series: &[Second], seconds: Vec<(usize, bool, Histogram<u64>)>) {
        for s in series {
            while self.series.len() <= s.t {
                let t = self.series.len();
                self.series.push(Second { t, ..Second::default() });
            }
            let mine = &mut self.series[s.t];
            mine.sent += s.sent;
            mine.completed += &s.completed;
            mine.in_flight += s.in_flight;
            mine.cold_starts += s.cold_starts;
        }
        for (t, ok, h) in seconds {
            add(self.open.entry((t, ok)).or_insert_with(hist::coarse), &h);
        }
    }
}

/// A cell's key and its (latency, service time) histograms.
type DecodedCell = ((usize, usize, Class), (Histogram<u64>, Histogram<u64>));

/// A partial's histograms, decoded and checked to fit ours.
struct Decoded {
    cells: Vec<DecodedCell>,
    cold: Vec<Option<Histogram<u64>>>,
    warm: Vec<Option<Histogram<u64>>>,
    flows: Vec<Histogram<u64>>,
    seconds: Vec<(usize, bool, Histogram<u64>)>,
    lag: Histogram<u64>,
}

impl Decoded {
    fn of(p: &Partial) -> Result<Decoded, MergeError> {
        let (fine, coarse) = (top(&hist::new()), top(&hist::coarse()));
        let within = |text: &str, top: u64, what: &str| {
            decode(text)
                .filter(|h| h.max() <= top)
                .ok_or_else(|| MergeError(format!("{what} does not decode to a latency histogram")))
        };
        let one = |what: &str, text: &str| within(text, fine, what);
        let maybe = |what: &str, text: &Option<String>| text.as_deref().map(|t| one(what, t)).transpose();
        Ok(Decoded {
            cells: (p.cells.iter())
                .map(|c| Ok(((c.request, c.phase, c.class), (one("a cell", &c.latency)?, one("a cell", &c.service)?))))
                .collect::<Result<_, MergeError>>()?,
            cold: p.cold.iter().map(|t| maybe("a cold-start histogram", t)).collect::<Result<_, _>>()?,
            warm: p.warm.iter().map(|t| maybe("a warm histogram", t)).collect::<Result<_, _>>()?,
            flows: p.flows.iter().map(|f| one("a flow's durations", &f.duration)).collect::<Result<_, _>>()?,
            seconds: (p.seconds.iter())
                .map(|(t, ok, text)| Ok((*t, *ok, within(text, coarse, "a second's histogram")?)))
                .collect::<Result<_, MergeError>>()?,
            lag: one("the scheduling lag", &p.lag)?,
        })
    }
}

/// The largest value a histogram of `like`'s kind takes in: a partial's of that kind holds none
/// larger (its values saturate at [`hist::MAX_US`]), so adding it cannot fail.
fn top(like: &Histogram<u64>) -> u64 {
    like.highest_equivalent(like.high())
}

/// Adds `from` into `into`: [`Decoded::of`] has checked that `from` fits.
fn add(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    let _ = into.add(from);
}

fn add_diag(mine: &mut DiagSum, t: &DiagSum) {
    mine.responses += t.responses;
    mine.ddb_calls += t.ddb_calls;
    mine.rcu += t.rcu;
    mine.wcu += t.wcu;
    mine.handler_us += t.handler_us;
    mine.served_responses += t.served_responses;
    mine.served_ddb_calls += t.served_ddb_calls;
    mine.served_rcu += t.served_rcu;
    mine.served_wcu += t.served_wcu;
    mine.billed_responses += t.billed_responses;
    mine.billed_ms += t.billed_ms;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::recorder::{Diag, Sample};

    fn sample(i: u64) -> Sample {
        let class = [Class::Ok, Class::Ok, Class::Ok, Class::LambdaThrottled, Class::Timeout][(i % 5) as usize];
        Sample {
            request: (i % 3) as usize,
            phase: (i % 2) as usize,
            class,
            latency_us: 1 + (i * 7_919) % 2_000_000,
            service_us: 1 + (i * 104_729) % 900_000,
            cold: i.is_multiple_of(11),
            billed_ms: (i.is_multiple_of(4)).then_some(i as f64 / 10.0),
            diag: (class != Class::LambdaThrottled).then_some(Diag {
                ddb_calls: 1.0,
                rcu: 0.5,
                wcu: 0.0,
                handler_us: 40.0,
            }),
            second: (i / 50) as usize,
            heuristic_mismatch: i.is_multiple_of(97),
            gateway_denied: i.is_multiple_of(89),
        }
    }

    fn recorder() -> Recorder {
        let mut r = Recorder::new(3, 2);
        r.keep_seconds = true;
        r.flows = vec![FlowSum::default()];
        r
    }

    /// Records samples `which` selects, closing seconds as a run's monitor does, with a few
    /// stragglers recorded after their second closed.
    fn run(which: impl Fn(u64) -> bool) -> Recorder {
        let mut r = recorder();
        for i in (0..600).filter(|i| which(*i)) {
            let s = sample(i);
            r.sent(s.phase, s.second, (i * 37) % 7_000);
            r.record(&s);
            if i % 50 == 49 {
                r.close_seconds_before(s.second.saturating_sub(1));
            }
            r.checks[s.request].record(
                200,
                (i.is_multiple_of(13)).then_some((&"status" as &dyn std::fmt::Display, b"{}")),
                &[],
            );
            r.flows[0].started += 1;
            r.flows[0].duration.record(1_000 + i).unwrap();
        }
        r.not_sent[1] += u64::from(which(1));
        r
    }

    use crate::record::flows::FlowSum;

    #[test]
    fn merged_partials_equal_one_recorder_that_saw_everything() {
        let mut whole = run(|_| true);
        let mut parts = [run(|i| i % 3 == 0), run(|i| i % 3 == 1), run(|i| i % 3 == 2)];
        let mut merged = recorder();
        for p in &mut parts {
            let partial = p.to_partial();
            // Through the wire format, as a worker's response travels.
            let back: Partial = serde_json::from_str(&serde_json::to_string(&partial).unwrap()).unwrap();
            merged.absorb(&back).unwrap();
        }
        whole.close_seconds_before(usize::MAX);
        merged.close_seconds_before(usize::MAX);
        assert_eq!(merged.cells.len(), whole.cells.len());
        for (k, c) in &whole.cells {
            assert_eq!(merged.cells[k].latency, c.latency, "{k:?}");
            assert_eq!(merged.cells[k].service, c.service, "{k:?}");
        }
        assert_eq!((&merged.cold, &merged.warm), (&whole.cold, &whole.warm));
        assert_eq!(merged.cold_starts_of(None, None), whole.cold_starts_of(None, None));
        assert_eq!(merged.diag, whole.diag);
        assert_eq!(merged.series, whole.series, "counts and each second's percentiles");
        assert_eq!(merged.lag, whole.lag);
        assert_eq!((merged.late_sends, merged.sent, merged.denied), (whole.late_sends, whole.sent, whole.denied));
        assert_eq!(merged.not_sent, vec![0, 1], "each worker's own count, summed");
        assert_eq!(
            (merged.heuristic_mismatches, merged.gateway_denied),
            (whole.heuristic_mismatches, whole.gateway_denied)
        );
        let (m, w) = (&merged.checks, &whole.checks);
        assert!(
            m.iter().zip(w).all(|(m, w)| (m.checked, m.failed, m.first.len()) == (w.checked, w.failed, w.first.len()))
        );
        assert_eq!(
            (merged.flows[0].started, &merged.flows[0].duration),
            (whole.flows[0].started, &whole.flows[0].duration)
        );
    }

    #[test]
    fn a_partial_that_does_not_fit_the_plan_changes_nothing() {
        let mut worker = run(|i| i < 100);
        let good = worker.to_partial();
        let mut merged = recorder();
        let mut wrong_kinds = good.clone();
        wrong_kinds.diag.push(DiagSum::default());
        let mut out_of_plan = good.clone();
        out_of_plan.cells[0].phase = 9;
        let mut garbled = good.clone();
        garbled.cells.last_mut().unwrap().service = "bm90IGEgaGlzdG9ncmFt".into();
        let mut far = good.clone();
        far.series.push(Second { t: 10_000_000, ..Second::default() });
        for bad in [wrong_kinds, out_of_plan, garbled, far] {
            assert!(merged.absorb(&bad).is_err());
        }
        assert!(merged.cells.is_empty() && merged.sent == vec![0, 0] && merged.series.is_empty());
        merged.absorb(&good).unwrap();
        assert_eq!(merged.sent_total(), 100);
    }
}
