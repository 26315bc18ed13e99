//! Renderers: pure functions of the results document, so `loadgen report results.json`
//! rewrites exactly what `loadgen run` wrote. Same input, byte-identical output.

pub mod chart_frame;
pub mod charts;
pub mod compare_html;
pub mod escape;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod page;
pub mod simulate_html;
pub mod simulate_markdown;
pub mod terminal;

use std::path::Path;

use crate::files::{WriteError, write};
use crate::results::Results;
use crate::results::cost::Knee;
use crate::scenario::Unit;

/// Writes `report.html`, `junit.xml` and `summary.md` into `dir`.
pub fn write_all(results: &Results, dir: &Path) -> Result<(), WriteError> {
    write(&dir.join("report.html"), html::render(results))?;
    write(&dir.join("junit.xml"), junit::render(results))?;
    write(&dir.join("summary.md"), markdown::render(results))
}

/// Why a run's figures understate what the plan asked, when they do: the generator could not
/// keep the schedule. Every output says it beside the verdict, so no saturated run reads as a
/// plain pass.
pub fn saturation(r: &Results) -> Option<String> {
    let g = &r.generator;
    if !g.saturated {
        return None;
    }
    let mut parts = vec![format!("lag p99 {:.2} ms", g.lag_p99_ms), format!("{} late sends", g.late_sends)];
    if g.not_sent > 0 {
        parts.push(format!("{} arrivals not sent", g.not_sent));
    }
    if g.out_of_files > 0 {
        parts.push(format!("{} requests without a file descriptor", g.out_of_files));
    }
    if g.clock_skewed > 0 {
        parts.push(format!("{} fleet workers' clocks off the schedule", g.clock_skewed));
    }
    let only_clocks = g.clock_skewed > 0 && g.lag_p99_ms <= 10.0 && g.not_sent == 0 && g.out_of_files == 0;
    Some(format!(
        "generator saturated ({}): it could not keep the schedule, so {}",
        parts.join(", "),
        if only_clocks {
            "the load went out shifted in time by the workers' clocks"
        } else {
            "the load was lighter and the latency includes its own delay"
        }
    ))
}

/// The connections the generator opened, as one phrase: how many before the start and their
/// connect time, and how many more the run needed (their connect time is in those requests'
/// latency). `None` when the results predate the figure.
pub fn connections(c: &crate::results::ConnectionStats) -> Option<String> {
    if c.is_empty() {
        return None;
    }
    let during = match c.opened_during {
        0 => "none during the run".to_owned(),
        1 => "1 more during the run (its connect time is in that request's latency)".to_owned(),
        n => format!("{n} more during the run (their connect time is in those requests' latency)"),
    };
    Some(format!(
        "{} opened before the start, {during}; connect p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        c.opened_before, c.connect_p50_ms, c.connect_p99_ms, c.connect_max_ms
    ))
}

/// An RFC 3339 time as a person reads it: `2026-12-02 04:19:41 UTC` (whole seconds: a report's
/// times place a run, they do not time it). Anything else is shown as written.
pub fn when(rfc3339: &str) -> String {
    use time::format_description::well_known::Rfc3339;
    match time::OffsetDateTime::parse(rfc3339, &Rfc3339) {
        Ok(t) => {
            let t = t.to_offset(time::UtcOffset::UTC);
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
                t.year(),
                t.month() as u8,
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        }
        Err(_) => rfc3339.to_owned(),
    }
}

/// A measured threshold value in its unit, for humans.
pub fn shown(value: f64, unit: Unit) -> String {
    if value.is_nan() {
        return "nothing measured".into();
    }
    match unit {
        Unit::Millis => format!("{value:.2} ms"),
        Unit::Fraction => format!("{:.3}%", value * 100.0),
        Unit::Count => format!("{value}"),
        Unit::Usd => crate::money::usd(value),
    }
}

/// The cost in one sentence, the same in every output: the target stack's cost per run, per
/// million and per month (at the average as the run went; at the peak with every request
/// served), then what loadgen itself caused, apart.
pub fn cost_headline(c: &crate::results::CostResult, unit: &str) -> String {
    let usd = crate::money::usd;
    let refused = if c.refused_share > 0.0 {
        format!(
            ", every request served (this run's refused {:.1}% — throttled before the function — are priced as served)",
            c.refused_share * 100.0
        )
    } else {
        String::new()
    };
    format!(
        "The target stack in {} (prices checked {}): {} this run, {} per million requests; a 30-day month costs {} \
         at the average {:.1} {unit} and {} at the peak {:.1} {unit}{refused}; the free tier would take off up to {} \
         (not applied). Apart, loadgen's own GetMetricData calls and seeding: {}.",
        c.region,
        c.prices_checked,
        usd(c.run.total),
        usd(c.per_million_usd),
        usd(c.monthly_average.total),
        c.average_rate,
        usd(c.monthly_peak.total),
        c.peak_rate,
        usd(c.free_tier_monthly_usd),
        usd(c.harness_usd)
    )
}

