//! The arrival schedule of an open-model phase: when the k-th request is due, as an offset from
//! the phase start. The rate is piecewise linear (constant, ramp or steps), so the cumulative
//! number of arrivals Λ(t) is piecewise quadratic and inverts in closed form; even arrivals sit
//! at Λ(t) = 0, 1, 2, …, Poisson arrivals at cumulative sums of unit exponentials. The schedule
//! is absolute, so lateness never accumulates into drift.
//!
//! A fleet splits one schedule exactly: arrival k (counted from 0 in each phase) belongs to
//! shard k mod N, and every shard computes the whole sequence to find its own, so the union of
//! the shards' arrivals is the single-host schedule, instant for instant.

use std::time::Duration;

use crate::scenario::{Arrivals, Load};

/// One linear piece of the rate: `rate(t) = r0 + (r1 - r0)·(t - t0)/(t1 - t0)` on `[t0, t1)`.
#[derive(Debug, Clone, Copy)]
struct Segment {
    t0: f64,
    t1: f64,
    r0: f64,
    r1: f64,
    /// Λ at `t0`.
    n0: f64,
}

impl Segment {
    fn count(&self) -> f64 {
        (self.r0 + self.r1) / 2.0 * (self.t1 - self.t0)
    }

    /// The time within this segment at which Λ reaches `n` (`n0 <= n <= n0 + count`).
    fn invert(&self, n: f64) -> f64 {
        let x = n - self.n0;
        let len = self.t1 - self.t0;
        let slope = (self.r1 - self.r0) / len;
        if slope.abs() < 1e-12 {
            return self.t0 + x / self.r0;
        }
        // r0·τ + slope·τ²/2 = x  →  τ = (−r0 + √(r0² + 2·slope·x)) / slope
        let disc = (self.r0 * self.r0 + 2.0 * slope * x).max(0.0);
        self.t0 + ((disc.sqrt() - self.r0) / slope).clamp(0.0, len)
    }
}

/// Which arrivals of a schedule one fleet worker sends: arrival k is shard `k mod count`'s;
/// closed-model user u is shard `u mod count`'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    /// This shard, from 0.
    pub index: u32,
    /// How many shards the schedule is split into (1: the whole of it).
    pub count: u32,
}

impl Shard {
    /// The whole schedule: one host sends every arrival.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count`; `None` unless `index < count`.
    pub fn new(index: u32, count: u32) -> Option<Shard> {
        (index < count).then_some(Shard { index, count })
    }

    /// Whether arrival (or user) `k` is this shard's.
    pub fn owns(self, k: u64) -> bool {
        k % u64::from(self.count) == u64::from(self.index)
    }
}

/// The schedule of one phase.
#[derive(Debug)]
pub struct Pacer {
    segments: Vec<Segment>,
    total: f64,
    arrivals: Arrivals,
    /// Λ of the next arrival.
    next_n: f64,
    /// The index of the next arrival in the whole schedule.
    next_k: u64,
    shard: Shard,
    rng: fastrand::Rng,
}

impl Pacer {
    /// A schedule for an open-model `load` over `duration`; `None` for a closed model.
    pub fn new(load: &Load, duration: Duration, arrivals: Arrivals, seed: u64) -> Option<Pacer> {
        let d = duration.as_secs_f64();
        let pieces: Vec<(f64, f64, f64, f64)> = match load {
            Load::Constant { rate } => vec![(0.0, d, *rate, *rate)],
            Load::Ramp { from, to } => vec![(0.0, d, *from, *to)],
            Load::Steps { rates } => {
                let step = d / rates.len() as f64;
                rates.iter().enumerate().map(|(i, r)| (i as f64 * step, (i + 1) as f64 * step, *r, *r)).collect()
            }
            Load::Closed { .. } => return None,
        };
        let mut segments = Vec::new();
        let mut n0 = 0.0;
        for (t0, t1, r0, r1) in pieces {
            let s = Segment { t0, t1, r0, r1, n0 };
            n0 += s.count();
            segments.push(s);
        }
        let mut rng = fastrand::Rng::with_seed(seed);
        let first = match arrivals {
            Arrivals::Even => 0.0,
            Arrivals::Poisson => exp1(&mut rng),
        };
        Some(Pacer { segments, total: n0, arrivals, next_n: first, next_k: 0, shard: Shard::WHOLE, rng })
    }

    /// Only `shard`'s arrivals of this schedule.
    pub fn sharded(mut self, shard: Shard) -> Pacer {
        self.shard = shard;
        self
    }

    /// The offset of this shard's next arrival, or `None` when the phase is over.
    pub fn next_due(&mut self) -> Option<Duration> {
        self.next_arrival().map(|(_, t)| t)
    }

    /// This shard's next arrival: its index in the whole schedule and its offset.
    pub fn next_arrival(&mut self) -> Option<(u64, Duration)> {
        loop {
            let t = self.next_any()?;
            let k = self.next_k;
            self.next_k += 1;
            if self.shard.owns(k) {
                return Some((k, t));
            }
        }
    }

