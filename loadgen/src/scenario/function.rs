//! A function's settings as a scenario writes them, for `[stack]` and `[[stack.function]]`
//! alike: the reservation (a count or `"unreserved"`) and the function's own environment
//! variables.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use super::error::{Locator, ScenarioError};
use super::values::{expand_env, int_in, span};

/// `reserved_concurrency` as written: a number, or `"unreserved"`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Reservation {
    /// Environments reserved.
    Count(i64),
    /// `"unreserved"`: share the account's concurrency.
    Word(String),
    /// Anything else (a fraction, a boolean, a table), refused at validation with its place.
    #[schemars(skip)]
    Other(toml::Value),
}

/// A function's own variables, `field` naming the table: names as the shell writes them, none
/// that AWS reserves.
pub(super) fn environment(
    loc: &Locator<'_>,
    raw: &BTreeMap<String, Spanned<String>>,
    field: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, ScenarioError> {
    let mut out = Vec::new();
    for (name, value) in raw {
        let field = format!("{field}.{name}");
        if !super::template::ident(name) {
            return Err(loc.error(
                span(value),
                &field,
                format!("'{name}' is not a variable name (letters, digits, _)"),
            ));
        }
        if local_stack::lambda::RESERVED_VARIABLES.contains(&name.as_str()) {
            return Err(loc.error(span(value), &field, format!("Lambda reserves {name}; a function cannot set it")));
        }
        out.push((name.clone(), expand_env(loc, value, &field, env)?));
    }
    Ok(out)
}

/// `reserved_concurrency`: a count, or `None` for `"unreserved"`.
pub(super) fn reservation(
    loc: &Locator<'_>,
    v: &Spanned<Reservation>,
    field: &str,
) -> Result<Option<u32>, ScenarioError> {
    match v.get_ref() {
        Reservation::Count(n) => {
            let n = Spanned::new(v.span(), *n);
            Ok(Some(int_in(loc, &n, field, 0, 1_000_000)? as u32))
        }
        Reservation::Word(w) if w == "unreserved" => Ok(None),
        Reservation::Word(w) => {
            Err(loc.error(span(v), field, format!("expected a number of environments or \"unreserved\", got \"{w}\"")))
        }
        Reservation::Other(x) => Err(loc.error(
            span(v),
            field,
            format!(
                "expected a whole number of environments or \"unreserved\", got {}",
                match x {
                    toml::Value::Float(f) => f.to_string(),
                    toml::Value::Boolean(b) => b.to_string(),
                    toml::Value::Array(_) => "an array".into(),
                    toml::Value::Table(_) => "a table".into(),
                    other => other.type_str().into(),
                }
            ),
        )),
    }
}
