//! Thresholds: `"get-item.latency.p95" = "< 80ms"`, `"spike.lambda_throttled.rate" = "> 20%"`,
//! parsed into a scope (a phase, a request kind, both or neither), a metric, a comparison and a
//! limit in the metric's own unit.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::record::Class;

/// Comparison of measured against limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Cmp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl Cmp {
    /// Whether `measured` satisfies the comparison with `limit`.
    pub fn holds(self, measured: f64, limit: f64) -> bool {
        match self {
            Cmp::Lt => measured < limit,
            Cmp::Le => measured <= limit,
            Cmp::Gt => measured > limit,
            Cmp::Ge => measured >= limit,
            Cmp::Eq => measured == limit,
            Cmp::Ne => measured != limit,
        }
    }

    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
            Cmp::Eq => "==",
            Cmp::Ne => "!=",
        }
    }
}

/// What a threshold measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Metric {
    /// Corrected latency (from the intended send time) of the ok responses at a percentile
    /// (`max` = 100, `mean`): throttles answered fast must not make a run look faster.
    Latency {
        /// Percentile 0–100, or `None` for the mean.
        percentile: Option<f64>,
    },
    /// Service time (from the actual send) of the ok responses at a percentile.
    ServiceTime {
        /// Percentile, or `None` for the mean.
        percentile: Option<f64>,
    },
    /// Corrected latency of one outcome class's responses (`lambda_throttled.latency.p99`).
    ClassLatency {
        /// The class.
        class: Class,
        /// Percentile, or `None` for the mean.
        percentile: Option<f64>,
    },
    /// Share of requests that failed (`client_error`, `function_error`, `timeout`, `transport_error`).
    ErrorRate,
    /// Share of requests throttled by any layer.
    ThrottleRate,
    /// Share of requests in one outcome class.
    ClassRate {
        /// The class.
        class: Class,
    },
    /// Requests in one outcome class.
    ClassCount {
        /// The class.
        class: Class,
    },
    /// Cold starts seen (`x-cold-start: true`).
    ColdStartCount,
    /// Share of responses that were cold starts.
    ColdStartRate,
    /// Requests sent.
    RequestCount,
    /// Achieved request rate, req/s.
    AchievedRate,
    /// Arrivals of the schedule never sent: held back until their phase ended, or without a
    /// file descriptor (`not_sent.count`).
    NotSentCount,
    /// Those as a share of the schedule's arrivals, sent or not (`not_sent.rate`).
    NotSentRate,
    /// Cost of this run, USD.
    CostRun,
    /// Cost per million requests, USD.
    CostPerMillion,
    /// Monthly cost at the scenario's average rate, USD.
    CostMonthly,
    /// DynamoDB read units per response, from the function's `x-ddb-rcu` header.
    ReadUnitsPerRequest,
    /// DynamoDB write units per response (`x-ddb-wcu`).
    WriteUnitsPerRequest,
    /// DynamoDB calls per response (`x-ddb-calls`).
    DynamoDbCallsPerRequest,
    /// Share of checked responses whose `check` failed.
    ChecksRate,
    /// Checked responses whose `check` failed.
    ChecksFailed,
    /// A flow's duration (`<flow>.flow_duration.p99`; every flow's without the prefix), from the
    /// arrival's intended time to its last answer, think time included.
    FlowDuration {
        /// Percentile, or `None` for the mean.
        percentile: Option<f64>,
    },
    /// Share of a flow's ended instances that a step without a response or a failed capture
    /// ended (`flows_failed.rate`).
    FlowsFailedRate,
}

impl Metric {
    /// True for the metrics of the whole run's bill, which no phase has on its own.
    pub fn is_cost(&self) -> bool {
        matches!(self, Metric::CostRun | Metric::CostPerMillion | Metric::CostMonthly)
    }

    /// True for the figures of flows, which a threshold scopes by a flow's name (never a
    /// request's or a phase's: an instance spans both).
    pub fn is_flow(&self) -> bool {
        matches!(self, Metric::FlowDuration { .. } | Metric::FlowsFailedRate)
    }

    /// True for the figures of arrivals (sent, not sent), counted per phase or run: never a
    /// request kind's or a target's (a flow's arrival may span several).
    pub fn is_arrivals(&self) -> bool {
        matches!(self, Metric::AchievedRate | Metric::NotSentCount | Metric::NotSentRate)
    }

