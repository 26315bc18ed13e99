//! A planned Terraform module turned into the stack's settings: every `aws_lambda_function`
//! (with its `aws_lambda_provisioned_concurrency_config`), the HTTP API's routes, integrations,
//! stage and CORS, and every `aws_dynamodb_table` with its keys, indexes and capacity mode.
//! Defaults are the AWS provider's where a file leaves an argument out (memory 128 MB, timeout
//! 3 s, a table `PROVISIONED`, an integration's payload format `1.0`) — the values AWS would
//! deploy, not ours.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hcl::Value;

use super::Described;
use super::load::{Evaluated, Instance, Module};
use crate::config::{Architecture, Cors, DynamoConfig, FunctionConfig, JwtAuthorizer, JwtRoute, StackConfig, Throttle};
use crate::tables::{AttrType, Billing, KeyAttribute, Projection, SecondaryIndex};

/// Resources the local stack has no use for, and why.
const NOT_NEEDED: &[(&str, &str)] = &[
    ("aws_iam_", "IAM is not enforced locally"),
    ("aws_cloudwatch_log_group", "function logs go to files beside the report"),
    ("aws_lambda_permission", "the gateway may always invoke its functions locally"),
    ("aws_apigatewayv2_deployment", "the local API serves its routes as soon as it starts"),
    ("aws_cloudwatch_metric_alarm", "alarms are not evaluated locally"),
];

/// Reads what `i`'s argument `key` evaluated to, naming it in the error.
pub(super) fn value<'a>(i: &'a Instance, body: &'a Evaluated, key: &str) -> Result<Option<&'a Value>, String> {
    match body.get(key) {
        None => Ok(None),
        Some(Ok(Value::Null)) => Ok(None),
        Some(Ok(v)) => Ok(Some(v)),
        Some(Err(e)) => Err(format!("{} ({}): {key} cannot be evaluated here: {e}", i.address(), i.file.display())),
    }
}

pub(super) fn string(i: &Instance, body: &Evaluated, key: &str) -> Result<Option<String>, String> {
    Ok(match value(i, body, key)? {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        Some(other) => return Err(format!("{}: {key} should be a string, got {other}", i.address())),
    })
}

pub(super) fn number(i: &Instance, body: &Evaluated, key: &str) -> Result<Option<f64>, String> {
    match value(i, body, key)? {
        None => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(Value::String(s)) => {
            s.parse().map(Some).map_err(|_| format!("{}: {key} = \"{s}\" is not a number", i.address()))
        }
        Some(other) => Err(format!("{}: {key} should be a number, got {other}", i.address())),
    }
}

/// A number argument that must be finite and within `lo..=hi` (and whole, when `whole`), named
/// with the resource and its file when it is not — as AWS would refuse it.
fn bounded(i: &Instance, body: &Evaluated, key: &str, lo: f64, hi: f64, whole: bool) -> Result<Option<f64>, String> {
    let Some(n) = number(i, body, key)? else { return Ok(None) };
    if !n.is_finite() || n < lo || n > hi || (whole && n.fract() != 0.0) {
        return Err(format!(
            "{} ({}): {key} = {n} is not {} from {lo} to {hi}",
            i.address(),
            i.file.display(),
            if whole { "a whole number" } else { "a number" }
        ));
    }
    Ok(Some(n))
}

pub(super) fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

fn required(i: &Instance, v: Option<String>, key: &str) -> Result<String, String> {
    v.ok_or_else(|| format!("{} ({}): {key} is required", i.address(), i.file.display()))
}

/// The function an integration URI or ARN names: `…:function:NAME[:qualifier][/invocations]`.
fn function_in_arn(uri: &str) -> Option<String> {
    let rest = uri.split(":function:").nth(1)?;
    Some(rest.split(['/', ':']).next()?.to_owned())
}

