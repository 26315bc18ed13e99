//! `[[request]]`: the request mix — names, weights, methods, path and body templates, extra
//! headers and expected statuses — checked against the seeded data. A flow's steps written in
//! place pass the same checks ([`kind`]).

use std::collections::{BTreeMap, HashSet};

use toml::Spanned;

use crate::scenario::check::RawCheck;
use crate::scenario::error::{Locator, ScenarioError};
use crate::scenario::raw::RawRequest;
use crate::scenario::values::{header, span, template};
use crate::scenario::{Data, Request};

/// The most request kinds a plan may have (`[[request]]`s and flow steps written in place).
/// Each kind keeps its own latency histograms (~136 KB each once used) and cost figures, so ten
/// thousand took gigabytes; a scenario that varies one route's path draws from a data file.
pub const MAX_KINDS: usize = 1_000;

/// Refuses a plan of more than [`MAX_KINDS`] request kinds, at the first one beyond.
pub(super) fn bounded(
    loc: &Locator<'_>,
    raw: &crate::scenario::raw::RawScenario,
    kinds: usize,
) -> Result<(), ScenarioError> {
    if kinds <= MAX_KINDS {
        return Ok(());
    }
    let at = raw.requests.get(MAX_KINDS).map(span).or_else(|| raw.flows.first().map(span)).unwrap_or(0..0);
    Err(loc.error(
        at,
        "request",
        format!(
            "{kinds} request kinds ([[request]]s and flow steps written in place); at most {MAX_KINDS}: to vary \
             one route's path or body, draw the values from a data file ([[data.file]], {{users.id}})"
        ),
    ))
}

/// A request's fields as written, wherever it is written (a `[[request]]` or a flow's step).
pub(super) struct Fields<'a> {
    pub method: Option<&'a Spanned<String>>,
    pub path: &'a Spanned<String>,
    pub body: Option<&'a Spanned<String>>,
    pub headers: &'a BTreeMap<String, Spanned<String>>,
    pub expect: Option<&'a Spanned<Vec<i64>>>,
    pub check: Option<&'a Spanned<RawCheck>>,
    pub target: Option<&'a Spanned<String>>,
}

/// The place a request's values are checked in: the environment, the data its templates draw
/// from and the values earlier flow steps capture.
pub(super) struct Scope<'a> {
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub data: &'a Data,
    pub captures: &'a [String],
    /// The `[targets.NAME]` names a request may send to.
    pub targets: &'a [String],
}

/// A request kind from its fields; `f` names a field (`request[2].path`). Name, weight and
/// captures are the caller's.
pub(super) fn kind(
    loc: &Locator<'_>,
    w: Fields<'_>,
    f: &dyn Fn(&str) -> String,
    scope: &Scope<'_>,
) -> Result<Request, ScenarioError> {
    let Scope { env, data, captures, targets } = *scope;
    let method = match w.method {
        Some(m) => {
            let up = m.get_ref().to_ascii_uppercase();
            if !["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"].contains(&up.as_str()) {
                return Err(loc.error(
                    span(m),
                    f("method"),
                    format!(
                        "'{}' is not an HTTP method; use GET, POST, PUT, DELETE, PATCH, HEAD or OPTIONS",
                        m.get_ref()
                    ),
                ));
            }
            up
        }
        None => "GET".to_owned(),
    };
    if !w.path.get_ref().starts_with('/') {
        return Err(loc.error(span(w.path), f("path"), format!("'{}' must start with '/'", w.path.get_ref())));
    }
    // A space or a non-ASCII letter is sent percent-encoded, as a browser would; a control
    // character is a slip (a pasted line break), not a path.
    if w.path.get_ref().chars().any(char::is_control) {
        return Err(loc.error(
            span(w.path),
            f("path"),
            "a path may not hold line breaks or other control characters; percent-encode one that is meant (%0A)",
        ));
    }
    let path = template(loc, w.path, &f("path"), env, data, captures)?;
    let body = w.body.map(|b| template(loc, b, &f("body"), env, data, captures)).transpose()?;
    let expect = match w.expect {
        Some(e) => {
            let mut out = Vec::new();
            for s in e.get_ref() {
                if !(100..=599).contains(s) {
                    return Err(loc.error(span(e), f("expect"), format!("{s} is not an HTTP status (100-599)")));
                }
                out.push(*s as u16);
            }
            out
        }
        None => Vec::new(),
    };
    let mut headers = Vec::new();
    for (k, v) in w.headers {
        headers.push(header(loc, k, v, &f(&format!("headers.{k}")), env, data, captures)?);
    }
    let check = w.check.map(|c| crate::scenario::check::validate(loc, c, &f("check"))).transpose()?;
    let target = w.target.map(|t| target_name(loc, t, &f("target"), targets)).transpose()?.flatten();
    Ok(Request {
        name: String::new(),
        weight: 0.0,
        method,
        path,
        body,
        headers,
        expect,
        check,
        capture: Vec::new(),
        target,
    })
}