    /// True for the figures the function's diagnostic headers give per request kind, which
    /// are not kept per phase.
    pub fn is_per_request_kind(&self) -> bool {
        matches!(
            self,
            Metric::ReadUnitsPerRequest
                | Metric::WriteUnitsPerRequest
                | Metric::DynamoDbCallsPerRequest
                | Metric::ChecksRate
                | Metric::ChecksFailed
        )
    }

    /// What the limit's unit must be: `ms`, `%` (or a fraction), or a plain number.
    pub fn unit(&self) -> Unit {
        match self {
            Metric::Latency { .. }
            | Metric::ServiceTime { .. }
            | Metric::ClassLatency { .. }
            | Metric::FlowDuration { .. } => Unit::Millis,
            Metric::FlowsFailedRate
            | Metric::ErrorRate
            | Metric::ThrottleRate
            | Metric::ClassRate { .. }
            | Metric::ColdStartRate
            | Metric::NotSentRate
            | Metric::ChecksRate => Unit::Fraction,
            m if m.is_cost() => Unit::Usd,
            _ => Unit::Count,
        }
    }
}

/// Unit of a limit, as results.json names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Unit {
    /// Milliseconds (`300ms`, `1.5s`).
    #[serde(rename = "ms")]
    Millis,
    /// A share (`1%`, `0.01`), kept as a fraction from 0 to 1.
    #[serde(rename = "ratio")]
    Fraction,
    /// A plain number.
    #[serde(rename = "count")]
    Count,
    /// US dollars (`< 2.5`, `< $2.5`).
    #[serde(rename = "usd")]
    Usd,
}

/// Why a threshold key names no metric.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricError {
    /// `latency.<stat>` with a statistic that is none.
    #[error("'{0}' is not a statistic; use p50, p95, p99, p99.9, max, min or mean")]
    Statistic(String),
    /// Nothing matched.
    #[error(
        "unknown metric '{key}'{hint}; use latency.pNN, service_time.pNN, errors.rate, throttles.rate, \
         cold_starts.count, cold_starts.rate, requests.count, rate.achieved, cost.run_usd, \
         cost.per_million_usd, cost.monthly_usd, read_units.per_request, write_units.per_request, \
         dynamodb_calls.per_request, checks.rate, checks.failed or <class>.rate/<class>.count/<class>.latency.pNN, optionally prefixed with a \
         phase name, a request name or both (phase first); or flow_duration.pNN, flows_failed.rate, optionally \
         prefixed with a flow name"
    )]
    Unknown {
        /// The key as written.
        key: String,
        /// A note on the request names, when the first part may have been meant as one.
        hint: String,
    },
    /// The key starts with a name that is both a phase and a request kind.
    #[error("'{0}' names both a phase and a request (or flow), so the threshold is ambiguous; rename one of them")]
    Ambiguous(String),
    /// A per-request-kind figure scoped to a phase.
    #[error("{metric} is kept per request kind, not per phase; drop the phase '{phase}' from the key")]
    NotPerPhase {
        /// The metric as written.
        metric: String,
        /// The phase.
        phase: String,
    },
    /// A flow's figure scoped to a phase.
    #[error("{metric} is a flow's, whose instances span phases; drop the phase '{phase}' from the key")]
    FlowOfPhase {
        /// The metric as written.
        metric: String,
        /// The phase.
        phase: String,
    },
    /// A cost metric scoped to a phase.
    #[error("{metric} is the whole run's cost and cannot be limited to phase '{phase}'")]
    CostOfPhase {
        /// The metric as written.
        metric: String,
        /// The phase.
        phase: String,
    },
}

/// A threshold key, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The phase it is limited to.
    pub phase: Option<String>,
    /// The request kind it is limited to.
    pub request: Option<String>,
    /// What it measures.
    pub metric: Metric,
}

/// The longest of `names` that `key` starts with, followed by a dot.
fn prefix<'a>(key: &str, names: &[&'a str]) -> Option<&'a str> {
    names.iter().copied().filter(|n| key.starts_with(n) && key[n.len()..].starts_with('.')).max_by_key(|n| n.len())
}

