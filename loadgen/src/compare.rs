//! `loadgen compare base.json new.json`: the baseline gate. Every latency figure comes from the
//! two runs' histograms merged exactly (never percentiles of percentiles); rates from the
//! counts. `--max-regression "latency.p99=10%,errors.rate=0.5pp"` sets what may get worse and
//! by how much; any metric past its allowance is a regression and the command exits 1.

use std::collections::BTreeSet;

use hdrhistogram::Histogram;

use crate::record::histogram::{max_ms, mean_ms, quantile_ms};
use crate::results::{HistogramError, Results, Summary};

/// What `--max-regression` uses when the flag is absent: the two figures a performance gate
/// is usually about, with room for run-to-run noise.
pub const DEFAULT_ALLOWANCE: &str = "latency.p99=10%,errors.rate=0.5pp,throttles.rate=0.5pp";

/// Which way is worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Worse {
    Higher,
    Lower,
}

/// How a metric is shown and how its allowance may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Milliseconds: allowance in `%` or `ms`.
    Ms,
    /// A fraction shown as a percentage: allowance in `pp` (percentage points) or `%`.
    Ratio,
    /// A count or a rate: allowance in `%`.
    Count,
    /// US dollars: allowance in `%`.
    Usd,
}

/// An allowance: how much worse a metric may get.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Allowance {
    /// Relative change, percent of the baseline.
    Percent(f64),
    /// Absolute change in percentage points (ratios).
    Points(f64),
    /// Absolute change in milliseconds.
    Millis(f64),
}

impl std::fmt::Display for Allowance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Allowance::Percent(v) => write!(f, "+{v}%"),
            Allowance::Points(v) => write!(f, "+{v}pp"),
            Allowance::Millis(v) => write!(f, "+{v}ms"),
        }
    }
}

/// Fewer values than this behind either side's figure make its change noise: a p99 of 40
/// responses is their largest but one, and which response that is, is chance.
pub const NOISE_BELOW: u64 = 100;

/// One compared figure.
#[derive(Debug, Clone)]
pub struct Row {
    /// Metric key, as `--max-regression` names it.
    pub key: String,
    /// Baseline value (NaN when the baseline lacks it).
    pub base: f64,
    /// New value.
    pub new: f64,
    /// Unit.
    pub unit: Unit,
    /// The allowance in force, if any.
    pub allowance: Option<Allowance>,
    /// Past its allowance.
    pub regressed: bool,
    /// How many values each side's figure rests on (responses, or requests for rates).
    pub samples: (u64, u64),
}

impl Row {
    /// Whether either side rests on fewer than [`NOISE_BELOW`] values: its change is shown as
    /// noise (it still gates when an allowance names it).
    pub fn noisy(&self) -> bool {
        self.samples.0.min(self.samples.1) < NOISE_BELOW
    }

    /// The samples behind both sides, `base/new`, marked when they are too few to read.
    pub fn samples_shown(&self) -> String {
        format!("{}/{}{}", self.samples.0, self.samples.1, if self.noisy() { " noise" } else { "" })
    }

    /// The change, as text: `+12.3%`, `+0.40pp`, `±0`.
    pub fn change(&self) -> String {
        if self.base.is_nan() || self.new.is_nan() {
            return "–".into();
        }
        let d = self.new - self.base;
        if d == 0.0 {
            return "±0".into();
        }
        match self.unit {
            Unit::Ratio => format!("{:+.2}pp", d * 100.0),
            _ if self.base != 0.0 => format!("{:+.1}%", d / self.base * 100.0),
            Unit::Ms => format!("{d:+.2} ms"),
            _ => format!("{d:+}"),
        }
    }

    /// A value in the row's unit.
    pub fn shown(&self, v: f64) -> String {
        if v.is_nan() {
            return "–".into();
        }
        match self.unit {
            Unit::Ms => format!("{v:.2} ms"),
            Unit::Ratio => format!("{:.2}%", v * 100.0),
            Unit::Count => {
                if v.fract() == 0.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.1}")
                }
            }
            Unit::Usd => crate::money::usd(v),
        }
    }
}

/// The comparison.
#[derive(Debug)]
pub struct Comparison {
    /// Figures, overall first, then per request name present in both runs.
    pub rows: Vec<Row>,
    /// Names of the two runs' scenarios.
    pub names: (String, String),
    /// Keys in `--max-regression` that matched nothing in these runs.
    pub unmatched: Vec<String>,
    /// How the two runs differ beyond their figures (scenario, target, stack, status): each a
    /// reason their deltas may not be the change under test.
    pub warnings: Vec<String>,
}

