//! The open-file limit a run needs. Every request in flight may hold its own socket, and the
//! soft limit most shells start with (1,024) is far below what a stalling target at a few
//! hundred requests a second keeps open; the hard limit is usually much higher and is ours to
//! take, as wrk and oha leave to the user but k6 asks of it in its docs.

use crate::scenario::{Load, Plan};

/// Descriptors the process holds besides its requests' sockets (runtime, timers, the local
/// stack's listeners and logs, the reports), with room to spare.
const OWN_USE: u64 = 256;

/// Raises the soft NOFILE limit to the hard one; the soft limit in force afterwards (`None`
/// when unlimited or where it cannot be read).
pub fn raise() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let now = getrlimit(Resource::Nofile);
        if now.current < now.maximum || (now.maximum.is_none() && now.current.is_some()) {
            // An unlimited hard limit still stops at the kernel's nr_open (2^20 by default).
            let to = now.maximum.unwrap_or(1 << 20);
            let _ = setrlimit(Resource::Nofile, Rlimit { current: Some(to), maximum: now.maximum });
        }
        getrlimit(Resource::Nofile).current
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// The most requests `plan` may have in flight at once: its bound, or less where every
/// arrival of its busiest phase waiting its whole timeout (plus its users) holds fewer.
pub fn most_in_flight(plan: &Plan) -> u64 {
    let timeout =
        plan.target.timeout.as_secs_f64().max(plan.targets.iter().map(|t| t.timeout.as_secs_f64()).fold(0.0, f64::max));
    let busiest = plan
        .phases
        .iter()
        .map(|p| match &p.load {
            Load::Closed { users, .. } => f64::from(*users),
            other => other.peak_rate().unwrap_or(0.0) * timeout,
        })
        .fold(0.0, f64::max);
    (busiest.ceil() as u64).min(plan.target.max_in_flight as u64)
}

/// Whether `limit` leaves too few descriptors for `plan`: what it should say when it does.
pub fn short_for(plan: &Plan, limit: Option<u64>) -> Option<(u64, u64)> {
    let limit = limit?;
    let wanted = most_in_flight(plan) + OWN_USE;
    (wanted > limit).then_some((limit, wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let limit = raise();
        let now = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        assert_eq!(limit, now.current);
        if let (Some(cur), Some(max)) = (now.current, now.maximum) {
            assert_eq!(cur, max, "the soft limit stays below the hard one");
        }
    }
}
