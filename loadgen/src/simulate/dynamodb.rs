//! The table behind the function: its read and write throughput as the local stack limits it
//! (one [`DebtBucket`] each, the emulator's rule), an invocation's DynamoDB calls spread over
//! its handler duration, and the SDK's retries of a throttled call — capped exponential
//! backoff with full jitter — before the function gives up with `dynamodb_throttled`.
//!
//! Each call is also held to the per-partition limits of the keys it touches
//! ([`super::partition`]), where the plan's keys are known: a single-key call is refused when
//! its key's balance is not positive; a batch gets the keys whose balance is, and target-api
//! calls again for the rest with its own backoff (8 calls, 25 ms to 1 s).
//!
//! Doubts, said in the simulation's notes too: the SDK's retry quota (a token bucket per
//! client that stops retries after many throttles) is not modelled; a provisioned table's
//! burst capacity (up to 300 s of unused capacity, used on a best-effort basis, per AWS) is not
//! counted on, so a provisioned table here throttles a little sooner than AWS may; a
//! BatchGetItem admitted by the table's balance is admitted for all its keys whose partitions
//! allow, where the emulator also holds back the keys beyond what that balance covers.

use local_stack::rules::DebtBucket;

use super::partition::{PartitionSpec, Partitions};

/// How the function retries a throttled DynamoDB call: the SDK's standard mode as target-api
/// configures it (`target-api/src/client.rs`: 3 attempts, 20 ms initial backoff, 200 ms cap).
/// The backoff before retry `k` is uniform in `[0, min(cap, initial × 2^(k-1)))`, as
/// aws-smithy-runtime's standard strategy computes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retry {
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// Backoff before the first retry (upper bound of its jitter), s.
    pub initial_s: f64,
    /// Largest backoff, s.
    pub cap_s: f64,
}

impl Default for Retry {
    fn default() -> Self {
        Retry { max_attempts: 3, initial_s: 0.020, cap_s: 0.200 }
    }
}

impl Retry {
    /// How target-api calls again for a BatchGetItem's unprocessed keys (`BatchRetry` in
    /// `target-api/src/app.rs`): 8 calls, 25 ms doubling to 1 s, full jitter.
    pub const BATCH: Retry = Retry { max_attempts: 8, initial_s: 0.025, cap_s: 1.0 };

    /// The wait before retry `k` (from 1): uniform in `[0, min(cap, initial × 2^(k-1)))`.
    fn backoff(&self, k: u32, rng: &mut fastrand::Rng) -> f64 {
        rng.f64() * (self.initial_s * 2f64.powi(k.min(30) as i32 - 1)).min(self.cap_s)
    }
}

/// What one invocation of a request kind asks of the table.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Units {
    /// Read units per invocation.
    pub read: f64,
    /// Write units per invocation.
    pub write: f64,
    /// DynamoDB calls per invocation (the units are spread evenly over them), at least 1.
    pub calls: u32,
}

/// How a table serves: `(read, write)` units per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capacity {
    /// Read units per second before throttling.
    pub read_per_s: f64,
    /// Write units per second.
    pub write_per_s: f64,
    /// True for a provisioned table (priced per capacity-hour, not per request).
    pub provisioned: bool,
}

/// What the table did to one invocation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Served {
    /// The handler's duration with the backoffs it waited, s (up to the call that gave up
    /// when throttled).
    pub duration_s: f64,
    /// True when a call was still throttled after every attempt: the function answers
    /// `dynamodb_throttled`.
    pub throttled: bool,
    /// Read and write units consumed (billed on demand).
    pub units: (f64, f64),
}

/// The table a configuration's invocations use, and what each of the plan's requests asks of it.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    /// Its throughput.
    pub capacity: Capacity,
    /// How the function retries a throttled call.
    pub retry: Retry,
    /// What each of the plan's requests asks, in the plan's order.
    pub units: Vec<Units>,
    /// The per-partition limits and the keys each request touches, when the plan's keys are
    /// known.
    pub partitions: Option<PartitionSpec>,
}

/// The table's state at the current virtual time.
#[derive(Debug, Clone)]
pub struct Table {
    read: DebtBucket,
    write: DebtBucket,
    retry: Retry,
    batch: Retry,
    units: Vec<Units>,
    partitions: Option<Partitions>,
    /// The keys of the invocation being served, and of a call's admitted and refused ones (kept
    /// to reuse their allocations).
    keys: Vec<u64>,
    pending: Vec<u64>,
    held: Vec<u64>,
}

