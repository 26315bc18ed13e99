//! Partition-key values in the model: which keys an invocation touches — drawn from the plan's
//! key distribution by the picker `run` uses — and one read and one write [`DebtBucket`] per
//! key, the emulator's per-partition rule, so a hot key is throttled while the table is not.
//!
//! Doubts, said in the simulation's notes too: the keys a request's templates draw (`{id}`,
//! `{ids:N}`) are taken as the partition-key values its function reads or writes, its units
//! spread evenly over them; a request that draws none (a literal path such as
//! `/items/item-000150`) is taken to touch one key of its own every time, which holds for a
//! read or write of one item or a query of one partition key but overstates a scan's load on
//! one partition; `{new_id}` writes a key never used before, whose partition is never hot.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use rustc_hash::FxHasher;

use local_stack::rules::DebtBucket;

use crate::attack::keys::KeyPicker;
use crate::scenario::template::Part;
use crate::scenario::{KeyDistribution, Request};

/// The keys one invocation of a request touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keys {
    /// Keys drawn from the plan's distribution: one per `{id}`, and `n` distinct per
    /// `{ids:n}`.
    Drawn {
        /// `{id}` placeholders.
        ones: usize,
        /// The `n` of each `{ids:n}`.
        sets: Vec<usize>,
    },
    /// The same key every time (the templates draw none).
    Fixed,
    /// A key never used before (`{new_id}`): its partition is never hot.
    Fresh,
}

impl Keys {
    /// What `r`'s path and body templates draw.
    pub fn of(r: &Request) -> Keys {
        let parts = r.path.parts.iter().chain(r.body.iter().flat_map(|b| b.parts.iter()));
        let (mut ones, mut sets, mut fresh) = (0, Vec::new(), false);
        for p in parts {
            match p {
                Part::Id => ones += 1,
                Part::Ids(n) => sets.push(*n),
                // Whatever varies per request names a key of its own (a small `{random_int}`
                // range would repeat keys; the model takes them as fresh).
                Part::NewId
                | Part::Uuid
                | Part::Seq
                | Part::NowMs
                | Part::RandomInt(..)
                | Part::Field(..)
                | Part::FieldName(..)
                | Part::CaptureName(_)
                | Part::Captured(_) => fresh = true,
                Part::Literal(_) | Part::Payload | Part::Env(_) => {}
            }
        }
        match (ones + sets.len(), fresh) {
            (0, true) => Keys::Fresh,
            (0, false) => Keys::Fixed,
            _ => Keys::Drawn { ones, sets },
        }
    }
}

/// What each partition-key value serves, and which keys each of the plan's requests touches.
#[derive(Debug, Clone)]
pub struct PartitionSpec {
    /// Read units per second one key serves before throttling.
    pub read_per_s: f64,
    /// Write units per second one key serves.
    pub write_per_s: f64,
    /// The keys of each of the plan's requests, in the plan's order.
    pub keys: Vec<Keys>,
    /// The plan's seeded items the keys are drawn from.
    pub items: u64,
    /// Their distribution, as the plan says.
    pub distribution: KeyDistribution,
    /// The picker over them, built once (a Zipf picker over many items is large).
    picker: Arc<KeyPicker>,
}

impl PartialEq for PartitionSpec {
    fn eq(&self, other: &Self) -> bool {
        (self.read_per_s, self.write_per_s, self.items) == (other.read_per_s, other.write_per_s, other.items)
            && self.keys == other.keys
            && self.distribution == other.distribution
    }
}

impl PartitionSpec {
    /// Keys of `requests` drawn from `items` in `distribution`, each served at `(read, write)`
    /// units per second.
    pub fn new(rates: (f64, f64), requests: &[Request], items: u64, distribution: &KeyDistribution) -> PartitionSpec {
        PartitionSpec {
            read_per_s: rates.0,
            write_per_s: rates.1,
            keys: requests.iter().map(Keys::of).collect(),
            items,
            distribution: distribution.clone(),
            picker: Arc::new(KeyPicker::new(items, distribution)),
        }
    }
}

/// One read and one write bucket per key touched.
type Buckets = HashMap<u64, (DebtBucket, DebtBucket), BuildHasherDefault<FxHasher>>;

/// Buckets kept before the full ones are forgotten (a full bucket is what a new one would be),
/// as the emulator keeps them.
const KEPT: usize = 10_000;

/// The buckets of the keys touched so far, at the current virtual time.
#[derive(Debug, Clone)]
pub struct Partitions {
    spec: PartitionSpec,
    buckets: Buckets,
    /// Size at which the full buckets are next forgotten: doubles with what stays, so the trim
    /// costs a constant per key touched.
    trim_at: usize,
    /// One `{ids:N}` draw (kept to reuse its allocation).
    set: Vec<u64>,
}

impl Partitions {
    /// Every key's buckets full.
    pub fn new(spec: &PartitionSpec) -> Partitions {
        Partitions { spec: spec.clone(), buckets: Buckets::default(), trim_at: KEPT, set: Vec::new() }
    }

    /// The keys an invocation of request `request` touches, appended to `out` (nothing for a
    /// fresh key). A fixed key is numbered past the seeded items.
    pub fn draw(&mut self, request: usize, rng: &mut fastrand::Rng, out: &mut Vec<u64>) {
        match self.spec.keys.get(request) {
            Some(Keys::Drawn { ones, sets }) => {
                for _ in 0..*ones {
                    out.push(self.spec.picker.pick(rng));
                }
                for n in sets {
                    self.set.clear();
                    self.spec.picker.pick_distinct(*n, rng, &mut self.set);
                    out.extend_from_slice(&self.set);
                }
            }
            Some(Keys::Fixed) => out.push(self.spec.items + request as u64),
            Some(Keys::Fresh) | None => {}
        }
    }

