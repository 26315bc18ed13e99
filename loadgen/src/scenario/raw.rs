//! The scenario file as written: serde types mirroring the TOML, with spans kept on every value
//! that validation may need to point at. Unknown keys are rejected here.
//!
//! Each field is the TOML key of the same name; `docs/scenarios.md` documents them, so they
//! carry no doc comments of their own.
#![allow(missing_docs)]

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

/// Top level of a scenario file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: String,
    #[schemars(with = "Option<i64>")]
    pub seed: Option<Spanned<i64>>,
    pub target: Option<RawTarget>,
    pub stack: Option<RawStack>,
    pub data: Option<RawData>,
    #[serde(default, rename = "phase")]
    #[schemars(with = "Vec<RawPhase>")]
    pub phases: Vec<Spanned<RawPhase>>,
    #[serde(default, rename = "request")]
    #[schemars(with = "Vec<RawRequest>")]
    pub requests: Vec<Spanned<RawRequest>>,
    #[schemars(with = "Option<BTreeMap<String, serde_json::Value>>")]
    pub thresholds: Option<BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
}

/// Keys of the top level, for suggestions.
pub const TOP_KEYS: &[&str] =
    &["name", "description", "seed", "target", "stack", "data", "phase", "request", "thresholds"];

/// `[target]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    #[schemars(with = "Option<String>")]
    pub url: Option<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub headers: BTreeMap<String, Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Spanned<String>>,
    #[schemars(with = "Option<i64>")]
    pub max_in_flight: Option<Spanned<i64>>,
    pub http2: Option<bool>,
    /// CloudWatch dimensions of a deployed stack, for the metrics pull without `--infra`.
    pub function_name: Option<String>,
    pub api_id: Option<String>,
    pub stage: Option<String>,
    pub table_name: Option<String>,
    pub region: Option<String>,
    pub memory_mb: Option<i64>,
}

/// `[stack]`: overrides for the local stack.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStack {
    #[schemars(with = "Option<i64>")]
    pub reserved_concurrency: Option<Spanned<i64>>,
    #[schemars(with = "Option<i64>")]
    pub memory_mb: Option<Spanned<i64>>,
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub keep_warm: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub latency_profile: Option<Spanned<String>>,
    #[schemars(with = "Option<f64>")]
    pub api_rate: Option<Spanned<f64>>,
    #[schemars(with = "Option<i64>")]
    pub api_burst: Option<Spanned<i64>>,
    #[schemars(with = "Option<String>")]
    pub integration_timeout: Option<Spanned<String>>,
    #[schemars(with = "Option<f64>")]
    pub dynamodb_read_units: Option<Spanned<f64>>,
    #[schemars(with = "Option<f64>")]
    pub dynamodb_write_units: Option<Spanned<f64>>,
}

/// `[data]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawData {
    #[schemars(with = "Option<i64>")]
    pub items: Option<Spanned<i64>>,
    #[schemars(with = "Option<serde_json::Value>")]
    pub item_size: Option<Spanned<toml::Value>>,
    #[schemars(with = "Option<f64>")]
    pub seed_rate: Option<Spanned<f64>>,
    #[schemars(with = "Option<String>")]
    pub distribution: Option<Spanned<String>>,
    #[schemars(with = "Option<f64>")]
    pub zipf_exponent: Option<Spanned<f64>>,
    #[schemars(with = "Option<f64>")]
    pub hot_keys: Option<Spanned<f64>>,
    #[schemars(with = "Option<f64>")]
    pub hot_traffic: Option<Spanned<f64>>,
}

/// `[[phase]]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPhase {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    #[schemars(with = "String")]
    pub duration: Spanned<String>,
    #[schemars(with = "Option<f64>")]
    pub rate: Option<Spanned<f64>>,
    #[schemars(with = "Option<RawRamp>")]
    pub ramp: Option<Spanned<RawRamp>>,
    #[schemars(with = "Option<Vec<f64>>")]
    pub steps: Option<Spanned<Vec<f64>>>,
    #[schemars(with = "Option<i64>")]
    pub users: Option<Spanned<i64>>,
    #[schemars(with = "Option<String>")]
    pub think: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub arrivals: Option<Spanned<String>>,
}

/// `ramp = { from = .., to = .. }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRamp {
    #[schemars(with = "f64")]
    pub from: Spanned<f64>,
    #[schemars(with = "f64")]
    pub to: Spanned<f64>,
}

/// `[[request]]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRequest {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    #[schemars(with = "Option<f64>")]
    pub weight: Option<Spanned<f64>>,
    #[schemars(with = "Option<String>")]
    pub method: Option<Spanned<String>>,
    #[schemars(with = "String")]
    pub path: Spanned<String>,
    #[schemars(with = "Option<String>")]
    pub body: Option<Spanned<String>>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[schemars(with = "Option<Vec<i64>>")]
    pub expect: Option<Spanned<Vec<i64>>>,
}

/// The JSON Schema of a scenario file, generated from these types (for editor completion:
/// `#:schema` directives in Taplo / Even Better TOML, or JSON-schema-aware TOML editors).
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(RawScenario)).unwrap_or_default()
}

/// Every key each table accepts, for "did you mean" on an unknown key.
pub const ALL_KEYS: &[&str] = &[
    "name",
    "description",
    "seed",
    "target",
    "stack",
    "data",
    "phase",
    "request",
    "thresholds",
    "url",
    "headers",
    "function_name",
    "api_id",
    "table_name",
    "region",
    "stage",
    "timeout",
    "max_in_flight",
    "http2",
    "reserved_concurrency",
    "memory_mb",
    "keep_warm",
    "latency_profile",
    "api_rate",
    "api_burst",
    "integration_timeout",
    "dynamodb_read_units",
    "dynamodb_write_units",
    "items",
    "item_size",
    "seed_rate",
    "distribution",
    "zipf_exponent",
    "hot_keys",
    "hot_traffic",
    "duration",
    "rate",
    "ramp",
    "steps",
    "users",
    "think",
    "arrivals",
    "from",
    "to",
    "weight",
    "method",
    "path",
    "body",
    "expect",
];