impl Comparison {
    /// True when some allowance was exceeded.
    pub fn regressed(&self) -> bool {
        self.rows.iter().any(|r| r.regressed)
    }
}

/// Why a comparison cannot be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CompareError {
    /// An entry of `--max-regression` is not `key=allowance`.
    #[error("--max-regression: '{0}' is not key=allowance (e.g. latency.p99=10%)")]
    NotKeyValue(String),
    /// An allowance is not a non-negative number.
    #[error("--max-regression: '{value}' for {key} is not a non-negative number with %, pp or ms")]
    NotANumber {
        /// The metric.
        key: String,
        /// The allowance as written.
        value: String,
    },
    /// An allowance without a unit.
    #[error(
        "--max-regression: '{value}' for {key} needs a unit: % (relative), pp (percentage points, for rates) or ms"
    )]
    NoUnit {
        /// The metric.
        key: String,
        /// The allowance as written.
        value: String,
    },
    /// An allowance names metrics these runs do not have.
    #[error(
        "--max-regression names {} but these runs have no such metric; see `loadgen compare --help` for the names",
        .0.join(", ")
    )]
    Unmatched(Vec<String>),
    /// A run's histograms do not decode.
    #[error("{side}: {source}")]
    Histogram {
        /// `baseline` or `new run`.
        side: &'static str,
        /// Which cell.
        source: HistogramError,
    },
}

/// Parses `--max-regression`: `key=10%`, `key=0.5pp`, `key=20ms`, comma separated.
pub fn parse_allowances(spec: &str) -> Result<Vec<(String, Allowance)>, CompareError> {
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').ok_or_else(|| CompareError::NotKeyValue(part.to_owned()))?;
        let (key, value) = (key.trim(), value.trim());
        let num = |s: &str| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| CompareError::NotANumber { key: key.to_owned(), value: value.to_owned() })
        };
        let a = if let Some(v) = value.strip_suffix("pp") {
            Allowance::Points(num(v)?)
        } else if let Some(v) = value.strip_suffix('%') {
            Allowance::Percent(num(v)?)
        } else if let Some(v) = value.strip_suffix("ms") {
            Allowance::Millis(num(v)?)
        } else {
            return Err(CompareError::NoUnit { key: key.to_owned(), value: value.to_owned() });
        };
        out.push((key.to_owned(), a));
    }
    Ok(out)
}

type Metric = (&'static str, Unit, Worse, fn(&Histogram<u64>) -> f64);

/// Latency figures read from a merged histogram, ms.
const LATENCY: [Metric; 7] = [
    ("p50", Unit::Ms, Worse::Higher, |h| q(h, 0.5)),
    ("p90", Unit::Ms, Worse::Higher, |h| q(h, 0.9)),
    ("p95", Unit::Ms, Worse::Higher, |h| q(h, 0.95)),
    ("p99", Unit::Ms, Worse::Higher, |h| q(h, 0.99)),
    ("p999", Unit::Ms, Worse::Higher, |h| q(h, 0.999)),
    ("max", Unit::Ms, Worse::Higher, |h| or_nan(h, max_ms)),
    ("mean", Unit::Ms, Worse::Higher, |h| or_nan(h, mean_ms)),
];

/// A figure of `h`, or NaN (no such figure) when it is empty.
fn or_nan(h: &Histogram<u64>, f: impl Fn(&Histogram<u64>) -> f64) -> f64 {
    if h.is_empty() { f64::NAN } else { f(h) }
}

fn q(h: &Histogram<u64>, quantile: f64) -> f64 {
    or_nan(h, |h| quantile_ms(h, quantile))
}

struct Side<'a> {
    r: &'a Results,
}

impl Side<'_> {
    fn hist(&self, request: Option<&str>) -> Result<(Histogram<u64>, Histogram<u64>), HistogramError> {
        // The ok responses', as every headline latency is: a change in how many were throttled
        // must not read as a change in speed.
        self.r.merged(|c| c.class == crate::record::Class::Ok && request.is_none_or(|n| c.request == n))
    }
    fn summary(&self, request: Option<&str>) -> Option<&Summary> {
        match request {
            None => Some(&self.r.totals),
            Some(n) => self.r.requests.iter().find(|q| q.name == n).map(|q| &q.summary),
        }
    }
}