/// A figure of the ok responses' latency with two decimals, or `–` when none answered ok: a
/// fully throttled kind or phase has no latency, and `0.00` would read as fast.
pub fn ok_ms(s: &crate::results::Stats, pick: fn(&crate::results::Stats) -> f64) -> String {
    if s.count == 0 { "–".into() } else { format!("{:.2}", pick(s)) }
}

/// A knee share as a percentage, or a dash where it does not apply (no simulation, or Erlang
/// B for evenly spaced arrivals).
pub fn knee_pct(share: Option<f64>) -> String {
    share.map_or_else(|| "–".into(), |v| format!("{:.2}%", v * 100.0))
}

/// What a run's rates count: requests, or arrivals when flows make one arrival several
/// requests (a month "at 10 arrivals/s" prices each arrival's requests).
pub fn rate_unit(r: &crate::results::Results) -> &'static str {
    if r.scenario.flows.is_empty() { "req/s" } else { "arrivals/s" }
}

/// A per-request DynamoDB figure with two decimals, or `–` when the function does not report
/// it (only target-api's headers say calls and units per response).
pub fn units(value: f64, reported: bool) -> String {
    if reported { format!("{value:.2}") } else { "–".into() }
}

/// `s` cut to `n` characters, with an ellipsis when cut, for fixed-width terminal columns.
pub fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The concurrency limit the knee is reckoned against, for humans.
pub fn knee_concurrency(k: &Knee) -> String {
    if k.unreserved {
        format!("the account's concurrency {} (no reservation)", k.reserved_concurrency)
    } else {
        format!("reserved concurrency {}", k.reserved_concurrency)
    }
}

/// What the knee says about Lambda's two limits beyond Little's law, when the run knows it: the
/// invocation-rate limit and which limit refused the throttled requests. One sentence, the same
/// in every renderer; `None` for documents written before these figures existed.
pub fn knee_limits(k: &Knee) -> Option<String> {
    let rate = k.invocation_rate_limit?;
    let mut s = format!(
        "The invocation-rate limit, 10 per second per environment, caps it at {rate:.0} req/s \
         (10 × {}).",
        k.reserved_concurrency
    );
    if let Some(t) = &k.throttles_by_reason {
        s.push_str(&format!(
            " Of the {:.0} Lambda throttles, {:.0} were for the invocation rate and {:.0} for reserved concurrency",
            t.total(),
            t.invocation_rate,
            t.reserved_concurrency
        ));
        for (n, what) in [
            (t.account_concurrency, "the account's concurrency"),
            (t.account_invocation_rate, "the account's invocation rate"),
            (t.scaling_rate, "the scaling rate"),
        ] {
            if n > 0.0 {
                s.push_str(&format!(", {n:.0} for {what}"));
            }
        }
        s.push('.');
    }
    Some(s)
}

/// The function's concurrency settings, for humans: its reservation (or the account's quota
/// it shares) and its provisioned concurrency.
pub fn concurrency_setting(stack: &local_stack::StackConfig) -> String {
    let f = &stack.function;
    let mut s = match f.reserved_concurrency {
        Some(r) => format!("reserved concurrency {r}"),
        None => format!("unreserved (account concurrency {})", stack.account_concurrency),
    };
    if f.provisioned_concurrency > 0 {
        s.push_str(&format!(" · provisioned concurrency {}", f.provisioned_concurrency));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_print_as_dollars_not_raw_floats() {
        assert_eq!(shown(2.1733075901201926, Unit::Usd), "$2.17");
        assert_eq!(shown(0.0733, Unit::Usd), "$0.07");
        assert_eq!(shown(0.00741, Unit::Usd), "$0.007410");
        assert_eq!(shown(f64::NAN, Unit::Usd), "nothing measured");
    }

    #[test]
    fn times_read_as_a_person_writes_them() {
        assert_eq!(when("2026-12-02T04:19:41.228000131Z"), "2026-12-02 04:19:41 UTC");
        assert_eq!(when("2026-12-02T05:19:41+01:00"), "2026-12-02 04:19:41 UTC");
        assert_eq!(when("not a time"), "not a time");
    }
}
