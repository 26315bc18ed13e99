//! The stack a scenario describes itself, beside `[stack]`'s overrides: `infra` (a Terraform
//! directory that describes it), `[[stack.function]]` (any function the Lambda Runtime API can
//! run, behind its own routes) and `[[stack.table]]` (a DynamoDB table with its keys, indexes
//! and capacity mode). Paths are relative to the scenario file; each function's code is checked
//! here, so `loadgen validate` finds a missing artifact or handler before a run does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use local_stack::StackConfig;
use local_stack::config::{Architecture, DynamoConfig, FunctionConfig};
use local_stack::tables::{AttrType, Billing, KeyAttribute, Projection, SecondaryIndex};
use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use super::error::{Locator, ScenarioError};
use super::function::{Reservation, environment, reservation};
use super::values::{duration, int_in, positive, span};

/// The word a function's `code` uses for the bundled target-api binary (found or built).
pub const TARGET_API: &str = "target-api";

/// `[[stack.function]]`.
#[allow(missing_docs)]
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFunction {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    #[schemars(with = "String")]
    pub code: Spanned<String>,
    #[schemars(with = "Option<String>")]
    pub runtime: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub handler: Option<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub routes: Vec<Spanned<String>>,
    #[schemars(with = "Option<i64>")]
    pub memory_mb: Option<Spanned<i64>>,
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Spanned<String>>,
    #[schemars(with = "Option<Reservation>")]
    pub reserved_concurrency: Option<Spanned<Reservation>>,
    #[schemars(with = "Option<i64>")]
    pub provisioned_concurrency: Option<Spanned<i64>>,
    #[schemars(with = "Option<String>")]
    pub architecture: Option<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub environment: BTreeMap<String, Spanned<String>>,
}

/// `[[stack.table]]`.
#[allow(missing_docs)]
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTable {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    #[schemars(with = "String")]
    pub hash_key: Spanned<String>,
    #[schemars(with = "Option<String>")]
    pub range_key: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub billing_mode: Option<Spanned<String>>,
    #[schemars(with = "Option<f64>")]
    pub read_capacity: Option<Spanned<f64>>,
    #[schemars(with = "Option<f64>")]
    pub write_capacity: Option<Spanned<f64>>,
    #[serde(default)]
    pub global_index: Vec<RawIndex>,
    #[serde(default)]
    pub local_index: Vec<RawIndex>,
}

/// An index of `[[stack.table]]`.
#[allow(missing_docs)]
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawIndex {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    #[schemars(with = "Option<String>")]
    pub hash_key: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub range_key: Option<Spanned<String>>,
    /// `"ALL"` (default), `"KEYS_ONLY"`, or the non-key attributes to include.
    #[schemars(with = "Option<serde_json::Value>")]
    pub projection: Option<Spanned<toml::Value>>,
}

/// A key written `name` (a string) or `name:S|N|B`.
fn key(loc: &Locator<'_>, v: &Spanned<String>, field: &str) -> Result<KeyAttribute, ScenarioError> {
    let (name, kind) = match v.get_ref().rsplit_once(':') {
        Some((n, t)) => {
            let kind = AttrType::parse(t).ok_or_else(|| {
                loc.error(span(v), field, format!("'{t}' is not a key type; write \"{n}:S\", \"{n}:N\" or \"{n}:B\""))
            })?;
            (n.to_owned(), kind)
        }
        None => (v.get_ref().clone(), AttrType::S),
    };
    if name.is_empty() {
        return Err(loc.error(span(v), field, "a key needs a name, e.g. \"orderId\" or \"createdAt:N\""));
    }
    Ok(KeyAttribute { name, kind })
}

fn projection(loc: &Locator<'_>, v: Option<&Spanned<toml::Value>>, field: &str) -> Result<Projection, ScenarioError> {
    let Some(v) = v else { return Ok(Projection::All) };
    match v.get_ref() {
        toml::Value::String(s) if s == "ALL" => Ok(Projection::All),
        toml::Value::String(s) if s == "KEYS_ONLY" => Ok(Projection::KeysOnly),
        toml::Value::Array(a) if a.iter().all(toml::Value::is_str) => {
            Ok(Projection::Include(a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()))
        }
        _ => Err(loc.error(span(v), field, "use \"ALL\", \"KEYS_ONLY\" or a list of attribute names to include")),
    }
}