/// Compares `new` against `base` with the given allowances.
pub fn compare(base: &Results, new: &Results, allow: &[(String, Allowance)]) -> Result<Comparison, CompareError> {
    let (b, n) = (Side { r: base }, Side { r: new });
    let mut rows = Vec::new();
    let mut push = |key: String, (bv, nv): (f64, f64), samples: (u64, u64), unit: Unit, worse: Worse| {
        rows.push((key, bv, nv, unit, worse, samples));
    };
    let base_names: BTreeSet<&str> = base.requests.iter().map(|q| q.name.as_str()).collect();
    let shared: Vec<&str> =
        new.requests.iter().map(|q| q.name.as_str()).filter(|name| base_names.contains(name)).collect();
    for scope in std::iter::once(None).chain(shared.iter().map(|s| Some(*s))) {
        let prefix = scope.map(|s| format!("{s}.")).unwrap_or_default();
        let (bl, bs) = b.hist(scope).map_err(|source| CompareError::Histogram { side: "baseline", source })?;
        let (nl, ns) = n.hist(scope).map_err(|source| CompareError::Histogram { side: "new run", source })?;
        for (name, unit, worse, f) in LATENCY {
            push(format!("{prefix}latency.{name}"), (f(&bl), f(&nl)), (bl.len(), nl.len()), unit, worse);
        }
        let p99 = (q(&bs, 0.99), q(&ns, 0.99));
        push(format!("{prefix}service_time.p99"), p99, (bs.len(), ns.len()), Unit::Ms, Worse::Higher);
        let (Some(bsum), Some(nsum)) = (b.summary(scope), n.summary(scope)) else { continue };
        let count = (bsum.requests, nsum.requests);
        push(format!("{prefix}errors.rate"), (bsum.error_rate, nsum.error_rate), count, Unit::Ratio, Worse::Higher);
        let throttles = (bsum.throttle_rate, nsum.throttle_rate);
        push(format!("{prefix}throttles.rate"), throttles, count, Unit::Ratio, Worse::Higher);
        let cold = (bsum.cold_start_rate(), nsum.cold_start_rate());
        push(format!("{prefix}cold_starts.rate"), cold, count, Unit::Ratio, Worse::Higher);
        let requests = (bsum.requests as f64, nsum.requests as f64);
        push(format!("{prefix}requests.count"), requests, count, Unit::Count, Worse::Lower);
        if scope.is_none() {
            push("rate.achieved".into(), (base.achieved_rate, new.achieved_rate), count, Unit::Count, Worse::Lower);
            let per_m = |r: &Results| r.cost.as_ref().map_or(f64::NAN, |c| c.per_million_usd);
            push("cost.per_million".into(), (per_m(base), per_m(new)), count, Unit::Usd, Worse::Higher);
        }
    }
    let mut unmatched: Vec<String> =
        allow.iter().filter(|(k, _)| !rows.iter().any(|r| &r.0 == k)).map(|(k, _)| k.clone()).collect();
    unmatched.dedup();
    let rows = rows
        .into_iter()
        .map(|(key, base, new, unit, worse, samples)| {
            let allowance = allow.iter().rev().find(|(k, _)| *k == key).map(|(_, a)| *a);
            let regressed = allowance.is_some_and(|a| exceeds(base, new, unit, worse, a));
            Row { key, base, new, unit, allowance, regressed, samples }
        })
        .collect();
    let warnings = differences(base, new);
    Ok(Comparison { rows, names: (base.name().to_owned(), new.name().to_owned()), unmatched, warnings })
}

