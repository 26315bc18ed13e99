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
