//! `[thresholds]`: each key parsed into a metric (optionally of one phase, one request kind or
//! both) and each condition into a comparison and a limit in the metric's unit.

use std::collections::BTreeMap;

use toml::Spanned;

use crate::scenario::error::{Locator, ScenarioError, suggestion};
use crate::scenario::flow::Flow;
use crate::scenario::threshold::{Metric, parse_condition, parse_key};
use crate::scenario::values::span;
use crate::scenario::{Phase, Request, Threshold};

/// Validates the thresholds against the phase and request names.
pub(super) fn thresholds(
    loc: &Locator<'_>,
    raw: Option<&BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
    phases: &[Phase],
    requests: &[Request],
    flows: &[Flow],
    targets: &[String],
) -> Result<Vec<Threshold>, ScenarioError> {
    let mut thresholds = Vec::new();
    // A flow's or a target's name prefixes its metrics as a request's does (no two share a
    // name); `default` is `[target]`'s when there are named ones.
    let default = (!targets.is_empty()).then_some("default");
    let names: Vec<&str> = (requests.iter().map(|r| r.name.as_str()))
        .chain(flows.iter().map(|f| f.name.as_str()))
        .chain(targets.iter().map(String::as_str))
        .chain(default.filter(|_| !requests.iter().any(|r| r.name == "default")))
        .collect();
    let phase_names: Vec<&str> = phases.iter().map(|p| p.name.as_str()).collect();
    for (key, value) in raw.into_iter().flatten() {
        let field = format!("thresholds.\"{}\"", key.get_ref());
        let parsed =
            parse_key(key.get_ref(), &phase_names, &names).map_err(|e| loc.error(span(key), &field, e.to_string()))?;
        let metric = parsed.metric.clone();
        of_target(loc, key, &field, &parsed, (targets, requests))?;
        scoped(loc, key, &field, &parsed, requests, flows)?;
        let (condition, abort_on_fail) = match value.get_ref() {
            toml::Value::String(s) => (s.clone(), false),
            toml::Value::Table(t) => {
                for k in t.keys() {
                    if k != "limit" && k != "abort_on_fail" {
                        let hint = suggestion(k, &["limit", "abort_on_fail"])
                            .map(|s| format!("; did you mean `{s}`?"))
                            .unwrap_or_default();
                        return Err(loc.error(
                            span(value),
                            &field,
                            format!("unknown key `{k}` in a threshold table{hint} (allowed: limit, abort_on_fail)"),
                        ));
                    }
                }
                let limit = t.get("limit").and_then(|v| v.as_str()).ok_or_else(|| {
                    loc.error(
                        span(value),
                        &field,
                        "a threshold table needs limit = \"< 300ms\" (and optionally abort_on_fail = true)",
                    )
                })?;
                let abort = match t.get("abort_on_fail") {
                    None => false,
                    Some(toml::Value::Boolean(b)) => *b,
                    Some(_) => return Err(loc.error(span(value), &field, "abort_on_fail must be true or false")),
                };
                (limit.to_owned(), abort)
            }
            _ => {
                return Err(loc.error(
                    span(value),
                    &field,
                    "expected a condition such as \"< 300ms\" or { limit = \"< 1%\", abort_on_fail = true }",
                ));
            }
        };
        let (cmp, limit) =
            parse_condition(&condition, metric.unit()).map_err(|e| loc.error(span(value), &field, e.to_string()))?;
        thresholds.push(Threshold {
            key: key.get_ref().clone(),
            condition,
            phase: parsed.phase,
            request: parsed.request,
            metric,
            cmp,
            limit,
            abort_on_fail,
        });
    }
    Ok(thresholds)
}