/// A request's `target = "NAME"`: one of the `[targets.NAME]`, or `default` (`[target]`, as
/// when it is left out, which gives `None`).
fn target_name(
    loc: &Locator<'_>,
    t: &Spanned<String>,
    field: &str,
    targets: &[String],
) -> Result<Option<String>, ScenarioError> {
    let name = t.get_ref().trim();
    if name == "default" {
        return Ok(None);
    }
    if targets.iter().any(|n| n == name) {
        return Ok(Some(name.to_owned()));
    }
    let known: Vec<&str> = targets.iter().map(String::as_str).collect();
    let hint =
        crate::scenario::error::suggestion(name, &known).map(|s| format!("; did you mean '{s}'?")).unwrap_or_default();
    let declared = match known.is_empty() {
        true => "the scenario declares none: add [targets.NAME] with its url".to_owned(),
        false => format!("declared: {}, or 'default' for [target]", known.join(", ")),
    };
    Err(loc.error(span(t), field, format!("no [targets.{name}] ({declared}){hint}")))
}

/// Validates the request kinds, in order. A weight may be 0 for a request only flows send
/// (the flows check that one does).
pub(super) fn requests(
    loc: &Locator<'_>,
    raw: &[Spanned<RawRequest>],
    (data, targets): (&Data, &[String]),
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Request>, ScenarioError> {
    let mut requests = Vec::new();
    let mut request_names = HashSet::new();
    for (i, r) in raw.iter().enumerate() {
        let f = |k: &str| format!("request[{i}].{k}");
        let r = r.get_ref();
        let rname = r.name.get_ref().trim().to_owned();
        // A name reaches the terminal and every report: no control character may ride along.
        if rname.is_empty() || rname.chars().any(char::is_control) || !request_names.insert(rname.clone()) {
            return Err(loc.error(
                span(&r.name),
                f("name"),
                format!("request names must be non-empty, unique and without control characters ({rname:?})"),
            ));
        }
        let weight = r.weight.as_ref().map(|w| weight(loc, w, &f("weight"))).transpose()?.unwrap_or(1.0);
        let fields = Fields {
            method: r.method.as_ref(),
            path: &r.path,
            body: r.body.as_ref(),
            headers: &r.headers,
            expect: r.expect.as_ref(),
            check: r.check.as_ref(),
            target: r.target.as_ref(),
        };
        let scope = Scope { env, data, captures: &[], targets };
        let request = kind(loc, fields, &f, &scope).map_err(|mut e| {
            if e.message.starts_with("unknown placeholder") {
                e.message.push_str("; a value a flow step captured is used in the later [[flow.step]]s only");
            }
            e
        })?;
        requests.push(Request { name: rname, weight, ..request });
    }
    Ok(requests)
}

/// A weight: 0 (sent only by flows) or more.
pub(super) fn weight(loc: &Locator<'_>, w: &Spanned<f64>, field: &str) -> Result<f64, ScenarioError> {
    let n = *w.get_ref();
    // The sum of every weight must stay finite, or the draw sends everything to one kind.
    if n.is_finite() && (0.0..=1e9).contains(&n) {
        Ok(n)
    } else {
        Err(loc.error(
            span(w),
            field,
            format!("expected a weight from 0 to 1e9, got {}", crate::scenario::values::number(n)),
        ))
    }
}
