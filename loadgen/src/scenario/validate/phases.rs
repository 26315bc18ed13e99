//! `[[phase]]`: each phase's name, duration and load (open or closed) and its arrival process.

use std::collections::HashSet;
use std::time::Duration;

use toml::Spanned;

use crate::scenario::error::{Locator, ScenarioError};
use crate::scenario::raw::RawPhase;
use crate::scenario::values::{duration, int_in, span};
use crate::scenario::{Arrivals, Load, Phase};

/// Validates the phases, in order.
pub(super) fn phases(loc: &Locator<'_>, raw: &[Spanned<RawPhase>]) -> Result<Vec<Phase>, ScenarioError> {
    if raw.is_empty() {
        return Err(loc.error(
            0..0,
            "phase",
            "a scenario needs at least one [[phase]] (name, duration and rate, ramp, steps or users)",
        ));
    }
    let mut phases = Vec::new();
    let mut phase_names = HashSet::new();
    for (i, p) in raw.iter().enumerate() {
        let f = |k: &str| format!("phase[{i}].{k}");
        let p_span = span(p);
        let p = p.get_ref();
        let pname = p.name.get_ref().trim().to_owned();
        // A name reaches the terminal and every report: no control character may ride along.
        if pname.is_empty() || pname.chars().any(char::is_control) || !phase_names.insert(pname.clone()) {
            return Err(loc.error(
                span(&p.name),
                f("name"),
                format!("phase names must be non-empty, unique and without control characters ({pname:?})"),
            ));
        }
        let d = duration(loc, &p.duration, &f("duration"))?;
        if d.is_zero() || d > Duration::from_secs(24 * 3600) {
            return Err(loc.error(span(&p.duration), f("duration"), "expected a duration from 1ms to 24h"));
        }
        let given =
            [p.rate.is_some(), p.ramp.is_some(), p.steps.is_some(), p.users.is_some()].iter().filter(|x| **x).count();
        if given != 1 {
            return Err(loc.error(p_span, format!("phase[{i}]"), "give exactly one of rate, ramp, steps or users"));
        }
        if let (Some(think), None) = (&p.think, &p.users) {
            return Err(loc.error(span(think), f("think"), "think applies to a closed model: set users, not rate"));
        }
        let load = if let Some(r) = &p.rate {
            // `rate = 0` is a pause: nothing is sent for the phase's duration (an idle gap).
            let rate = *r.get_ref();
            if !(rate.is_finite() && rate >= 0.0) {
                return Err(loc.error(
                    span(r),
                    f("rate"),
                    format!(
                        "expected a rate in requests per second >= 0 (0 pauses the load), got {}",
                        crate::scenario::values::number(rate)
                    ),
                ));
            }
            Load::Constant { rate }
        } else if let Some(ramp) = &p.ramp {
            let from = *ramp.get_ref().from.get_ref();
            let to = *ramp.get_ref().to.get_ref();
            if !(from >= 0.0 && to >= 0.0 && from.is_finite() && to.is_finite() && from + to > 0.0) {
                return Err(loc.error(
                    span(ramp),
                    f("ramp"),
                    format!("expected rates >= 0 with at least one > 0, got from = {from}, to = {to}"),
                ));
            }
            Load::Ramp { from, to }
        } else if let Some(steps) = &p.steps {
            let rates = steps.get_ref().clone();
            if rates.is_empty()
                || rates.iter().any(|r| !(r.is_finite() && *r >= 0.0))
                || rates.iter().all(|r| *r == 0.0)
            {
                return Err(loc.error(span(steps), f("steps"), "expected a list of rates >= 0, e.g. [50, 100, 200]"));
            }
            Load::Steps { rates }
        } else {
            let users = int_in(loc, p.users.as_ref().expect("counted above"), &f("users"), 1, 100_000)? as u32;
            let think = p.think.as_ref().map(|t| duration(loc, t, &f("think"))).transpose()?.unwrap_or(Duration::ZERO);
            Load::Closed { users, think }
        };
        if let Some(peak) = load.peak_rate()
            && peak > 1_000_000.0
        {
            return Err(loc.error(
                p_span,
                format!("phase[{i}]"),
                format!("a rate of {peak} req/s is beyond what one generator can send; use at most 1,000,000"),
            ));
        }
        let arrivals = match p.arrivals.as_ref().map(|a| (a.get_ref().as_str(), a)) {
            None | Some(("even", _)) => Arrivals::Even,
            Some(("poisson", _)) => Arrivals::Poisson,
            Some((other, a)) => {
                return Err(loc.error(
                    span(a),
                    f("arrivals"),
                    format!("'{other}' is not an arrival process; use \"even\" or \"poisson\""),
                ));
            }
        };
        phases.push(Phase { name: pname, duration: d, load, arrivals });
    }
    Ok(phases)
}
