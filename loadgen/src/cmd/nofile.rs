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

/// The most requests `plan` may have in flight at once: in an open phase, every arrival
/// waiting its whole timeout, up to the in-flight bound; in a closed one, its users (whom the
/// bound does not hold back).
pub fn most_in_flight(plan: &Plan) -> u64 {
    let timeout =
        plan.targets.iter().map(|t| t.timeout.as_secs_f64()).fold(plan.target.timeout.as_secs_f64(), f64::max);
    let bound = plan.target.max_in_flight as f64;
    let busiest = plan
        .phases
        .iter()
        .map(|p| match &p.load {
            Load::Closed { users, .. } => f64::from(*users),
            other => (other.peak_rate().unwrap_or(0.0) * timeout).min(bound),
        })
        .fold(0.0, f64::max);
    busiest.ceil() as u64
}

/// Descriptors the local stack holds per execution environment: its Runtime API listener and
/// connection, and its CPU clock's `/proc` files (the process's `stat` and a `schedstat` per
/// thread: one for target-api, with room for a few more). An environment serves one request
/// at a time and, provisioned ones aside, is only started for one, so there are no more
/// environments than requests were in flight at once: counting them per request in flight
/// bounds them.
const PER_ENVIRONMENT: u64 = 6;

/// Whether `limit` leaves too few descriptors for `plan`: what it should say when it does.
/// On the local stack, which runs in this process, a request in flight holds two ends of its
/// connection (the client's and the gateway's) and the environment serving it.
pub fn short_for(plan: &Plan, limit: Option<u64>) -> Option<(u64, u64)> {
    let limit = limit?;
    let ends = if plan.target.url.is_none() { 2 + PER_ENVIRONMENT } else { 1 };
    let wanted = most_in_flight(plan) * ends + OWN_USE;
    (wanted > limit).then_some((limit, wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(target: &str, phases: &str) -> Plan {
        let text =
            format!("name = \"n\"\n[data]\nitems = 0\n{target}{phases}[[request]]\nname = \"r\"\npath = \"/\"\n");
        Plan::from_str(std::path::Path::new("n.toml"), &text, &|_| None).unwrap()
    }

    #[test]
    fn what_a_plan_may_hold_open() {
        let open = "[[phase]]\nname = \"a\"\nduration = \"1s\"\nrate = 100\n";
        let closed = "[[phase]]\nname = \"b\"\nduration = \"1s\"\nusers = 3000\n";
        // 100 a second waiting 2 s each; the bound; a closed phase's users past the bound.
        let url = "[target]\nurl = \"http://127.0.0.1:9\"\ntimeout = \"2s\"\nmax_in_flight = 150\n";
        assert_eq!(most_in_flight(&plan(url, open)), 150);
        assert_eq!(most_in_flight(&plan("[target]\ntimeout = \"1s\"\n", open)), 100);
        assert_eq!(most_in_flight(&plan(url, &format!("{open}{closed}"))), 3000);
        // On the local stack a request in flight is its connection's two ends and the
        // environment serving it, all in this process: 100 x (2 + 6) + 256.
        assert_eq!(short_for(&plan("[target]\ntimeout = \"1s\"\n", open), Some(2048)), None);
        assert_eq!(short_for(&plan("[target]\ntimeout = \"1s\"\n", open), Some(1024)), Some((1024, 1056)));
        assert_eq!(short_for(&plan(url, open), Some(500)), None, "one end each off the local stack");
        assert_eq!(short_for(&plan(url, open), None), None, "unlimited");
    }

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
