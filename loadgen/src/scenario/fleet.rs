//! `[fleet]`: a scenario that is always sent from a fleet of worker Lambdas says so itself
//! (`workers = 20`, and the deployed worker's name), as `--fleet N` would; the flag wins.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::error::{Locator, ScenarioError};
use super::values::{duration, int_in, span};

/// The most workers a fleet may have: Lambda's default account concurrency (1,000) less the
/// 100 AWS keeps unreserved.
pub const MAX_WORKERS: u32 = 900;

/// `[fleet]` as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFleet {
    /// Worker Lambdas, each sending its shard of the schedule.
    #[schemars(with = "i64")]
    pub workers: Spanned<i64>,
    /// The deployed worker function's name or ARN (default `loadgen-worker`).
    pub function: Option<String>,
    /// The longest stretch one worker invoke sends (`"5m"`); a longer plan is cut into
    /// back-to-back segments. Default: as long as the worker's timeout allows.
    #[schemars(with = "Option<String>")]
    pub segment: Option<Spanned<String>>,
}

/// `[fleet]`, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Fleet {
    /// Workers.
    pub workers: u32,
    /// The worker function, when the scenario names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// The longest segment, when the scenario sets one (ms in results.json).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "super::millis::option")]
    #[schemars(with = "Option<f64>")]
    pub segment: Option<std::time::Duration>,
}

/// Checks `[fleet]`.
pub(super) fn validate(loc: &Locator<'_>, raw: Option<&RawFleet>) -> Result<Option<Fleet>, ScenarioError> {
    let Some(raw) = raw else { return Ok(None) };
    let workers = int_in(loc, &raw.workers, "fleet.workers", 1, i64::from(MAX_WORKERS))? as u32;
    let function = raw.function.as_deref().map(str::trim).filter(|f| !f.is_empty()).map(str::to_owned);
    let segment = raw.segment.as_ref().map(|s| duration(loc, s, "fleet.segment")).transpose()?;
    if let (Some(d), Some(raw)) = (segment, &raw.segment)
        && d < std::time::Duration::from_secs(1)
    {
        return Err(loc.error(span(raw), "fleet.segment", "a segment lasts at least 1 s; write e.g. \"5m\""));
    }
    Ok(Some(Fleet { workers, function, segment }))
}

#[cfg(test)]
mod tests {
    use crate::scenario::Plan;

    fn plan(fleet: &str) -> Result<Plan, crate::scenario::ScenarioError> {
        let text = format!(
            "name = \"f\"\n[[phase]]\nname = \"p\"\nduration = \"1s\"\nrate = 1\n[[request]]\nname = \"r\"\npath = \"/\"\n{fleet}"
        );
        Plan::from_str(std::path::Path::new("f.toml"), &text, &|_| None)
    }

    #[test]
    fn a_fleet_names_its_workers_within_the_accounts_concurrency() {
        assert_eq!(plan("").unwrap().fleet, None);
        let f = plan("[fleet]\nworkers = 20\nfunction = \"my-worker\"\n").unwrap().fleet.unwrap();
        assert_eq!((f.workers, f.function.as_deref()), (20, Some("my-worker")));
        for bad in ["[fleet]\nworkers = 0\n", "[fleet]\nworkers = 901\n"] {
            let e = plan(bad).unwrap_err();
            assert_eq!(e.field, "fleet.workers", "{e}");
            assert!(e.line > 0 && e.message.contains("1 to 900"), "{e}");
        }
        let f = plan("[fleet]\nworkers = 2\nsegment = \"5m\"\n").unwrap().fleet.unwrap();
        assert_eq!(f.segment, Some(std::time::Duration::from_secs(300)));
        for bad in ["[fleet]\nworkers = 2\nsegment = \"soon\"\n", "[fleet]\nworkers = 2\nsegment = \"10ms\"\n"] {
            let e = plan(bad).unwrap_err();
            assert_eq!(e.field, "fleet.segment", "{e}");
        }
        let e = plan("[fleet]\nworker = 2\n").unwrap_err();
        assert!(e.to_string().contains("worker"), "{e}");
    }
}
