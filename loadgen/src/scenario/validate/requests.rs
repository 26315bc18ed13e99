//! `[[request]]`: the request mix — names, weights, methods, path and body templates, extra
//! headers and expected statuses — checked against the seeded data.

use std::collections::HashSet;

use toml::Spanned;

use crate::scenario::error::{Locator, ScenarioError};
use crate::scenario::raw::RawRequest;
use crate::scenario::values::{header, positive, span, template};
use crate::scenario::{Data, Request};

/// Validates the request kinds, in order.
pub(super) fn requests(
    loc: &Locator<'_>,
    raw: &[Spanned<RawRequest>],
    data: &Data,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Request>, ScenarioError> {
    if raw.is_empty() {
        return Err(loc.error(0..0, "request", "a scenario needs at least one [[request]] (name, method, path)"));
    }
    let mut requests = Vec::new();
    let mut request_names = HashSet::new();
    for (i, r) in raw.iter().enumerate() {
        let f = |k: &str| format!("request[{i}].{k}");
        let r = r.get_ref();
        let rname = r.name.get_ref().trim().to_owned();
        if rname.is_empty() || !request_names.insert(rname.clone()) {
            return Err(loc.error(
                span(&r.name),
                f("name"),
                format!("request names must be non-empty and unique ('{rname}')"),
            ));
        }
        let weight = r.weight.as_ref().map(|w| positive(loc, w, &f("weight"), "a weight")).transpose()?.unwrap_or(1.0);
        let method = match &r.method {
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
        if !r.path.get_ref().starts_with('/') {
            return Err(loc.error(span(&r.path), f("path"), format!("'{}' must start with '/'", r.path.get_ref())));
        }
        let path = template(loc, &r.path, &f("path"), env, data)?;
        let body = r.body.as_ref().map(|b| template(loc, b, &f("body"), env, data)).transpose()?;
        let expect = match &r.expect {
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
        for (k, v) in &r.headers {
            headers.push(header(loc, k, v, &f(&format!("headers.{k}")), env, data)?);
        }
        let check = r.check.as_ref().map(|c| crate::scenario::check::validate(loc, c, &f("check"))).transpose()?;
        requests.push(Request { name: rname, weight, method, path, body, headers, expect, check });
    }
    Ok(requests)
}
