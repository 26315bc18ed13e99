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

/// A number as an error message quotes it: as written for everyday magnitudes, in exponent
/// form for huge and tiny ones (`1e308`, not 309 digits).
pub(crate) fn number(n: f64) -> String {
    if n == 0.0 || !n.is_finite() || (1e-4..1e9).contains(&n.abs()) { format!("{n}") } else { format!("{n:e}") }
}

/// A positive rate or size, from [`POSITIVE_MIN`] to [`POSITIVE_MAX`]: a rate of 1e-300 per
/// second is one every 1e300 s, which no timer can hold, and passed validation only to panic
/// when the run began.
pub(crate) fn positive(loc: &Locator<'_>, v: &Spanned<f64>, field: &str, what: &str) -> Result<f64, ScenarioError> {
    let n = *v.get_ref();
    if n.is_finite() && (POSITIVE_MIN..=POSITIVE_MAX).contains(&n) {
        Ok(n)
    } else {
        Err(loc.error(
            span(v),
            field,
            format!("expected {what} from {POSITIVE_MIN} to {POSITIVE_MAX:e}, got {}", number(n)),
        ))
    }
}

/// The smallest value [`positive`] takes: once per 100 s as a rate.
pub(crate) const POSITIVE_MIN: f64 = 0.01;
/// The largest.
pub(crate) const POSITIVE_MAX: f64 = 1e9;

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

/// A template as a scenario writes it, `field` naming it: parsed, its environment variables
/// set (their values put in now), each `{file.column}` found in every row of `data`'s files,
/// each bare `{name}` among `captures` (what earlier steps of a flow capture; none elsewhere),
/// and its ids within what `data` seeds. Paths, bodies and header values all pass here.
pub(crate) fn template(
    loc: &Locator<'_>,
    v: &Spanned<String>,
    field: &str,
    env: &dyn Fn(&str) -> Option<String>,
    data: &super::Data,
    captures: &[String],
) -> Result<super::template::Template, ScenarioError> {
    let err = |m: String| loc.error(span(v), field, m);
    let mut t = super::template::Template::parse(v.get_ref()).map_err(|e| err(e.to_string()))?;
    t.resolve_captures(captures).map_err(|e| err(e.to_string()))?;
    t.resolve_env(env).map_err(|e| err(e.to_string()))?;
    t.resolve_fields(&super::seed_data::field_lookup(&data.files)).map_err(|e| err(e.to_string()))?;
    if t.needs_ids() && data.items == 0 {
        return Err(err("uses {id}/{ids:N} but [data] items is 0; seed items with [data] items = N".into()));
    }
    if t.max_ids() as u64 > data.items {
        return Err(err(format!("asks for {} distinct ids but only {} items are seeded", t.max_ids(), data.items)));
    }
    Ok(t)
}

/// Whether a header may carry `text` (no line breaks or other control characters; UTF-8 goes
/// as its bytes, as HTTP allows).
pub(crate) fn header_value_ok(text: &str) -> bool {
    hyper::header::HeaderValue::from_bytes(text.as_bytes()).is_ok()
}

/// A header as a scenario writes it, `field` naming it: a valid name, and a [`template`]
/// value whose literal text, and every data-file value it draws, a header may carry.
pub(crate) fn header(
    loc: &Locator<'_>,
    name: &str,
    v: &Spanned<String>,
    field: &str,
    env: &dyn Fn(&str) -> Option<String>,
    data: &super::Data,
    captures: &[String],
) -> Result<(String, super::template::Template), ScenarioError> {
    use super::template::Part;
    if hyper::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(loc.error(
            span(v),
            field,
            format!("'{name}' is not a header name (letters, digits and !#$%&'*+-.^_`|~, no spaces)"),
        ));
    }
    let t = template(loc, v, field, env, data, captures)?;
    for p in &t.parts {
        match p {
            Part::Literal(text) if !header_value_ok(text) => {
                return Err(loc.error(
                    span(v),
                    field,
                    "a header value may not hold line breaks or other control characters",
                ));
            }
            // Checked here, row by row, so the run never has to drop a header it cannot send.
            Part::Field(i, column) => {
                let file = &data.files[*i];
                for (line, row) in file.rows.iter().flat_map(|r| r.items.iter()) {
                    let mut text = String::new();
                    if let Some(v) = row.get(column) {
                        v.write_to(&mut text);
                    }
                    if !header_value_ok(&text) {
                        return Err(loc.error(
                            span(v),
                            field,
                            format!(
                                "{}:{line}: column '{column}' holds a line break or another control character, \
                                 which a header may not carry",
                                file.path.display()
                            ),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    Ok((name.to_owned(), t))
}

#[cfg(test)]
mod tests {
    use super::number;

    #[test]
    fn numbers_in_errors_read_at_a_glance() {
        assert_eq!(number(-5.0), "-5");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(1e308), "1e308");
        assert_eq!(number(1e-20), "1e-20");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(f64::NAN), "NaN");
    }
}