fn function(i: &Instance, dir: &Path, base: &FunctionConfig) -> Result<FunctionConfig, String> {
    let b = &i.body;
    let name = required(i, string(i, b, "function_name")?, "function_name")?;
    if string(i, b, "package_type")?.as_deref() == Some("Image") || b.get("image_uri").is_some() {
        return Err(format!(
            "{}: function '{name}' is a container image; the local stack runs zip, directory or bootstrap code",
            i.address()
        ));
    }
    let code = match string(i, b, "filename")? {
        Some(f) if Path::new(&f).is_absolute() => PathBuf::from(f),
        Some(f) => dir.join(f),
        None if b.get("s3_bucket").is_some() => {
            return Err(format!(
                "{}: function '{name}' takes its code from S3, which the local stack cannot fetch; \
                 point filename at the deployment zip (or a data \"archive_file\")",
                i.address()
            ));
        }
        None => return Err(format!("{}: function '{name}' has no filename", i.address())),
    };
    let reserved = bounded(i, b, "reserved_concurrent_executions", -1.0, 1e6, true)?.unwrap_or(-1.0);
    let architecture = match strings(value(i, b, "architectures")?).first().map(String::as_str) {
        None | Some("x86_64") => Architecture::X86_64,
        Some("arm64") => Architecture::Arm64,
        Some(other) => return Err(format!("{}: architecture '{other}' is neither x86_64 nor arm64", i.address())),
    };
    let mut environment = Vec::new();
    if let Some(env) = b.block("environment")
        && let Some(Value::Object(vars)) = value(i, env, "variables")?
    {
        for (k, v) in vars {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            environment.push((k.clone(), v));
        }
    }
    Ok(FunctionConfig {
        name,
        code,
        runtime: string(i, b, "runtime")?.unwrap_or_default(),
        handler: string(i, b, "handler")?.unwrap_or_default(),
        routes: Vec::new(),
        memory_mb: bounded(i, b, "memory_size", 128.0, 10_240.0, true)?.unwrap_or(128.0) as u32,
        timeout: Duration::from_secs_f64(bounded(i, b, "timeout", 1.0, 900.0, true)?.unwrap_or(3.0)),
        reserved_concurrency: (reserved >= 0.0).then_some(reserved as u32),
        architecture,
        environment,
        ..base.clone()
    })
}

fn key_type(i: &Instance, attrs: &[(String, AttrType)], name: &str) -> Result<KeyAttribute, String> {
    attrs.iter().find(|(n, _)| n == name).map(|(n, t)| KeyAttribute { name: n.clone(), kind: *t }).ok_or_else(|| {
        format!("{}: key attribute '{name}' has no attribute {{ name = \"{name}\", type = … }} block", i.address())
    })
}

fn projection(i: &Instance, b: &Evaluated) -> Result<Projection, String> {
    Ok(match string(i, b, "projection_type")?.as_deref() {
        None | Some("ALL") => Projection::All,
        Some("KEYS_ONLY") => Projection::KeysOnly,
        Some("INCLUDE") => Projection::Include(strings(value(i, b, "non_key_attributes")?)),
        Some(other) => {
            return Err(format!("{}: projection_type '{other}' is not ALL, KEYS_ONLY or INCLUDE", i.address()));
        }
    })
}

fn table(i: &Instance) -> Result<DynamoConfig, String> {
    let b = &i.body;
    let name = required(i, string(i, b, "name")?, "name")?;
    let mut attrs = Vec::new();
    for a in b.blocks("attribute") {
        let n = required(i, string(i, a, "name")?, "attribute.name")?;
        let t = required(i, string(i, a, "type")?, "attribute.type")?;
        let t = AttrType::parse(&t)
            .ok_or_else(|| format!("{}: attribute '{n}' has type '{t}', not S, N or B", i.address()))?;
        attrs.push((n, t));
    }
    let hash_key = key_type(i, &attrs, &required(i, string(i, b, "hash_key")?, "hash_key")?)?;
    let range_key = string(i, b, "range_key")?.map(|r| key_type(i, &attrs, &r)).transpose()?;
    let mut t = DynamoConfig { hash_key: hash_key.clone(), range_key, ..DynamoConfig::on_demand(&name) };
    for g in b.blocks("global_secondary_index") {
        t.global_indexes.push(SecondaryIndex {
            name: required(i, string(i, g, "name")?, "global_secondary_index.name")?,
            hash_key: key_type(i, &attrs, &required(i, string(i, g, "hash_key")?, "global_secondary_index.hash_key")?)?,
            range_key: string(i, g, "range_key")?.map(|r| key_type(i, &attrs, &r)).transpose()?,
            projection: projection(i, g)?,
        });
    }
    for l in b.blocks("local_secondary_index") {
        t.local_indexes.push(SecondaryIndex {
            name: required(i, string(i, l, "name")?, "local_secondary_index.name")?,
            hash_key: hash_key.clone(),
            range_key: Some(key_type(
                i,
                &attrs,
                &required(i, string(i, l, "range_key")?, "local_secondary_index.range_key")?,
            )?),
            projection: projection(i, l)?,
        });
    }
    // The provider's default billing mode is PROVISIONED.
    match string(i, b, "billing_mode")?.as_deref().unwrap_or("PROVISIONED") {
        "PAY_PER_REQUEST" => {
            // A table may cap its own on-demand throughput; that cap is then its limit.
            if let Some(cap) = b.block("on_demand_throughput") {
                if let Some(r) = bounded(i, cap, "max_read_request_units", -1.0, 1e9, true)?.filter(|r| *r > 0.0) {
                    t.read_units_per_s = r;
                }
                if let Some(w) = bounded(i, cap, "max_write_request_units", -1.0, 1e9, true)?.filter(|w| *w > 0.0) {
                    t.write_units_per_s = w;
                }
            }
        }
        "PROVISIONED" => {
            let read = bounded(i, b, "read_capacity", 1.0, 1e8, true)?;
            let write = bounded(i, b, "write_capacity", 1.0, 1e8, true)?;
            let (Some(read), Some(write)) = (read, write) else {
                return Err(format!(
                    "{}: a PROVISIONED table (the provider's default billing_mode) needs read_capacity and write_capacity; \
                     set them, or billing_mode = \"PAY_PER_REQUEST\"",
                    i.address()
                ));
            };
            t.billing = Billing::Provisioned { read_capacity: read, write_capacity: write };
            (t.read_units_per_s, t.write_units_per_s) = (read, write);
        }
        other => return Err(format!("{}: billing_mode '{other}' is not PAY_PER_REQUEST or PROVISIONED", i.address())),
    }
    Ok(t)
}

