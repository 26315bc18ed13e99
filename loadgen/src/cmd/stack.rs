//! `loadgen stack up`: the local stack served on loopback until Ctrl-C — described as `run`
//! describes it (a Terraform directory, a scenario's `[stack]`, or the bundled target-api), on
//! fixed ports when asked — with the addresses, names and environment the aws CLI, SDKs and
//! the user's own app need to use it.

use std::path::PathBuf;
use std::sync::Arc;

use super::progress::Console;
use crate::error::{EXIT_PASS, Error};
use crate::event::Sink;
use crate::scenario::Plan;
use crate::scenario::stack::StackOverrides;
use crate::target;
use crate::target::TargetError;
use crate::target::stack::Source;

/// What `stack up` was asked for.
#[derive(Debug, Clone, Default)]
pub struct Up {
    /// `--infra DIR`.
    pub infra: Option<PathBuf>,
    /// `--scenario FILE`.
    pub scenario: Option<PathBuf>,
    /// `--profile`.
    pub profile: Option<String>,
    /// `--reserved-concurrency`.
    pub reserved_concurrency: Option<u32>,
    /// `--port`, `--dynamodb-port`, `--cloudwatch-port`.
    pub ports: local_stack::config::Ports,
}

/// Serves the described stack until Ctrl-C.
pub async fn up(ask: Up) -> Result<i32, Error> {
    let sink: Arc<dyn Sink> = Arc::new(Console::new("stack", false));
    let (mut overrides, seed) = match &ask.scenario {
        Some(path) => {
            let plan = Plan::from_file(path, &|k| std::env::var(k).ok())?;
            (plan.stack, plan.seed)
        }
        None => (StackOverrides::default(), 1),
    };
    if let Some(p) = &ask.profile {
        if !p.ends_with(".toml") && !local_stack::profile::builtin_names().contains(&p.as_str()) {
            return Err(Error::Usage(format!(
                "--profile {p}: use one of {:?} or a path to a profile .toml",
                local_stack::profile::builtin_names()
            )));
        }
        overrides.latency_profile = Some(p.clone());
    }
    if let Some(r) = ask.reserved_concurrency {
        overrides.reserved_concurrency = Some(r);
    }
    let source = Source::of(&overrides, ask.infra.as_deref());
    let mut described = target::stack::describe(&overrides, seed, &source, None, Some(&sink))?;
    described.config.ports = ask.ports;
    let stack = target::stack::start(&described, &sink).await.map_err(|e| match e {
        TargetError::StackStart(s) => Error::StackUp(s),
        other => other.into(),
    })?;
    let c = &described.config;
    let e = stack.endpoints();
    crate::outln!("Stack:        {}", target::stack::describe_source(&source));
    crate::outln!("API:          {}  (API id {}, stage {})", e.api_url, e.api_id, e.stage);
    if !c.api.iam_routes.is_empty() {
        crate::outln!(
            "IAM:          {} need SigV4 (execute-api, {}) with access key {} / secret {}",
            c.api.iam_routes.join(", "),
            c.region,
            local_stack::apigw::iam::ACCESS_KEY_ID,
            local_stack::apigw::iam::SECRET_ACCESS_KEY
        );
    }
    for (f, log) in c.functions().zip(stack.log_paths()) {
        let routes = if f.name == c.function.name { &c.api.routes } else { &f.routes };
        crate::outln!("Function:     {} ({}, {} MB) — log {}", f.name, f.runtime, f.memory_mb, log.display());
        crate::outln!("              {}", if routes.is_empty() { "no routes".to_owned() } else { routes.join(", ") });
    }
    crate::outln!(
        "DynamoDB:     {}{}",
        e.dynamodb_url,
        if e.tables.is_empty() { " (no tables)".to_owned() } else { format!(" (tables {})", e.tables.join(", ")) }
    );
    crate::outln!("CloudWatch:   {}", e.cloudwatch_url);
    crate::outln!("Lambda:       {}  (Invoke API)", e.lambda_url);
    crate::outln!("CPU:          {}", stack.lambda().cpu_enforcement().describe(c.function.memory_mb));
    crate::outln!("\nPoint the aws CLI and SDKs at it:");
    for line in e.env_exports() {
        crate::outln!("  {line}");
    }
    crate::outln!("\nServing until Ctrl-C (or SIGTERM).");
    crate::attack::switch::next_signal().await;
    // Every function process ended and reaped before this one exits: none left behind.
    stack.stop_and_reap().await;
    Ok(EXIT_PASS)
}