impl Table {
    /// The table `spec` describes, every bucket full.
    pub fn new(spec: &TableSpec) -> Table {
        let c = spec.capacity;
        Table {
            read: DebtBucket::new(c.read_per_s),
            write: DebtBucket::new(c.write_per_s),
            retry: spec.retry,
            batch: Retry::BATCH,
            units: spec.units.clone(),
            partitions: spec.partitions.as_ref().map(Partitions::new),
            keys: Vec::new(),
            pending: Vec::new(),
            held: Vec::new(),
        }
    }

    /// An invocation of the plan's request `request` starting its handler at `start`, for
    /// `duration_s`.
    ///
    /// A call is made at its share of the duration (plus the backoffs before it) and admitted
    /// while the balances it needs are positive — the table's, and each key's it touches —
    /// then debited (the emulator's rule). Calls are evaluated when the invocation starts, so a
    /// later arrival may see a bucket already advanced to a call's time: the refill is never
    /// lost, only seen up to one duration early.
    pub fn serve(&mut self, start: f64, duration_s: f64, request: usize, rng: &mut fastrand::Rng) -> Served {
        let units = self.units.get(request).copied().unwrap_or_default();
        if units.read <= 0.0 && units.write <= 0.0 {
            return Served { duration_s, throttled: false, units: (0.0, 0.0) };
        }
        let mut keys = std::mem::take(&mut self.keys);
        keys.clear();
        if let Some(p) = self.partitions.as_mut() {
            p.draw(request, rng, &mut keys);
        }
        let served = self.calls(start, duration_s, units, &keys, rng);
        self.keys = keys;
        served
    }

    /// The calls of one invocation, each with its share of `keys` (every key when there are
    /// fewer keys than calls).
    fn calls(&mut self, start: f64, duration_s: f64, units: Units, keys: &[u64], rng: &mut fastrand::Rng) -> Served {
        let calls = units.calls.max(1);
        let share = (units.read / f64::from(calls), units.write / f64::from(calls));
        let (mut waited, mut used) = (0.0, (0.0, 0.0));
        for call in 0..calls {
            let done = duration_s * f64::from(call) / f64::from(calls);
            let own = if keys.len() >= calls as usize {
                let (n, c) = (keys.len(), calls as usize);
                &keys[call as usize * n / c..(call as usize + 1) * n / c]
            } else {
                keys
            };
            if !self.call(start + done, own, share, (&mut waited, &mut used), rng) {
                return Served { duration_s: done + waited, throttled: true, units: used };
            }
        }
        Served { duration_s: duration_s + waited, throttled: false, units: used }
    }

