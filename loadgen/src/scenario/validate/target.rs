//! `[target]`: where the load goes, its headers, timeout and in-flight bound, and the
//! deployed stack's names for the CloudWatch pull.

use std::time::Duration;

use crate::scenario::error::{Locator, ScenarioError};
use std::collections::BTreeMap;

use toml::Spanned;

use crate::scenario::raw::{RawNamedTarget, RawTarget};
use crate::scenario::target::NamedTarget;
use crate::scenario::values::{duration, header, int_in, span};
use crate::scenario::{AwsNames, Data, Target};

/// Most requests in flight when `[target] max_in_flight` is not set.
const DEFAULT_MAX_IN_FLIGHT: usize = 10_000;

/// Validates `[target]` (all defaults when it is absent).
pub(super) fn target(
    loc: &Locator<'_>,
    raw: Option<&RawTarget>,
    env: &dyn Fn(&str) -> Option<String>,
    data: &Data,
) -> Result<Target, ScenarioError> {
    Ok(match raw {
        None => Target {
            url: None,
            headers: Vec::new(),
            timeout: Duration::from_secs(30),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            connections: None,
            http2: true,
            aws: None,
            auth: None,
        },
        Some(t) => {
            let url = t.url.as_ref().map(|u| base_url(loc, u, "target.url")).transpose()?;
            let mut headers = Vec::new();
            for (k, v) in &t.headers {
                headers.push(header(loc, k, v, &format!("target.headers.{k}"), env, data, &[])?);
            }
            let timeout = match &t.timeout {
                Some(v) => duration(loc, v, "target.timeout")?,
                None => Duration::from_secs(30),
            };
            if timeout.is_zero() {
                return Err(loc.error(
                    span(t.timeout.as_ref().expect("set")),
                    "target.timeout",
                    "must be longer than 0",
                ));
            }
            let max_in_flight = match &t.max_in_flight {
                Some(v) => int_in(loc, v, "target.max_in_flight", 1, 1_000_000)? as usize,
                None => DEFAULT_MAX_IN_FLIGHT,
            };
            let connections = t.connections.as_ref().map(|v| connections(loc, v, max_in_flight)).transpose()?;
            let aws = match (&t.function_name, &t.api_id, &t.table_name) {
                (None, None, None) => None,
                (Some(f), Some(a), Some(tb)) => Some(AwsNames {
                    function_name: f.clone(),
                    api_id: a.clone(),
                    stage: t.stage.clone().unwrap_or_else(|| "$default".into()),
                    table_name: tb.clone(),
                    region: t.region.clone().unwrap_or_else(|| "us-east-1".into()),
                    memory_mb: t.memory_mb.unwrap_or(256).clamp(128, 10_240) as u32,
                }),
                _ => {
                    return Err(loc.error(
                        0..0,
                        "target",
                        "give function_name, api_id and table_name together (for the CloudWatch pull), or none of them",
                    ));
                }
            };
            let auth = t.auth.as_ref().map(|a| crate::scenario::auth::validate(loc, a, env, "target")).transpose()?;
            if auth.is_some() {
                no_authorization_header(loc, &t.headers, "target")?;
            }
            Target { url, headers, timeout, max_in_flight, connections, http2: t.http2.unwrap_or(true), aws, auth }
        }
    })
}

/// `[target] connections`: 0 (open none first) up to the in-flight bound — more could never be
/// in use at once.
fn connections(loc: &Locator<'_>, v: &Spanned<i64>, max_in_flight: usize) -> Result<usize, ScenarioError> {
    let n = int_in(loc, v, "target.connections", 0, 1_000_000)? as usize;
    if n > max_in_flight {
        return Err(loc.error(
            span(v),
            "target.connections",
            format!(
                "{n} is more than max_in_flight ({max_in_flight}): no more requests than that are in flight, so no more \
                 connections are used; lower it or raise max_in_flight"
            ),
        ));
    }
    Ok(n)
}

/// A base URL as written: http or https, a valid port, no credentials or query; trailing slashes
/// dropped.
fn base_url(loc: &Locator<'_>, u: &Spanned<String>, field: &str) -> Result<String, ScenarioError> {
    crate::scenario::base_url::check(u.get_ref()).map_err(|why| {
        let shown = crate::scenario::base_url::shown(u.get_ref().trim());
        loc.error(span(u), field, format!("'{shown}' {why}"))
    })
}

/// With `auth` on a target, its own headers may not set `authorization`: one of the two would
/// be sent and the other silently lost.
fn no_authorization_header(
    loc: &Locator<'_>,
    headers: &BTreeMap<String, Spanned<String>>,
    table: &str,
) -> Result<(), ScenarioError> {
    match headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("authorization")) {
        Some((k, v)) => Err(loc.error(
            span(v),
            format!("{table}.headers.{k}"),
            format!("[{table}.auth] sets the authorization header of every request; remove this one"),
        )),
        None => Ok(()),
    }
}

/// Validates `[targets.NAME]`, in name order. A name is what `target = "…"` and threshold keys
/// say, so it is letters, digits, '-' and '_' only; `default` stands for `[target]`.
pub(super) fn named(
    loc: &Locator<'_>,
    raw: &BTreeMap<String, Spanned<RawNamedTarget>>,
    env: &dyn Fn(&str) -> Option<String>,
    (data, default_timeout): (&Data, Duration),
) -> Result<Vec<NamedTarget>, ScenarioError> {
    let mut out = Vec::new();
    for (name, t) in raw {
        let table = format!("targets.{name}");
        let at = span(t);
        let t = t.get_ref();
        if name.is_empty()
            || name == "default"
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(loc.error(
                at,
                &table,
                format!(
                    "'{name}' cannot name a target: use letters, digits, '-' and '_' (and not 'default', which \
                     [target] is)"
                ),
            ));
        }
        let url = base_url(loc, &t.url, &format!("{table}.url"))?;
        let mut headers = Vec::new();
        for (k, v) in &t.headers {
            headers.push(header(loc, k, v, &format!("{table}.headers.{k}"), env, data, &[])?);
        }
        let timeout = match &t.timeout {
            Some(v) => duration(loc, v, &format!("{table}.timeout"))?,
            None => default_timeout,
        };
        if timeout.is_zero() {
            return Err(loc.error(
                span(t.timeout.as_ref().expect("set")),
                format!("{table}.timeout"),
                "must be longer than 0",
            ));
        }
        let auth = t.auth.as_ref().map(|a| crate::scenario::auth::validate(loc, a, env, &table)).transpose()?;
        if auth.is_some() {
            no_authorization_header(loc, &t.headers, &table)?;
        }
        out.push(NamedTarget { name: name.clone(), url, headers, timeout, auth });
    }
    Ok(out)
}