/// How `new` differs from `base` beyond its figures: what makes a delta something other than
/// the change a comparison is meant to show.
fn differences(base: &Results, new: &Results) -> Vec<String> {
    // The plan's parts have no `PartialEq` of their own: they are compared as written.
    fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
        serde_json::to_value(v).unwrap_or_default()
    }
    // A stack's settings without what differs between any two runs of the same stack: where
    // its logs went, where its binary was built, the seed (a run's own).
    fn settings(stack: &Option<local_stack::StackConfig>) -> serde_json::Value {
        let mut v = json(stack);
        if let Some(o) = v.as_object_mut() {
            for key in ["log_dir", "seed"] {
                o.remove(key);
            }
            if let Some(f) = o.get_mut("function").and_then(|f| f.as_object_mut()) {
                f.remove("code");
            }
        }
        v
    }
    let mut out = Vec::new();
    let (b, n) = (&base.scenario, &new.scenario);
    if base.name() != new.name() {
        out.push(format!(
            "the runs are of different scenarios ('{}' and '{}'): their deltas compare different plans",
            base.name(),
            new.name()
        ));
    } else {
        let mut changed = Vec::new();
        if json(&b.phases) != json(&n.phases) {
            changed.push("phases");
        }
        if json(&b.requests) != json(&n.requests) || json(&b.flows) != json(&n.flows) {
            changed.push("requests");
        }
        if json(&b.thresholds) != json(&n.thresholds) {
            changed.push("thresholds");
        }
        if !changed.is_empty() {
            out.push(format!("the scenario's {} changed between the runs", changed.join(" and ")));
        }
    }
    if base.target.kind != new.target.kind || (base.target.stack.is_none() && base.target.url != new.target.url) {
        out.push(format!("the runs had different targets ({} and {})", base.target.url, new.target.url));
    } else if settings(&base.target.stack) != settings(&new.target.stack) {
        out.push("the local stack's settings differ between the runs (concurrency, memory, profile…)".into());
    }
    for (side, r) in [("baseline", base), ("new run", new)] {
        if let Some(reason) = &r.abort_reason {
            out.push(format!("the {side} was stopped early ({reason}): its figures cover part of its plan"));
        }
        if r.generator.saturated {
            out.push(format!("the {side}'s generator was saturated: its figures understate its plan"));
        }
    }
    out
}

/// True when `new` is worse than `base` by more than `a`.
fn exceeds(base: f64, new: f64, unit: Unit, worse: Worse, a: Allowance) -> bool {
    if base.is_nan() || new.is_nan() {
        // A figure that vanished (no requests of that kind) is a regression; one that appeared is not.
        return !base.is_nan() && new.is_nan();
    }
    let delta = match worse {
        Worse::Higher => new - base,
        Worse::Lower => base - new,
    };
    if delta <= 0.0 {
        return false;
    }
    match a {
        Allowance::Percent(p) => {
            if base == 0.0 {
                true
            } else {
                delta / base.abs() * 100.0 > p + 1e-9
            }
        }
        Allowance::Points(pp) => match unit {
            Unit::Ratio => delta * 100.0 > pp + 1e-9,
            _ => delta > pp,
        },
        Allowance::Millis(m) => delta > m + 1e-9,
    }
}

/// Changed by more than 5% relative (or 0.1 pp for ratios): worth a line even without a gate.
pub fn notable(r: &Row) -> bool {
    if r.base.is_nan() || r.new.is_nan() {
        return r.base.is_nan() != r.new.is_nan();
    }
    let d = (r.new - r.base).abs();
    match r.unit {
        Unit::Ratio => d > 0.001,
        _ => r.base != 0.0 && d / r.base.abs() > 0.05,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowances_parse_with_units_and_reject_the_rest() {
        let a = parse_allowances("latency.p99=10%, errors.rate=0.5pp,get-item.latency.p50=20ms").unwrap();
        assert_eq!(
            a,
            vec![
                ("latency.p99".into(), Allowance::Percent(10.0)),
                ("errors.rate".into(), Allowance::Points(0.5)),
                ("get-item.latency.p50".into(), Allowance::Millis(20.0)),
            ]
        );
        for bad in ["latency.p99", "latency.p99=10", "latency.p99=-1%", "latency.p99=x%", "a=NaN%"] {
            let e = parse_allowances(bad).unwrap_err().to_string();
            assert!(e.contains("--max-regression"), "{bad}: {e}");
        }
    }

    #[test]
    fn regressions_respect_direction_and_unit() {
        use Allowance::*;
        assert!(exceeds(100.0, 111.0, Unit::Ms, Worse::Higher, Percent(10.0)));
        assert!(!exceeds(100.0, 110.0, Unit::Ms, Worse::Higher, Percent(10.0)));
        assert!(!exceeds(100.0, 50.0, Unit::Ms, Worse::Higher, Percent(0.0)), "faster is never a regression");
        assert!(exceeds(0.010, 0.016, Unit::Ratio, Worse::Higher, Points(0.5)));
        assert!(!exceeds(0.010, 0.014, Unit::Ratio, Worse::Higher, Points(0.5)));
        assert!(exceeds(1000.0, 800.0, Unit::Count, Worse::Lower, Percent(10.0)));
        assert!(exceeds(0.0, 0.001, Unit::Ratio, Worse::Higher, Percent(10.0)), "from zero, any rise is infinite");
        assert!(exceeds(5.0, f64::NAN, Unit::Ms, Worse::Higher, Percent(10.0)), "a vanished figure");
        assert!(!exceeds(5.0, 5.0, Unit::Ms, Worse::Higher, Millis(0.0)));
    }
}
