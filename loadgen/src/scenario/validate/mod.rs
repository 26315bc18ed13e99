//! Raw scenario → [`Plan`]: every semantic check, one file per table (`[stack]`'s is in
//! [`super::stack`], with the rest of that table), each error pointing at the offending value.

mod data;
mod data_files;
mod flows;
mod phases;
mod requests;
mod target;
mod thresholds;

use std::path::Path;

use super::Plan;
use super::error::suggestion;
use super::error::{Locator, ScenarioError};
use super::raw::RawScenario;
use super::raw::all_keys;
use crate::scenario::values::{int_in, span};

pub(super) fn plan(path: &Path, text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Plan, ScenarioError> {
    let loc = Locator::new(path, text);
    let raw: RawScenario = toml::from_str(text).map_err(|e| from_toml_error(&loc, &e))?;

    let name = raw.name.get_ref().trim().to_owned();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err(loc.error(
            span(&raw.name),
            "name",
            "expected a name of letters, digits, '-', '_' or '.' (it names the report directory)",
        ));
    }
    let seed = match &raw.seed {
        Some(s) => int_in(&loc, s, "seed", 0, i64::MAX)? as u64,
        None => 1,
    };
    // Data first: every template (`[target]`'s headers too) may draw from its files and ids.
    let data = data::data(&loc, path, raw.data.as_ref(), env)?;
    let target = target::target(&loc, raw.target.as_ref(), env, &data)?;
    let targets = target::named(&loc, &raw.targets, env, (&data, target.timeout))?;
    let target_names: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
    let stack = super::stack::validate(&loc, path, raw.stack.as_ref(), env)?;
    let phases = phases::phases(&loc, &raw.phases)?;
    let mut requests = requests::requests(&loc, &raw.requests, (&data, &target_names), env)?;
    let flows = flows::flows(&loc, &raw.flows, &raw.requests, &mut requests, (&data, &target_names), env)?;
    requests::bounded(&loc, &raw, requests.len())?;
    let authorized = |name: Option<&str>| match name.map(str::trim).filter(|n| *n != "default") {
        None => target.auth.is_some(),
        Some(n) => targets.iter().any(|t| t.name == n && t.auth.is_some()),
    };
    auth_headers_clash(&loc, &raw, &authorized)?;
    names_clash(&loc, &raw, &targets, (&phases, &requests, &flows))?;
    let thresholds = thresholds::thresholds(&loc, raw.thresholds.as_ref(), &phases, &requests, &flows, &target_names)?;
    let simulate = raw.simulate.as_ref().map(|w| super::whatif::from_raw(&loc, path, w, "simulate.")).transpose()?;
    let fleet = super::fleet::validate(&loc, raw.fleet.as_ref())?;

    Ok(Plan {
        name,
        description: raw.description.trim().to_owned(),
        file: path.to_path_buf(),
        seed,
        target,
        targets,
        stack,
        data,
        phases,
        requests,
        flows,
        thresholds,
        simulate,
        fleet,
    })
}

/// A request or step sent to a target with `auth` may not set `authorization` itself: one of
/// the two would be sent and the other silently lost.
fn auth_headers_clash(
    loc: &Locator<'_>,
    raw: &RawScenario,
    authorized: &dyn Fn(Option<&str>) -> bool,
) -> Result<(), ScenarioError> {
    let target = |t: &Option<toml::Spanned<String>>| t.as_ref().map(|t| t.get_ref().clone());
    let requests = raw.requests.iter().enumerate().map(|(i, r)| {
        let r = r.get_ref();
        (format!("request[{i}]"), &r.headers, target(&r.target))
    });
    let steps = raw.flows.iter().enumerate().flat_map(|(i, f)| {
        f.get_ref().steps.iter().enumerate().map(move |(k, s)| {
            let s = s.get_ref();
            (format!("flow[{i}].step[{k}]"), &s.headers, target(&s.target))
        })
    });
    for (at, headers, to) in requests.chain(steps) {
        if !authorized(to.as_deref()) {
            continue;
        }
        if let Some((k, v)) = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("authorization")) {
            let table = to.filter(|n| n != "default").map_or("target".to_owned(), |n| format!("targets.{n}"));
            return Err(loc.error(
                span(v),
                format!("{at}.headers.{k}"),
                format!("[{table}.auth] sets the authorization header of every request; remove this one"),
            ));
        }
    }
    Ok(())
}

/// A target's name prefixes threshold keys as a phase's, a request's or a flow's does, so it may
/// be none of those.
fn names_clash(
    loc: &Locator<'_>,
    raw: &RawScenario,
    targets: &[super::target::NamedTarget],
    (phases, requests, flows): (&[super::Phase], &[super::Request], &[super::flow::Flow]),
) -> Result<(), ScenarioError> {
    // `default` is [target]'s name in threshold keys once there are named ones.
    let taken = |n: &str| {
        phases.iter().any(|p| p.name == n) || requests.iter().any(|r| r.name == n) || flows.iter().any(|f| f.name == n)
    };
    if !targets.is_empty() && taken("default") {
        return Err(loc.error(
            0..0,
            "targets",
            "with [targets.NAME], 'default' names [target] in threshold keys; rename the phase, request or flow called 'default'",
        ));
    }
    for t in targets {
        let what = if phases.iter().any(|p| p.name == t.name) {
            "a phase"
        } else if requests.iter().any(|r| r.name == t.name) {
            "a request"
        } else if flows.iter().any(|f| f.name == t.name) {
            "a flow"
        } else {
            continue;
        };
        let at = raw.targets.get(&t.name).map_or(0..0, span);
        return Err(loc.error(
            at,
            format!("targets.{}", t.name),
            format!("'{}' is also {what}'s name, so a threshold key starting with it is ambiguous; rename one", t.name),
        ));
    }
    Ok(())
}

/// Turns a TOML/serde error into one that names the place, the key and a fix.
fn from_toml_error(loc: &Locator<'_>, e: &toml::de::Error) -> ScenarioError {
    let offset = e.span().map_or(0, |s| s.start);
    let raw = e.message().trim().to_owned();
    let mut message = raw
        .replace("expected f64", "expected a number")
        .replace("expected i64", "expected an integer")
        .replace("expected u64", "expected an integer")
        .replace("invalid type: ", "wrong type: ");
    let mut field = loc.key_at(offset);
    if let Some(rest) = raw.strip_prefix("unknown field `") {
        let unknown = rest.split('`').next().unwrap_or("");
        field = unknown.to_owned();
        let expected: Vec<&str> = rest.split('`').skip(2).step_by(2).collect();
        let pool = if expected.is_empty() { all_keys().iter().map(String::as_str).collect() } else { expected };
        message = match suggestion(unknown, &pool) {
            Some(s) => format!("unknown key `{unknown}`; did you mean `{s}`? (allowed here: {})", pool.join(", ")),
            None => format!("unknown key `{unknown}` (allowed here: {})", pool.join(", ")),
        };
    } else if let Some(rest) = raw.strip_prefix("missing field `") {
        field = rest.split('`').next().unwrap_or("").to_owned();
        message = format!("`{field}` is required here");
    }
    loc.error(offset..offset, field, message)
}