fn table(loc: &Locator<'_>, i: usize, t: &RawTable) -> Result<DynamoConfig, ScenarioError> {
    let at = |f: &str| format!("stack.table[{i}].{f}");
    let hash_key = key(loc, &t.hash_key, &at("hash_key"))?;
    let mut c = DynamoConfig {
        hash_key: hash_key.clone(),
        range_key: t.range_key.as_ref().map(|r| key(loc, r, &at("range_key"))).transpose()?,
        ..DynamoConfig::on_demand(t.name.get_ref())
    };
    for (j, g) in t.global_index.iter().enumerate() {
        let f = |x: &str| at(&format!("global_index[{j}].{x}"));
        let Some(h) = &g.hash_key else {
            return Err(loc.error(span(&g.name), f("hash_key"), "a global index needs a hash_key"));
        };
        c.global_indexes.push(SecondaryIndex {
            name: g.name.get_ref().clone(),
            hash_key: key(loc, h, &f("hash_key"))?,
            range_key: g.range_key.as_ref().map(|r| key(loc, r, &f("range_key"))).transpose()?,
            projection: projection(loc, g.projection.as_ref(), &f("projection"))?,
        });
    }
    for (j, l) in t.local_index.iter().enumerate() {
        let f = |x: &str| at(&format!("local_index[{j}].{x}"));
        let Some(r) = &l.range_key else {
            return Err(loc.error(span(&l.name), f("range_key"), "a local index needs a range_key"));
        };
        c.local_indexes.push(SecondaryIndex {
            name: l.name.get_ref().clone(),
            hash_key: hash_key.clone(),
            range_key: Some(key(loc, r, &f("range_key"))?),
            projection: projection(loc, l.projection.as_ref(), &f("projection"))?,
        });
    }
    match t.billing_mode.as_ref().map(|b| (b, b.get_ref().as_str())) {
        None | Some((_, "PAY_PER_REQUEST")) => {}
        Some((b, "PROVISIONED")) => {
            let (Some(r), Some(w)) = (&t.read_capacity, &t.write_capacity) else {
                return Err(loc.error(
                    span(b),
                    at("billing_mode"),
                    "a PROVISIONED table needs read_capacity and write_capacity",
                ));
            };
            let r = positive(loc, r, &at("read_capacity"), "read capacity units")?;
            let w = positive(loc, w, &at("write_capacity"), "write capacity units")?;
            c.billing = Billing::Provisioned { read_capacity: r, write_capacity: w };
            (c.read_units_per_s, c.write_units_per_s) = (r, w);
        }
        Some((b, other)) => {
            return Err(loc.error(
                span(b),
                at("billing_mode"),
                format!("'{other}': use \"PAY_PER_REQUEST\" or \"PROVISIONED\""),
            ));
        }
    }
    local_stack::tables::validate(&c, &format!("stack.table[{i}]"))
        .map_err(|e| loc.error(span(&t.name), at("name"), e))?;
    Ok(c)
}

/// `code` resolved against the scenario's directory (`target-api` stays the word).
fn code_path(dir: &Path, code: &str) -> PathBuf {
    if code == TARGET_API || Path::new(code).is_absolute() { PathBuf::from(code) } else { dir.join(code) }
}

