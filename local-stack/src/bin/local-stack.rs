//! Runs the local stack alone until Ctrl-C (loadgen's `stack up` will take this over).

use std::path::PathBuf;

use clap::Parser;
use local_stack::{Stack, StackConfig};

/// Serve API Gateway, Lambda (running target-api), DynamoDB and CloudWatch on loopback.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The target-api binary each Lambda environment runs.
    #[arg(long, default_value = "target/release/target-api")]
    binary: PathBuf,
    /// Latency profile: aws-typical, none, or a path to a profile .toml.
    #[arg(long, default_value = "aws-typical")]
    profile: String,
    /// Reserved concurrency of the function.
    #[arg(long)]
    reserved_concurrency: Option<u32>,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let mut config = StackConfig::new(args.binary);
    config.latency_profile = args.profile;
    if let Some(n) = args.reserved_concurrency {
        config.function.reserved_concurrency = n;
    }
    let stack = match Stack::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("Error: {e}");
            std::process::exit(2);
        }
    };
    let e = stack.endpoints();
    println!("API:         {}", e.api_url);
    println!("DynamoDB:    {} (table {})", e.dynamodb_url, e.table_name);
    println!("CloudWatch:  {}", e.cloudwatch_url);
    println!("Function log: {}", stack.log_path().display());
    println!("\nPoint the aws CLI and SDKs at it:");
    for line in e.env_exports() {
        println!("  {line}");
    }
    println!("\nServing until Ctrl-C.");
    let _ = tokio::signal::ctrl_c().await;
    stack.stop();
}
