//! A traffic curve — "a day like last Tuesday" — read from CSV as CloudWatch exports API
//! Gateway's `Count`: a header row, then a time and the requests in each period. It becomes
//! one phase of steps, one step per period, with Poisson arrivals (real traffic is not evenly
//! spaced), replacing the plan's phases.
//!
//! The columns: with two or more, the first is the time (RFC 3339, e.g.
//! `2026-11-24T13:05:00Z`, or Unix seconds, at least two rows) and the last the value; with
//! one, each row is one minute. The period is the smallest gap between times; a missing period (CloudWatch writes no
//! datapoint for a minute without requests) is zero traffic. Values are requests per period —
//! the `Sum` of `Count` — unless the value column's header says `/s` or `rate`, then requests per
//! second.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::scenario::{Arrivals, Load, Phase, Plan};

/// The longest curve: 31 days.
const MAX_SECONDS: f64 = 31.0 * 86_400.0;
/// The most periods.
const MAX_PERIODS: usize = 50_000;

/// Why a curve cannot be read, with its place.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}:{line}: {message}", .file.display())]
pub struct CurveError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line, 0 for the whole file.
    pub line: u64,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// A curve: the rate of each period, req/s, and the period.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Requests per second in each period, in order.
    pub rates: Vec<f64>,
    /// The period, s.
    pub period_s: f64,
}

/// Reads a curve from `path`.
pub fn read(path: &Path) -> Result<Curve, CurveError> {
    let text = std::fs::read_to_string(path).map_err(|e| CurveError {
        file: path.to_path_buf(),
        line: 0,
        message: format!("cannot read the traffic curve: {e}"),
    })?;
    parse(path, &text)
}

fn time_s(text: &str) -> Option<f64> {
    let t = text.trim();
    if let Ok(n) = t.parse::<f64>() {
        return n.is_finite().then_some(n);
    }
    let at = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()?;
    Some(at.unix_timestamp_nanos() as f64 / 1e9)
}

/// Parses `text`, read from `path`.
pub fn parse(path: &Path, text: &str) -> Result<Curve, CurveError> {
    let err = |line: u64, message: String| CurveError { file: path.to_path_buf(), line, message };
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| err(1, format!("not CSV: {e}")))?.clone();
    let per_second = headers.iter().next_back().is_some_and(|h| h.contains("/s") || h.to_lowercase().contains("rate"));
    let mut rows: Vec<(u64, Option<f64>, f64)> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| err(e.position().map_or(0, |p| p.line()), format!("not CSV: {e}")))?;
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        let value_text = record.iter().next_back().unwrap_or_default();
        let value =
            value_text.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0).ok_or_else(|| {
                err(line, format!("{value_text:?} is not a request count: expected a number, 0 or more"))
            })?;
        let time = if record.len() >= 2 {
            let t = record.get(0).unwrap_or_default();
            Some(time_s(t).ok_or_else(|| {
                err(line, format!("{t:?} is not a time: expected RFC 3339 (2026-11-24T13:05:00Z) or Unix seconds"))
            })?)
        } else {
            None
        };
        rows.push((line, time, value));
    }
    if rows.is_empty() {
        return Err(err(0, "no rows after the header: export at least one period of Count".into()));
    }
    let (values, period_s) = match rows[0].1 {
        None => (rows.iter().map(|r| r.2).collect::<Vec<_>>(), 60.0),
        Some(_) => spaced(&rows).map_err(|(line, m)| err(line, m))?,
    };
    if values.len() > MAX_PERIODS || values.len() as f64 * period_s > MAX_SECONDS {
        return Err(err(0, format!("{} periods of {period_s} s: at most {MAX_PERIODS} and 31 days", values.len())));
    }
    let rates = values.iter().map(|v| if per_second { *v } else { v / period_s }).collect();
    Ok(Curve { rates, period_s })
}

