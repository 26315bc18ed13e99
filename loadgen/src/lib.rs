//! loadgen: load tests and cost simulation for API Gateway → Lambda → DynamoDB.
//!
//! The pipeline, one module per stage: [`scenario`] (TOML → typed [`scenario::Plan`]) →
//! [`target`] (a URL or the local stack, plus seeding) → [`pacer`] + [`attack`] (requests at
//! their intended times) → [`outcome`] (which layer answered) → [`recorder`] (histograms and
//! series) → [`results`] (the versioned document) → [`gates`] (thresholds, exit code) and
//! [`summary`] (terminal). `main.rs` only parses the command line and calls [`main_with`].

pub mod attack;
pub mod billing;
pub mod cli;
pub mod client;
pub mod cloudwatch;
pub mod cost;
pub mod costs;
pub mod error;
pub mod gates;
pub mod keys;
pub mod outcome;
pub mod pacer;
pub mod recorder;
pub mod report;
pub mod results;
pub mod run;
pub mod scenario;
pub mod summary;
pub mod target;

use cli::{Cli, Command, StackAction};
use error::{EXIT_BAD_INPUT, EXIT_NOT_RUN, EXIT_PASS};

/// Runs a parsed command line; returns the process exit code.
pub async fn main_with(cli: Cli) -> i32 {
    match cli.command {
        Command::Run { scenario, target, infra, out, seed, quiet, no_cloudwatch, prices, max_cost_usd } => {
            let opts = run::RunOptions {
                scenario,
                target,
                infra,
                out,
                seed,
                quiet,
                no_cloudwatch,
                prices,
                max_cost_usd: Some(max_cost_usd),
            };
            match run::run(opts).await {
                Ok(outcome) => outcome.exit_code,
                Err(e) => {
                    eprintln!("Error: {e}");
                    e.exit_code()
                }
            }
        }
        Command::Validate { files } => validate(&files),
        Command::Report { results, out } => rerender(&results, out.as_deref()),
        Command::Stack { action: StackAction::Up { profile, reserved_concurrency } } => {
            stack_up(profile, reserved_concurrency).await
        }
    }
}

fn rerender(path: &std::path::Path, out: Option<&std::path::Path>) -> i32 {
    let parsed = std::fs::read_to_string(path).map_err(|e| e.to_string()).and_then(|t| {
        serde_json::from_str::<results::Results>(&t).map_err(|e| format!("not a loadgen results document: {e}"))
    });
    let doc = match parsed {
        Ok(d) if d.schema == results::SCHEMA => d,
        Ok(d) => {
            eprintln!("Error: {}: schema {} is not {}", path.display(), d.schema, results::SCHEMA);
            return EXIT_BAD_INPUT;
        }
        Err(e) => {
            eprintln!("Error: {}: {e}", path.display());
            return EXIT_BAD_INPUT;
        }
    };
    let dir = out
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| path.parent().map(std::path::Path::to_path_buf).unwrap_or_default());
    match report::write_all(&doc, &dir) {
        Ok(()) => {
            println!("wrote {} and {}", dir.join("junit.xml").display(), dir.join("summary.md").display());
            EXIT_PASS
        }
        Err(e) => {
            eprintln!("Error: cannot write to {}: {e}", dir.display());
            EXIT_NOT_RUN
        }
    }
}

fn validate(files: &[std::path::PathBuf]) -> i32 {
    let mut code = EXIT_PASS;
    for f in files {
        match scenario::Plan::from_file(f, &|k| std::env::var(k).ok()) {
            Ok(plan) => println!(
                "ok   {} — {} phase(s), {} request kind(s), {:?}",
                f.display(),
                plan.phases.len(),
                plan.requests.len(),
                plan.duration()
            ),
            Err(e) => {
                eprintln!("FAIL {e}");
                code = EXIT_BAD_INPUT;
            }
        }
    }
    code
}

async fn stack_up(profile: String, reserved_concurrency: u32) -> i32 {
    let binary = match target::target_api_binary(false) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("Error: {e}");
            return e.exit_code();
        }
    };
    let mut config = local_stack::StackConfig::new(binary);
    config.latency_profile = profile;
    config.function.reserved_concurrency = reserved_concurrency;
    let stack = match local_stack::Stack::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("Error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let e = stack.endpoints();
    println!("API:          {}", e.api_url);
    println!("DynamoDB:     {} (table {})", e.dynamodb_url, e.table_name);
    println!("CloudWatch:   {}", e.cloudwatch_url);
    println!("Function log: {}", stack.log_path().display());
    println!("\nPoint the aws CLI and SDKs at it:");
    for line in e.env_exports() {
        println!("  {line}");
    }
    println!("\nServing until Ctrl-C.");
    if tokio::signal::ctrl_c().await.is_err() {
        return EXIT_NOT_RUN;
    }
    stack.stop();
    EXIT_PASS
}
