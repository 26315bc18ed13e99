//! JSON paths of the subset every load tool shares — `$`, then `.field`, `["field"]` and
//! `[index]` — as checks test them and flow steps capture from them.

use serde::{Deserialize, Serialize};

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `.name` or `["name"]`.
    Field(String),
    /// `[n]`.
    Index(usize),
}

/// A JSON path of the subset every tool shares: `$`, then `.field`, `["field"]` and `[index]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    /// The path as written.
    text: String,
    /// Its steps.
    pub steps: Vec<Step>,
}

/// Why a JSON path does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{path}' is not a JSON path of $, .field, [\"field\"] and [index] steps: {why}")]
pub struct JsonPathError {
    /// The path.
    pub path: String,
    /// Where it goes wrong.
    pub why: String,
}

impl JsonPath {
    /// Parses `$.a.b[0]["c d"]`.
    pub fn parse(text: &str) -> Result<JsonPath, JsonPathError> {
        let bad = |why: &str| JsonPathError { path: text.to_owned(), why: why.to_owned() };
        let mut rest = text.strip_prefix('$').ok_or_else(|| bad("it must start with $"))?;
        let mut steps = Vec::new();
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix('.') {
                let end = r.find(['.', '[']).unwrap_or(r.len());
                let name = &r[..end];
                if name.is_empty() {
                    return Err(bad("a '.' needs a field name after it"));
                }
                steps.push(Step::Field(name.to_owned()));
                rest = &r[end..];
            } else if let Some(r) = rest.strip_prefix('[') {
                let end = r.find(']').ok_or_else(|| bad("a '[' needs its ']'"))?;
                let inside = r[..end].trim();
                let quoted = inside.strip_prefix('"').and_then(|s| s.strip_suffix('"'));
                steps.push(match (quoted, inside.parse::<usize>()) {
                    (Some(name), _) => Step::Field(name.to_owned()),
                    (None, Ok(i)) => Step::Index(i),
                    _ => return Err(bad("write [0] for an index or [\"name\"] for a field")),
                });
                rest = &r[end + 1..];
            } else {
                return Err(bad("steps are .field, [\"field\"] or [index]"));
            }
        }
        Ok(JsonPath { text: text.to_owned(), steps })
    }

    /// The path as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The value at this path in `v`.
    pub fn find<'a>(&self, v: &'a serde_json::Value) -> Option<&'a serde_json::Value> {
        self.steps.iter().try_fold(v, |v, s| match s {
            Step::Field(f) => v.get(f.as_str()),
            Step::Index(i) => v.get(*i),
        })
    }
}

impl Serialize for JsonPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for JsonPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        JsonPath::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}
