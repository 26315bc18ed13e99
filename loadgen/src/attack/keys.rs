//! Which seeded item a request reads: uniform, Zipf over item rank, or a hot set.

use crate::scenario::KeyDistribution;

/// Draws item numbers `0..items` from a distribution.
#[derive(Debug)]
pub struct KeyPicker {
    items: u64,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Uniform,
    /// Cumulative weights of ranks 1..=items (Zipf), searched by bisection.
    Zipf(Vec<f64>),
    HotSet {
        hot: u64,
        traffic: f64,
    },
}

impl KeyPicker {
    /// A picker over `items` seeded items.
    pub fn new(items: u64, dist: &KeyDistribution) -> Self {
        let kind = match dist {
            KeyDistribution::Uniform => Kind::Uniform,
            KeyDistribution::Zipf { exponent } => {
                let mut acc = 0.0;
                let cdf = (1..=items.max(1)).map(|k| {
                    acc += 1.0 / (k as f64).powf(*exponent);
                    acc
                });
                Kind::Zipf(cdf.collect())
            }
            KeyDistribution::HotSet { keys, traffic } => {
                Kind::HotSet { hot: ((items as f64 * keys).ceil() as u64).clamp(1, items.max(1)), traffic: *traffic }
            }
        };
        Self { items, kind }
    }

    /// One item number.
    pub fn pick(&self, rng: &mut fastrand::Rng) -> u64 {
        if self.items == 0 {
            return 0;
        }
        match &self.kind {
            Kind::Uniform => rng.u64(..self.items),
            Kind::Zipf(cdf) => {
                let x = rng.f64() * cdf.last().copied().unwrap_or(1.0);
                cdf.partition_point(|c| *c < x).min(cdf.len() - 1) as u64
            }
            Kind::HotSet { hot, traffic } => {
                if rng.f64() < *traffic || *hot == self.items {
                    rng.u64(..*hot)
                } else {
                    rng.u64(*hot..self.items)
                }
            }
        }
    }

    /// `n` distinct item numbers (`n <= items`, checked when the scenario was validated).
    pub fn pick_distinct(&self, n: usize, rng: &mut fastrand::Rng, out: &mut Vec<u64>) {
        let n = n.min(self.items as usize);
        let mut tries = 0;
        while out.len() < n && tries < n * 20 {
            let k = self.pick(rng);
            if !out.contains(&k) {
                out.push(k);
            }
            tries += 1;
        }
        // A skewed distribution may keep hitting the same keys: fill up uniformly.
        while out.len() < n {
            let k = rng.u64(..self.items);
            if !out.contains(&k) {
                out.push(k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distributions_have_their_shape() {
        let mut rng = fastrand::Rng::with_seed(3);
        let zipf = KeyPicker::new(1000, &KeyDistribution::Zipf { exponent: 1.0 });
        let top = (0..100_000).filter(|_| zipf.pick(&mut rng) == 0).count();
        // P(rank 1) = 1/H(1000) ≈ 0.134.
        assert!((12_500..14_500).contains(&top), "{top}");
        let hot = KeyPicker::new(1000, &KeyDistribution::HotSet { keys: 0.01, traffic: 0.9 });
        let in_hot = (0..100_000).filter(|_| hot.pick(&mut rng) < 10).count();
        assert!((89_000..91_000).contains(&in_hot), "{in_hot}");
        let uni = KeyPicker::new(10, &KeyDistribution::Uniform);
        assert!((0..1000).all(|_| uni.pick(&mut rng) < 10));
    }

    #[test]
    fn distinct_picks_are_distinct() {
        let mut rng = fastrand::Rng::with_seed(3);
        let p = KeyPicker::new(30, &KeyDistribution::Zipf { exponent: 2.0 });
        let mut v = Vec::new();
        p.pick_distinct(25, &mut rng, &mut v);
        let set: std::collections::HashSet<_> = v.iter().collect();
        assert_eq!((v.len(), set.len()), (25, 25));
    }
}
