//! One Lambda function in virtual time, admitting invocations in the order the local stack's
//! emulator does — the concurrency cap, then the invocation-rate limits, then (for a cold start)
//! the scaling rate — with the same rules ([`local_stack::rules`]): no queue, a refused
//! invocation is a throttle at once. Warm environments are reused most recently used first and
//! expire after the keep-warm time; provisioned ones are ready before the first arrival and
//! never expire.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use local_stack::rules::{self, ThrottleReason, TokenBucket};

use super::hold::{Empirical, Mix};

/// The function's configuration, as far as admission goes: the limits results.json's
/// calibration records, one type for both.
pub type FunctionSpec = crate::results::calibration::FunctionLimits;

impl FunctionSpec {
    /// A function reserving `c` environments in an account with AWS's default limits (1,000
    /// concurrency, 1,000 new environments per 10 s), idle environments kept 5 minutes, at the
    /// memory of one full vCPU.
    pub fn with_reservation(c: u32) -> FunctionSpec {
        FunctionSpec {
            concurrency: c,
            reserved: true,
            account_concurrency: rules::ACCOUNT_CONCURRENCY,
            provisioned: 0,
            scaling_per_10s: rules::NEW_ENVIRONMENTS_PER_10_S,
            keep_warm_s: 300.0,
            rate_limits: true,
            memory_mb: rules::MEMORY_MB_PER_VCPU as u32,
        }
    }
}

/// What an invocation held its environment for.
#[derive(Debug, Clone)]
pub struct Holds {
    /// Handler duration of an invocation, s, per request kind in the plan's mix (the invoke
    /// overhead is added to it).
    pub warm: Mix,
    /// What a cold start adds before the handler runs (INIT), s; zero when unknown.
    pub init: Option<Empirical>,
    /// Added to every invocation: the platform's invoke overhead, which REPORT lines do not
    /// show, s (the local stack's latency profile says; 0 when unknown).
    pub overhead_s: f64,
    /// Added to every cold start: the platform's part of it before INIT, mean s (likewise);
    /// what billing leaves out of a cold start's hold.
    pub platform_s: f64,
    /// The platform's part drawn per cold start when its spread is known; `None` adds
    /// `platform_s` to each.
    pub platform: Option<Empirical>,
    /// What the client waits for an ok response beyond the hold (network, API Gateway), s.
    pub client_s: f64,
    /// Handler duration of the seeding's writes, s, when the run measured them; `None` draws
    /// them from `warm`.
    pub seeding: Option<Empirical>,
}

impl Holds {
    /// Holds of handler durations `warm` and INIT `init`, with no overheads and no seeding of
    /// their own: what the model's tests and benchmarks start from.
    pub fn drawn(warm: impl Into<Mix>, init: Option<Empirical>) -> Holds {
        Holds {
            warm: warm.into(),
            init,
            overhead_s: 0.0,
            platform_s: 0.0,
            platform: None,
            client_s: 0.0,
            seeding: None,
        }
    }

    /// These holds with the handler's part of every warm hold multiplied by `factor` (the
    /// invoke overhead, INIT and the platform's part unchanged).
    pub fn with_duration_factor(&self, factor: f64) -> Holds {
        Holds {
            warm: self.warm.scaled(factor),
            seeding: self.seeding.as_ref().map(|s| s.scaled(factor)),
            ..self.clone()
        }
    }

    /// The holds of the seeding's writes: their own durations when measured.
    pub fn for_seeding(&self) -> Holds {
        match &self.seeding {
            Some(s) => Holds { warm: s.clone().into(), ..self.clone() },
            None => self.clone(),
        }
    }
}

/// How an invocation went.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Admission {
    /// Served by an idle provisioned environment, holding it this long, s.
    Provisioned(f64),
    /// Served by an idle on-demand environment, holding it this long, s.
    Warm(f64),
    /// Served by a new environment, holding it this long (INIT included), s, of which the
    /// platform's part before INIT (not billed) was the second.
    Cold(f64, f64),
    /// Refused.
    Throttled(ThrottleReason),
}

impl Admission {
    /// Billed milliseconds: the handler's duration rounded up to the millisecond, INIT
    /// included on a cold start (custom runtimes pay for INIT), not the platform's overheads.
    pub fn billed_ms(&self, holds: &Holds) -> f64 {
        match *self {
            Admission::Provisioned(h) | Admission::Warm(h) => ((h - holds.overhead_s) * 1e3).max(0.0).ceil(),
            Admission::Cold(h, platform) => ((h - holds.overhead_s - platform) * 1e3).max(0.0).ceil(),
            Admission::Throttled(_) => 0.0,
        }
    }
}