pub(super) fn cors(i: &Instance) -> Result<Option<Cors>, String> {
    let Some(c) = i.body.block("cors_configuration") else { return Ok(None) };
    Ok(Some(Cors {
        allow_origins: strings(value(i, c, "allow_origins")?),
        allow_methods: strings(value(i, c, "allow_methods")?),
        allow_headers: strings(value(i, c, "allow_headers")?),
        expose_headers: strings(value(i, c, "expose_headers")?),
        max_age: bounded(i, c, "max_age", 0.0, 86_400.0, true)?.map(|n| n as u32),
        allow_credentials: matches!(value(i, c, "allow_credentials")?, Some(Value::Bool(true))),
    }))
}

/// A stage's throttle block: both values, or 0 for the one left out — which is what the
/// provider sends, and why such a stage answers every request 429.
pub(super) fn throttle(i: &Instance, b: &Evaluated) -> Result<Throttle, String> {
    let rate = bounded(i, b, "throttling_rate_limit", 0.0, 1e7, false)?.unwrap_or(0.0);
    let burst = bounded(i, b, "throttling_burst_limit", 0.0, 1e7, false)?.unwrap_or(0.0);
    Ok(Throttle { rate, burst: burst.ceil() as u32 })
}

/// An integration: its id, the function it invokes, payload version and timeout.
pub(super) struct Integration {
    pub id: String,
    pub function: String,
    pub payload: String,
    pub timeout: Option<Duration>,
}

