//! AWS's limits as pure rules over explicit time, each with its source, so the emulator (in
//! real time) and a simulation of it (in virtual time) apply the same arithmetic. Nothing here
//! reads a clock: callers pass seconds since a start of their choosing.

/// A token bucket: it holds at most `burst` tokens, refills at `rate` tokens per second, and
/// each admission takes one. It starts full. An empty bucket refuses at once; nothing queues.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last_s: f64,
}

impl TokenBucket {
    /// A full bucket of `burst` tokens refilled at `rate` per second.
    pub fn new(rate: f64, burst: f64) -> Self {
        let burst = burst.max(0.0);
        TokenBucket { rate: rate.max(0.0), burst, tokens: burst, last_s: 0.0 }
    }

    /// Takes a token at `now_s` if there is one. Time never runs backwards: an earlier `now_s`
    /// than the last is treated as the last.
    pub fn try_take(&mut self, now_s: f64) -> bool {
        if now_s > self.last_s {
            self.tokens = (self.tokens + (now_s - self.last_s) * self.rate).min(self.burst);
            self.last_s = now_s;
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Returns a token taken for an admission a later rule refused: a request refused for
    /// another limit was not admitted, so it must not use up this one.
    pub fn give_back(&mut self) {
        self.tokens = (self.tokens + 1.0).min(self.burst);
    }
}

/// A token bucket that may go into debt: DynamoDB learns what a request cost only after
/// serving it, so it admits while the balance is positive and debits the real units after. It
/// holds one second's worth: DynamoDB's burst allowance for on-demand tables is not published,
/// and a second's worth keeps the limit visible in per-second series.
#[derive(Debug, Clone, PartialEq)]
pub struct DebtBucket {
    rate: f64,
    level: f64,
    last_s: f64,
}

impl DebtBucket {
    /// A full bucket refilled at `rate` units per second.
    pub fn new(rate: f64) -> Self {
        DebtBucket { rate, level: rate, last_s: 0.0 }
    }

    /// The balance at `now_s`; a request is admitted while it is positive.
    pub fn balance(&mut self, now_s: f64) -> f64 {
        if now_s > self.last_s {
            self.level = (self.level + self.rate * (now_s - self.last_s)).min(self.rate);
            self.last_s = now_s;
        }
        self.level
    }

    /// Takes `units` at `now_s`, into debt if need be.
    pub fn debit(&mut self, now_s: f64, units: f64) {
        self.balance(now_s);
        self.level -= units;
    }

    /// True when the bucket is full at `now_s` (it remembers nothing a new bucket would not).
    pub fn is_full(&mut self, now_s: f64) -> bool {
        self.balance(now_s) >= self.rate
    }
}

/// What one partition of a DynamoDB table serves per second, in either capacity mode: 3,000
/// read units and 1,000 write units
/// (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html>,
/// <https://repost.aws/knowledge-center/on-demand-table-throttling-dynamodb>). A hot key is
/// throttled at these rates however far below its own limits the table is.
///
/// Doubt: a partition holds many keys, and adaptive capacity moves hot keys onto partitions of
/// their own. We apply the limits to each partition-key value, which is where a single hot key
/// ends up: it models one hot item, not a table whose cold keys share a partition with it.
pub const PARTITION_READ_UNITS_PER_S: f64 = 3_000.0;

/// Write units one partition serves per second; see [`PARTITION_READ_UNITS_PER_S`].
pub const PARTITION_WRITE_UNITS_PER_S: f64 = 1_000.0;

/// API Gateway's throttling of an HTTP API: every request takes a token from its route's
/// bucket (the stage's default rate and burst, or the route's own) and then one from the
/// account's bucket shared by every API in the Region; either empty is a 429 at once
/// (<https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html>). A
/// rate or burst of 0 lets nothing through (the Terraform 0/0 pitfall, docs/aws-semantics.md
/// 1.1). A route token taken for a request the account then refuses is spent.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayThrottle {
    routes: Vec<TokenBucket>,
    account: TokenBucket,
}

impl GatewayThrottle {
    /// Buckets for routes of `(rate, burst)` each and the account's `(rate, burst)`.
    pub fn new(routes: &[(f64, u32)], account: (f64, u32)) -> Self {
        let bucket = |(rate, burst): (f64, u32)| {
            if rate > 0.0 && burst > 0 { TokenBucket::new(rate, f64::from(burst)) } else { TokenBucket::new(0.0, 0.0) }
        };
        GatewayThrottle { routes: routes.iter().copied().map(bucket).collect(), account: bucket(account) }
    }

