//! How long an invocation holds its environment, as an empirical distribution: a table of
//! quantiles read from a measured histogram, sampled by inverse transform (a uniform variate
//! looked up between two neighbouring quantiles), so drawing costs one random number and one
//! interpolation whatever the run's size.

use hdrhistogram::Histogram;

/// Quantiles kept: enough that the tail past p99.9 still has several points.
const QUANTILES: usize = 4096;

/// A distribution of times in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Empirical {
    /// Values at the quantiles (i + 0.5) / N, ascending.
    table: Vec<f64>,
    mean: f64,
}

impl Empirical {
    /// From raw samples in seconds; `None` when there are none (or none is finite).
    pub fn from_samples(samples: &[f64]) -> Option<Empirical> {
        let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite() && *x >= 0.0).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let table = (0..QUANTILES.min(v.len()))
            .map(|i| {
                let q = (i as f64 + 0.5) / QUANTILES.min(v.len()) as f64;
                v[((q * v.len() as f64) as usize).min(v.len() - 1)]
            })
            .collect();
        Some(Empirical::with_table(table))
    }

    /// From a histogram whose values are in units of `unit_s` seconds (1e-6 for µs); `None`
    /// when it is empty.
    pub fn from_histogram(h: &Histogram<u64>, unit_s: f64) -> Option<Empirical> {
        let total = h.len();
        if total == 0 {
            return None;
        }
        let n = QUANTILES.min(total as usize);
        let mut table = Vec::with_capacity(n);
        let mut seen = 0u64;
        let mut values = h.iter_recorded().map(|v| (v.count_at_value(), h.highest_equivalent(v.value_iterated_to())));
        let mut current = values.next();
        for i in 0..n {
            // The sample rank this quantile falls on, 1-based.
            let rank = (((i as f64 + 0.5) / n as f64) * total as f64).ceil().max(1.0) as u64;
            while let Some((count, _)) = current {
                if seen + count >= rank {
                    break;
                }
                seen += count;
                current = values.next();
            }
            let value = current.map_or(h.max(), |(_, v)| v);
            table.push(value as f64 * unit_s);
        }
        Some(Empirical::with_table(table))
    }

    /// Always `seconds`.
    pub fn constant(seconds: f64) -> Empirical {
        Empirical::with_table(vec![seconds.max(0.0)])
    }

    /// A latency profile's delay of this median and 99th percentile (ms): 8,192 draws from the
    /// local stack's own sampler (the log-normal it delays by) with a fixed seed, so the same
    /// calibration always gives the same table. A constant when the spread is not positive.
    pub fn profile_delay(median_ms: f64, p99_ms: f64) -> Empirical {
        let dist = local_stack::profile::Dist { median_ms, p99_ms };
        let sampler = local_stack::profile::Sampler::new(0x109_4045);
        let draws: Vec<f64> = (0..8_192).map(|_| sampler.sample(&dist).as_secs_f64()).collect();
        Empirical::from_samples(&draws).unwrap_or_else(|| Empirical::constant(median_ms.max(0.0) / 1e3))
    }

    fn with_table(table: Vec<f64>) -> Empirical {
        let mean = table.iter().sum::<f64>() / table.len() as f64;
        Empirical { table, mean }
    }

    /// Every value multiplied by `factor` (non-negative).
    pub fn scaled(&self, factor: f64) -> Empirical {
        Empirical::with_table(self.table.iter().map(|v| v * factor.max(0.0)).collect())
    }

    /// The mean of the distribution drawn from (the table's, which is what the model uses).
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// One draw.
    pub fn sample(&self, rng: &mut fastrand::Rng) -> f64 {
        if self.table.len() == 1 {
            return self.table[0];
        }
        // Between the quantiles either side of u; below the first and above the last the
        // extreme values stand (an empirical distribution has no tail beyond what was seen).
        let x = rng.f64() * self.table.len() as f64 - 0.5;
        if x <= 0.0 {
            return self.table[0];
        }
        let i = x as usize;
        if i + 1 >= self.table.len() {
            return self.table[self.table.len() - 1];
        }
        let f = x - i as f64;
        self.table[i] + (self.table[i + 1] - self.table[i]) * f
    }
}

/// Several distributions drawn from in proportion to weights: the handler durations of a plan's
/// request kinds, each arrival one of its kinds as the run's request mix picks it.
#[derive(Debug, Clone, PartialEq)]
pub struct Mix {
    kinds: Vec<Empirical>,
    /// Running sums of the weights, normalised to end at 1.
    cumulative: Vec<f64>,
}

