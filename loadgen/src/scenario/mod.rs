//! Scenario files: parsed and validated once into a typed [`Plan`]. Every error names the file,
//! line and column, the field, and what is expected. The plan is also what results.json
//! records of the scenario (header values redacted), so it reads back into the same types.

pub mod auth;
pub mod base_url;
pub mod check;
pub mod error;
pub mod every_error;
pub mod fill;
pub mod fleet;
pub mod flow;
pub mod function;
pub mod json_path;
pub mod millis;
pub mod own_stack;
pub mod placeholder;
pub mod raw;
pub mod scheduled;
pub mod seed_data;
pub mod stack;
pub mod target;
pub mod template;
pub mod threshold;
mod validate;
mod values;
pub mod whatif;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use error::ScenarioError;
pub use stack::StackOverrides;
pub use template::Template;
pub use threshold::{Cmp, Metric, Unit};

/// What results.json writes in place of every header value (the mark every output uses).
pub use crate::record::checks::REDACTED;

/// How arrivals are spaced within an open-model phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Arrivals {
    /// Evenly spaced at the rate (wrk2's schedule).
    Even,
    /// A Poisson process at the rate (independent users).
    Poisson,
}

/// The load a phase applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Load {
    /// Open model, constant rate (req/s).
    Constant {
        /// Requests per second.
        rate: f64,
    },
    /// Open model, linear ramp.
    Ramp {
        /// Rate at the phase start.
        from: f64,
        /// Rate at the phase end.
        to: f64,
    },
    /// Open model, equal-length steps at these rates.
    Steps {
        /// One rate per step.
        rates: Vec<f64>,
    },
    /// Closed model: virtual users, each sending, waiting for the answer, then thinking.
    Closed {
        /// Virtual users.
        users: u32,
        /// Pause after each response (ms in results.json).
        #[serde(with = "millis")]
        #[schemars(with = "f64")]
        think: Duration,
    },
}

impl Load {
    /// The mean target rate over the phase, or `None` for a closed model.
    pub fn mean_rate(&self) -> Option<f64> {
        match self {
            Load::Constant { rate } => Some(*rate),
            Load::Ramp { from, to } => Some((from + to) / 2.0),
            Load::Steps { rates } => Some(rates.iter().sum::<f64>() / rates.len() as f64),
            Load::Closed { .. } => None,
        }
    }

    /// The peak target rate, or `None` for a closed model.
    pub fn peak_rate(&self) -> Option<f64> {
        match self {
            Load::Constant { rate } => Some(*rate),
            Load::Ramp { from, to } => Some(from.max(*to)),
            Load::Steps { rates } => rates.iter().copied().reduce(f64::max),
            Load::Closed { .. } => None,
        }
    }
}

/// One phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Phase {
    /// Name, unique within the scenario.
    pub name: String,
    /// How long it lasts (ms in results.json).
    #[serde(with = "millis")]
    #[schemars(with = "f64")]
    pub duration: Duration,
    /// The load.
    pub load: Load,
    /// Arrival spacing (open model).
    pub arrivals: Arrivals,
}

/// One request kind of the mix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Request {
    /// Name, unique within the scenario.
    pub name: String,
    /// Relative weight in the mix.
    pub weight: f64,
    /// HTTP method.
    pub method: String,
    /// Path template (with query string), as written.
    #[serde(rename = "path_text")]
    #[schemars(with = "String")]
    pub path: Template,
    /// Body template. Not written to results.json: a body may carry what a header would.
    #[serde(skip)]
    pub body: Option<Template>,
    /// Extra headers, templates like the path (a request's replaces `[target]`'s of the same
    /// name); results.json has each name with [`REDACTED`], as for `[target]`'s.
    #[serde(default, serialize_with = "target::redact_headers", deserialize_with = "target::redacted_headers")]
    #[schemars(with = "std::collections::BTreeMap<String, String>")]
    pub headers: Vec<(String, Template)>,
    /// Statuses that count as `ok` beyond 2xx/3xx (e.g. 404 when reading deleted items).
    pub expect: Vec<u16>,
    /// What each response must be beyond its class (`check = { … }`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<check::Check>,
    /// Values its response gives the later steps of its flow (`capture = { … }`; a flow's
    /// steps only). A capture that finds nothing fails the step's check and ends the flow.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "flow::capture_map")]
    #[schemars(with = "std::collections::BTreeMap<String, String>")]
    pub capture: Vec<flow::Capture>,
    /// The `[targets.NAME]` it is sent to; `None` is `[target]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

