//! `[stack]`, the scenario's overrides of the local stack's settings, in one place: the table
//! as written ([`RawStack`], with the spans errors point at), as validated against what AWS
//! allows ([`StackOverrides`], recorded in results.json), and as applied to the stack's
//! settings. A new setting is added here and documented in `docs/scenarios.md`, nowhere else.

use std::path::{Path, PathBuf};
use std::time::Duration;

use local_stack::StackConfig;
use local_stack::config::{CpuModel, DynamoConfig, FunctionConfig};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use std::collections::BTreeMap;

use super::error::{Locator, ScenarioError};
use super::function::{Reservation, environment, reservation};
use super::own_stack::{RawFunction, RawTable};
use super::values::{duration, int_in, positive, span};
use super::{REDACTED, millis};

/// `[stack]`: overrides for the local stack.
#[allow(missing_docs)]
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStack {
    #[schemars(with = "Option<Reservation>")]
    pub reserved_concurrency: Option<Spanned<Reservation>>,
    #[schemars(with = "Option<i64>")]
    pub provisioned_concurrency: Option<Spanned<i64>>,
    #[schemars(with = "Option<i64>")]
    pub account_concurrency: Option<Spanned<i64>>,
    #[schemars(with = "Option<String>")]
    pub cpu_model: Option<Spanned<String>>,
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
    #[schemars(with = "Option<f64>")]
    pub dynamodb_partition_read_units: Option<Spanned<f64>>,
    #[schemars(with = "Option<f64>")]
    pub dynamodb_partition_write_units: Option<Spanned<f64>>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub environment: BTreeMap<String, Spanned<String>>,
    #[schemars(with = "Option<Vec<String>>")]
    pub iam_routes: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub stage_variables: BTreeMap<String, String>,
    #[schemars(with = "Option<String>")]
    pub infra: Option<Spanned<String>>,
    #[serde(default, rename = "function")]
    pub functions: Vec<RawFunction>,
    #[serde(default, rename = "table")]
    pub tables: Vec<RawTable>,
}

/// `[stack]`: overrides of the local stack's settings; `None` keeps the stack's default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StackOverrides {
    /// Reserved concurrency.
    pub reserved_concurrency: Option<u32>,
    /// `reserved_concurrency = "unreserved"`: no reservation, the account's concurrency shared.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unreserved: bool,
    /// Provisioned concurrency.
    #[serde(default)]
    pub provisioned_concurrency: Option<u32>,
    /// The account's concurrency quota.
    #[serde(default)]
    pub account_concurrency: Option<u32>,
    /// How environments get CPU.
    #[serde(default)]
    pub cpu_model: Option<CpuModel>,
    /// Memory, MB.
    pub memory_mb: Option<u32>,
    /// Function timeout (ms in results.json).
    #[serde(with = "millis::option")]
    #[schemars(with = "Option<f64>")]
    pub timeout: Option<Duration>,
    /// Keep-warm time of idle environments (ms in results.json).
    #[serde(with = "millis::option")]
    #[schemars(with = "Option<f64>")]
    pub keep_warm: Option<Duration>,
    /// Latency profile name or file.
    pub latency_profile: Option<String>,
    /// Stage throttling rate.
    pub api_rate: Option<f64>,
    /// Stage throttling burst.
    pub api_burst: Option<u32>,
    /// Integration timeout (ms in results.json).
    #[serde(with = "millis::option")]
    #[schemars(with = "Option<f64>")]
    pub integration_timeout: Option<Duration>,
    /// Table read units per second.
    pub dynamodb_read_units: Option<f64>,
    /// Table write units per second.
    pub dynamodb_write_units: Option<f64>,
    /// Read units per second one partition key serves.
    #[serde(default)]
    pub dynamodb_partition_read_units: Option<f64>,
    /// Write units per second one partition key serves.
    #[serde(default)]
    pub dynamodb_partition_write_units: Option<f64>,
    /// The function's own environment variables, `${ENV}` expanded. Values may be secrets:
    /// results.json has each name with [`REDACTED`].
    #[serde(default, serialize_with = "redact_values", deserialize_with = "redacted")]
    #[schemars(with = "BTreeMap<String, String>")]
    pub environment: Vec<(String, String)>,
    /// Route keys that require SigV4 (`authorization_type = "AWS_IAM"`), beside those the
    /// Terraform marks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub iam_routes: Vec<String>,
    /// The API stage's variables (every event's `stageVariables`); each name with
    /// [`REDACTED`] in results.json.
    #[serde(default, serialize_with = "redact_map")]
    pub stage_variables: BTreeMap<String, String>,
    /// `infra`: the Terraform directory that describes the stack, relative to the working
    /// directory (the scenario gives it relative to itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub infra: Option<PathBuf>,
    /// `[[stack.function]]`: functions the scenario adds (or, without `infra`, the only ones).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<FunctionConfig>,
    /// `[[stack.table]]`: tables the scenario adds (or, without `infra`, the only ones).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<DynamoConfig>,
}

