//! What-ifs written down: a what-if file (`loadgen simulate --whatif FILE.toml`) and a
//! scenario's `[simulate]` table say the same things in the same keys — `scenario`, `traffic`,
//! `traffic_curve`, `seed` and a `[set]` table of the settings' values. This module reads them
//! and keeps where each value is written, so the simulator's checks of the values (which need
//! the function they start from) still point at `file:line:column`.
//!
//! ```toml
//! scenario = "scenarios/spike.toml"
//! traffic = ["1x", "10x"]
//! [set]
//! reserved_concurrency = [10, 50, "unreserved"]
//! memory_mb = [256, 1024]
//! ```
//!
//! Relative paths are from the directory of the file they are written in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::error::{Locator, ScenarioError, suggestion};

/// Settings a what-if may change, with what each takes.
pub const SETTINGS: &[(&str, &str)] = &[
    ("reserved_concurrency", "environments, 0 to the account's limit minus 100, or \"unreserved\""),
    ("provisioned_concurrency", "environments initialised before traffic, up to the reservation"),
    ("account_concurrency", "the account's concurrency limit"),
    ("keep_warm", "seconds an idle environment lives"),
    ("memory_mb", "the function's memory, 128 to 10240 MB (CPU scales with it)"),
    ("duration_factor", "the handler's time per invocation multiplied, 0.01 to 100 (1.5 or 1.5x: 50% slower)"),
    ("architecture", "x86_64 or arm64 (priced; durations kept as measured)"),
    ("api_rate", "the API stage's default throttling rate, requests per second per route"),
    ("api_burst", "the API stage's default throttling burst"),
    ("dynamodb_capacity", "on-demand, or provisioned read/write capacity units such as 500/100"),
];

/// The keys of a what-if file and of `[simulate]`.
const KEYS: &[&str] = &["scenario", "traffic", "traffic_curve", "seed", "set"];

/// A value as written: a number, a word, or a list of either.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Values {
    One(Value),
    Many(Vec<Value>),
}

/// A number or a word.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Value {
    Int(i64),
    Float(f64),
    Text(String),
}

impl Value {
    fn text(&self) -> String {
        match self {
            Value::Int(n) => n.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Text(s) => s.clone(),
        }
    }
}

impl Values {
    fn list(&self) -> Vec<String> {
        match self {
            Values::One(v) => vec![v.text()],
            Values::Many(v) => v.iter().map(Value::text).collect(),
        }
    }
}

/// The what-if keys as written (a what-if file's top level, or `[simulate]`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWhatIfs {
    #[schemars(with = "Option<String>")]
    scenario: Option<Spanned<String>>,
    #[schemars(with = "Option<serde_json::Value>")]
    traffic: Option<Spanned<Values>>,
    #[schemars(with = "Option<String>")]
    traffic_curve: Option<Spanned<String>>,
    #[schemars(with = "Option<i64>")]
    seed: Option<Spanned<i64>>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    set: BTreeMap<String, Spanned<Values>>,
}

/// Where a value is written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Place {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl Place {
    /// An error about `field` at this place.
    pub fn error(&self, field: impl Into<String>, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
            field: field.into(),
            message: message.into(),
        }
    }
}

/// What-ifs, read: each value as the command line would take it, with where it is written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WhatIfs {
    /// The file they are written in.
    pub file: PathBuf,
    /// Another scenario to simulate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<PathBuf>,
    /// Traffic factors, as `--traffic` takes them (`1x,10x`), and where they are written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<(String, Place)>,
    /// A traffic curve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_curve: Option<PathBuf>,
    /// The seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Settings, as `--set` takes them (`NAME=V1,V2`), each with where it is written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sets: Vec<(String, Place)>,
    /// The field prefix of the values' names in errors (`simulate.` in a scenario).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prefix: String,
}

/// Reads the what-if file at `path`.
pub fn read(path: &Path) -> Result<WhatIfs, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        field: String::new(),
        message: format!("cannot read the what-if file: {e}"),
    })?;
    parse(path, &text)
}