/// Turns `module` into the stack: `base` gives what Terraform does not say (latency profile,
/// seeds, account).
pub fn build(module: &Module, dir: &Path, base: StackConfig) -> Result<Described, String> {
    let mut notes: Vec<String> = module.skipped.clone();
    let mut ignored = Vec::new();
    let mut functions: Vec<FunctionConfig> = Vec::new();
    let mut tables = Vec::new();
    let mut apis: Vec<&Instance> = Vec::new();
    let mut integrations: Vec<Integration> = Vec::new();
    let mut routes: Vec<(&Instance, String, Option<String>)> = Vec::new();
    let mut iam_routes: Vec<String> = Vec::new();
    let mut jwt_routes: Vec<JwtRoute> = Vec::new();
    let mut authorizers: Vec<JwtAuthorizer> = Vec::new();
    let mut stages: Vec<&Instance> = Vec::new();
    let mut provisioned: Vec<(String, u32)> = Vec::new();
    for i in &module.resources {
        match i.kind.as_str() {
            "aws_lambda_function" => {
                let f = function(i, dir, &base.function)?;
                for (_, key, why) in i.body.block("environment").map(|e| e.left_out.as_slice()).unwrap_or(&[]) {
                    notes.push(format!(
                        "function '{}': environment variable {key} cannot be evaluated here ({why}), so it is left out; \
                         give it with [stack] environment (the first function's) if the function needs it",
                        f.name
                    ));
                }
                functions.push(f);
            }
            "aws_dynamodb_table" => tables.push(table(i)?),
            "aws_apigatewayv2_api" => {
                let protocol = string(i, &i.body, "protocol_type")?.unwrap_or_else(|| "HTTP".into());
                if protocol == "HTTP" {
                    apis.push(i);
                } else {
                    ignored.push(format!("{} (a {protocol} API: the local stack serves HTTP APIs only)", i.address()));
                }
            }
            "aws_apigatewayv2_integration" => {
                let kind = string(i, &i.body, "integration_type")?.unwrap_or_default();
                let uri = string(i, &i.body, "integration_uri")?.unwrap_or_default();
                match function_in_arn(&uri).filter(|_| kind == "AWS_PROXY") {
                    Some(function) => integrations.push(Integration {
                        id: format!("integrations/{}", super::load::short_id(&i.address())),
                        function,
                        payload: string(i, &i.body, "payload_format_version")?.unwrap_or_else(|| "1.0".into()),
                        timeout: bounded(i, &i.body, "timeout_milliseconds", 50.0, 30_000.0, true)?
                            .map(|ms| Duration::from_millis(ms as u64)),
                    }),
                    None => ignored.push(format!(
                        "{} (a {kind} integration: the local stack runs Lambda proxy integrations only)",
                        i.address()
                    )),
                }
            }
            "aws_apigatewayv2_route" => {
                let key = required(i, string(i, &i.body, "route_key")?, "route_key")?;
                let target = string(i, &i.body, "target")?;
                match string(i, &i.body, "authorization_type")?.as_deref() {
                    None | Some("NONE") => {}
                    Some("AWS_IAM") => iam_routes.push(key.clone()),
                    Some("JWT") => jwt_routes.push(JwtRoute {
                        route: key.clone(),
                        authorizer: string(i, &i.body, "authorizer_id")?.unwrap_or_default(),
                        scopes: strings(value(i, &i.body, "authorization_scopes")?),
                    }),
                    Some(auth) => notes.push(format!(
                        "route '{key}' has authorization_type {auth}: the local stack does not check it, every request is let through"
                    )),
                }
                routes.push((i, key, target));
            }
            "aws_apigatewayv2_stage" => stages.push(i),
            "aws_apigatewayv2_authorizer" => match string(i, &i.body, "authorizer_type")?.as_deref() {
                Some("JWT") => authorizers.push(jwt_authorizer(i)?),
                other => notes.push(format!(
                    "{} is a {} authorizer, which the local stack does not run: its routes let every request through",
                    i.address(),
                    other.unwrap_or("REQUEST")
                )),
            },
            "aws_lambda_provisioned_concurrency_config" => {
                let f = required(i, string(i, &i.body, "function_name")?, "function_name")?;
                let n = bounded(i, &i.body, "provisioned_concurrent_executions", 1.0, 1e6, true)?.unwrap_or(0.0) as u32;
                provisioned.push((function_in_arn(&f).unwrap_or(f), n));
            }
            kind => match NOT_NEEDED.iter().find(|(prefix, _)| kind.starts_with(prefix)) {
                Some((_, why)) => ignored.push(format!("{} ({why})", i.address())),
                None => ignored.push(format!("{} (not emulated by the local stack)", i.address())),
            },
        }
    }
    for (f, n) in provisioned {
        match functions.iter_mut().find(|x| x.name == f) {
            Some(x) => x.provisioned_concurrency = n,
            None => notes.push(format!("provisioned concurrency for '{f}', which is not a function here, is left out")),
        }
    }
    let mut described = super::api::assemble(super::api::Parts {
        module,
        base,
        functions,
        tables,
        apis,
        integrations,
        routes,
        stages,
        notes,
        ignored,
    })?;
    // Only the routes the served API keeps: one left out answers 404 before any check.
    let c = &described.config;
    let served = |k: &String| c.api.routes.contains(k) || c.extra_functions.iter().any(|f| f.routes.contains(k));
    let kept: Vec<String> = iam_routes.into_iter().filter(served).collect();
    let mut jwt = Vec::new();
    for r in jwt_routes.into_iter().filter(|r| served(&r.route)) {
        match authorizers.iter().find(|a| a.id == r.authorizer) {
            Some(_) => jwt.push(r),
            None => described.notes.push(format!(
                "route '{}' has authorization_type JWT but no JWT authorizer here: every request is let through",
                r.route
            )),
        }
    }
    described.config.api.iam_routes = kept;
    described.config.api.jwt_routes = jwt;
    described.config.api.jwt_authorizers = authorizers;
    Ok(described)
}

/// A JWT authorizer: its issuer and audiences, and the header its token comes from.
fn jwt_authorizer(i: &Instance) -> Result<JwtAuthorizer, String> {
    let c = i
        .body
        .block("jwt_configuration")
        .ok_or_else(|| format!("{}: a JWT authorizer needs jwt_configuration", i.address()))?;
    let issuer = required(i, string(i, c, "issuer")?, "jwt_configuration.issuer")?;
    let sources = strings(value(i, &i.body, "identity_sources")?);
    let header = match sources.first().map(String::as_str) {
        None => "authorization".to_owned(),
        Some(s) => match s.strip_prefix("$request.header.") {
            Some(h) => h.to_ascii_lowercase(),
            None => {
                return Err(format!("{}: identity source '{s}' is not a header ($request.header.NAME)", i.address()));
            }
        },
    };
    Ok(JwtAuthorizer {
        id: super::load::short_id(&i.address()),
        name: string(i, &i.body, "name")?.unwrap_or_else(|| i.address()),
        issuer,
        audience: strings(value(i, c, "audience")?),
        header,
    })
}
