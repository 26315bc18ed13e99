//! `check = { … }` on a request: what its response must be beyond its outcome class — a status
//! among a list, a body containing some text, JSON values at paths (`$.items`, `$.items[0].id`)
//! that exist, are non-empty or equal a value. A failed check is counted (the `checks.rate`
//! metric) with the first failing responses kept for the report; it never changes the class.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::error::{Locator, ScenarioError};
use super::values::span;

pub use super::json_path::{JsonPath, JsonPathError, Step};

/// What a JSON value must be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Expect {
    /// `"exists"`: present (null included).
    Exists,
    /// `"non-empty"`: present, not null, and not an empty string, array or object.
    NonEmpty,
    /// `{ equals = … }`: equal to this value (a string, number or boolean).
    Equals(EqualTo),
}

/// A value a JSON field must equal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum EqualTo {
    /// A string.
    Text(String),
    /// A number.
    Number(f64),
    /// A boolean.
    Bool(bool),
}

/// A request's check.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct Check {
    /// Statuses allowed (any when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status: Vec<u16>,
    /// Text the body must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
    /// JSON paths and what their values must be.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "json_map")]
    #[schemars(with = "std::collections::BTreeMap<String, Expect>")]
    pub json: Vec<(JsonPath, Expect)>,
}

/// `json` in results.json as the scenario writes it and the schema says: an object of path →
/// expectation (serde would write the pairs as arrays).
mod json_map {
    use super::{Expect, JsonPath};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[(JsonPath, Expect)], s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(v.iter().map(|(p, e)| (p, e)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(JsonPath, Expect)>, D::Error> {
        // Ordered as the scenario's table is (by path), so a re-read check is the one written.
        std::collections::BTreeMap::<String, Expect>::deserialize(d)?
            .into_iter()
            .map(|(k, e)| Ok((JsonPath::parse(&k).map_err(serde::de::Error::custom)?, e)))
            .collect()
    }
}

/// What a response was not, of what its check asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Mismatch {
    /// A status not in the list.
    #[error("status {0}, not one of {1:?}")]
    Status(u16, Vec<u16>),
    /// The text is not in the body.
    #[error("the body does not contain {0:?}")]
    Missing(String),
    /// The body does not parse as JSON.
    #[error("the body is not JSON ({0})")]
    NotJson(String),
    /// The body was longer than what is read for checks.
    #[error("the body is larger than {} KiB, so its JSON is not checked", BODY_LIMIT / 1024)]
    TooLarge,
    /// A JSON value that is not as asked.
    #[error("{path} is {what}")]
    Json {
        /// The path.
        path: String,
        /// What it is instead.
        what: String,
    },
    /// No response came back.
    #[error("no response ({0})")]
    NoResponse(&'static str),
    /// A flow step's capture found nothing to take.
    #[error(transparent)]
    Capture(#[from] super::flow::CaptureFailed),
}

/// Bytes of a checked response's body that are read: enough for the JSON an API answers, and a
/// bound on what one response may hold in memory.
pub const BODY_LIMIT: usize = 256 * 1024;

impl Check {
    /// Whether the body must be read (beyond the first bytes classification keeps).
    pub fn reads_body(&self) -> bool {
        self.body_contains.is_some() || !self.json.is_empty()
    }

    /// Checks a response: `Err` says the first thing that is not as asked.
    pub fn verify(&self, status: u16, body: &[u8], truncated: bool) -> Result<(), Mismatch> {
        if !self.status.is_empty() && !self.status.contains(&status) {
            return Err(Mismatch::Status(status, self.status.clone()));
        }
        if let Some(want) = &self.body_contains
            && !String::from_utf8_lossy(body).contains(want.as_str())
        {
            return Err(Mismatch::Missing(want.clone()));
        }
        if self.json.is_empty() {
            return Ok(());
        }
        let doc: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| if truncated { Mismatch::TooLarge } else { Mismatch::NotJson(e.to_string()) })?;
        for (path, expect) in &self.json {
            let found = path.find(&doc);
            let ok = match (expect, found) {
                (_, None) => false,
                (Expect::Exists, Some(_)) => true,
                (Expect::NonEmpty, Some(v)) => match v {
                    serde_json::Value::Null => false,
                    serde_json::Value::String(s) => !s.is_empty(),
                    serde_json::Value::Array(a) => !a.is_empty(),
                    serde_json::Value::Object(o) => !o.is_empty(),
                    _ => true,
                },
                (Expect::Equals(EqualTo::Text(t)), Some(v)) => v.as_str() == Some(t.as_str()),
                (Expect::Equals(EqualTo::Number(n)), Some(v)) => v.as_f64() == Some(*n),
                (Expect::Equals(EqualTo::Bool(b)), Some(v)) => v.as_bool() == Some(*b),
            };
            if !ok {
                let what = match expect {
                    Expect::Exists => "missing".to_owned(),
                    Expect::NonEmpty => "missing or empty".to_owned(),
                    Expect::Equals(e) => format!("not {}", serde_json::to_string(e).unwrap_or_default()),
                };
                return Err(Mismatch::Json { path: path.text().to_owned(), what });
            }
        }
        Ok(())
    }
}

/// `check = { … }` as written.
#[allow(missing_docs)]
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    #[serde(default)]
    #[schemars(with = "Vec<i64>")]
    pub status: Vec<Spanned<i64>>,
    #[schemars(with = "Option<String>")]
    pub body_contains: Option<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "std::collections::BTreeMap<String, serde_json::Value>")]
    pub json: std::collections::BTreeMap<String, Spanned<toml::Value>>,
}