/// Reads a what-if file's `text`, read from `path`.
pub fn parse(path: &Path, text: &str) -> Result<WhatIfs, ScenarioError> {
    let at = Locator::new(path, text);
    let raw: RawWhatIfs = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let message = e.message().to_owned();
        let hint = message
            .strip_prefix("unknown field `")
            .and_then(|r| r.split('`').next())
            .and_then(|k| suggestion(k, KEYS))
            .map(|k| format!(" (did you mean `{k}`?)"))
            .unwrap_or_default();
        at.error(span.clone(), at.key_at(span.start), format!("{message}{hint}"))
    })?;
    from_raw(&at, path, &raw, "")
}

/// What-ifs from `raw`, written in `path` (located by `at`); `prefix` goes before each field's
/// name in errors (`simulate.` for a scenario's table).
pub fn from_raw(at: &Locator<'_>, path: &Path, raw: &RawWhatIfs, prefix: &str) -> Result<WhatIfs, ScenarioError> {
    let dir = path.parent().unwrap_or(Path::new(""));
    let place = |offset: usize| {
        let (line, column) = at.position(offset);
        Place { file: path.to_path_buf(), line, column }
    };
    let mut out = WhatIfs {
        scenario: raw.scenario.as_ref().map(|s| dir.join(s.get_ref())),
        traffic_curve: raw.traffic_curve.as_ref().map(|s| dir.join(s.get_ref())),
        traffic: raw.traffic.as_ref().map(|t| (t.get_ref().list().join(","), place(t.span().start))),
        prefix: prefix.to_owned(),
        file: path.to_path_buf(),
        ..WhatIfs::default()
    };
    if let Some(s) = &raw.seed {
        out.seed = Some(
            u64::try_from(*s.get_ref())
                .map_err(|_| at.error(s.span(), format!("{prefix}seed"), "expected a whole number, 0 or more"))?,
        );
    }
    for (name, values) in &raw.set {
        if !SETTINGS.iter().any(|(n, _)| n == name) {
            let names: Vec<&str> = SETTINGS.iter().map(|(n, _)| *n).collect();
            let hint = suggestion(name, &names).map(|k| format!("did you mean `{k}`? ")).unwrap_or_default();
            return Err(at.error(
                values.span(),
                format!("{prefix}set.{name}"),
                format!("not a setting the simulator models; {hint}use one of {}", names.join(", ")),
            ));
        }
        out.sets.push((format!("{name}={}", values.get_ref().list().join(",")), place(values.span().start)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_reads_as_the_command_line_would() {
        let text = "scenario = \"spike.toml\"\ntraffic = [\"1x\", \"10x\"]\nseed = 3\n[set]\nreserved_concurrency = [10, \"unreserved\"]\nmemory_mb = 512\n";
        let f = parse(Path::new("dir/whatif.toml"), text).unwrap();
        assert_eq!(f.scenario, Some(PathBuf::from("dir/spike.toml")));
        assert_eq!(f.traffic.as_ref().map(|t| t.0.as_str()), Some("1x,10x"));
        assert_eq!(f.traffic.as_ref().map(|t| (t.1.line, t.1.column)), Some((2, 11)));
        assert_eq!(f.seed, Some(3));
        let sets: Vec<&str> = f.sets.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(sets, ["memory_mb=512", "reserved_concurrency=10,unreserved"]);
        assert_eq!((f.sets[0].1.line, f.sets[0].1.column), (6, 13));
    }

    #[test]
    fn misspelt_keys_and_settings_get_a_suggestion() {
        let e = |t: &str| parse(Path::new("dir/whatif.toml"), t).unwrap_err().to_string();
        assert!(e("trafic = \"2x\"\n").contains("did you mean `traffic`"), "{}", e("trafic = \"2x\"\n"));
        assert!(e("[set]\nmemory = 256\n").contains("did you mean `memory_mb`"));
        assert!(e("seed = -1\n").contains("seed: expected a whole number"));
        assert!(e("traffic = [\n").starts_with("dir/whatif.toml:"));
    }
}