/// Whether a target's scope can have the key's metric: its requests' latency, outcomes, cold
/// starts, checks and diagnostics, but not arrivals (a flow's span targets), flows, or cost
/// (only `[target]` is priced, and as a whole).
fn of_target(
    loc: &Locator<'_>,
    key: &Spanned<String>,
    field: &str,
    parsed: &crate::scenario::threshold::Key,
    (targets, requests): (&[String], &[Request]),
) -> Result<(), ScenarioError> {
    // A request kind sent to a named target has no price of its own: its stack is not known.
    if let (Some(r), Metric::CostPerMillion) =
        (parsed.request.as_ref().and_then(|n| requests.iter().find(|r| &r.name == n)), &parsed.metric)
        && let Some(t) = &r.target
    {
        return Err(loc.error(
            span(key),
            field,
            format!("'{}' is sent to [targets.{t}], whose stack is not known, so it has no cost; only [target]'s requests are priced", r.name),
        ));
    }
    let Some(n) = parsed.request.as_ref().filter(|n| targets.contains(n) || (*n == "default" && !targets.is_empty()))
    else {
        return Ok(());
    };
    // A target no request is sent to would measure nothing: its counts pass, the rest fail.
    let to = |r: &&Request| r.target.as_ref() == Some(n) || (n == "default" && r.target.is_none());
    if !requests.iter().any(|r| to(&r)) {
        return Err(loc.error(
            span(key),
            field,
            format!("no request or flow step is sent to target '{n}', so this would measure nothing; give one target = \"{n}\""),
        ));
    }
    let why = match parsed.metric {
        ref m if m.is_arrivals() => {
            "rate.achieved and not_sent count arrivals, which are not a target's (a flow's may span several)"
        }
        ref m if m.is_cost() => "cost is the whole run's, and only [target]'s stack is priced",
        ref m if m.is_flow() => "flow_duration and flows_failed are a flow's; scope them by the flow's name",
        _ => return Ok(()),
    };
    Err(loc.error(span(key), field, format!("'{n}' is a target: {why}")))
}

/// Whether the request or flow a key names can have its metric: a flow's metrics only of a
/// flow, a request's never of one, and none of a `[[request]]` only flows send (its steps are
/// kinds of their own, so it would measure nothing and pass).
fn scoped(
    loc: &Locator<'_>,
    key: &Spanned<String>,
    field: &str,
    parsed: &crate::scenario::threshold::Key,
    requests: &[Request],
    flows: &[Flow],
) -> Result<(), ScenarioError> {
    let metric = &parsed.metric;
    // Arrivals are counted per phase, not per request kind: the run's rate would be measured
    // under the request's name and pass or fail for the wrong reason.
    if let Some(n) = &parsed.request
        && metric.is_arrivals()
        && requests.iter().any(|r| &r.name == n)
    {
        return Err(loc.error(
            span(key),
            field,
            format!("rate.achieved and not_sent count arrivals per phase or run, not per request kind; drop '{n}' from the key (or gate {n}.requests.count)"),
        ));
    }
    // A [[request]] of weight 0 is sent only as flow steps, which are kinds of their own: a
    // threshold on it would measure nothing and pass.
    let step = |i: usize| flows.iter().any(|f| f.steps.iter().any(|s| s.request == i));
    if let Some(i) = parsed.request.as_ref().and_then(|n| requests.iter().position(|r| &r.name == n))
        && requests[i].weight == 0.0
        && !step(i)
    {
        let name = &requests[i].name;
        let steps: Vec<&str> = requests
            .iter()
            .filter(|r| r.name.rsplit_once('/').is_some_and(|(_, s)| s == name))
            .map(|r| r.name.as_str())
            .collect();
        return Err(loc.error(
            span(key),
            field,
            format!(
                "request '{name}' has weight 0: only flow steps send it, as kinds of their own ({}); put the \
                     step's name in the key",
                if steps.is_empty() { "<flow>/<step>".to_owned() } else { steps.join(", ") }
            ),
        ));
    }
    let is_flow = |n: &String| flows.iter().any(|f| &f.name == n);
    match (&parsed.request, metric.is_flow()) {
        (Some(n), false) if is_flow(n) => {
            return Err(loc.error(
                span(key),
                field,
                format!(
                    "'{n}' is a flow: its metrics are {n}.flow_duration.pNN and {n}.flows_failed.rate; a step's \
                         own are under its request kind, {n}/<step>.…"
                ),
            ));
        }
        (Some(n), true) if !is_flow(n) => {
            return Err(loc.error(
                span(key),
                field,
                format!("'{n}' is a request, not a flow; flow_duration and flows_failed are a flow's"),
            ));
        }
        (None, true) if flows.is_empty() => {
            return Err(loc.error(span(key), field, "the scenario has no [[flow]] to measure"));
        }
        _ => {}
    }
    // A check threshold with no check behind it would measure nothing and fail at the end.
    if matches!(metric, Metric::ChecksRate | Metric::ChecksFailed) {
        // Scoped by a request's name, or by a target's (every request sent to it).
        let within = |r: &Request, n: &String| {
            &r.name == n || r.target.as_ref() == Some(n) || (n == "default" && r.target.is_none())
        };
        let checked = |r: &&Request| r.is_checked() && parsed.request.as_ref().is_none_or(|n| within(r, n));
        if !requests.iter().any(|r| checked(&r)) {
            let none = parsed.request.as_ref().map_or("no request has".to_owned(), |n| format!("request '{n}' has no"));
            return Err(loc.error(
                span(key),
                field,
                format!("{none} check to count; give it one, e.g. check = {{ status = [200] }}"),
            ));
        }
    }
    Ok(())
}
