//! The value readers every table of a scenario shares: durations, sizes, bounded numbers and
//! `${ENV}` in header values, each error pointing at the value.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use crate::scenario::error::{Locator, ScenarioError};

pub(crate) fn span<T>(s: &Spanned<T>) -> Range<usize> {
    s.span()
}

/// Reads `"20s"`, `"500ms"`, `"5m"`, `"1h 30m"`.
pub(crate) fn duration(loc: &Locator<'_>, v: &Spanned<String>, field: &str) -> Result<Duration, ScenarioError> {
    humantime::parse_duration(v.get_ref().trim()).map_err(|_| {
        loc.error(span(v), field, format!("'{}' is not a duration; write e.g. \"30s\", \"500ms\", \"5m\"", v.get_ref()))
    })
}

/// Reads `1024`, `"1KB"`, `"4 KiB"`, `"1.5KB"` as bytes (KB = 1000, KiB = 1024).
pub(crate) fn size(loc: &Locator<'_>, v: &Spanned<toml::Value>, field: &str) -> Result<usize, ScenarioError> {
    let bad =
        || loc.error(span(v), field, "expected a size in bytes such as 1024, \"1KB\" or \"4KiB\" (at most 350KB)");
    let bytes = match v.get_ref() {
        toml::Value::Integer(n) if *n >= 0 => *n as f64,
        toml::Value::String(s) => {
            let s = s.trim();
            let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
            let (num, unit) = s.split_at(split);
            let n: f64 = num.parse().map_err(|_| bad())?;
            let mult = match unit.trim().to_ascii_lowercase().as_str() {
                "" | "b" => 1.0,
                "kb" => 1e3,
                "kib" => 1024.0,
                "mb" => 1e6,
                "mib" => 1024.0 * 1024.0,
                _ => return Err(bad()),
            };
            n * mult
        }
        _ => return Err(bad()),
    };
    // DynamoDB items stop at 400 KB, target-api bodies at 64 KiB; leave room for keys.
    if !(0.0..=350_000.0).contains(&bytes) {
        return Err(bad());
    }
    Ok(bytes as usize)
}

pub(crate) fn positive(loc: &Locator<'_>, v: &Spanned<f64>, field: &str, what: &str) -> Result<f64, ScenarioError> {
    let n = *v.get_ref();
    if n.is_finite() && n > 0.0 {
        Ok(n)
    } else {
        Err(loc.error(span(v), field, format!("expected {what} > 0, got {n}")))
    }
}

pub(crate) fn int_in(loc: &Locator<'_>, v: &Spanned<i64>, field: &str, lo: i64, hi: i64) -> Result<i64, ScenarioError> {
    let n = *v.get_ref();
    if (lo..=hi).contains(&n) {
        Ok(n)
    } else {
        Err(loc.error(span(v), field, format!("expected an integer from {lo} to {hi}, got {n}")))
    }
}

pub(crate) fn expand_env(
    loc: &Locator<'_>,
    v: &Spanned<String>,
    field: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ScenarioError> {
    let text = v.get_ref();
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end =
            after.find('}').ok_or_else(|| loc.error(span(v), field, "unclosed '${' in the value; write ${NAME}"))?;
        let name = &after[..end];
        let value = env(name).ok_or_else(|| {
            loc.error(span(v), field, format!("environment variable {name} is not set; export it or change the value"))
        })?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A header as a scenario writes it, `field` naming it: a valid name, and a template value whose
/// environment variables are set (their values put in now) and whose literal text a header may
/// carry (no line breaks or other control characters).
pub(crate) fn header(
    loc: &Locator<'_>,
    name: &str,
    v: &Spanned<String>,
    field: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, super::template::Template), ScenarioError> {
    if hyper::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(loc.error(
            span(v),
            field,
            format!("'{name}' is not a header name (letters, digits and !#$%&'*+-.^_`|~, no spaces)"),
        ));
    }
    let mut t = super::template::Template::parse(v.get_ref()).map_err(|e| loc.error(span(v), field, e.to_string()))?;
    t.resolve_env(env).map_err(|e| loc.error(span(v), field, e.to_string()))?;
    for p in &t.parts {
        if let super::template::Part::Literal(text) = p
            && hyper::header::HeaderValue::from_str(text).is_err()
        {
            return Err(loc.error(
                span(v),
                field,
                "a header value may not hold line breaks or other control characters",
            ));
        }
    }
    Ok((name.to_owned(), t))
}
