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

/// Why Lambda throttled a synchronous invocation: the `Reason` of its 429
/// `TooManyRequestsException` (Lambda's API model, `ThrottleReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleReason {
    /// Every environment the reserved concurrency allows is busy.
    ReservedConcurrency,
    /// More invocations per second than 10 × the reserved concurrency.
    InvocationRate,
}

impl ThrottleReason {
    /// The `Reason` field as Lambda writes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            ThrottleReason::ReservedConcurrency => "ReservedFunctionConcurrentInvocationLimitExceeded",
            ThrottleReason::InvocationRate => "ReservedFunctionInvocationRateLimitExceeded",
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
}
