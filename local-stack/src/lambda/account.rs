//! The account's Lambda quota in a Region, shared by every function the stack hosts: its
//! concurrency ([`rules::ACCOUNT_CONCURRENCY`] by default) less what functions reserve, which
//! the functions without a reservation share, and its invocation rate, 10 × the concurrency.

use std::sync::Mutex;
use std::time::Instant;

use crate::rules::{self, TokenBucket};

#[derive(Debug)]
struct State {
    /// Concurrency reserved (or provisioned, for functions without a reservation) by functions.
    reserved: u32,
    /// Environments busy for functions without a reservation, beyond their provisioned ones.
    unreserved_active: u32,
    rate: TokenBucket,
}

/// One account's quota.
#[derive(Debug)]
pub struct Account {
    limit: u32,
    started: Instant,
    state: Mutex<State>,
}

impl Account {
    /// An account whose Region quota is `limit` concurrent executions.
    pub fn new(limit: u32) -> Account {
        Account {
            limit,
            started: Instant::now(),
            state: Mutex::new(State { reserved: 0, unreserved_active: 0, rate: rules::invocation_rate(limit) }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The quota.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Sets `n` aside for one function (its reservation, or its provisioned concurrency).
    pub fn reserve(&self, n: u32) {
        let mut s = self.state();
        s.reserved = s.reserved.saturating_add(n);
    }

    /// What functions without a reservation share.
    pub fn unreserved(&self) -> u32 {
        self.limit.saturating_sub(self.state().reserved)
    }

    /// Takes one unreserved environment, if any is left.
    pub fn try_unreserved(&self) -> bool {
        let mut s = self.state();
        if s.unreserved_active >= self.limit.saturating_sub(s.reserved) {
            return false;
        }
        s.unreserved_active += 1;
        true
    }

    /// Gives one back.
    pub fn release_unreserved(&self) {
        let mut s = self.state();
        s.unreserved_active = s.unreserved_active.saturating_sub(1);
    }

    /// Takes a token of the account's invocation rate (10 × its concurrency per second,
    /// <https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html>).
    pub fn try_rate(&self) -> bool {
        let now = self.started.elapsed().as_secs_f64();
        self.state().rate.try_take(now)
    }

    /// Returns a rate token taken for an invocation a later limit refused.
    pub fn give_back_rate(&self) {
        self.state().rate.give_back();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreserved_functions_share_what_reservations_leave() {
        let a = Account::new(10);
        a.reserve(4);
        assert_eq!(a.unreserved(), 6);
        assert_eq!((0..10).filter(|_| a.try_unreserved()).count(), 6);
        a.release_unreserved();
        assert!(a.try_unreserved() && !a.try_unreserved());
        assert_eq!((0..200).filter(|_| a.try_rate()).count(), 100, "10 x the quota at once");
    }
}
