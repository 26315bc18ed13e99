//! The scenario file as written: serde types mirroring the TOML, with spans kept on every value
//! that validation may need to point at. Unknown keys are rejected here.
//!
//! Each field is the TOML key of the same name; `docs/scenarios.md` documents them, so they
//! carry no doc comments of their own.
#![allow(missing_docs)]

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// Top level of a scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: String,
    pub seed: Option<Spanned<i64>>,
    pub target: Option<RawTarget>,
    pub stack: Option<RawStack>,
    pub data: Option<RawData>,
    #[serde(default, rename = "phase")]
    pub phases: Vec<Spanned<RawPhase>>,
    #[serde(default, rename = "request")]
    pub requests: Vec<Spanned<RawRequest>>,
    pub thresholds: Option<BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
}

/// Keys of the top level, for suggestions.
pub const TOP_KEYS: &[&str] =
    &["name", "description", "seed", "target", "stack", "data", "phase", "request", "thresholds"];

/// `[target]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub url: Option<Spanned<String>>,
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub max_in_flight: Option<Spanned<i64>>,
    pub http2: Option<bool>,
}

/// `[stack]`: overrides for the local stack.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStack {
    pub reserved_concurrency: Option<Spanned<i64>>,
    pub memory_mb: Option<Spanned<i64>>,
    pub timeout: Option<Spanned<String>>,
    pub keep_warm: Option<Spanned<String>>,
    pub latency_profile: Option<Spanned<String>>,
    pub api_rate: Option<Spanned<f64>>,
    pub api_burst: Option<Spanned<i64>>,
    pub integration_timeout: Option<Spanned<String>>,
    pub dynamodb_read_units: Option<Spanned<f64>>,
    pub dynamodb_write_units: Option<Spanned<f64>>,
}

/// `[data]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawData {
    pub items: Option<Spanned<i64>>,
    pub item_size: Option<Spanned<toml::Value>>,
    pub seed_rate: Option<Spanned<f64>>,
    pub distribution: Option<Spanned<String>>,
    pub zipf_exponent: Option<Spanned<f64>>,
    pub hot_keys: Option<Spanned<f64>>,
    pub hot_traffic: Option<Spanned<f64>>,
}

/// `[[phase]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPhase {
    pub name: Spanned<String>,
    pub duration: Spanned<String>,
    pub rate: Option<Spanned<f64>>,
    pub ramp: Option<Spanned<RawRamp>>,
    pub steps: Option<Spanned<Vec<f64>>>,
    pub users: Option<Spanned<i64>>,
    pub think: Option<Spanned<String>>,
    pub arrivals: Option<Spanned<String>>,
}

/// `ramp = { from = .., to = .. }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRamp {
    pub from: Spanned<f64>,
    pub to: Spanned<f64>,
}

/// `[[request]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRequest {
    pub name: Spanned<String>,
    pub weight: Option<Spanned<f64>>,
    pub method: Option<Spanned<String>>,
    pub path: Spanned<String>,
    pub body: Option<Spanned<String>>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub expect: Option<Spanned<Vec<i64>>>,
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
