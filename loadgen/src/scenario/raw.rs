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

pub use super::stack::RawStack;

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
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RawNamedTarget>")]
    pub targets: BTreeMap<String, Spanned<RawNamedTarget>>,
    pub stack: Option<RawStack>,
    pub data: Option<RawData>,
    #[serde(default, rename = "phase")]
    #[schemars(with = "Vec<RawPhase>")]
    pub phases: Vec<Spanned<RawPhase>>,
    #[serde(default, rename = "request")]
    #[schemars(with = "Vec<RawRequest>")]
    pub requests: Vec<Spanned<RawRequest>>,
    #[serde(default, rename = "flow")]
    #[schemars(with = "Vec<RawFlow>")]
    pub flows: Vec<Spanned<RawFlow>>,
    #[schemars(with = "Option<BTreeMap<String, serde_json::Value>>")]
    pub thresholds: Option<BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
    /// What `loadgen simulate` asks of this scenario's runs by default.
    pub simulate: Option<super::whatif::RawWhatIfs>,
    /// The worker Lambdas its load is sent from.
    pub fleet: Option<super::fleet::RawFleet>,
}

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
    /// Connections to open before the schedule starts.
    #[schemars(with = "Option<i64>")]
    pub connections: Option<Spanned<i64>>,
    pub http2: Option<bool>,
    /// CloudWatch dimensions of a deployed stack, for the metrics pull without `--infra`.
    pub function_name: Option<String>,
    pub api_id: Option<String>,
    pub stage: Option<String>,
    pub table_name: Option<String>,
    pub region: Option<String>,
    pub memory_mb: Option<i64>,
    #[schemars(with = "Option<super::auth::RawAuth>")]
    pub auth: Option<Spanned<super::auth::RawAuth>>,
}

/// `[targets.NAME]`: another API, which requests name with `target = "NAME"`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawNamedTarget {
    #[schemars(with = "String")]
    pub url: Spanned<String>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub headers: BTreeMap<String, Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Spanned<String>>,
    #[schemars(with = "Option<super::auth::RawAuth>")]
    pub auth: Option<Spanned<super::auth::RawAuth>>,
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
    #[schemars(with = "Option<bool>")]
    pub seed: Option<Spanned<bool>>,
    #[schemars(with = "Option<String>")]
    pub seed_via: Option<Spanned<String>>,
    pub table: Option<String>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub item: BTreeMap<String, Spanned<toml::Value>>,
    #[serde(default, rename = "file")]
    pub files: Vec<RawDataFile>,
    #[schemars(with = "Option<String>")]
    pub seed_from: Option<Spanned<String>>,
    pub key: Option<String>,
    #[schemars(with = "Option<String>")]
    pub seed_path: Option<Spanned<String>>,
}

/// `[[data.file]]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDataFile {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    #[schemars(with = "String")]
    pub path: Spanned<String>,
    #[schemars(with = "Option<String>")]
    pub order: Option<Spanned<String>>,
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
    #[schemars(with = "BTreeMap<String, String>")]
    pub headers: BTreeMap<String, Spanned<String>>,
    #[schemars(with = "Option<Vec<i64>>")]
    pub expect: Option<Spanned<Vec<i64>>>,
    #[schemars(with = "Option<super::check::RawCheck>")]
    pub check: Option<Spanned<super::check::RawCheck>>,
    #[schemars(with = "Option<String>")]
    pub target: Option<Spanned<String>>,
}

/// `[[flow]]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFlow {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    #[schemars(with = "Option<f64>")]
    pub weight: Option<Spanned<f64>>,
    #[serde(default, rename = "step")]
    #[schemars(with = "Vec<RawStep>")]
    pub steps: Vec<Spanned<RawStep>>,
}

/// `[[flow.step]]`: a `[[request]]` by name, or a request written in place. The request's
/// fields are repeated, not flattened in: serde cannot flatten into a table that refuses
/// unknown keys, and a misspelt key must be an error.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    #[schemars(with = "Option<String>")]
    pub name: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub request: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub method: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub path: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub body: Option<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub headers: BTreeMap<String, Spanned<String>>,
    #[schemars(with = "Option<Vec<i64>>")]
    pub expect: Option<Spanned<Vec<i64>>>,
    #[schemars(with = "Option<super::check::RawCheck>")]
    pub check: Option<Spanned<super::check::RawCheck>>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub capture: BTreeMap<String, Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub think: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub target: Option<Spanned<String>>,
}

/// The JSON Schema of a scenario file, generated from these types (for editor completion:
/// `#:schema` directives in Taplo / Even Better TOML, or JSON-schema-aware TOML editors).
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(RawScenario)).unwrap_or_default()
}

/// Every key any table accepts, for "did you mean" on an unknown key where the parser does not
/// say which keys the table allows. Read off the generated schema, so it cannot fall behind
/// the types above.
pub fn all_keys() -> &'static [String] {
    static KEYS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        fn collect(v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    if let Some(serde_json::Value::Object(props)) = m.get("properties") {
                        out.extend(props.keys().cloned());
                    }
                    m.values().for_each(|x| collect(x, out));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
                _ => {}
            }
        }
        let mut keys = std::collections::BTreeSet::new();
        collect(&json_schema(), &mut keys);
        keys.into_iter().collect()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_table_key_is_known() {
        let keys = super::all_keys();
        for k in [
            "name",
            "phase",
            "request",
            "thresholds",
            "max_in_flight",
            "reserved_concurrency",
            "hot_traffic",
            "from",
            "expect",
        ] {
            assert!(keys.iter().any(|x| x == k), "{k} missing from {keys:?}");
        }
    }
}