    /// Whether a request on route `route` (an index into the routes given) at `now_s` passes.
    pub fn admit(&mut self, route: usize, now_s: f64) -> bool {
        self.routes.get_mut(route).is_some_and(|b| b.try_take(now_s)) && self.account.try_take(now_s)
    }
}

/// Lambda limits synchronous invocations to 10 per second per execution environment its
/// concurrency allows. The quotas page: "Each instance of your execution environment can serve
/// up to 10 requests per second" (<https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html>);
/// the concurrency page applies the same factor to the account, 10 × its concurrency limit
/// (<https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html>). A function capped
/// by reserved concurrency R therefore gets at most 10 × R invocations per second, refused
/// with the reason `ReservedFunctionInvocationRateLimitExceeded` (Lambda's API model).
///
/// Doubt: AWS does not say over what window it counts. We model it as a token bucket holding
/// one second's worth, which admits the rate on average and a second's worth at once.
pub const INVOCATIONS_PER_SECOND_PER_CONCURRENCY: f64 = 10.0;

/// The invocation-rate limit of a function whose concurrency limit is `concurrency`.
pub fn invocation_rate(concurrency: u32) -> TokenBucket {
    let per_s = INVOCATIONS_PER_SECOND_PER_CONCURRENCY * f64::from(concurrency);
    TokenBucket::new(per_s, per_s)
}

/// The memory at which a function gets one full vCPU: "At 1,769 MB, a function has the
/// equivalent of one vCPU (one vCPU-second of credits per second)", and CPU is allocated "in
/// proportion to the amount of memory configured", up to 6 vCPUs at 10,240 MB
/// (<https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html>).
pub const MEMORY_MB_PER_VCPU: f64 = 1_769.0;

/// The most vCPUs a function gets (at 10,240 MB).
pub const MAX_VCPUS: f64 = 6.0;

/// The share of one core a function of `memory_mb` gets: `memory ÷ 1,769` (capped at 6).
///
/// Doubt: AWS states the two end points (1 vCPU at 1,769 MB, 6 at 10,240 MB) and "in
/// proportion"; a straight line through 1,769 MB gives 5.79 at 10,240 MB, a little less than
/// AWS's 6, and the cap is never reached since memory stops at 10,240 MB. We keep the line:
/// AWS does not say how the shares between the end points are set.
pub fn cpu_share(memory_mb: u32) -> f64 {
    (f64::from(memory_mb) / MEMORY_MB_PER_VCPU).min(MAX_VCPUS)
}

/// How many new execution environments one function may start per 10 seconds: "for each
/// function, your concurrency scaling rate is 1,000 execution environment instances every 10
/// seconds", refilled continuously, unused rate not accumulating
/// (<https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html>). Requests that need
/// a new environment beyond it are throttled.
pub const NEW_ENVIRONMENTS_PER_10_S: u32 = 1_000;

/// The scaling-rate limit of one function that may start `per_10_s` environments per 10 s: a
/// bucket of `per_10_s` refilled at a tenth of it per second, one token per new environment.
pub fn scaling_rate(per_10_s: u32) -> TokenBucket {
    let n = f64::from(per_10_s);
    TokenBucket::new(n / 10.0, n)
}

/// A Region's concurrency quota by default: "1,000 concurrent executions" shared by every
/// function of the account (<https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html>).
pub const ACCOUNT_CONCURRENCY: u32 = 1_000;

/// Concurrency Lambda keeps for functions without a reservation: reserved and provisioned
/// concurrency may take the account's quota only down to 100
/// (<https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html>).
pub const UNRESERVED_MINIMUM: u32 = 100;

/// Why Lambda throttled a synchronous invocation: the `Reason` of its 429
/// `TooManyRequestsException` (Lambda's API model, `ThrottleReason`). A reserved function is
/// held to its own limits (`ReservedFunction…`); a function without a reservation to the
/// account's (`ConcurrentInvocationLimitExceeded`, `FunctionInvocationRateLimitExceeded`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleReason {
    /// Every environment the reserved concurrency allows is busy.
    ReservedConcurrency,
    /// More invocations per second than 10 × the reserved concurrency.
    InvocationRate,
    /// The account's concurrency left to functions without a reservation is in use.
    AccountConcurrency,
    /// More invocations per second than 10 × the account's concurrency.
    AccountInvocationRate,
    /// A new environment was needed faster than the scaling rate allows.
    ScalingRate,
}

impl ThrottleReason {
    /// Every reason, in the order the reports list them.
    pub const ALL: [ThrottleReason; 5] = [
        ThrottleReason::ReservedConcurrency,
        ThrottleReason::InvocationRate,
        ThrottleReason::AccountConcurrency,
        ThrottleReason::AccountInvocationRate,
        ThrottleReason::ScalingRate,
    ];

