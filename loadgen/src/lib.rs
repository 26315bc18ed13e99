//! loadgen: load tests and cost simulation for API Gateway → Lambda → DynamoDB.
//!
//! The pipeline, one module per stage, data flowing one way: [`scenario`] (TOML → typed
//! [`scenario::Plan`]) → [`target`] (a URL or the local stack, plus seeding) → [`attack`]
//! (requests at their intended times, sent by [`http`], signed or given tokens by [`auth`]) →
//! [`record`] (outcome classes, histograms, series) → [`results`] (the versioned document) →
//! [`cost`] (prices, CloudWatch, usage) → [`gates`] and [`compare`] (thresholds, baselines) →
//! [`report`] (every renderer). [`cmd`] holds the subcommands — with [`run_to_exit`], the only
//! code that prints or picks exit codes — and domain code reports progress to it through
//! [`event`]; every AWS SDK client is configured by [`sdk`]. `main.rs` parses the command line
//! and hands it to [`run_to_exit`], which runs [`main_with`] and prints an error once.

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

/// The process's whole life after parsing: the runtime, the command, the error printed once,
/// the children ended; returns the exit code.
///
/// It lives here, not in `main.rs`, for the build's sake: `block_on` of the command's future
/// makes the whole async call graph's state machines be generated in whichever crate polls it,
/// and a binary crate doing it compiled that graph a second time (31 of the 101 s of a
/// release build of loadgen, on the critical path of a fresh clone's first run).
pub fn run_to_exit(cli: Cli) -> i32 {
    // With one core to run on (a pinned benchmark, a small CI runner) the single-threaded
    // scheduler does the same work without the multi-threaded one's cross-thread queues and
    // wake-ups; with more, every core gets a worker.
    let one_core = std::thread::available_parallelism().is_ok_and(|n| n.get() == 1);
    let mut builder = if one_core {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    match builder.enable_all().build() {
        Ok(runtime) => {
            let code = match runtime.block_on(main_with(cli)) {
                Ok(code) => code,
                Err(e) => {
                    // A closed stderr must not turn a failed run into a panic (exit 101).
                    errln!("Error: {:#}", error::Chain(&e));
                    e.exit_code()
                }
            };
            // Its tasks stopped first, so none is reaping while every child left is.
            runtime.shutdown_timeout(std::time::Duration::from_millis(500));
            children::end_all(std::time::Duration::from_secs(2));
            code
        }
        Err(e) => {
            errln!("Error: cannot start the async runtime: {e}");
            error::EXIT_NOT_RUN
        }
    }
}

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
