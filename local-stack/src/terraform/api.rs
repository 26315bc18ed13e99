//! The HTTP API put together from its Terraform resources: which function each route invokes
//! (route `target` → integration → `integration_uri`, or a quick-create API's `target`), the
//! integration's payload version and timeout, the stage's name, throttling and variables, and
//! CORS — then the functions and tables in the order the stack starts them.

use hcl::Value;

use super::Described;
use super::load::{Instance, Module, short_id};
use super::stack::{Integration, cors, string, throttle, value};
use crate::config::{DynamoConfig, FunctionConfig, StackConfig};

/// What [`super::stack::build`] read, to assemble.
pub(super) struct Parts<'a> {
    pub module: &'a Module,
    pub base: StackConfig,
    pub functions: Vec<FunctionConfig>,
    pub tables: Vec<DynamoConfig>,
    pub apis: Vec<&'a Instance>,
    pub integrations: Vec<Integration>,
    pub routes: Vec<(&'a Instance, String, Option<String>)>,
    pub stages: Vec<&'a Instance>,
    pub notes: Vec<String>,
    pub ignored: Vec<String>,
}

/// The API id a route or stage belongs to.
fn api_of(i: &Instance) -> Option<String> {
    i.body.get("api_id").and_then(|v| v.as_ref().ok()).and_then(Value::as_str).map(str::to_owned)
}

/// Assigns every route to its function and builds the stack.
pub(super) fn assemble(p: Parts<'_>) -> Result<Described, String> {
    let Parts { module, mut base, mut functions, tables, apis, integrations, routes, stages, mut notes, mut ignored } =
        p;
    if functions.is_empty() {
        return Err("no aws_lambda_function: the local stack needs a function to run".into());
    }
    let Some(api) = apis.first().copied() else {
        return Err(
            "no aws_apigatewayv2_api with protocol_type = \"HTTP\": loadgen sends its load to the HTTP API in front of the functions"
                .into(),
        );
    };
    let api_id = short_id(&api.address());
    for other in apis.iter().skip(1) {
        ignored.push(format!("{} (one HTTP API per stack: {} is the one served)", other.address(), api.address()));
    }
    // (route key, function, integration) in file order.
    let mut assigned: Vec<(String, String, Option<&Integration>)> = Vec::new();
    if let Some(target) = string(api, &api.body, "target")? {
        // Quick create: the API's own route and integration to one function.
        let key = string(api, &api.body, "route_key")?.unwrap_or_else(|| "$default".into());
        match target.split(":function:").nth(1).and_then(|r| r.split(['/', ':']).next()) {
            Some(f) => assigned.push((key, f.to_owned(), None)),
            None => notes.push(format!("{}: target '{target}' is not a Lambda function; left out", api.address())),
        }
    }
    for (r, key, target) in &routes {
        if api_of(r).is_some_and(|a| a != api_id) {
            ignored.push(format!("{} (a route of another API)", r.address()));
            continue;
        }
        let Some(target) = target else {
            notes.push(format!("route '{key}' has no target (no integration); it is left out, so it answers 404 here"));
            continue;
        };
        match integrations.iter().find(|i| &i.id == target) {
            Some(i) => assigned.push((key.clone(), i.function.clone(), Some(i))),
            None => notes.push(format!(
                "route '{key}' targets {target}, which is not a Lambda proxy integration here; it is left out"
            )),
        }
    }
    // An integration's settings are its function's, whether or not a route uses it yet.
    for f in &mut functions {
        if let Some(i) = integrations.iter().find(|i| i.function == f.name) {
            f.payload_format_version = i.payload.clone();
            f.integration_timeout = i.timeout;
        }
    }
    // Each function's routes and integration settings, functions in the order routes name them.
    let mut ordered: Vec<FunctionConfig> = Vec::new();
    for (key, f, integration) in assigned {
        let Some(pos) = functions.iter().position(|x| x.name == f) else {
            if let Some(x) = ordered.iter_mut().find(|x| x.name == f) {
                x.routes.push(key);
                continue;
            }
            return Err(format!(
                "route '{key}' invokes function '{f}', which no aws_lambda_function here declares; \
                 declare it here or point the integration at one that is"
            ));
        };
        let mut x = functions.remove(pos);
        if let Some(i) = integration {
            x.payload_format_version = i.payload.clone();
            x.integration_timeout = i.timeout;
        }
        x.routes.push(key);
        ordered.push(x);
    }
    if ordered.is_empty() {
        // Deployed, such an API answers every request 404; so does the local one.
        notes.push(format!(
            "{}: no route reaches a function, so every request answers 404 (Not Found) as the deployed API would; \
             give it aws_apigatewayv2_route resources with target = \"integrations/${{…id}}\"",
            api.address()
        ));
        ordered.push(functions.remove(0));
    }
    for f in &functions {
        notes.push(format!("function '{}' has no route on the API, so it is not started", f.name));
    }
    let main = ordered.remove(0);
    base.api.routes = main.routes.clone();
    base.function = FunctionConfig { routes: Vec::new(), ..main };
    base.extra_functions = ordered;
    base.api.api_id = api_id.clone();
    base.api.cors = cors(api)?;
    stage(&mut base, &stages, &api_id, &mut notes)?;
    let mut tables = tables.into_iter();
    base.dynamodb = tables.next().unwrap_or_else(|| DynamoConfig { table_name: String::new(), ..base.dynamodb });
    base.extra_tables = tables.collect();
    base.region = module.region.clone();
    Ok(Described { config: base, notes, ignored })
}

/// The API's stage: its name, throttling (none set means the account's limits alone) and
/// variables.
fn stage(base: &mut StackConfig, stages: &[&Instance], api_id: &str, notes: &mut Vec<String>) -> Result<(), String> {
    let mine: Vec<&&Instance> = stages.iter().filter(|s| api_of(s).is_none_or(|a| a == api_id)).collect();
    let Some(s) = mine.first() else {
        notes.push(
            "no aws_apigatewayv2_stage: AWS serves an API only through a stage; the local stack serves it as $default"
                .into(),
        );
        base.api.stage = "$default".into();
        base.api.stage_throttle = base.api.account_throttle;
        return Ok(());
    };
    base.api.stage = string(s, &s.body, "name")?.unwrap_or_else(|| "$default".into());
    base.api.stage_throttle = match s.body.block("default_route_settings") {
        Some(d) => throttle(s, d)?,
        None => base.api.account_throttle,
    };
    base.api.route_throttles.clear();
    for r in s.body.blocks("route_settings") {
        if let Some(key) = string(s, r, "route_key")? {
            base.api.route_throttles.push((key, throttle(s, r)?));
        }
    }
    if let Some(Value::Object(vars)) = value(s, &s.body, "stage_variables")? {
        base.api.stage_variables = vars
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())))
            .collect();
    }
    for extra in mine.iter().skip(1) {
        notes.push(format!("{}: one stage per API is served locally ({} is)", extra.address(), s.address()));
    }
    Ok(())
}