    /// Moves the keys of `pending` whose balance at `at` is not positive (for a call that
    /// `reads`, `writes`) into `held`; `pending` keeps the admitted ones.
    pub fn hold_back(&mut self, pending: &mut Vec<u64>, held: &mut Vec<u64>, at: f64, reads: bool, writes: bool) {
        let mut i = 0;
        while i < pending.len() {
            let (r, w) = self.bucket(pending[i], at);
            if (!reads || r.balance(at) > 0.0) && (!writes || w.balance(at) > 0.0) {
                i += 1;
            } else {
                held.push(pending.swap_remove(i));
            }
        }
    }

    /// Takes `(read, write)` units at `at`, spread evenly over `keys`.
    pub fn debit(&mut self, keys: &[u64], at: f64, units: (f64, f64)) {
        if keys.is_empty() {
            return;
        }
        let n = keys.len() as f64;
        for k in keys {
            let (r, w) = self.bucket(*k, at);
            if units.0 > 0.0 {
                r.debit(at, units.0 / n);
            }
            if units.1 > 0.0 {
                w.debit(at, units.1 / n);
            }
        }
    }

    fn bucket(&mut self, key: u64, at: f64) -> &mut (DebtBucket, DebtBucket) {
        if self.buckets.len() >= self.trim_at && !self.buckets.contains_key(&key) {
            self.buckets.retain(|_, (r, w)| !(r.is_full(at) && w.is_full(at)));
            self.trim_at = (2 * self.buckets.len()).max(KEPT);
        }
        let (r, w) = (self.spec.read_per_s, self.spec.write_per_s);
        self.buckets.entry(key).or_insert_with(|| (DebtBucket::new(r), DebtBucket::new(w)))
    }

    /// Buckets kept now.
    pub fn kept(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::template::Template;

    fn request(path: &str) -> Request {
        Request::get(path)
    }

    #[test]
    fn templates_say_which_keys_a_request_touches() {
        assert_eq!(Keys::of(&request("/items/{id}")), Keys::Drawn { ones: 1, sets: vec![] });
        assert_eq!(Keys::of(&request("/items?ids={ids:25}")), Keys::Drawn { ones: 0, sets: vec![25] });
        assert_eq!(Keys::of(&request("/items/item-000150")), Keys::Fixed);
        let mut post = request("/items");
        post.body = Some(Template::parse("{{\"id\":\"{new_id}\"}}").unwrap());
        assert_eq!(Keys::of(&post), Keys::Fresh);
    }

    #[test]
    fn a_hot_key_is_throttled_while_a_cold_one_is_not() {
        let requests = [request("/items/{id}"), request("/items/item-000150")];
        let hot = KeyDistribution::HotSet { keys: 0.005, traffic: 0.8 };
        let spec = PartitionSpec::new((100.0, 100.0), &requests, 200, &hot);
        let mut p = Partitions::new(&spec);
        let mut rng = fastrand::Rng::with_seed(5);
        let (mut keys, mut refused) = (Vec::new(), [0u32; 2]);
        // 180 reads/s of the drawn key (80% on one item: 144 units/s against 100) and 20/s of
        // the fixed one, one unit each, for 10 s.
        let mut held = Vec::new();
        for i in 0..2_000 {
            let at = i as f64 / 200.0;
            let r = usize::from(i % 10 == 0);
            keys.clear();
            p.draw(r, &mut rng, &mut keys);
            held.clear();
            p.hold_back(&mut keys, &mut held, at, true, false);
            if held.is_empty() {
                p.debit(&keys, at, (1.0, 0.0));
            } else {
                refused[r] += 1;
            }
        }
        assert_eq!(refused[1], 0);
        // ~44 of the hot key's 144 a second are over its limit (1,440 in 10 s, the first
        // second's bucket aside).
        assert!((300..500).contains(&refused[0]), "{refused:?}");
    }

    #[test]
    fn full_buckets_are_forgotten_so_memory_stays_bounded() {
        let requests = [request("/items/{id}")];
        let spec = PartitionSpec::new((100.0, 100.0), &requests, 1_000_000, &KeyDistribution::Uniform);
        let mut p = Partitions::new(&spec);
        let mut rng = fastrand::Rng::with_seed(6);
        let mut keys = Vec::new();
        // 200,000 reads over 2,000 s of a million items: each bucket refills within a second.
        for i in 0..200_000 {
            keys.clear();
            p.draw(0, &mut rng, &mut keys);
            p.debit(&keys, i as f64 / 100.0, (1.0, 0.0));
        }
        assert!(p.kept() <= 2 * KEPT, "{}", p.kept());
    }

    #[test]
    fn a_batch_holds_back_only_its_hot_keys() {
        let requests = [request("/items?ids={ids:3}")];
        let spec = PartitionSpec::new((1.0, 1.0), &requests, 10, &KeyDistribution::Uniform);
        let mut p = Partitions::new(&spec);
        p.debit(&[4], 0.0, (2.0, 0.0));
        let (mut pending, mut held) = (vec![3, 4, 5], Vec::new());
        p.hold_back(&mut pending, &mut held, 0.0, true, false);
        pending.sort_unstable();
        assert_eq!((pending, held), (vec![3, 5], vec![4]));
    }
}