/// An environment busy until `end` (seconds, ordered by `total_cmp` through the bit trick).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Busy {
    end: OrderedSecs,
    provisioned: bool,
}

/// Non-negative seconds ordered as integers: the IEEE bits of a non-negative float sort as
/// the float does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct OrderedSecs(u64);

impl OrderedSecs {
    fn new(s: f64) -> Self {
        OrderedSecs(s.max(0.0).to_bits())
    }
    fn get(self) -> f64 {
        f64::from_bits(self.0)
    }
}

/// The function's state at the current virtual time.
#[derive(Debug, Clone)]
pub struct FunctionModel {
    spec: FunctionSpec,
    rate: TokenBucket,
    account_rate: TokenBucket,
    scaling: TokenBucket,
    busy: BinaryHeap<Reverse<Busy>>,
    /// Idle on-demand environments by the time they went idle, oldest first.
    idle: VecDeque<f64>,
    idle_provisioned: u32,
}

impl FunctionModel {
    /// A function with its provisioned environments ready and nothing else running.
    pub fn new(spec: FunctionSpec) -> FunctionModel {
        FunctionModel {
            rate: rules::invocation_rate(spec.concurrency),
            account_rate: rules::invocation_rate(spec.account_concurrency),
            scaling: rules::scaling_rate(spec.scaling_per_10s),
            busy: BinaryHeap::new(),
            idle: VecDeque::new(),
            idle_provisioned: spec.provisioned.min(spec.concurrency),
            spec,
        }
    }

    /// Environments running an invocation at `now` (after [`Self::invoke`] or [`Self::advance`]).
    pub fn busy(&self) -> usize {
        self.busy.len()
    }

    /// When the last invocation running ends (0 with none running).
    pub fn last_end(&self) -> f64 {
        self.busy.iter().map(|Reverse(b)| b.end.get()).fold(0.0, f64::max)
    }

    /// Ends every invocation finished by `now` and retires environments idle past keep-warm.
    pub fn advance(&mut self, now: f64) {
        while let Some(Reverse(b)) = self.busy.peek().copied() {
            if b.end.get() > now {
                break;
            }
            self.busy.pop();
            if b.provisioned {
                self.idle_provisioned += 1;
            } else {
                self.idle.push_back(b.end.get());
            }
        }
        while self.idle.front().is_some_and(|since| now - since > self.spec.keep_warm_s) {
            self.idle.pop_front();
        }
    }

    /// An invocation arriving at `now` (non-decreasing across calls), its kind drawn from the
    /// holds' mix.
    pub fn invoke(&mut self, now: f64, holds: &Holds, rng: &mut fastrand::Rng) -> Admission {
        let kind = if holds.warm.len() == 1 { 0 } else { holds.warm.pick(rng) };
        self.invoke_kind(now, holds, kind, rng)
    }

    /// An invocation of request kind `kind` (an index into the holds' mix) arriving at `now`.
    pub fn invoke_kind(&mut self, now: f64, holds: &Holds, kind: usize, rng: &mut fastrand::Rng) -> Admission {
        self.invoke_with(now, holds, rng, |_, rng| holds.warm.sample_kind(kind, rng))
    }