fn redact_values<S: serde::Serializer>(vars: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(vars.len()))?;
    for (k, _) in vars {
        m.serialize_entry(k, REDACTED)?;
    }
    m.end()
}

fn redact_map<S: serde::Serializer>(vars: &BTreeMap<String, String>, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(vars.len()))?;
    for k in vars.keys() {
        m.serialize_entry(k, REDACTED)?;
    }
    m.end()
}

fn redacted<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
    let names = BTreeMap::<String, String>::deserialize(d)?;
    Ok(names.into_keys().map(|k| (k, REDACTED.to_owned())).collect())
}

impl StackOverrides {
    /// Applies every override that is set to the local stack's settings.
    pub fn apply_to(&self, c: &mut StackConfig) {
        let o = self;
        if let Some(v) = o.reserved_concurrency {
            c.function.reserved_concurrency = Some(v);
        }
        if o.unreserved {
            c.function.reserved_concurrency = None;
        }
        if let Some(v) = o.provisioned_concurrency {
            c.function.provisioned_concurrency = v;
        }
        if let Some(v) = o.account_concurrency {
            c.account_concurrency = v;
        }
        if let Some(v) = o.cpu_model {
            c.function.cpu_model = v;
        }
        if let Some(v) = o.memory_mb {
            c.function.memory_mb = v;
        }
        if let Some(v) = o.timeout {
            c.function.timeout = v;
        }
        if let Some(v) = o.keep_warm {
            c.function.keep_warm = v;
        }
        if let Some(v) = &o.latency_profile {
            c.latency_profile = v.clone();
        }
        if let Some(v) = o.api_rate {
            c.api.stage_throttle.rate = v;
        }
        if let Some(v) = o.api_burst {
            c.api.stage_throttle.burst = v;
        }
        if let Some(v) = o.integration_timeout {
            c.api.integration_timeout = v;
        }
        if let Some(v) = o.dynamodb_read_units {
            c.dynamodb.read_units_per_s = v;
        }
        if let Some(v) = o.dynamodb_write_units {
            c.dynamodb.write_units_per_s = v;
        }
        if let Some(v) = o.dynamodb_partition_read_units {
            c.dynamodb.partition_read_units_per_s = v;
        }
        if let Some(v) = o.dynamodb_partition_write_units {
            c.dynamodb.partition_write_units_per_s = v;
        }
        c.function.environment.extend(o.environment.iter().cloned());
        for r in &o.iam_routes {
            if !c.api.iam_routes.contains(r) {
                c.api.iam_routes.push(r.clone());
            }
        }
        c.api.stage_variables.extend(o.stage_variables.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
}

fn cpu_model(loc: &Locator<'_>, v: &Spanned<String>) -> Result<CpuModel, ScenarioError> {
    match v.get_ref().as_str() {
        "proportional" => Ok(CpuModel::Proportional),
        "measured" => Ok(CpuModel::Measured),
        "none" => Ok(CpuModel::None),
        other => Err(loc.error(
            span(v),
            "stack.cpu_model",
            format!("unknown CPU model '{other}'; use \"proportional\", \"measured\" or \"none\""),
        )),
    }
}

/// An integer field from `lo` to `hi` (both within `u32`), as the `u32` the stack takes.
fn u32_in(loc: &Locator<'_>, v: &Spanned<i64>, field: &str, lo: u32, hi: u32) -> Result<u32, ScenarioError> {
    // In range, so the cast cannot truncate.
    Ok(int_in(loc, v, field, i64::from(lo), i64::from(hi))? as u32)
}

/// Validates `[stack]` (no overrides when it is absent); `env` expands `${VAR}` in variables.
pub(super) fn validate(
    loc: &Locator<'_>,
    file: &Path,
    raw: Option<&RawStack>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<StackOverrides, ScenarioError> {
    let stack = match raw {
        None => StackOverrides::default(),
        Some(s) => StackOverrides {
            reserved_concurrency: s
                .reserved_concurrency
                .as_ref()
                .map(|v| reservation(loc, v, "stack.reserved_concurrency"))
                .transpose()?
                .flatten(),
            unreserved: s.reserved_concurrency.as_ref().is_some_and(|v| matches!(v.get_ref(), Reservation::Word(_))),
            provisioned_concurrency: s
                .provisioned_concurrency
                .as_ref()
                .map(|v| u32_in(loc, v, "stack.provisioned_concurrency", 0, 1_000_000))
                .transpose()?,
            account_concurrency: s
                .account_concurrency
                .as_ref()
                .map(|v| u32_in(loc, v, "stack.account_concurrency", 1, 10_000_000))
                .transpose()?,
            cpu_model: s.cpu_model.as_ref().map(|v| cpu_model(loc, v)).transpose()?,
            memory_mb: s.memory_mb.as_ref().map(|v| u32_in(loc, v, "stack.memory_mb", 128, 10_240)).transpose()?,
            timeout: s.timeout.as_ref().map(|v| duration(loc, v, "stack.timeout")).transpose()?,
            keep_warm: s.keep_warm.as_ref().map(|v| duration(loc, v, "stack.keep_warm")).transpose()?,
            latency_profile: match &s.latency_profile {
                Some(v) => {
                    let name = v.get_ref().clone();
                    if !name.ends_with(".toml") && !local_stack::profile::builtin_names().contains(&name.as_str()) {
                        return Err(loc.error(
                            span(v),
                            "stack.latency_profile",
                            format!(
                                "unknown profile '{name}'; use one of {:?} or a path to a profile .toml",
                                local_stack::profile::builtin_names()
                            ),
                        ));
                    }
                    Some(name)
                }
                None => None,
            },
            api_rate: s
                .api_rate
                .as_ref()
                .map(|v| positive(loc, v, "stack.api_rate", "a rate in requests per second"))
                .transpose()?,
            api_burst: s.api_burst.as_ref().map(|v| u32_in(loc, v, "stack.api_burst", 1, 5_000_000)).transpose()?,
            integration_timeout: s
                .integration_timeout
                .as_ref()
                .map(|v| {
                    let d = duration(loc, v, "stack.integration_timeout")?;
                    if d < Duration::from_millis(50) || d > Duration::from_secs(30) {
                        return Err(loc.error(span(v), "stack.integration_timeout", "HTTP APIs allow 50ms to 30s"));
                    }
                    Ok(d)
                })
                .transpose()?,
            dynamodb_read_units: s
                .dynamodb_read_units
                .as_ref()
                .map(|v| positive(loc, v, "stack.dynamodb_read_units", "read units per second"))
                .transpose()?,
            dynamodb_write_units: s
                .dynamodb_write_units
                .as_ref()
                .map(|v| positive(loc, v, "stack.dynamodb_write_units", "write units per second"))
                .transpose()?,
            dynamodb_partition_read_units: s
                .dynamodb_partition_read_units
                .as_ref()
                .map(|v| positive(loc, v, "stack.dynamodb_partition_read_units", "read units per second"))
                .transpose()?,
            dynamodb_partition_write_units: s
                .dynamodb_partition_write_units
                .as_ref()
                .map(|v| positive(loc, v, "stack.dynamodb_partition_write_units", "write units per second"))
                .transpose()?,
            environment: environment(loc, &s.environment, "stack.environment", env)?,
            iam_routes: match &s.iam_routes {
                Some(v) => {
                    for r in v.get_ref() {
                        local_stack::apigw::routes::RouteKey::parse(r).map_err(|e| {
                            loc.error(span(v), "stack.iam_routes", format!("{e}, e.g. \"GET /items/{{id}}\""))
                        })?;
                    }
                    v.get_ref().clone()
                }
                None => Vec::new(),
            },
            stage_variables: s.stage_variables.clone(),
            ..StackOverrides::default()
        },
    };
    let mut stack = stack;
    if let Some(s) = raw {
        let own = super::own_stack::validate(loc, file, s.infra.as_ref(), &s.functions, &s.tables, env)?;
        (stack.infra, stack.functions, stack.tables) = (own.infra, own.functions, own.tables);
    }
    if let (Some(t), Some(raw_s)) = (stack.timeout, raw.and_then(|s| s.timeout.as_ref()))
        && (t < Duration::from_secs(1) || t > Duration::from_secs(900))
    {
        return Err(loc.error(span(raw_s), "stack.timeout", "Lambda allows 1s to 900s"));
    }
    if let Some(s) = raw {
        concurrency(loc, s, &stack)?;
    }
    Ok(stack)
}

/// The concurrency settings together, against the stack's defaults for those not set: a
/// reservation leaves 100 of the account unreserved, provisioned fits in the reservation.
fn concurrency(loc: &Locator<'_>, raw: &RawStack, o: &StackOverrides) -> Result<(), ScenarioError> {
    let mut c = StackConfig::new("bootstrap");
    o.apply_to(&mut c);
    let Err(why) = c.validate() else { return Ok(()) };
    let (field, at) = if why.contains("provisioned_concurrency") {
        ("stack.provisioned_concurrency", raw.provisioned_concurrency.as_ref().map(span))
    } else if why.contains("reserved_concurrency") {
        ("stack.reserved_concurrency", raw.reserved_concurrency.as_ref().map(span))
    } else {
        return Ok(());
    };
    let at = at.or(raw.account_concurrency.as_ref().map(span)).unwrap_or(0..0);
    Err(loc.error(at, field, why.trim_start_matches("function.").to_owned()))
}