/// Validates a request's `check`, `field` naming it.
pub(super) fn validate(loc: &Locator<'_>, raw: &Spanned<RawCheck>, field: &str) -> Result<Check, ScenarioError> {
    let r = raw.get_ref();
    let mut check = Check { body_contains: r.body_contains.as_ref().map(|b| b.get_ref().clone()), ..Check::default() };
    for s in &r.status {
        if !(100..=599).contains(s.get_ref()) {
            return Err(loc.error(
                span(s),
                format!("{field}.status"),
                format!("{} is not an HTTP status (100-599)", s.get_ref()),
            ));
        }
        check.status.push(*s.get_ref() as u16);
    }
    for (path, v) in &r.json {
        let at = format!("{field}.json.{path}");
        let p = JsonPath::parse(path).map_err(|e| loc.error(span(v), &at, e.to_string()))?;
        let expect = match v.get_ref() {
            toml::Value::String(s) if s == "exists" => Expect::Exists,
            toml::Value::String(s) if s == "non-empty" => Expect::NonEmpty,
            toml::Value::Table(t) if t.len() == 1 && t.contains_key("equals") => match &t["equals"] {
                toml::Value::String(s) => Expect::Equals(EqualTo::Text(s.clone())),
                toml::Value::Integer(n) => Expect::Equals(EqualTo::Number(*n as f64)),
                toml::Value::Float(f) if f.is_finite() => Expect::Equals(EqualTo::Number(*f)),
                toml::Value::Boolean(b) => Expect::Equals(EqualTo::Bool(*b)),
                _ => return Err(loc.error(span(v), &at, "equals takes a string, a number or a boolean")),
            },
            _ => {
                return Err(loc.error(span(v), &at, "write \"exists\", \"non-empty\" or { equals = <value> }"));
            }
        };
        check.json.push((p, expect));
    }
    if check.status.is_empty() && check.body_contains.is_none() && check.json.is_empty() {
        return Err(loc.error(span(raw), field, "an empty check checks nothing: give status, body_contains or json"));
    }
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_and_find() {
        let doc: serde_json::Value = serde_json::json!({"items": [{"id": "a"}], "n": 0, "s": "", "x y": true});
        let at = |p: &str| JsonPath::parse(p).unwrap().find(&doc).cloned();
        assert_eq!(at("$.items[0].id"), Some(serde_json::json!("a")));
        assert_eq!(at("$[\"x y\"]"), Some(serde_json::json!(true)));
        assert_eq!(at("$.items[3]"), None);
        assert_eq!(at("$"), Some(doc.clone()));
        for bad in ["items", "$.", "$[", "$[x]", "$..a"] {
            assert!(JsonPath::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn checks_say_what_failed() {
        let c = Check {
            status: vec![200, 201],
            body_contains: None,
            json: vec![
                (JsonPath::parse("$.items").unwrap(), Expect::NonEmpty),
                (JsonPath::parse("$.state").unwrap(), Expect::Equals(EqualTo::Text("open".into()))),
            ],
        };
        assert_eq!(c.verify(200, br#"{"items":[1],"state":"open"}"#, false), Ok(()));
        let e = |s: u16, b: &[u8], t: bool| c.verify(s, b, t).unwrap_err().to_string();
        assert_eq!(e(500, b"", false), "status 500, not one of [200, 201]");
        assert_eq!(e(200, br#"{"items":[],"state":"open"}"#, false), "$.items is missing or empty");
        assert_eq!(e(201, br#"{"items":[1],"state":"shut"}"#, false), "$.state is not \"open\"");
        assert!(e(200, b"<html>", false).contains("not JSON"));
        assert!(e(200, b"{\"items\":[1", true).contains("larger than"));
    }
}