fn function(
    loc: &Locator<'_>,
    dir: &Path,
    i: usize,
    f: &RawFunction,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<FunctionConfig, ScenarioError> {
    let at = |x: &str| format!("stack.function[{i}].{x}");
    let base = StackConfig::new("").function;
    let runtime = f.runtime.as_ref().map(|r| r.get_ref().clone()).unwrap_or_else(|| base.runtime.clone());
    if let (Err(e), Some(r)) = (local_stack::lambda::code::Runtime::parse(&runtime), &f.runtime) {
        return Err(loc.error(span(r), at("runtime"), e));
    }
    let handler = match &f.handler {
        Some(h) => h.get_ref().clone(),
        None if runtime.starts_with("python") => {
            return Err(loc.error(
                span(&f.code),
                at("handler"),
                "a Python function needs handler = \"module.function\", e.g. \"app.lambda_handler\"",
            ));
        }
        None => base.handler.clone(),
    };
    if f.routes.is_empty() {
        return Err(loc.error(
            span(&f.name),
            at("routes"),
            "name the route keys it serves, e.g. routes = [\"GET /orders/{id}\"]",
        ));
    }
    let mut routes = Vec::new();
    for r in &f.routes {
        local_stack::apigw::routes::RouteKey::parse(r.get_ref()).map_err(|e| loc.error(span(r), at("routes"), e))?;
        routes.push(r.get_ref().clone());
    }
    let architecture = match f.architecture.as_ref().map(|a| (a, a.get_ref().as_str())) {
        None | Some((_, "x86_64")) => Architecture::X86_64,
        Some((_, "arm64")) => Architecture::Arm64,
        Some((a, other)) => {
            return Err(loc.error(span(a), at("architecture"), format!("'{other}': use \"x86_64\" or \"arm64\"")));
        }
    };
    let reserved = f
        .reserved_concurrency
        .as_ref()
        .map(|v| reservation(loc, v, &at("reserved_concurrency")))
        .transpose()?
        .flatten();
    let c = FunctionConfig {
        name: f.name.get_ref().clone(),
        code: code_path(dir, f.code.get_ref()),
        runtime,
        handler,
        routes,
        memory_mb: f
            .memory_mb
            .as_ref()
            .map(|m| int_in(loc, m, &at("memory_mb"), 128, 10_240))
            .transpose()?
            .map_or(base.memory_mb, |m| m as u32),
        timeout: f.timeout.as_ref().map(|t| duration(loc, t, &at("timeout"))).transpose()?.unwrap_or(base.timeout),
        reserved_concurrency: reserved,
        provisioned_concurrency: f
            .provisioned_concurrency
            .as_ref()
            .map(|p| int_in(loc, p, &at("provisioned_concurrency"), 0, 1_000_000))
            .transpose()?
            .unwrap_or(0) as u32,
        architecture,
        environment: environment(loc, &f.environment, &at("environment"), env)?,
        ..base
    };
    if c.code.as_os_str() != TARGET_API {
        local_stack::lambda::code::check(&c).map_err(|e| loc.error(span(&f.code), at("code"), e.to_string()))?;
    }
    Ok(c)
}

/// What a scenario says of its stack's make-up.
#[derive(Debug, Default)]
pub struct OwnStack {
    /// `[stack] infra`, resolved.
    pub infra: Option<PathBuf>,
    /// `[[stack.function]]`.
    pub functions: Vec<FunctionConfig>,
    /// `[[stack.table]]`.
    pub tables: Vec<DynamoConfig>,
}

/// Validates `infra`, `[[stack.function]]` and `[[stack.table]]` of the scenario at `file`.
pub(super) fn validate(
    loc: &Locator<'_>,
    file: &Path,
    infra: Option<&Spanned<String>>,
    functions: &[RawFunction],
    tables: &[RawTable],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<OwnStack, ScenarioError> {
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let infra = match infra {
        None => None,
        Some(v) => {
            let p = dir.join(v.get_ref());
            let has_tf = std::fs::read_dir(&p)
                .map(|d| d.filter_map(Result::ok).any(|e| e.path().extension().is_some_and(|x| x == "tf")))
                .unwrap_or(false);
            if !has_tf {
                return Err(loc.error(
                    span(v),
                    "stack.infra",
                    format!(
                        "{} holds no .tf files; give the directory of the stack's Terraform, relative to this file",
                        p.display()
                    ),
                ));
            }
            Some(p)
        }
    };
    let mut out = OwnStack { infra, ..OwnStack::default() };
    for (i, f) in functions.iter().enumerate() {
        let c = function(loc, dir, i, f, env)?;
        if out.functions.iter().any(|o| o.name == c.name) {
            return Err(loc.error(
                span(&f.name),
                format!("stack.function[{i}].name"),
                format!("two functions are named '{}'", c.name),
            ));
        }
        for r in &c.routes {
            if let Some(o) = out.functions.iter().find(|o| o.routes.contains(r)) {
                let at = f.routes.iter().find(|x| x.get_ref() == r).map_or(0..0, span);
                return Err(loc.error(
                    at,
                    format!("stack.function[{i}].routes"),
                    format!("'{r}' is already served by function '{}'", o.name),
                ));
            }
        }
        out.functions.push(c);
    }
    for (i, t) in tables.iter().enumerate() {
        let c = table(loc, i, t)?;
        if out.tables.iter().any(|o| o.table_name == c.table_name) {
            return Err(loc.error(
                span(&t.name),
                format!("stack.table[{i}].name"),
                format!("two tables are named '{}'", c.table_name),
            ));
        }
        out.tables.push(c);
    }
    Ok(out)
}
