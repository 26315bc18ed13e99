//! `[target]` as the plan holds it: where the load goes, its headers (templates whose values
//! never leave the process: results.json names them with [`REDACTED`]), its timeout and bounds,
//! and the names of a deployed stack for the CloudWatch pull.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{REDACTED, Template, millis};

/// `[target]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Target {
    /// Base URL; `None` runs the local stack.
    pub url: Option<String>,
    /// Headers sent with every request: templates, `${ENV}` resolved. Values never leave the
    /// process: results.json has each name with [`REDACTED`].
    #[serde(serialize_with = "redact_headers", deserialize_with = "redacted_headers")]
    #[schemars(with = "std::collections::BTreeMap<String, String>")]
    pub headers: Vec<(String, Template)>,
    /// Per-request timeout (ms in results.json).
    #[serde(with = "millis")]
    #[schemars(with = "f64")]
    pub timeout: Duration,
    /// Most requests in flight at once.
    pub max_in_flight: usize,
    /// Connections to open to each target before the schedule starts (`None`: the first
    /// phase's peak rate × 100 ms, or its users).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections: Option<usize>,
    /// Allow HTTP/2 (negotiated by ALPN on https).
    pub http2: bool,
    /// The deployed stack's names for the CloudWatch pull (`--infra` supplies them too).
    pub aws: Option<AwsNames>,
    /// How requests are authorized (`[target.auth]`); no value of it is ever written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<super::auth::Auth>,
}

/// `[targets.NAME]`: another API in the same run (a second service, another stage), which a
/// request or flow step sends to with `target = "NAME"`. Its own base URL, headers (redacted as
/// `[target]`'s), timeout and authorization; the connection bound and HTTP/2 choice are
/// `[target]`'s, shared. Only `[target]` is priced and compared with CloudWatch: a named
/// target's stack is not known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NamedTarget {
    /// Its name (`[targets.NAME]`).
    pub name: String,
    /// Base URL.
    pub url: String,
    /// Headers sent with each of its requests, before the request's own; values redacted.
    #[serde(serialize_with = "redact_headers", deserialize_with = "redacted_headers")]
    #[schemars(with = "std::collections::BTreeMap<String, String>")]
    pub headers: Vec<(String, Template)>,
    /// Per-request timeout (ms in results.json).
    #[serde(with = "millis")]
    #[schemars(with = "f64")]
    pub timeout: Duration,
    /// How its requests are authorized (`[targets.NAME.auth]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<super::auth::Auth>,
}

/// A deployed stack's resource names, as `[target]` gives them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AwsNames {
    /// Lambda function name.
    pub function_name: String,
    /// HTTP API id.
    pub api_id: String,
    /// Stage (default `$default`).
    pub stage: String,
    /// Table name.
    pub table_name: String,
    /// Region.
    pub region: String,
    /// Function memory, MB (default 256).
    pub memory_mb: u32,
}

pub(super) fn redact_headers<S: serde::Serializer>(h: &[(String, Template)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(h.len()))?;
    for (k, _) in h {
        m.serialize_entry(k, REDACTED)?;
    }
    m.end()
}

pub(super) fn redacted_headers<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<(String, Template)>, D::Error> {
    /// A name → value map; results written before request headers were redacted have pairs.
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Map(std::collections::BTreeMap<String, String>),
        Pairs(Vec<(String, String)>),
    }
    let names: Vec<String> = match Written::deserialize(d)? {
        Written::Map(m) => m.into_keys().collect(),
        Written::Pairs(p) => p.into_iter().map(|(k, _)| k).collect(),
    };
    let redacted = Template::parse(REDACTED).map_err(serde::de::Error::custom)?;
    Ok(names.into_iter().map(|k| (k, redacted.clone())).collect())
}

/// The latency the default connection count assumes: warm API Gateway → Lambda → DynamoDB
/// requests answer in tens of milliseconds, so at 100 ms the first phase's arrivals find a
/// connection open; a slower target opens more as it goes, and those are counted.
pub const EXPECTED_LATENCY: Duration = Duration::from_millis(100);

/// The most connections opened before the start whatever the first phase asks (each is a file
/// descriptor; more are opened during the run when needed).
const MAX_OPENING: usize = 4096;

/// Which target each request kind goes to, and the kinds a target's name stands for.
impl super::Plan {
    /// The longest request timeout of any target: how long the last request sent may take.
    pub fn longest_timeout(&self) -> std::time::Duration {
        self.targets.iter().map(|t| t.timeout).fold(self.target.timeout, std::time::Duration::max)
    }

    /// The connections opened to each target before the schedule starts: `[target]
    /// connections`, or as wrk2's `-c` would be chosen — the first phase's peak rate times
    /// [`EXPECTED_LATENCY`] (its users, for a closed model) — never more than the in-flight
    /// bound.
    pub fn opening_connections(&self) -> usize {
        let sized = || match self.phases.first().map(|p| &p.load) {
            None => 0,
            Some(super::Load::Closed { users, .. }) => *users as usize,
            Some(load) => load.peak_rate().map_or(1, |r| (r * EXPECTED_LATENCY.as_secs_f64()).ceil().max(1.0) as usize),
        };
        self.target.connections.unwrap_or_else(sized).min(self.target.max_in_flight).min(MAX_OPENING)
    }

    /// The index in [`Plan::targets`] of the target request kind `i` is sent to (`None`:
    /// `[target]`).
    pub fn target_of(&self, i: usize) -> Option<usize> {
        let name = self.requests.get(i)?.target.as_deref()?;
        self.targets.iter().position(|t| t.name == name)
    }

    /// Whether any request kind goes to a `[targets.NAME]`: then only `[target]`'s requests are
    /// priced and compared with CloudWatch.
    pub fn has_named_targets(&self) -> bool {
        self.requests.iter().any(|r| r.target.is_some())
    }

    /// The request kinds a threshold scope name means: the kind of that name, or every kind
    /// sent to the target of that name (`default`: `[target]`'s, when named targets exist).
    pub fn scope_requests(&self, name: &str) -> Option<Vec<usize>> {
        if let Some(i) = self.request_index(name) {
            return Some(vec![i]);
        }
        let is_target = self.targets.iter().any(|t| t.name == name) || (name == "default" && !self.targets.is_empty());
        is_target.then(|| {
            let want = (name != "default").then_some(name);
            (0..self.requests.len()).filter(|&i| self.requests[i].target.as_deref() == want).collect()
        })
    }
}
