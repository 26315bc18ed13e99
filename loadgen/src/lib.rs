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
pub mod compare;
pub mod conn;
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
pub mod timer;

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
        Command::Compare { base, new, max_regression, out } => {
            compare_runs(&base, &new, max_regression.as_deref(), out.as_deref())
        }
        Command::Stack { action: StackAction::Up { profile, reserved_concurrency } } => {
            stack_up(profile, reserved_concurrency).await
        }
    }
}

fn rerender(path: &std::path::Path, out: Option<&std::path::Path>) -> i32 {
    let doc = match compare::load(path) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("Error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let dir = out
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| path.parent().map(std::path::Path::to_path_buf).unwrap_or_default());
    match report::write_all(&doc, &dir) {
        Ok(()) => {
            println!("wrote report.html, junit.xml and summary.md in {}", dir.display());
            EXIT_PASS
        }
        Err(e) => {
            eprintln!("Error: cannot write to {}: {e}", dir.display());
            EXIT_NOT_RUN
        }
    }
}

fn compare_runs(
    base: &std::path::Path,
    new: &std::path::Path,
    allowances: Option<&str>,
    out: Option<&std::path::Path>,
) -> i32 {
    let parsed = compare::parse_allowances(allowances.unwrap_or(compare::DEFAULT_ALLOWANCE))
        .and_then(|a| Ok((compare::load(base)?, compare::load(new)?, a)));
    let (b, n, allow) = match parsed {
        Ok(x) => x,
        Err(e) => {
            eprintln!("Error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let c = match compare::compare(&b, &n, &allow) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    if !c.unmatched.is_empty() {
        eprintln!(
            "Error: --max-regression names {} but these runs have no such metric; see `loadgen compare --help` for the names",
            c.unmatched.join(", ")
        );
        return EXIT_BAD_INPUT;
    }
    println!("loadgen compare: {} → {}\n", base.display(), new.display());
    print!("{}", compare::table(&c));
    let dir = out
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| new.parent().map(std::path::Path::to_path_buf).unwrap_or_default());
    let file = dir.join("compare.html");
    if let Err(e) =
        std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&file, report::compare_html::render(&b, &n, &c)))
    {
        eprintln!("Error: cannot write {}: {e}", file.display());
        return EXIT_NOT_RUN;
    }
    let regressed: Vec<&str> = c.rows.iter().filter(|r| r.regressed).map(|r| r.key.as_str()).collect();
    if regressed.is_empty() {
        println!("\n  verdict: no regression\n  report:  {}", file.display());
        EXIT_PASS
    } else {
        println!("\n  verdict: REGRESSED ({})\n  report:  {}", regressed.join(", "), file.display());
        error::EXIT_GATE_FAILED
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
