//! How a plan is cut for a fleet: into segments no longer than one invoke of the worker may
//! run, shortened further until every worker's answer surely fits an invoke's response
//! ([`super::size`]), and checked against the concurrency the account can hold — a plan that
//! cannot be cut so is refused, with what would fix it, before anything is sent.

use std::time::Duration;

use super::Segment;
use super::size::{Schedule, answer_bound};
use super::worker::RESPONSE_LIMIT;
use crate::scenario::Plan;
use crate::scenario::fleet::MAX_WORKERS;

/// The shortest segment cut on its own: shorter, the lead and drain around each would cost more
/// than the segment sends.
const SHORTEST: Duration = Duration::from_secs(10);

/// Why the fleet cannot run a plan.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unusable(pub String);

/// A plan's cut.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cut {
    /// The longest segment one invoke sends.
    pub segment: Duration,
    /// Into how many.
    pub segments: usize,
    /// The most worker invokes alive at once.
    pub held: u32,
}

/// Cuts `plan` for `workers` workers timing out after `timeout`, invoked `lead` before their
/// segment; `asked` is `--fleet-segment`'s length, which is kept (or refused) as asked.
///
/// Each invoke's run is the lead, its segment, the drain (the longest request timeout) and 30 s
/// for the answer. With more than one segment, neighbouring segments' workers run at once
/// around each boundary (one segment's drain while the next one's send).
pub fn cut(
    plan: &Plan,
    (workers, asked): (u32, Option<Duration>),
    (timeout, lead): (Duration, Duration),
) -> Result<Cut, Unusable> {
    let overhead = lead + plan.longest_timeout() + Duration::from_secs(30);
    let most = timeout.saturating_sub(overhead);
    if most < Duration::from_secs(1) {
        return Err(Unusable(format!(
            "a worker timing out after {} s has no time left to send: the lead, the longest request timeout and 30 s \
             for the answer take {} s; raise its timeout or lower the requests' timeout",
            timeout.as_secs(),
            overhead.as_secs()
        )));
    }
    let schedule = Schedule::of(plan, workers);
    let segment = match asked {
        Some(s) if s > most => {
            return Err(Unusable(format!(
                "a segment of {} s does not fit a worker timing out after {} s (the lead, the drain and the answer \
                 take {} s of it): ask for {} s or less",
                s.as_secs(),
                timeout.as_secs(),
                overhead.as_secs(),
                most.as_secs()
            )));
        }
        Some(s) => fits(plan, &schedule, s).map(|()| s)?,
        None => longest_fitting(plan, &schedule, most)?,
    };
    let segments = Segment::cut(plan.duration(), segment);
    if segments.len() > 1
        && let Some(why) = unreplayable(plan)
    {
        return Err(Unusable(format!(
            "this plan needs {} segments of {} s, and {why}: run it from one host, or as shorter scenarios that each \
             fit one invoke",
            segments.len(),
            segment.as_secs()
        )));
    }
    let drain = plan.longest_timeout() + Duration::from_secs(1);
    let held = workers * Segment::overlap(&segments, plan.duration(), (lead, drain));
    if held > MAX_WORKERS {
        return Err(Unusable(format!(
            "cut into segments of {} s, this plan's {workers} workers overlap their neighbours' around each boundary \
             and hold {held} concurrent invokes, more than the {MAX_WORKERS} an account holds: use fewer workers or \
             longer segments",
            segment.as_secs()
        )));
    }
    Ok(Cut { segment, segments: segments.len(), held })
}

/// Why a later segment could not know where the counters its arrivals draw from (`{seq}`, a
/// sequential or unique data file's next row) stood when it began, if it could not: it replays
/// the earlier segments' open-model arrivals ([`crate::attack::Engine::prepare_window`]), but
/// a closed-model user's draws and a flow's later steps depend on how fast the target answered.
fn unreplayable(plan: &Plan) -> Option<&'static str> {
    use crate::scenario::placeholder::Part;
    use crate::scenario::seed_data::RowOrder;
    let draws = |t: &crate::scenario::Template| {
        t.parts.iter().any(|p| match p {
            Part::Seq => true,
            Part::Field(f, _) => plan.data.files.get(*f).is_some_and(|f| f.order != RowOrder::Random),
            _ => false,
        })
    };
    let shared = plan.target.headers.iter().chain(plan.targets.iter().flat_map(|t| &t.headers)).any(|(_, v)| draws(v));
    let request_draws = |i: usize| {
        let r = &plan.requests[i];
        shared || draws(&r.path) || r.body.as_ref().is_some_and(draws) || r.headers.iter().any(|(_, v)| draws(v))
    };
    let closed = plan.phases.iter().any(|p| matches!(p.load, crate::scenario::Load::Closed { .. }));
    if closed && (0..plan.requests.len()).any(request_draws) {
        return Some(
            "a closed-model phase draws from {seq} or a data file's rows, whose place a later segment cannot know",
        );
    }
    if plan.flows.iter().any(|f| f.steps.iter().skip(1).any(|s| request_draws(s.request))) {
        return Some(
            "a flow's later steps draw from {seq} or a data file's rows, whose place a later segment cannot know",
        );
    }
    None
}