    /// An invocation arriving at `now` whose handler runs for what `duration` returns, s: it is
    /// given the time the handler starts (after a cold start's INIT) and is called only for an
    /// admitted invocation, so what it does downstream (DynamoDB) happens only for those.
    pub fn invoke_with(
        &mut self,
        now: f64,
        holds: &Holds,
        rng: &mut fastrand::Rng,
        duration: impl FnOnce(f64, &mut fastrand::Rng) -> f64,
    ) -> Admission {
        self.advance(now);
        if self.busy.len() as u64 >= u64::from(self.spec.concurrency) {
            return Admission::Throttled(if self.spec.reserved {
                ThrottleReason::ReservedConcurrency
            } else {
                ThrottleReason::AccountConcurrency
            });
        }
        if self.spec.rate_limits && self.spec.reserved && !self.rate.try_take(now) {
            return Admission::Throttled(ThrottleReason::InvocationRate);
        }
        if self.spec.rate_limits && !self.account_rate.try_take(now) {
            if self.spec.reserved {
                self.rate.give_back();
            }
            return Admission::Throttled(ThrottleReason::AccountInvocationRate);
        }
        let (start, provisioned) = if self.idle_provisioned > 0 {
            self.idle_provisioned -= 1;
            (Start::Provisioned, true)
        } else if self.idle.pop_back().is_some() {
            (Start::Warm, false)
        } else if self.scaling.try_take(now) {
            let platform = holds.platform.as_ref().map_or(holds.platform_s, |p| p.sample(rng));
            (Start::Cold(platform, holds.init.as_ref().map_or(0.0, |d| d.sample(rng))), false)
        } else {
            // Refused, so not invoked: the rate tokens it took go back, as in the emulator.
            if self.spec.rate_limits {
                if self.spec.reserved {
                    self.rate.give_back();
                }
                self.account_rate.give_back();
            }
            return Admission::Throttled(ThrottleReason::ScalingRate);
        };
        let init = if let Start::Cold(platform, init) = start { platform + init } else { 0.0 };
        let warm = holds.overhead_s + duration(now + init + holds.overhead_s, rng);
        let admission = match start {
            Start::Provisioned => Admission::Provisioned(warm),
            Start::Warm => Admission::Warm(warm),
            Start::Cold(platform, init) => Admission::Cold(platform + init + warm, platform),
        };
        self.busy.push(Reverse(Busy { end: OrderedSecs::new(now + init + warm), provisioned }));
        admission
    }
}

/// Where an admitted invocation runs.
#[derive(Debug, Clone, Copy)]
enum Start {
    Provisioned,
    Warm,
    /// A new environment, with the platform's part and INIT its start adds, s.
    Cold(f64, f64),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(c: u32) -> FunctionSpec {
        FunctionSpec::with_reservation(c)
    }

    fn holds(s: f64) -> Holds {
        Holds::drawn(Empirical::constant(s), Some(Empirical::constant(0.5)))
    }

    #[test]
    fn the_cap_refuses_at_once_and_frees_when_an_invocation_ends() {
        let mut f = FunctionModel::new(spec(2));
        let mut rng = fastrand::Rng::with_seed(1);
        let h = holds(0.1);
        assert_eq!(f.invoke(0.0, &h, &mut rng), Admission::Cold(0.6, 0.0));
        assert_eq!(f.invoke(0.0, &h, &mut rng), Admission::Cold(0.6, 0.0));
        assert_eq!(f.invoke(0.1, &h, &mut rng), Admission::Throttled(ThrottleReason::ReservedConcurrency));
        assert_eq!(f.invoke(0.6, &h, &mut rng), Admission::Warm(0.1), "ended at 0.6, reused warm");
        assert_eq!(f.busy(), 1);
    }

    #[test]
    fn the_invocation_rate_limit_binds_before_concurrency_does() {
        // Concurrency 5 allows 50 invocations/s; 1 ms holds never fill 5 environments.
        let mut f = FunctionModel::new(spec(5));
        let mut rng = fastrand::Rng::with_seed(1);
        let h = Holds::drawn(Empirical::constant(0.001), None);
        let served =
            (0..1000).filter(|i| !matches!(f.invoke(*i as f64 / 100.0, &h, &mut rng), Admission::Throttled(_))).count();
        // 10 s at 100/s: the bucket (burst 50) lets through 50 + 10 s × 50/s, less the first second's refill.
        assert!((500..=550).contains(&served), "{served}");
    }

    #[test]
    fn provisioned_environments_start_warm_and_idle_ones_expire() {
        let mut f = FunctionModel::new(FunctionSpec { provisioned: 1, keep_warm_s: 10.0, ..spec(3) });
        let mut rng = fastrand::Rng::with_seed(1);
        let h = holds(0.1);
        assert_eq!(f.invoke(0.0, &h, &mut rng), Admission::Provisioned(0.1));
        assert_eq!(f.invoke(0.0, &h, &mut rng), Admission::Cold(0.6, 0.0), "spill-over");
        // At 5 s both are idle: the provisioned one is used first.
        assert_eq!(f.invoke(5.0, &h, &mut rng), Admission::Provisioned(0.1));
        // At 20 s the on-demand one (idle since 0.6 s) has expired; the provisioned one has not.
        assert_eq!(f.invoke(20.0, &h, &mut rng), Admission::Provisioned(0.1));
        assert_eq!(f.invoke(20.0, &h, &mut rng), Admission::Cold(0.6, 0.0));
    }
}