impl Mix {
    /// `kinds` with their weights; `None` when empty or no weight is positive.
    pub fn new(kinds: Vec<(f64, Empirical)>) -> Option<Mix> {
        let total: f64 = kinds.iter().map(|(w, _)| w.max(0.0)).sum();
        if !(total > 0.0 && total.is_finite()) {
            return None;
        }
        let mut sum = 0.0;
        let cumulative = kinds
            .iter()
            .map(|(w, _)| {
                sum += w.max(0.0) / total;
                sum
            })
            .collect();
        Some(Mix { kinds: kinds.into_iter().map(|(_, e)| e).collect(), cumulative })
    }

    /// The weighted mean.
    pub fn mean(&self) -> f64 {
        let mut previous = 0.0;
        self.kinds
            .iter()
            .zip(&self.cumulative)
            .map(|(k, c)| {
                let w = c - previous;
                previous = *c;
                w * k.mean()
            })
            .sum()
    }

    /// Every kind's values multiplied by `factor`.
    pub fn scaled(&self, factor: f64) -> Mix {
        Mix { kinds: self.kinds.iter().map(|k| k.scaled(factor)).collect(), cumulative: self.cumulative.clone() }
    }

    /// One draw: a kind by weight, then a value of it.
    pub fn sample(&self, rng: &mut fastrand::Rng) -> f64 {
        if self.kinds.len() == 1 {
            return self.kinds[0].sample(rng);
        }
        let i = self.pick(rng);
        self.kinds[i].sample(rng)
    }

    /// Kinds in the mix.
    pub fn len(&self) -> usize {
        self.kinds.len()
    }

    /// Whether the mix has no kind (never: [`Mix::new`] refuses one).
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }

    /// A kind by weight.
    pub fn pick(&self, rng: &mut fastrand::Rng) -> usize {
        let u = rng.f64();
        self.cumulative.iter().position(|c| u < *c).unwrap_or(self.kinds.len() - 1)
    }

    /// A value of kind `i` (the last kind past the end).
    pub fn sample_kind(&self, i: usize, rng: &mut fastrand::Rng) -> f64 {
        self.kinds[i.min(self.kinds.len() - 1)].sample(rng)
    }
}

impl From<Empirical> for Mix {
    fn from(e: Empirical) -> Mix {
        Mix { kinds: vec![e], cumulative: vec![1.0] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_follow_the_histogram() {
        // Half the samples at 10 ms, half at 30 ms: the mean is 20 ms and no draw leaves [10, 30].
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        h.record_n(10_000, 500).unwrap();
        h.record_n(30_000, 500).unwrap();
        let d = Empirical::from_histogram(&h, 1e-6).unwrap();
        assert!((d.mean() - 0.020).abs() < 0.0002, "{}", d.mean());
        let mut rng = fastrand::Rng::with_seed(1);
        let draws: Vec<f64> = (0..10_000).map(|_| d.sample(&mut rng)).collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((mean - 0.020).abs() < 0.0005, "{mean}");
        assert!(draws.iter().all(|x| (0.00999..=0.03002).contains(x)));
        assert!(Empirical::from_histogram(&Histogram::<u64>::new(3).unwrap(), 1e-6).is_none());
    }

    #[test]
    fn samples_keep_their_quantiles() {
        let samples: Vec<f64> = (1..=1000).map(|i| i as f64 / 1000.0).collect();
        let d = Empirical::from_samples(&samples).unwrap();
        assert!((d.mean() - 0.5005).abs() < 0.001, "{}", d.mean());
        assert_eq!(Empirical::constant(0.1).sample(&mut fastrand::Rng::with_seed(3)), 0.1);
        assert!(Empirical::from_samples(&[f64::NAN]).is_none());
        assert!((d.scaled(2.0).mean() - 1.001).abs() < 0.002);
    }

    #[test]
    fn a_mix_draws_each_kind_by_its_weight() {
        let m = Mix::new(vec![(3.0, Empirical::constant(0.01)), (1.0, Empirical::constant(0.05))]).unwrap();
        assert!((m.mean() - 0.02).abs() < 1e-12);
        let mut rng = fastrand::Rng::with_seed(7);
        let slow = (0..40_000).filter(|_| m.sample(&mut rng) > 0.03).count();
        assert!((9_400..=10_600).contains(&slow), "{slow} of 40000 drew the weight-1 kind");
        assert!((m.scaled(2.0).mean() - 0.04).abs() < 1e-12);
        assert!(Mix::new(vec![]).is_none());
        assert!(Mix::new(vec![(0.0, Empirical::constant(1.0))]).is_none());
    }
}
