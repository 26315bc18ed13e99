//! `[[flow]]`: a user's journey as ordered steps — each a request kind of its own — where a step
//! can capture values from its response (`capture = { order_id = "$.id", etag = "header:etag" }`)
//! that later steps' templates use as `{order_id}`, and can think before the next. An arrival
//! of an open-model phase starts one flow instance; a closed-model user runs one per iteration.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::json_path::JsonPath;
use super::millis;

/// One flow of the mix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Flow {
    /// Name, unique among flows.
    pub name: String,
    /// Relative weight in the mix, beside the requests'.
    pub weight: f64,
    /// The steps, in order.
    pub steps: Vec<FlowStep>,
    /// The names its steps capture, in slot order: what `{name}` renders.
    pub captures: Vec<String>,
}

/// One step of a flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FlowStep {
    /// The request kind it sends (index into the plan's requests; its name is
    /// `<flow>/<step>`).
    pub request: usize,
    /// Pause after its response, before the next step (ms in results.json).
    #[serde(with = "millis")]
    #[schemars(with = "f64")]
    pub think: Duration,
}

/// Where a captured value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A JSON value of the body at this path (a string as is, other values as JSON text).
    Json(JsonPath),
    /// A response header (lower-case name).
    Header(String),
}

/// Why a capture's source does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// `header:` without a header name after it.
    #[error("'{0}': after 'header:' write a header name, e.g. \"header:etag\"")]
    Header(String),
    /// Not a JSON path either.
    #[error("{0}; or write \"header:NAME\" for a header")]
    Path(#[from] super::json_path::JsonPathError),
}

/// Why a response's body gave no JSON to capture from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotJson(pub String);

impl Source {
    /// Reads `"$.id"` or `"header:etag"`.
    pub fn parse(text: &str) -> Result<Source, SourceError> {
        if let Some(h) = text.strip_prefix("header:") {
            let h = h.trim().to_ascii_lowercase();
            if hyper::header::HeaderName::from_bytes(h.as_bytes()).is_err() {
                return Err(SourceError::Header(text.to_owned()));
            }
            return Ok(Source::Header(h));
        }
        Ok(Source::Json(JsonPath::parse(text)?))
    }

    /// As the scenario writes it.
    pub fn text(&self) -> String {
        match self {
            Source::Json(p) => p.text().to_owned(),
            Source::Header(h) => format!("header:{h}"),
        }
    }
}

/// One value a step captures.
#[derive(Debug, Clone, PartialEq)]
pub struct Capture {
    /// The name later steps use.
    pub name: String,
    /// Where it comes from.
    pub source: Source,
    /// Its slot in the flow's [`Flow::captures`] (0 in a plan read back from results.json,
    /// which never runs).
    pub slot: usize,
}

/// Why a capture found nothing to take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("capture {name} ({from}): {why}")]
pub struct CaptureFailed {
    /// The capture's name.
    pub name: String,
    /// Where it looked, as written.
    pub from: String,
    /// What it found instead.
    pub why: String,
}

impl Capture {
    /// The value in a response with these headers and body (`json`: the body parsed once for
    /// every capture of the step, or why it does not parse). A value a header or path could not
    /// carry (a line break, a control character) is refused here, so a later step never sends
    /// a request other than the one the scenario wrote.
    pub fn take(
        &self,
        headers: &hyper::HeaderMap,
        json: &Result<serde_json::Value, NotJson>,
    ) -> Result<String, CaptureFailed> {
        let fail = |why: String| CaptureFailed { name: self.name.clone(), from: self.source.text(), why };
        let value = match &self.source {
            Source::Header(h) => match headers.get(h.as_str()).map(|v| v.to_str()) {
                Some(Ok(v)) => v.to_owned(),
                Some(Err(_)) => return Err(fail("the header is not text".into())),
                None => return Err(fail("no such header in the response".into())),
            },
            Source::Json(path) => {
                let doc = json.as_ref().map_err(|e| fail(format!("the body is not JSON ({e})")))?;
                match path.find(doc) {
                    None => return Err(fail("not in the body".into())),
                    Some(serde_json::Value::Null) => return Err(fail("null".into())),
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(v) => v.to_string(),
                }
            }
        };
        if value.is_empty() {
            return Err(fail("empty".into()));
        }
        if value.chars().any(char::is_control) {
            return Err(fail("holds a line break or another control character".into()));
        }
        Ok(value)
    }
}

/// Captures in results.json as the scenario writes them: an object of name → source.
pub(super) mod capture_map {
    use super::{Capture, Source};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[Capture], s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(v.iter().map(|c| (&c.name, c.source.text())))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Capture>, D::Error> {
        std::collections::BTreeMap::<String, String>::deserialize(d)?
            .into_iter()
            .map(|(name, text)| {
                let source = Source::parse(&text).map_err(serde::de::Error::custom)?;
                Ok(Capture { name, source, slot: 0 })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(text: &str) -> Capture {
        Capture { name: "v".into(), source: Source::parse(text).unwrap(), slot: 0 }
    }

    #[test]
    fn values_come_from_json_paths_and_headers() {
        let mut h = hyper::HeaderMap::new();
        h.insert("etag", "\"abc\"".parse().unwrap());
        let body = Ok(serde_json::json!({"id": "o-1", "n": 3, "items": [{"sku": "s1"}], "none": null, "bad": "a\nb"}));
        assert_eq!(capture("$.id").take(&h, &body).unwrap(), "o-1");
        assert_eq!(capture("$.n").take(&h, &body).unwrap(), "3", "a number as its JSON text");
        assert_eq!(capture("$.items[0].sku").take(&h, &body).unwrap(), "s1");
        assert_eq!(capture("header:ETag").take(&h, &body).unwrap(), "\"abc\"", "header names are case-insensitive");
        let why = |t: &str| capture(t).take(&h, &body).unwrap_err().to_string();
        assert_eq!(why("$.missing"), "capture v ($.missing): not in the body");
        assert_eq!(why("$.none"), "capture v ($.none): null");
        assert!(why("$.bad").contains("line break"));
        assert_eq!(why("header:location"), "capture v (header:location): no such header in the response");
        let not_json = Err(NotJson("expected value at line 1 column 1".to_owned()));
        assert!(capture("$.id").take(&h, &not_json).unwrap_err().why.starts_with("the body is not JSON"));
    }

    #[test]
    fn sources_are_checked_when_read() {
        assert!(Source::parse("id").unwrap_err().to_string().contains("must start with $"));
        assert!(Source::parse("header:bad name").unwrap_err().to_string().contains("header name"));
        assert_eq!(Source::parse("header:ETag").unwrap().text(), "header:etag");
    }
}
