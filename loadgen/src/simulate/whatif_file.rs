//! A what-if file (`--whatif FILE.toml`): the command line's what-ifs written down to be kept
//! with a project and reviewed — `scenario`, `traffic`, `traffic_curve`, `seed` and a `[set]`
//! table of the settings' values — checked like a scenario: unknown keys, wrong types and values
//! the grid refuses are errors at `file:line:column` naming the field.
//!
//! ```toml
//! scenario = "scenarios/spike.toml"
//! traffic = ["1x", "10x"]
//! [set]
//! reserved_concurrency = [10, 50, "unreserved"]
//! memory_mb = [256, 1024]
//! ```
//!
//! Relative paths are from the file's directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::lambda::FunctionSpec;
use super::whatif::{self, SETTINGS, WhatIfError};
use crate::scenario::ScenarioError;
use crate::scenario::error::{Locator, suggestion};

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    scenario: Option<Spanned<String>>,
    traffic: Option<Spanned<Values>>,
    traffic_curve: Option<Spanned<String>>,
    seed: Option<Spanned<i64>>,
    #[serde(default)]
    set: BTreeMap<String, Spanned<Values>>,
}

/// A what-if file, checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WhatIfFile {
    /// Another scenario to simulate.
    pub scenario: Option<PathBuf>,
    /// Traffic factors, as `--traffic` takes them (`1x,10x`).
    pub traffic: Option<String>,
    /// A traffic curve.
    pub traffic_curve: Option<PathBuf>,
    /// The seed.
    pub seed: Option<u64>,
    /// Settings, as `--set` takes them (`NAME=V1,V2`).
    pub sets: Vec<String>,
    /// Where each of `sets` is written: the file, line and column.
    places: Vec<(PathBuf, usize, usize)>,
}

impl WhatIfFile {
    /// Checks each setting on its own against `base` (the function the grid starts from: the
    /// run's, or the scenario's), so a value AWS would refuse is reported where it is written;
    /// combinations are checked with the command line's.
    pub fn check(&self, base: &FunctionSpec) -> Result<(), ScenarioError> {
        for (set, (file, line, column)) in self.sets.iter().zip(&self.places) {
            if let Err(e) = whatif::grid(base, std::slice::from_ref(set), &[]) {
                let why = match e {
                    WhatIfError::Value { value, why, .. } => format!("{value}: {why}"),
                    other => other.to_string(),
                };
                let name = set.split('=').next().unwrap_or_default();
                return Err(ScenarioError {
                    file: file.clone(),
                    line: *line,
                    column: *column,
                    field: format!("set.{name}"),
                    message: why,
                });
            }
        }
        Ok(())
    }
}

/// Reads `path`; its settings' values are checked by [`WhatIfFile::check`].
pub fn read(path: &Path) -> Result<WhatIfFile, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        field: String::new(),
        message: format!("cannot read the what-if file: {e}"),
    })?;
    parse(path, &text)
}

/// Checks `text`, read from `path`.
pub fn parse(path: &Path, text: &str) -> Result<WhatIfFile, ScenarioError> {
    let at = Locator::new(path, text);
    let raw: Raw = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let message = e.message().to_owned();
        let hint = message
            .strip_prefix("unknown field `")
            .and_then(|r| r.split('`').next())
            .and_then(|k| suggestion(k, &["scenario", "traffic", "traffic_curve", "seed", "set"]))
            .map(|k| format!(" (did you mean `{k}`?)"))
            .unwrap_or_default();
        at.error(span.clone(), at.key_at(span.start), format!("{message}{hint}"))
    })?;
    let dir = path.parent().unwrap_or(Path::new(""));
    let mut out = WhatIfFile {
        scenario: raw.scenario.map(|s| dir.join(s.into_inner())),
        traffic_curve: raw.traffic_curve.map(|s| dir.join(s.into_inner())),
        ..WhatIfFile::default()
    };
    if let Some(t) = raw.traffic {
        let joined = t.get_ref().list().join(",");
        whatif::traffic_list(&joined).map_err(|_| {
            at.error(t.span(), "traffic", "expected factors such as \"10x\" or [\"1x\", \"10x\"], each once")
        })?;
        out.traffic = Some(joined);
    }
    if let Some(s) = raw.seed {
        out.seed = Some(
            u64::try_from(*s.get_ref())
                .map_err(|_| at.error(s.span(), "seed", "expected a whole number, 0 or more"))?,
        );
    }
    for (name, values) in &raw.set {
        let field = format!("set.{name}");
        if !SETTINGS.iter().any(|(n, _)| n == name) {
            let names: Vec<&str> = SETTINGS.iter().map(|(n, _)| *n).collect();
            let hint = suggestion(name, &names).map(|k| format!("did you mean `{k}`? ")).unwrap_or_default();
            return Err(at.error(
                values.span(),
                field,
                format!("not a setting the simulator models; {hint}use one of {}", names.join(", ")),
            ));
        }
        let (line, column) = at.position(values.span().start);
        out.sets.push(format!("{name}={}", values.get_ref().list().join(",")));
        out.places.push((path.to_path_buf(), line, column));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<WhatIfFile, ScenarioError> {
        let f = parse(Path::new("dir/whatif.toml"), text)?;
        f.check(&FunctionSpec::with_reservation(5))?;
        Ok(f)
    }

    #[test]
    fn a_file_says_what_the_command_line_would() {
        let f = check(
            "scenario = \"spike.toml\"\ntraffic = [\"1x\", \"10x\"]\nseed = 3\n[set]\nreserved_concurrency = [10, \"unreserved\"]\nmemory_mb = 512\n",
        )
        .unwrap();
        assert_eq!(f.scenario, Some(PathBuf::from("dir/spike.toml")));
        assert_eq!(f.traffic.as_deref(), Some("1x,10x"));
        assert_eq!(f.seed, Some(3));
        assert_eq!(f.sets, ["memory_mb=512", "reserved_concurrency=10,unreserved"]);
    }

    #[test]
    fn bad_files_point_at_the_line() {
        let e = |t: &str| check(t).unwrap_err().to_string();
        assert!(
            e("[set]\nmemory_mb = [64]\n").starts_with("dir/whatif.toml:2:13: set.memory_mb: 64: expected whole"),
            "{}",
            e("[set]\nmemory_mb = [64]\n")
        );
        assert!(e("trafic = \"2x\"\n").contains("did you mean `traffic`"), "{}", e("trafic = \"2x\"\n"));
        assert!(e("traffic = \"-2x\"\n").starts_with("dir/whatif.toml:1:11: traffic:"));
        assert!(e("[set]\nmemory = 256\n").contains("did you mean `memory_mb`"));
        assert!(e("seed = -1\n").contains("seed: expected a whole number"));
        assert!(e("[set]\nprovisioned_concurrency = 9\n").contains("more than the 5"));
        assert!(e("traffic = [\n").starts_with("dir/whatif.toml:"));
    }
}