    /// The next arrival of the whole schedule.
    fn next_any(&mut self) -> Option<Duration> {
        // Λ(t) reaches `total` exactly at the phase end; an arrival there belongs to the next phase.
        if self.next_n >= self.total - 1e-9 {
            return None;
        }
        let n = self.next_n;
        let seg =
            self.segments.iter().find(|s| n < s.n0 + s.count() - 1e-12 || s.n0 + s.count() >= self.total - 1e-12)?;
        let t = seg.invert(n);
        self.next_n += match self.arrivals {
            Arrivals::Even => 1.0,
            Arrivals::Poisson => exp1(&mut self.rng),
        };
        Some(Duration::from_secs_f64(t))
    }
}

/// A unit-mean exponential variate.
fn exp1(rng: &mut fastrand::Rng) -> f64 {
    -(1.0 - rng.f64()).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(load: Load, secs: u64, arrivals: Arrivals) -> Vec<f64> {
        let mut p = Pacer::new(&load, Duration::from_secs(secs), arrivals, 42).unwrap();
        std::iter::from_fn(|| p.next_due()).map(|d| d.as_secs_f64()).collect()
    }

    #[test]
    fn constant_rate_is_evenly_spaced_without_drift() {
        let t = all(Load::Constant { rate: 1000.0 }, 10, Arrivals::Even);
        assert_eq!(t.len(), 10_000);
        assert_eq!(t[0], 0.0);
        assert!((t[9_999] - 9.999).abs() < 1e-9, "{}", t[9_999]);
        assert!(t.windows(2).all(|w| ((w[1] - w[0]) - 0.001).abs() < 1e-9));
    }

    #[test]
    fn ramp_has_the_right_count_and_shape() {
        // 0 → 100 req/s over 10 s: 500 requests, a quarter of them in the first half.
        let t = all(Load::Ramp { from: 0.0, to: 100.0 }, 10, Arrivals::Even);
        assert_eq!(t.len(), 500);
        let first_half = t.iter().filter(|x| **x < 5.0).count();
        assert!((124..=126).contains(&first_half), "{first_half}");
        assert!(t.windows(2).all(|w| w[1] >= w[0]));
        let down = all(Load::Ramp { from: 100.0, to: 0.0 }, 10, Arrivals::Even);
        assert_eq!(down.len(), 500);
        assert!(down.iter().filter(|x| **x < 5.0).count() > 370);
    }

    #[test]
    fn steps_hold_each_rate_for_an_equal_share() {
        let t = all(Load::Steps { rates: vec![10.0, 0.0, 30.0] }, 3, Arrivals::Even);
        assert_eq!(t.len(), 40);
        assert_eq!(t.iter().filter(|x| **x < 1.0).count(), 10);
        assert_eq!(t.iter().filter(|x| (1.0..2.0).contains(*x)).count(), 0);
        assert_eq!(t.iter().filter(|x| **x >= 2.0).count(), 30);
    }

    #[test]
    fn poisson_matches_the_rate_on_average() {
        let t = all(Load::Constant { rate: 2000.0 }, 10, Arrivals::Poisson);
        assert!((19_500..=20_500).contains(&t.len()), "{}", t.len());
        let gaps: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        assert!((var.sqrt() / mean - 1.0).abs() < 0.05, "exponential gaps have CV 1");
        let again = all(Load::Constant { rate: 2000.0 }, 10, Arrivals::Poisson);
        assert_eq!(t, again, "seeded: the same schedule every run");
    }

    fn sharded(load: &Load, arrivals: Arrivals, shard: Shard) -> Vec<(u64, Duration)> {
        let mut p = Pacer::new(load, Duration::from_secs(4), arrivals, 7).unwrap().sharded(shard);
        std::iter::from_fn(|| p.next_arrival()).collect()
    }

    #[test]
    fn the_shards_of_a_schedule_are_exactly_the_whole_of_it() {
        let loads = [
            Load::Constant { rate: 997.0 },
            Load::Ramp { from: 10.0, to: 800.0 },
            Load::Ramp { from: 600.0, to: 0.0 },
            Load::Steps { rates: vec![100.0, 0.0, 1234.5, 3.0] },
        ];
        for load in &loads {
            for arrivals in [Arrivals::Even, Arrivals::Poisson] {
                let whole = sharded(load, arrivals, Shard::WHOLE);
                assert!(whole.iter().enumerate().all(|(i, (k, _))| *k == i as u64));
                for n in [1u32, 2, 7] {
                    let mut union: Vec<(u64, Duration)> =
                        (0..n).flat_map(|i| sharded(load, arrivals, Shard::new(i, n).unwrap())).collect();
                    for i in 0..n {
                        let own = sharded(load, arrivals, Shard::new(i, n).unwrap());
                        assert!(own.iter().all(|(k, _)| k % u64::from(n) == u64::from(i)), "{load:?} {i}/{n}");
                    }
                    union.sort();
                    assert_eq!(union, whole, "{load:?} {arrivals:?} N={n}");
                }
            }
        }
    }

    #[test]
    fn a_shard_is_only_an_index_below_the_count() {
        assert_eq!(Shard::new(2, 2), None);
        assert_eq!(Shard::new(0, 0), None);
        assert!(Shard::new(6, 7).unwrap().owns(13) && !Shard::new(6, 7).unwrap().owns(12));
    }

    #[test]
    fn closed_models_have_no_schedule() {
        assert!(
            Pacer::new(&Load::Closed { users: 3, think: Duration::ZERO }, Duration::from_secs(1), Arrivals::Even, 1)
                .is_none()
        );
    }
}