impl Request {
    /// Whether its responses are checked: a check, or captures that must find their values.
    pub fn is_checked(&self) -> bool {
        self.check.is_some() || !self.capture.is_empty()
    }

    /// Whether its body must be read whole (up to [`check::BODY_LIMIT`]).
    pub fn reads_body(&self) -> bool {
        self.check.as_ref().is_some_and(check::Check::reads_body)
            || self.capture.iter().any(|c| matches!(c.source, flow::Source::Json(_)))
    }
}

/// Which of target-api's two read patterns a request uses (`GET /items?ids=…&pattern=…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadPattern {
    /// `pattern=batch`: BatchGetItem in chunks of 100.
    Batch,
    /// `pattern=per-item`: one `GetItem` per id.
    PerItem,
}

impl Request {
    /// The read pattern this request asks target-api for, from its query string.
    pub fn read_pattern(&self) -> Option<ReadPattern> {
        let text = self.path.text();
        let query = text.split_once('?')?.1;
        query.split('&').find_map(|pair| match pair {
            "pattern=batch" => Some(ReadPattern::Batch),
            "pattern=per-item" => Some(ReadPattern::PerItem),
            _ => None,
        })
    }
}

/// How seeded keys are picked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeyDistribution {
    /// Every seeded item equally likely.
    Uniform,
    /// Zipf over item rank with this exponent.
    Zipf {
        /// Exponent `s` (> 0).
        exponent: f64,
    },
    /// A hot set: `keys` share of the items receives `traffic` share of the reads.
    HotSet {
        /// Share of items that are hot.
        keys: f64,
        /// Share of traffic they get.
        traffic: f64,
    },
}

/// `[data]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Data {
    /// Items seeded before the measured phases.
    pub items: u64,
    /// Approximate size of each item, bytes.
    pub item_size: usize,
    /// Seeding rate, items per second.
    pub seed_rate: f64,
    /// Key distribution of `{id}` and `{ids:N}`.
    pub distribution: KeyDistribution,
    /// Whether the run writes the items before the phases (`[data] seed = false`: they exist
    /// already; a URL target is written to only with `--seed-data`).
    #[serde(default = "written")]
    pub seed: bool,
    /// Where the items are written: the table (default) or the API under test.
    #[serde(default = "through_api")]
    pub seed_via: seed_data::SeedVia,
    /// The table written to (default: the stack's first; a URL target's from `--infra` or
    /// `[target] table_name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// The item template (default: target-api's layout, `PK = "ITEM#{id}"`, `SK = "ITEM"`,
    /// `id`, `payload`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub item: BTreeMap<String, seed_data::ItemValue>,
    /// `[[data.file]]`: files of rows that templates draw fields from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<seed_data::DataFile>,
    /// The data file whose rows are the seeded items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed_from: Option<String>,
    /// The seeded file's column `{id}` draws from (default `id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The path seeding through the API posts to.
    #[serde(default = "items_path")]
    pub seed_path: String,
    /// The seeded file's rows, with their keys.
    #[serde(skip)]
    #[schemars(skip)]
    pub rows: seed_data::Rows,
}

fn written() -> bool {
    true
}

/// Results written before `seed_via` existed seeded through the API.
fn through_api() -> seed_data::SeedVia {
    seed_data::SeedVia::Api
}

fn items_path() -> String {
    "/items".to_owned()
}

/// The share of a function's invocation-rate limit seeding uses at most, leaving room for
/// retries.
const SEED_SHARE_OF_RATE_LIMIT: f64 = 0.8;

impl Data {
    /// The items the run writes before the measured phases: `items`, or none when they are not
    /// seeded.
    pub fn seeded_items(&self) -> u64 {
        if self.seed { self.items } else { 0 }
    }

    /// The rate seeding writes at against a function reserving `reserved_concurrency`: the
    /// scenario's `seed_rate`, kept under the reservation's invocation-rate limit (10 per second
    /// per environment), which would otherwise throttle the writes.
    pub fn seeding_rate(&self, reserved_concurrency: Option<u32>) -> f64 {
        let limit = reserved_concurrency.map(|c| {
            SEED_SHARE_OF_RATE_LIMIT * local_stack::rules::INVOCATIONS_PER_SECOND_PER_CONCURRENCY * f64::from(c)
        });
        limit.filter(|l| *l > 0.0).map_or(self.seed_rate, |l| self.seed_rate.min(l))
    }
}