    /// The `Reason` field as Lambda writes it.
    ///
    /// Doubt: AWS documents no reason for the scaling rate, only that requests beyond it get a
    /// 429. A function scaling up is refused concurrency it does not have yet, so we answer with
    /// the concurrency reason of its kind ([`ThrottleReason::label`] keeps the two apart).
    pub const fn as_str(self) -> &'static str {
        match self {
            ThrottleReason::ReservedConcurrency => "ReservedFunctionConcurrentInvocationLimitExceeded",
            ThrottleReason::InvocationRate => "ReservedFunctionInvocationRateLimitExceeded",
            ThrottleReason::AccountConcurrency | ThrottleReason::ScalingRate => "ConcurrentInvocationLimitExceeded",
            ThrottleReason::AccountInvocationRate => "FunctionInvocationRateLimitExceeded",
        }
    }

    /// The `Reason` dimension of the local stack's own `Throttles` metric: Lambda's reason,
    /// except `ScalingRate` for the scaling rate, which has none of its own.
    pub const fn label(self) -> &'static str {
        match self {
            ThrottleReason::ScalingRate => "ScalingRate",
            r => r.as_str(),
        }
    }

    /// The body of Lambda's 429, as observed on the wire.
    pub fn body(self) -> String {
        format!(r#"{{"Reason":"{}","Type":"User","message":"Rate Exceeded."}}"#, self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_given_back_is_there_for_the_next_admission_but_never_past_the_burst() {
        let mut b = TokenBucket::new(1.0, 1.0);
        assert!(b.try_take(0.0));
        assert!(!b.try_take(0.0));
        b.give_back();
        assert!(b.try_take(0.0));
        b.give_back();
        b.give_back();
        assert!(b.try_take(0.0));
        assert!(!b.try_take(0.0), "the burst caps what comes back");
    }

    #[test]
    fn a_bucket_admits_its_burst_then_its_rate() {
        let mut b = TokenBucket::new(10.0, 5.0);
        assert_eq!((0..8).filter(|_| b.try_take(0.0)).count(), 5, "the burst at once");
        assert!(!b.try_take(0.05), "half a token is not a token");
        assert!(b.try_take(0.1), "one token after 100 ms at 10/s");
        // A long quiet spell refills only to the burst.
        assert_eq!((0..20).filter(|_| b.try_take(100.0)).count(), 5);
        assert!(!b.try_take(50.0), "time never runs backwards");
    }

    #[test]
    fn a_debt_bucket_admits_until_negative_then_refills() {
        let mut b = DebtBucket::new(10.0);
        assert_eq!(b.balance(0.0), 10.0);
        b.debit(0.0, 25.0);
        assert!(b.balance(0.5) < 0.0, "in debt after a big request");
        assert!(b.balance(2.0) > 0.0, "two seconds refill 20 units");
        assert!(b.is_full(10.0));
    }

    #[test]
    fn the_invocation_rate_is_ten_per_unit_of_concurrency() {
        let mut b = invocation_rate(5);
        // Over 10 s of requests every millisecond: 50 at once, then 50 a second.
        let admitted = (0..10_000).filter(|ms| b.try_take(*ms as f64 / 1000.0)).count();
        assert!((545..=551).contains(&admitted), "{admitted}");
        let mut none = invocation_rate(0);
        assert!(!none.try_take(1.0), "reserved concurrency 0 admits nothing");
        assert_eq!(
            ThrottleReason::InvocationRate.body(),
            r#"{"Reason":"ReservedFunctionInvocationRateLimitExceeded","Type":"User","message":"Rate Exceeded."}"#
        );
    }

    #[test]
    fn cpu_is_proportional_to_memory_up_to_six_cores() {
        assert!((cpu_share(1769) - 1.0).abs() < 1e-12);
        assert!((cpu_share(256) - 0.1447).abs() < 1e-3, "256 MB ≈ 0.145 vCPU, as AWS's example");
        assert!((cpu_share(884) - 0.5).abs() < 1e-3);
        assert_eq!(cpu_share(10_240), 5.788_581_119_276_428);
        assert!(cpu_share(20_000) <= MAX_VCPUS);
    }

    #[test]
    fn scaling_admits_a_thousand_environments_then_a_hundred_a_second() {
        let mut b = scaling_rate(NEW_ENVIRONMENTS_PER_10_S);
        assert_eq!((0..1_500).filter(|_| b.try_take(0.0)).count(), 1_000);
        assert_eq!((0..500).filter(|_| b.try_take(1.0)).count(), 100, "a tenth of the rate each second");
        let mut b = scaling_rate(10);
        assert_eq!((0..20).filter(|_| b.try_take(0.0)).count(), 10);
        assert!(b.try_take(1.0) && !b.try_take(1.0));
    }

    #[test]
    fn every_reason_has_lambdas_wire_name_and_a_distinct_label() {
        let labels: std::collections::BTreeSet<_> = ThrottleReason::ALL.iter().map(|r| r.label()).collect();
        assert_eq!(labels.len(), ThrottleReason::ALL.len());
        assert_eq!(ThrottleReason::ScalingRate.as_str(), "ConcurrentInvocationLimitExceeded");
        assert_eq!(ThrottleReason::AccountInvocationRate.as_str(), "FunctionInvocationRateLimitExceeded");
    }

    #[test]
    fn the_gateway_takes_a_route_token_then_an_account_token() {
        // Route 0: 10/s burst 2; route 1: 0/0 (nothing passes); the account: 1/s burst 3.
        let mut g = GatewayThrottle::new(&[(10.0, 2), (0.0, 0)], (1.0, 3));
        assert!(g.admit(0, 0.0) && g.admit(0, 0.0));
        assert!(!g.admit(0, 0.0), "the route's burst is spent");
        assert!(!g.admit(1, 0.0), "a 0/0 route lets nothing through");
        assert!(g.admit(0, 0.1), "a tenth of a second refills one route token");
        assert!(!g.admit(0, 0.2), "the route has a token again, the account's 3 are spent");
        assert!(!g.admit(7, 1.0), "no such route");
    }
}