/// The longest segment up to `most` whose answers fit, in whole seconds.
fn longest_fitting(plan: &Plan, schedule: &Schedule, most: Duration) -> Result<Duration, Unusable> {
    if fits(plan, schedule, most).is_ok() {
        return Ok(most);
    }
    let shortest = SHORTEST.min(most);
    fits(plan, schedule, shortest)?;
    // The bound grows with the segment: halve the gap between one that fits and one that does not.
    let (mut lo, mut hi) = (shortest.as_secs(), most.as_secs());
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(plan, schedule, Duration::from_secs(mid)).is_ok() {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(Duration::from_secs(lo).max(shortest))
}

/// Whether every worker's answer surely fits, the plan cut into segments of `segment`.
///
/// A segment with a closed-model phase has no bound but its histograms' size, which would
/// refuse nearly every such plan: its answer is left to the worker, which says so (and the run
/// is partial) in the rare case it outgrows 6 MB.
fn fits(plan: &Plan, schedule: &Schedule, segment: Duration) -> Result<(), Unusable> {
    let shares = schedule.shares(&Segment::cut(plan.duration(), segment));
    let worst = (shares.into_iter())
        .filter(|s| s.arrivals.is_some())
        .map(|s| (answer_bound(plan, s), s))
        .max_by_key(|(bound, _)| *bound);
    let Some((bound, share)) = worst.filter(|(bound, _)| *bound > RESPONSE_LIMIT as u64) else {
        return Ok(());
    };
    Err(Unusable(match share.arrivals {
        Some(a) => format!(
            "in segments of {} s a worker's results could take {:.1} MB ({a} arrivals of {} request kinds over {} \
             phases), more than the 6 MB an invoke returns: use more workers, shorter segments (--fleet-segment) or \
             fewer request kinds",
            segment.as_secs(),
            bound as f64 / 1e6,
            plan.requests.len(),
            share.phases,
        ),
        None => format!(
            "a closed-model phase sends as fast as the target answers, so only the histograms' size bounds a worker's \
             results: {:.1} MB in segments of {} s with {} request kinds, more than the 6 MB an invoke returns; use \
             shorter segments (--fleet-segment) or fewer request kinds",
            bound as f64 / 1e6,
            segment.as_secs(),
            plan.requests.len()
        ),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEAD: Duration = Duration::from_secs(10);
    const LAMBDA: Duration = Duration::from_secs(900);

    fn plan(phases: &str) -> Plan {
        let text =
            format!("name = \"c\"\n[target]\ntimeout = \"10s\"\n{phases}[[request]]\nname = \"r\"\npath = \"/\"\n");
        Plan::from_str(std::path::Path::new("c.toml"), &text, &|_| None).unwrap()
    }

    #[test]
    fn a_plan_longer_than_an_invoke_is_cut_into_equal_back_to_back_segments() {
        let p = plan("[[phase]]\nname = \"p\"\nduration = \"30m\"\nrate = 10\n");
        let c = cut(&p, (4, None), (LAMBDA, LEAD)).unwrap();
        // 900 s less the lead (10), the drain (10) and 30 s for the answer: 850 s at most, so 3.
        assert_eq!(c.segments, 3);
        assert_eq!(c.segment, Duration::from_secs(850));
        let segments = Segment::cut(p.duration(), c.segment);
        assert_eq!(segments.iter().map(|s| s.from_ms).collect::<Vec<_>>(), [0, 600_000, 1_200_000]);
        assert_eq!((segments[0].to_ms, segments[2].to_ms), (600_000, u64::MAX), "back to back, the last to the end");
        assert_eq!(c.held, 8, "two segments' workers at once around each boundary");
        // One that fits is one invoke per worker.
        let short = plan("[[phase]]\nname = \"p\"\nduration = \"5m\"\nrate = 10\n");
        assert_eq!(
            cut(&short, (4, None), (LAMBDA, LEAD)).unwrap(),
            Cut { segment: Duration::from_secs(850), segments: 1, held: 4 }
        );
    }

    #[test]
    fn segments_are_shortened_until_every_answer_fits_and_what_cannot_fit_is_refused() {
        // 200 kinds at 20,000/s on one worker: a whole 850 s segment would answer far more than
        // 6 MB, so the segments are cut as long as fits.
        let mut many = String::from(
            "name = \"m\"\n[target]\ntimeout = \"10s\"\n[[phase]]\nname = \"p\"\nduration = \"20m\"\nrate = 20000\n",
        );
        for k in 0..200 {
            many += &format!("[[request]]\nname = \"k{k}\"\npath = \"/{k}\"\n");
        }
        let p = Plan::from_str(std::path::Path::new("m.toml"), &many, &|_| None).unwrap();
        let c = cut(&p, (1, None), (LAMBDA, LEAD)).unwrap();
        assert!(c.segment < Duration::from_secs(850) && c.segments > 2, "{c:?}");
        let schedule = Schedule::of(&p, 1);
        assert!(fits(&p, &schedule, c.segment).is_ok());
        assert!(fits(&p, &schedule, c.segment + Duration::from_secs(1)).is_err(), "the longest that fits");
        // Asked for a longer segment than fits: refused, saying why.
        let e = cut(&p, (1, Some(Duration::from_secs(600))), (LAMBDA, LEAD)).unwrap_err();
        assert!(e.0.contains("6 MB") && e.0.contains("more workers"), "{e}");
        // Or than the worker's timeout allows.
        let e = cut(&p, (1, Some(Duration::from_secs(890))), (LAMBDA, LEAD)).unwrap_err();
        assert!(e.0.contains("ask for 850 s or less"), "{e}");
    }

    #[test]
    fn counters_a_later_segment_cannot_replay_keep_a_plan_in_one_segment() {
        let seq = |phase: &str, steps: &str| {
            let text = format!(
                "name = \"q\"\n[target]\ntimeout = \"10s\"\n[[phase]]\nname = \"p\"\nduration = \"30m\"\n{phase}\n\
                 [[request]]\nname = \"r\"\npath = \"/{{seq}}\"\n{steps}"
            );
            Plan::from_str(std::path::Path::new("q.toml"), &text, &|_| None).unwrap()
        };
        // Open-model arrivals are replayed: their {seq} is where one host's would be.
        assert_eq!(cut(&seq("rate = 5", ""), (2, None), (LAMBDA, LEAD)).unwrap().segments, 3);
        // A closed-model user's draws depend on the target's speed.
        let e = cut(&seq("users = 5", ""), (2, None), (LAMBDA, LEAD)).unwrap_err();
        assert!(e.0.contains("closed-model") && e.0.contains("one host"), "{e}");
        // So do a flow's later steps.
        let flow = "[[flow]]\nname = \"f\"\n[[flow.step]]\npath = \"/a\"\n[[flow.step]]\npath = \"/b/{seq}\"\n";
        let e = cut(&seq("rate = 5", flow), (2, None), (LAMBDA, LEAD)).unwrap_err();
        assert!(e.0.contains("later steps"), "{e}");
        // In one segment nothing needs replaying.
        let one = Plan::from_str(
            std::path::Path::new("o.toml"),
            "name = \"o\"\n[[phase]]\nname = \"p\"\nduration = \"1m\"\nusers = 5\n[[request]]\nname = \"r\"\npath = \"/{seq}\"\n",
            &|_| None,
        )
        .unwrap();
        assert_eq!(cut(&one, (2, None), (LAMBDA, LEAD)).unwrap().segments, 1);
    }

    #[test]
    fn a_cut_that_holds_more_than_the_account_is_refused() {
        let p = plan("[[phase]]\nname = \"p\"\nduration = \"30m\"\nrate = 10\n");
        assert_eq!(cut(&p, (450, None), (LAMBDA, LEAD)).unwrap().held, 900);
        let e = cut(&p, (451, None), (LAMBDA, LEAD)).unwrap_err();
        assert!(e.0.contains("902 concurrent invokes"), "{e}");
        // A worker whose timeout leaves no time to send.
        let e = cut(&p, (1, None), (Duration::from_secs(45), LEAD)).unwrap_err();
        assert!(e.0.contains("no time left"), "{e}");
    }
}