pub use target::{AwsNames, Target};

/// One threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Threshold {
    /// The key as written, e.g. `get-item.latency.p95`.
    pub key: String,
    /// The condition as written, e.g. `< 80ms`.
    pub condition: String,
    /// Phase name it is limited to, if any.
    #[serde(default)]
    pub phase: Option<String>,
    /// Request name it is limited to, if any.
    pub request: Option<String>,
    /// What it measures.
    pub metric: Metric,
    /// The comparison.
    pub cmp: Cmp,
    /// The limit in the metric's unit (ms, a fraction, or a count).
    pub limit: f64,
    /// Stop the run as soon as it fails.
    pub abort_on_fail: bool,
}

/// A validated scenario: everything the run needs, typed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Plan {
    /// Scenario name.
    pub name: String,
    /// What it shows.
    pub description: String,
    /// The file it came from.
    pub file: PathBuf,
    /// RNG seed (request mix, keys, Poisson arrivals).
    pub seed: u64,
    /// Where the load goes.
    pub target: Target,
    /// `[targets.NAME]`: other APIs requests may name, in name order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<target::NamedTarget>,
    /// Local-stack overrides.
    pub stack: StackOverrides,
    /// Seed data and key distribution.
    pub data: Data,
    /// The phases, in order.
    pub phases: Vec<Phase>,
    /// The request kinds: the `[[request]]`s, then every flow step's own (weight 0: sent only
    /// by its flow).
    pub requests: Vec<Request>,
    /// `[[flow]]`s: ordered steps with captured values, drawn by weight beside the requests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flows: Vec<flow::Flow>,
    /// Pass/fail conditions.
    pub thresholds: Vec<Threshold>,
    /// What `loadgen simulate` asks of this scenario's runs when no what-if file is given
    /// (`[simulate]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulate: Option<whatif::WhatIfs>,
    /// `[fleet]`: the worker Lambdas its load is sent from (`--fleet` overrides it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet: Option<fleet::Fleet>,
}