/// Values placed on a regular grid of the smallest gap, missing periods zero.
fn spaced(rows: &[(u64, Option<f64>, f64)]) -> Result<(Vec<f64>, f64), (u64, String)> {
    let times: Vec<f64> = rows.iter().map(|r| r.1.unwrap_or(f64::NAN)).collect();
    for (i, w) in times.windows(2).enumerate() {
        if w[1].partial_cmp(&w[0]) != Some(std::cmp::Ordering::Greater) {
            return Err((rows[i + 1].0, "times must increase row by row: sort the export by time".into()));
        }
    }
    if times.len() < 2 {
        return Err((rows[0].0, "one timed row says nothing of the period: export at least two".into()));
    }
    let period = times.windows(2).map(|w| w[1] - w[0]).fold(f64::INFINITY, f64::min);
    if period < 1.0 {
        return Err((rows[1].0, format!("periods of {period} s: at least 1 s")));
    }
    // In floating point first: a far-off time must not overflow the count.
    let span = ((times[times.len() - 1] - times[0]) / period).round() + 1.0;
    if !(span.is_finite() && span <= MAX_PERIODS as f64) {
        return Err((0, format!("{span} periods of {period} s: at most {MAX_PERIODS}")));
    }
    let span = span as usize;
    let mut values = vec![0.0; span];
    for (t, r) in times.iter().zip(rows) {
        let k = ((t - times[0]) / period).round() as usize;
        values[k.min(span - 1)] += r.2;
    }
    Ok((values, period))
}

/// `plan` with its phases replaced by the curve: one phase of steps named `curve`.
pub fn plan(plan: &Plan, curve: &Curve) -> Plan {
    let mut p = plan.clone();
    p.phases = vec![Phase {
        name: "curve".into(),
        duration: Duration::from_secs_f64(curve.period_s * curve.rates.len() as f64),
        load: Load::Steps { rates: curve.rates.clone() },
        arrivals: Arrivals::Poisson,
    }];
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Curve, CurveError> {
        parse(Path::new("day.csv"), text)
    }

    #[test]
    fn cloudwatch_counts_become_rates_per_period() {
        let c = parse_str("Time,Count\n2026-11-24T00:00:00Z,600\n2026-11-24T00:01:00Z,1200\n").unwrap();
        assert_eq!((c.rates.clone(), c.period_s), (vec![10.0, 20.0], 60.0));
        // A missing minute is a minute without requests; Unix seconds work too.
        let c = parse_str("t,n\n0,60\n60,60\n180,120\n").unwrap();
        assert_eq!(c.rates, [1.0, 1.0, 0.0, 2.0]);
        // One column: requests per minute; a rate header: requests per second.
        assert_eq!(parse_str("Count\n60\n\"120\"\n").unwrap().rates, [1.0, 2.0]);
        assert_eq!(parse_str("time,req/s\n0,5\n300,7\n").unwrap().rates, [5.0, 7.0]);
        assert_eq!(parse_str("time,req/s\n0,5\n300,7\n").unwrap().period_s, 300.0);
    }

    #[test]
    fn bad_curves_say_where_and_how_to_fix() {
        let e = |t: &str| parse_str(t).unwrap_err().to_string();
        assert!(e("Time,Count\n2026-11-24T00:00:00Z,abc\n").starts_with("day.csv:2:"), "{}", e("a,b\n1,x\n"));
        assert!(e("Time,Count\n0,1\n0,1\n").contains("day.csv:3: times must increase"));
        assert!(e("Time,Count\nyesterday,1\n").contains("RFC 3339"));
        assert!(e("Time,Count\n0,-5\n").contains("0 or more"));
        assert!(e("Time,Count\n0,NaN\n").contains("0 or more"));
        assert!(e("Time,Count\n").contains("no rows"));
        assert!(e("Time,Count\n0,1\n0.5,1\n").contains("at least 1 s"));
        assert!(e("Time,Count\n0,1\n3000000,1\n").contains("at most"));
        assert!(e("Time,Count\n0,1\n1,1\n1e20,1\n").contains("at most"));
        assert!(e("Time,Count\n2026-11-24T00:00:00Z,5\n").contains("at least two"));
    }
}