    /// One call made at `at` (plus what the invocation `waited` before it) asking `share` units
    /// spread over `keys`: admitted while the table's balance and its keys' are positive (a
    /// batch gets the keys whose balance is, the emulator's rule), retried as the SDK does while
    /// refused whole, and a batch's refused keys asked again after target-api's batch backoff.
    /// Adds to `waited` and to the units `used`; false when the call gives up.
    fn call(
        &mut self,
        at: f64,
        keys: &[u64],
        share: (f64, f64),
        (waited, used): (&mut f64, &mut (f64, f64)),
        rng: &mut fastrand::Rng,
    ) -> bool {
        let (reads, writes) = (share.0 > 0.0, share.1 > 0.0);
        let n = keys.len().max(1) as f64;
        let mut pending = std::mem::take(&mut self.pending);
        let mut held = std::mem::take(&mut self.held);
        pending.clear();
        pending.extend_from_slice(keys);
        let (mut attempt, mut round) = (1, 1);
        let served = loop {
            let now = at + *waited;
            held.clear();
            let table = (!reads || self.read.balance(now) > 0.0) && (!writes || self.write.balance(now) > 0.0);
            if table && let Some(p) = self.partitions.as_mut() {
                p.hold_back(&mut pending, &mut held, now, reads, writes);
            }
            if !table || (!keys.is_empty() && pending.is_empty()) {
                // Refused whole: the SDK retries the same call.
                pending.append(&mut held);
                if attempt >= self.retry.max_attempts {
                    break false;
                }
                *waited += self.retry.backoff(attempt, rng);
                attempt += 1;
                continue;
            }
            let admitted = if keys.is_empty() { 1.0 } else { pending.len() as f64 / n };
            let units = (share.0 * admitted, share.1 * admitted);
            if reads {
                self.read.debit(now, units.0);
            }
            if writes {
                self.write.debit(now, units.1);
            }
            if let Some(p) = self.partitions.as_mut() {
                p.debit(&pending, now, units);
            }
            (used.0, used.1) = (used.0 + units.0, used.1 + units.1);
            if held.is_empty() {
                break true;
            }
            // A batch's unprocessed keys, called for again.
            if round >= self.batch.max_attempts {
                break false;
            }
            *waited += self.batch.backoff(round, rng);
            (round, attempt) = (round + 1, 1);
            std::mem::swap(&mut pending, &mut held);
        };
        (self.pending, self.held) = (pending, held);
        served
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::partition::PartitionSpec;

    fn table(read: f64, write: f64, units: Units) -> Table {
        Table::new(&TableSpec {
            capacity: Capacity { read_per_s: read, write_per_s: write, provisioned: true },
            retry: Retry::default(),
            units: vec![units],
            partitions: None,
        })
    }

    #[test]
    fn below_capacity_nothing_is_throttled_or_delayed() {
        let mut t = table(100.0, 10.0, Units { read: 1.0, write: 0.0, calls: 1 });
        let mut rng = fastrand::Rng::with_seed(1);
        for i in 0..1000 {
            let s = t.serve(i as f64 / 50.0, 0.01, 0, &mut rng);
            assert_eq!((s.duration_s, s.throttled), (0.01, false));
        }
    }

    #[test]
    fn above_capacity_the_admitted_units_match_the_refill() {
        // 200 reads/s of 1 unit against 100 units/s: about half give up after their retries.
        let mut t = table(100.0, 10.0, Units { read: 1.0, write: 0.0, calls: 1 });
        let mut rng = fastrand::Rng::with_seed(2);
        let served: Vec<Served> = (0..20_000).map(|i| t.serve(i as f64 / 200.0, 0.01, 0, &mut rng)).collect();
        let ok = served.iter().filter(|s| !s.throttled).count() as f64;
        // 100 s: 100 × 100 units refilled plus the first second's bucket.
        assert!((ok - 10_100.0).abs() < 300.0, "{ok}");
        // A throttled invocation waited its two backoffs, each under its ceiling.
        let waited = served.iter().filter(|s| s.throttled).map(|s| s.duration_s).fold(0.0, f64::max);
        assert!(waited > 0.0 && waited < 0.020 + 0.040, "{waited}");
    }

    #[test]
    fn many_calls_each_risk_a_throttle() {
        // The same units in 25 calls: a request fails when any call exhausts its attempts, so
        // more requests fail than with one call, though the units admitted are alike.
        let run = |calls| {
            let mut t = table(100.0, 10.0, Units { read: 5.0, write: 0.0, calls });
            let mut rng = fastrand::Rng::with_seed(3);
            (0..4_000).filter(|i| t.serve(*i as f64 / 40.0, 0.05, 0, &mut rng).throttled).count()
        };
        assert!(run(25) > run(1), "{} vs {}", run(25), run(1));
    }

    #[test]
    fn writes_draw_on_the_write_bucket_only() {
        let mut t = table(1.0, 1000.0, Units { read: 0.0, write: 2.0, calls: 1 });
        let mut rng = fastrand::Rng::with_seed(4);
        assert!((0..500).all(|i| !t.serve(i as f64 / 100.0, 0.01, 0, &mut rng).throttled));
    }

    #[test]
    fn a_batch_gets_its_cold_keys_and_calls_again_for_a_hot_one() {
        use crate::scenario::{KeyDistribution, Request};
        let batch = Request::get("/items?ids={ids:3}&pattern=batch");
        let spec = TableSpec {
            capacity: Capacity { read_per_s: 1_000.0, write_per_s: 1_000.0, provisioned: false },
            retry: Retry::default(),
            units: vec![Units { read: 3.0, write: 0.0, calls: 1 }],
            partitions: Some(PartitionSpec::new((1.0, 1.0), &[batch], 3, &KeyDistribution::Uniform)),
        };
        let mut rng = fastrand::Rng::with_seed(7);
        // Item 1 a thousand units in debt: every call leaves it unprocessed, and after 8 the
        // function gives up, having read the other two.
        let mut t = Table::new(&spec);
        t.partitions.as_mut().unwrap().debit(&[1], 0.0, (1_000.0, 0.0));
        let s = t.serve(0.0, 0.01, 0, &mut rng);
        assert!(s.throttled);
        assert!((s.units.0 - 2.0).abs() < 1e-9, "{:?}", s.units);
        // A little in debt: one of the calls again gets it, later.
        let mut t = Table::new(&spec);
        t.partitions.as_mut().unwrap().debit(&[1], 0.0, (1.05, 0.0));
        let s = t.serve(0.0, 0.01, 0, &mut rng);
        assert!(!s.throttled && s.duration_s > 0.01 + 0.05 - 1e-9, "{s:?}");
        assert!((s.units.0 - 3.0).abs() < 1e-9);
    }
}