impl Plan {
    /// Reads and validates a scenario file. `env` looks up `${VAR}` in header values.
    pub fn from_file(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Plan, ScenarioError> {
        let fail = |line, column, message| ScenarioError {
            file: path.to_path_buf(),
            line,
            column,
            field: String::new(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|e| fail(0, 0, format!("cannot read the scenario: {e}")))?;
        // A bad byte is named where it is, as any other error in the file.
        let text = String::from_utf8(bytes).map_err(|e| {
            let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = good.iter().filter(|b| **b == b'\n').count() + 1;
            let column = good.iter().rev().take_while(|b| **b != b'\n').count() + 1;
            fail(line, column, "not UTF-8 text: save the scenario as UTF-8".into())
        })?;
        Self::from_str(path, &text, env)
    }

    /// Validates scenario `text` read from `path`.
    pub fn from_str(path: &Path, text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Plan, ScenarioError> {
        validate::plan(path, text, env)
    }

    /// Its own secrets as a response may echo them, longest first (so one that holds another
    /// goes whole): every environment variable's value, and the words of headers whose name
    /// says they carry a credential (`Bearer abc…` gives `abc…`). Short ones are left out: a
    /// 3-character "secret" would blank unrelated text.
    pub fn secrets(&self) -> Vec<String> {
        let headers = || {
            (self.target.headers.iter())
                .chain(self.targets.iter().flat_map(|t| t.headers.iter()))
                .chain(self.requests.iter().flat_map(|r| r.headers.iter()))
        };
        let templates = headers()
            .map(|(_, t)| t)
            .chain(self.requests.iter().flat_map(|r| std::iter::once(&r.path).chain(r.body.as_ref())));
        let mut out: Vec<String> = templates.flat_map(|t| t.env_values().iter().cloned()).collect();
        out.extend(
            self.target
                .auth
                .iter()
                .chain(self.targets.iter().filter_map(|t| t.auth.as_ref()))
                .flat_map(auth::Auth::secrets),
        );
        for (_, t) in headers().filter(|(name, _)| crate::record::checks::secret_key(name)) {
            for part in &t.parts {
                if let template::Part::Literal(text) = part {
                    out.extend(text.split_whitespace().filter(|w| w.len() >= 8).map(str::to_owned));
                }
            }
        }
        out.retain(|s| s.len() >= 4);
        out.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        out.dedup();
        out
    }

    /// Total planned duration of the measured phases.
    pub fn duration(&self) -> Duration {
        self.phases.iter().map(|p| p.duration).sum()
    }

    /// The index of the request kind named `name`.
    pub fn request_index(&self, name: &str) -> Option<usize> {
        self.requests.iter().position(|r| r.name == name)
    }

    /// The index of the phase named `name`.
    pub fn phase_index(&self, name: &str) -> Option<usize> {
        self.phases.iter().position(|p| p.name == name)
    }

    /// When phase `i` starts, counted from the start of the first.
    pub fn phase_start(&self, i: usize) -> Duration {
        self.phases.iter().take(i).map(|p| p.duration).sum()
    }
}

#[cfg(test)]
impl Request {
    /// `GET path` named `r`, weight 1: the request a unit test needs.
    pub(crate) fn get(path: &str) -> Request {
        Request {
            name: "r".into(),
            weight: 1.0,
            method: "GET".into(),
            path: Template::parse(path).expect("a valid template"),
            body: None,
            headers: Vec::new(),
            expect: Vec::new(),
            check: None,
            capture: Vec::new(),
            target: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str) -> Request {
        Request::get(path)
    }

    #[test]
    fn read_patterns_come_from_the_query_string() {
        assert_eq!(request("/items?ids={ids:5}&pattern=batch").read_pattern(), Some(ReadPattern::Batch));
        assert_eq!(request("/items?pattern=per-item&ids={ids:5}").read_pattern(), Some(ReadPattern::PerItem));
        assert_eq!(request("/items?ids={ids:5}&pattern=batches").read_pattern(), None);
        assert_eq!(request("/items/pattern=batch").read_pattern(), None, "a path segment is no query");
    }

    #[test]
    fn secrets_are_the_environment_values_and_credential_header_words() {
        let text = "name = \"x\"\n[target]\nheaders = { authorization = \"Bearer ${TOKEN}\", x-api-key = \"literal-key-123\", accept = \"application/json\" }\n[[phase]]\nname = \"p\"\nduration = \"2s\"\nrate = 1\n[[request]]\nname = \"r\"\nmethod = \"POST\"\npath = \"/login\"\nbody = '{{\"pw\":\"{env:PW}\"}}'\n";
        let env = |k: &str| Some(if k == "TOKEN" { "tok-abcdef" } else { "pw12" }.to_owned());
        let plan = Plan::from_str(Path::new("x.toml"), text, &env).unwrap();
        assert_eq!(plan.secrets(), ["literal-key-123", "tok-abcdef", "pw12"]);
    }

    #[test]
    fn the_plan_reads_back_from_results_with_headers_redacted() {
        let text = "name = \"x\"\n[stack]\nenvironment = { API_KEY = \"secret\" }\n[target]\nheaders = { authorization = \"secret\" }\n[[phase]]\nname = \"p\"\nduration = \"2s\"\nusers = 2\nthink = \"5ms\"\n[[request]]\nname = \"r\"\npath = \"/health\"\n[thresholds]\n\"ok.count\" = \"> 1\"\n";
        let plan = Plan::from_str(Path::new("x.toml"), text, &|_| None).unwrap();
        let json = serde_json::to_string(&plan).unwrap();
        assert!(!json.contains("secret") && json.contains(REDACTED), "{json}");
        let back: Plan = serde_json::from_str(&json).unwrap();
        assert_eq!(back.target.headers, vec![("authorization".to_owned(), Template::parse(REDACTED).unwrap())]);
        assert_eq!(back.stack.environment, vec![("API_KEY".to_owned(), REDACTED.to_owned())]);
        assert_eq!(plan.stack.environment, vec![("API_KEY".to_owned(), "secret".to_owned())], "the run has the value");
        assert_eq!(back.phases, plan.phases, "durations survive the round trip in ms");
        assert_eq!(back.thresholds, plan.thresholds);
        assert_eq!(back.requests[0].path, plan.requests[0].path);
    }
}
