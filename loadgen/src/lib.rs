//! loadgen: load tests and cost simulation for API Gateway → Lambda → DynamoDB.
//!
//! The pipeline, one module per stage, data flowing one way: [`scenario`] (TOML → typed
//! [`scenario::Plan`]) → [`target`] (a URL or the local stack, plus seeding) → [`attack`]
//! (requests at their intended times, sent by [`http`], signed or given tokens by [`auth`]) →
//! [`record`] (outcome classes, histograms, series) → [`results`] (the versioned document) →
//! [`cost`] (prices, CloudWatch, usage) → [`gates`] and [`compare`] (thresholds, baselines) →
//! [`report`] (every renderer). [`cmd`] holds the subcommands — the only code that prints or
//! picks exit codes — and domain code reports progress to it through [`event`]; every AWS SDK
//! client is configured by [`sdk`]. `main.rs` parses the command line, calls [`main_with`] and
//! prints an error once.

pub mod attack;
pub mod auth;
pub mod children;
pub mod cli;
pub mod cmd;
pub mod compare;
pub mod cost;
pub mod error;
pub mod event;
pub mod files;
pub mod fleet;
pub mod gates;
pub mod http;
pub mod live_metrics;
pub mod money;
pub mod record;
pub mod report;
pub mod results;
pub mod scenario;
pub mod sdk;
pub mod simulate;
pub mod stdout;
pub mod target;

use cli::{Cli, Command, StackAction};

/// Runs a parsed command line; returns the process exit code, or the error that stopped it.
pub async fn main_with(cli: Cli) -> Result<i32, error::Error> {
    match cli.command {
        Command::Run {
            scenario,
            target,
            target_url,
            infra,
            local,
            out,
            seed,
            quiet,
            no_cloudwatch,
            seed_data,
            prices,
            max_cost_usd,
            fail_on_saturation,
            metrics_addr,
            fleet,
            fleet_function,
            fleet_segment,
        } => {
            let opts = cmd::run::RunOptions {
                scenario,
                target,
                target_urls: target_url,
                infra,
                local,
                out,
                seed,
                quiet,
                no_cloudwatch,
                seed_data,
                prices,
                max_cost_usd: Some(max_cost_usd),
                fail_on_saturation,
                metrics_addr,
                fleet: fleet.map(|workers| cmd::fleet::Ask {
                    workers,
                    function: fleet_function,
                    segment: fleet_segment,
                    region: None,
                    planned: None,
                }),
            };
            Ok(cmd::run::run(opts).await?.exit_code)
        }
        Command::Validate { files } => Ok(cmd::validate::validate(&files)),
        Command::Report { results, out } => cmd::report::rerender(&results, out.as_deref()),
        Command::Simulate { results, whatif, scenario, traffic_curve, traffic, sets, seed, prices, out } => {
            let ask = cmd::simulate::Ask { whatif, scenario, traffic_curve, traffic, sets, seed, prices, out };
            cmd::simulate::simulate(&results, &ask)
        }
        Command::Compare { base, new, max_regression, out } => {
            cmd::compare::compare_runs(&base, &new, max_regression.as_deref(), out.as_deref())
        }
        Command::Stack {
            action:
                StackAction::Up {
                    infra,
                    scenario,
                    profile,
                    reserved_concurrency,
                    port,
                    dynamodb_port,
                    cloudwatch_port,
                    lambda_port,
                },
        } => {
            let ask = cmd::stack::Up {
                infra,
                scenario,
                profile,
                reserved_concurrency,
                ports: local_stack::config::Ports {
                    api: port,
                    dynamodb: dynamodb_port,
                    cloudwatch: cloudwatch_port,
                    lambda: lambda_port,
                },
            };
            cmd::stack::up(ask).await
        }
    }
}