/// Parses a threshold key: `[phase.][request.]metric`. Names may contain dots; the longest
/// known name wins, and a first part that is both a phase and a request name is refused.
pub fn parse_key(key: &str, phases: &[&str], requests: &[&str]) -> Result<Key, MetricError> {
    let (phase, rest) = match (prefix(key, phases), prefix(key, requests)) {
        (Some(p), Some(r)) => return Err(MetricError::Ambiguous(if p.len() >= r.len() { p } else { r }.to_owned())),
        (Some(p), None) => (Some(p.to_owned()), &key[p.len() + 1..]),
        (None, _) => (None, key),
    };
    let (request, metric) = parse_metric(rest, requests).map_err(|e| match e {
        MetricError::Unknown { hint, .. } => MetricError::Unknown { key: key.to_owned(), hint },
        other => other,
    })?;
    if let (Some(p), true) = (&phase, metric.is_cost()) {
        return Err(MetricError::CostOfPhase { metric: rest.to_owned(), phase: p.clone() });
    }
    if let (Some(p), true) = (&phase, metric.is_flow()) {
        return Err(MetricError::FlowOfPhase { metric: rest.to_owned(), phase: p.clone() });
    }
    if let (Some(p), true) = (&phase, metric.is_per_request_kind()) {
        return Err(MetricError::NotPerPhase { metric: rest.to_owned(), phase: p.clone() });
    }
    Ok(Key { phase, request, metric })
}

/// Why a condition does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    /// No comparison operator.
    #[error("'{0}' must start with <, <=, >, >=, == or !=, e.g. \"< 300ms\"")]
    Operator(String),
    /// A latency limit without a unit.
    #[error("'{0}' needs a time unit: ms, s or us (e.g. \"< 300ms\")")]
    TimeUnit(String),
    /// A share that is none.
    #[error("'{0}' must be a percentage (\"1%\") or a fraction below 1 (\"0.01\")")]
    Share(String),
    /// A bare `1` for a share: one percent was almost always meant, and it reads as 100%.
    #[error("'{0}' as a share is 100%; write \"1%\" for one percent, or \"100%\" if you mean all")]
    WholeShare(String),
    /// A count that is none.
    #[error("'{0}' must be a number >= 0")]
    Number(String),
}

/// A threshold key without its phase: optional request name, then the metric.
pub fn parse_metric(key: &str, request_names: &[&str]) -> Result<(Option<String>, Metric), MetricError> {
    // A request name may itself contain dots; match the longest known request prefix first.
    let (request, rest) =
        match request_names.iter().filter(|n| key.starts_with(&format!("{n}."))).max_by_key(|n| n.len()) {
            Some(n) => (Some((*n).to_owned()), &key[n.len() + 1..]),
            None => (None, key),
        };
    let percentile = |p: &str| -> Result<Option<f64>, MetricError> {
        match p {
            "mean" | "avg" => Ok(None),
            "max" => Ok(Some(100.0)),
            "min" => Ok(Some(0.0)),
            "median" => Ok(Some(50.0)),
            _ => p
                .strip_prefix('p')
                .and_then(|q| q.parse::<f64>().ok())
                .filter(|q| (0.0..=100.0).contains(q))
                .map(Some)
                .ok_or_else(|| MetricError::Statistic(p.to_owned())),
        }
    };
    let metric = match rest.split_once('.') {
        Some(("latency", p)) => Metric::Latency { percentile: percentile(p)? },
        Some(("service_time", p)) => Metric::ServiceTime { percentile: percentile(p)? },
        Some(("errors", "rate")) => Metric::ErrorRate,
        Some(("throttles", "rate")) => Metric::ThrottleRate,
        Some(("cold_starts", "count")) => Metric::ColdStartCount,
        Some(("cold_starts", "rate")) => Metric::ColdStartRate,
        Some(("requests", "count")) => Metric::RequestCount,
        Some(("rate", "achieved")) => Metric::AchievedRate,
        Some(("not_sent", "count")) => Metric::NotSentCount,
        Some(("not_sent", "rate")) => Metric::NotSentRate,
        Some(("cost", "run_usd")) => Metric::CostRun,
        Some(("cost", "per_million_usd")) => Metric::CostPerMillion,
        Some(("cost", "monthly_usd")) => Metric::CostMonthly,
        Some(("read_units", "per_request")) => Metric::ReadUnitsPerRequest,
        Some(("write_units", "per_request")) => Metric::WriteUnitsPerRequest,
        Some(("dynamodb_calls", "per_request")) => Metric::DynamoDbCallsPerRequest,
        Some(("checks", "rate")) => Metric::ChecksRate,
        Some(("checks", "failed")) => Metric::ChecksFailed,
        Some(("flow_duration", p)) => Metric::FlowDuration { percentile: percentile(p)? },
        Some(("flows_failed", "rate")) => Metric::FlowsFailedRate,
        Some((class, latency)) if Class::from_name(class).is_some() && latency.starts_with("latency.") => {
            let class = Class::from_name(class).expect("checked");
            Metric::ClassLatency { class, percentile: percentile(&latency["latency.".len()..])? }
        }
        Some((class, "rate")) if Class::from_name(class).is_some() => {
            Metric::ClassRate { class: Class::from_name(class).expect("checked") }
        }
        Some((class, "count")) if Class::from_name(class).is_some() => {
            Metric::ClassCount { class: Class::from_name(class).expect("checked") }
        }
        _ => {
            let hint = if request.is_none() && rest.contains('.') {
                let first = rest.split('.').next().unwrap_or("");
                format!(" ('{first}' is not a request name either, nor a phase; requests are {request_names:?})")
            } else {
                String::new()
            };
            return Err(MetricError::Unknown { key: key.to_owned(), hint });
        }
    };
    Ok((request, metric))
}

