//! Between the target's set-up and the phases: each target's authorizer started (credentials
//! and tokens fetched), `[data]` seeded — into the table or through the API — and the measured
//! window's start chosen.

use std::sync::Arc;
use std::time::SystemTime;

use local_stack::Stack;

use crate::cost;
use crate::error::Error;
use crate::event::Sink;
use crate::results::TargetInfo;
use crate::scenario::Plan;
use crate::scenario::seed_data::SeedVia;
use crate::{http, target};

/// What the phases need once the target is up: the client, each target's authorizer
/// (credentials and tokens before the first request: seeding through the API sends some), the
/// data seeded and the measured window's start, with the function logs read from there on.
pub(super) async fn ready(
    plan: &Arc<Plan>,
    no_cloudwatch: bool,
    (info, stack, base): (&TargetInfo, Option<&Stack>, &str),
    ctx: &mut cost::TargetFacts,
    sink: &Arc<dyn Sink>,
) -> Result<((http::HttpClient, http::Connector), Vec<Option<Arc<crate::auth::Authorizer>>>, SystemTime), Error> {
    let client = http::client::build(plan.target.max_in_flight.min(4096), plan.target.http2).map_err(Error::Tls)?;
    let reserved = info.concurrency_limit();
    let auth = authorizers(plan, (stack.is_some(), base), &ctx.region, sink).await?;
    let default_auth = auth.first().and_then(Option::as_deref);
    seed(plan, info, stack, &ctx.region, (base, reserved, default_auth), sink).await?;
    let window_start = cost::stage::align_start(ctx, plan.data.seeded_items() > 0 && !no_cloudwatch, sink).await;
    let logs = ctx.log.iter_mut().chain(ctx.more_logs.iter_mut().map(|m| &mut m.log));
    for (path, offset) in logs {
        *offset = std::fs::metadata(&*path).map(|m| m.len()).unwrap_or(0);
    }
    Ok((client, auth, window_start))
}

/// What authorizes each target's requests (`[target]`'s first, then each `[targets.NAME]`'s),
/// started: first credentials or token fetched.
async fn authorizers(
    plan: &Plan,
    (local, url): (bool, &str),
    region: &str,
    sink: &Arc<dyn Sink>,
) -> Result<Vec<Option<Arc<crate::auth::Authorizer>>>, Error> {
    let mut out = Vec::with_capacity(1 + plan.targets.len());
    out.push(match &plan.target.auth {
        None => None,
        Some(a) => {
            let place = match local {
                true => crate::auth::Place::LocalStack { region },
                false => crate::auth::Place::Url { url, region },
            };
            let started = crate::auth::Authorizer::start(a, place, sink).await;
            Some(Arc::new(started.map_err(|source| Error::Auth { table: "target".into(), source })?))
        }
    });
    // A named target is always a URL: its region comes from it or the environment.
    for t in &plan.targets {
        out.push(match &t.auth {
            None => None,
            Some(a) => {
                let place = crate::auth::Place::Url { url: &t.url, region };
                let started = crate::auth::Authorizer::start(a, place, sink).await;
                Some(Arc::new(started.map_err(|source| Error::Auth { table: format!("targets.{}", t.name), source })?))
            }
        });
    }
    Ok(out)
}

/// Seeds `[data]` as asked: into the table (the local stack's, or with `--seed-data` a URL
/// target's by name), or through the API.
async fn seed(
    plan: &Plan,
    info: &TargetInfo,
    stack: Option<&Stack>,
    region: &str,
    (base, reserved, auth): (&str, Option<u32>, Option<&crate::auth::Authorizer>),
    sink: &Arc<dyn Sink>,
) -> Result<(), Error> {
    use target::seed_table::Table;
    if plan.data.seeded_items() == 0 {
        return Ok(());
    }
    if plan.data.seed_via == SeedVia::Api {
        return Ok(target::seed::seed(plan, auth, base, reserved, sink).await?);
    }
    let table = match (stack, &info.stack) {
        (Some(stack), Some(config)) => {
            let names: Vec<&str> = config.tables().map(|t| t.table_name.as_str()).collect();
            let name = plan.data.table.clone().or_else(|| names.first().map(|n| n.to_string()));
            let Some(t) = name.as_deref().and_then(|n| config.tables().find(|t| t.table_name == n)) else {
                let why = match &plan.data.table {
                    Some(n) => format!("'{n}' is not a table of the stack (its tables: {})", names.join(", ")),
                    None => "the stack has no table; declare one, or set [data] seed_via = \"api\"".to_owned(),
                };
                return Err(target::TargetError::SeedTable(why).into());
            };
            Table {
                name: t.table_name.clone(),
                region: config.region.clone(),
                endpoint: Some(stack.endpoints().dynamodb_url.clone()),
                keys: Some((t.hash_key.clone(), t.range_key.clone())),
            }
        }
        _ => {
            let name = plan
                .data
                .table
                .clone()
                .or_else(|| info.infra.as_ref().and_then(|o| o.table_name.clone()))
                .or_else(|| plan.target.aws.as_ref().map(|a| a.table_name.clone()));
            let Some(name) = name.filter(|n| !n.is_empty()) else {
                return Err(target::TargetError::SeedTable(
                    "the table's name is not known: pass --infra DIR, set [target] table_name or [data] table, \
                     or seed through the API with [data] seed_via = \"api\""
                        .into(),
                )
                .into());
            };
            // A table behind a loopback API is a local one: never write to AWS's table of that
            // name unless the SDK is pointed elsewhere on purpose.
            if target::url::is_loopback(&info.url) && std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_none() {
                return Err(target::TargetError::SeedTable(format!(
                    "the target {} is on loopback, so table '{name}' is not AWS's: export AWS_ENDPOINT_URL_DYNAMODB \
                     (loadgen stack up prints it) or seed through the API with [data] seed_via = \"api\"",
                    info.url
                ))
                .into());
            }
            Table { name, region: region.to_owned(), endpoint: None, keys: None }
        }
    };
    Ok(target::seed_table::seed(plan, &table, sink).await?)
}