/// Parses a condition such as `< 300ms`, `<= 1%` or `> 100` into the comparison and a limit in
/// `unit` (ms, a fraction, or a count).
pub fn parse_condition(text: &str, unit: Unit) -> Result<(Cmp, f64), ConditionError> {
    let t = text.trim();
    let (cmp, rest) = if let Some(r) = t.strip_prefix("<=") {
        (Cmp::Le, r)
    } else if let Some(r) = t.strip_prefix(">=") {
        (Cmp::Ge, r)
    } else if let Some(r) = t.strip_prefix("==") {
        (Cmp::Eq, r)
    } else if let Some(r) = t.strip_prefix("!=") {
        (Cmp::Ne, r)
    } else if let Some(r) = t.strip_prefix('<') {
        (Cmp::Lt, r)
    } else if let Some(r) = t.strip_prefix('>') {
        (Cmp::Gt, r)
    } else {
        return Err(ConditionError::Operator(text.to_owned()));
    };
    let v = rest.trim();
    let number = |s: &str| s.trim().parse::<f64>().ok().filter(|n| n.is_finite() && *n >= 0.0);
    let limit = match unit {
        Unit::Millis => {
            if let Some(n) = v.strip_suffix("ms").and_then(number) {
                n
            } else if let Some(n) = v.strip_suffix("us").or(v.strip_suffix("µs")).and_then(number) {
                n / 1000.0
            } else if let Some(n) = v.strip_suffix('s').and_then(number) {
                n * 1000.0
            } else {
                return Err(ConditionError::TimeUnit(v.to_owned()));
            }
        }
        Unit::Fraction => {
            if let Some(n) = v.strip_suffix('%').and_then(number) {
                n / 100.0
            } else {
                match number(v) {
                    Some(1.0) => return Err(ConditionError::WholeShare(v.to_owned())),
                    Some(n) if n < 1.0 => n,
                    _ => return Err(ConditionError::Share(v.to_owned())),
                }
            }
        }
        Unit::Count => number(v).ok_or_else(|| ConditionError::Number(v.to_owned()))?,
        Unit::Usd => number(v.strip_prefix('$').unwrap_or(v)).ok_or_else(|| ConditionError::Number(v.to_owned()))?,
    };
    Ok((cmp, limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_with_and_without_request_names() {
        assert_eq!(parse_metric("latency.p99", &[]).unwrap(), (None, Metric::Latency { percentile: Some(99.0) }));
        assert_eq!(
            parse_metric("get-item.latency.p95", &["get-item"]).unwrap(),
            (Some("get-item".into()), Metric::Latency { percentile: Some(95.0) })
        );
        assert_eq!(parse_metric("a.b.errors.rate", &["a.b"]).unwrap().1, Metric::ErrorRate);
        assert_eq!(
            parse_metric("lambda_throttled.count", &[]).unwrap().1,
            Metric::ClassCount { class: Class::LambdaThrottled }
        );
        assert!(parse_metric("latency.p101", &[]).is_err());
        assert_eq!(
            parse_metric("lambda_throttled.latency.p99", &[]).unwrap(),
            (None, Metric::ClassLatency { class: Class::LambdaThrottled, percentile: Some(99.0) })
        );
        assert!(parse_metric("lambda_throttled.latency.p200", &[]).is_err());
        assert!(
            parse_metric("get-itm.latency.p95", &["get-item"]).unwrap_err().to_string().contains("not a request name")
        );
    }

    #[test]
    fn keys_scope_to_phases_and_requests() {
        let phases = ["warm-up", "spike", "a.b"];
        let requests = ["get-item", "spike.read"];
        let k = parse_key("spike.get-item.latency.p99", &phases, &["get-item"]).unwrap();
        assert_eq!((k.phase.as_deref(), k.request.as_deref()), (Some("spike"), Some("get-item")));
        let k = parse_key("warm-up.lambda_throttled.count", &phases, &requests).unwrap();
        assert_eq!(k.phase.as_deref(), Some("warm-up"));
        assert_eq!(k.metric, Metric::ClassCount { class: Class::LambdaThrottled });
        let k = parse_key("a.b.errors.rate", &phases, &requests).unwrap();
        assert_eq!((k.phase.as_deref(), k.request), (Some("a.b"), None), "the longest name wins");
        let k = parse_key("get-item.latency.p50", &phases, &requests).unwrap();
        assert_eq!((k.phase, k.request.as_deref()), (None, Some("get-item")));
        let e = parse_key("spike.read.errors.rate", &phases, &requests).unwrap_err();
        assert_eq!(e, MetricError::Ambiguous("spike.read".into()));
        let e = parse_key("spike.cost.run_usd", &phases, &requests).unwrap_err().to_string();
        assert!(e.contains("cannot be limited to phase 'spike'"), "{e}");
        let k = parse_key("get-item.read_units.per_request", &phases, &requests).unwrap();
        assert_eq!(k.metric, Metric::ReadUnitsPerRequest);
        let e = parse_key("spike.get-item.dynamodb_calls.per_request", &phases, &["get-item"]).unwrap_err();
        assert!(e.to_string().contains("not per phase"), "{e}");
        let e = parse_key("spikey.errors.rate", &phases, &requests).unwrap_err().to_string();
        assert!(e.contains("unknown metric 'spikey.errors.rate'") && e.contains("nor a phase"), "{e}");
    }

    #[test]
    fn conditions_in_units() {
        assert_eq!(parse_condition("< 300ms", Unit::Millis).unwrap(), (Cmp::Lt, 300.0));
        assert_eq!(parse_condition("<=1.5s", Unit::Millis).unwrap(), (Cmp::Le, 1500.0));
        assert_eq!(parse_condition("< 1%", Unit::Fraction).unwrap(), (Cmp::Lt, 0.01));
        assert_eq!(parse_condition("> 0.5", Unit::Fraction).unwrap(), (Cmp::Gt, 0.5));
        assert_eq!(parse_condition(">= 10", Unit::Count).unwrap(), (Cmp::Ge, 10.0));
        assert!(parse_condition("300ms", Unit::Millis).is_err());
        assert!(parse_condition("< 300", Unit::Millis).unwrap_err().to_string().contains("time unit"));
        assert!(parse_condition("< 5", Unit::Fraction).is_err());
        // "< 1" would silently mean below 100%.
        assert!(parse_condition("< 1", Unit::Fraction).unwrap_err().to_string().contains("\"1%\" for one percent"));
        assert_eq!(parse_condition("<= 100%", Unit::Fraction).unwrap(), (Cmp::Le, 1.0));
        assert_eq!(parse_condition("< $2.5", Unit::Usd).unwrap(), (Cmp::Lt, 2.5));
        assert_eq!(parse_condition("< 2.5", Unit::Usd).unwrap(), (Cmp::Lt, 2.5));
        assert!(Cmp::Lt.holds(1.0, 2.0) && !Cmp::Gt.holds(1.0, 2.0));
        assert_eq!(parse_condition("== 0", Unit::Count).unwrap(), (Cmp::Eq, 0.0));
        assert_eq!(parse_condition("!= 0", Unit::Count).unwrap(), (Cmp::Ne, 0.0));
        assert!(Cmp::Eq.holds(0.0, 0.0) && !Cmp::Eq.holds(1.0, 0.0) && Cmp::Ne.holds(1.0, 0.0));
    }
}
