//! The command line: `run`, `report`, `compare`, `validate` and `stack up`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Load tests and cost simulation for API Gateway → Lambda → DynamoDB.
#[derive(Debug, Parser)]
#[command(
    name = "loadgen",
    version,
    about,
    after_help = "Examples:\n  \
        loadgen run scenarios/spike.toml                      # on the local stack (no AWS account)\n  \
        loadgen run scenarios/steady.toml --target https://abc123.execute-api.us-east-1.amazonaws.com --seed-data\n  \
        loadgen report reports/spike-20261127T073232Z/results.json\n  \
        loadgen compare base/results.json new/results.json\n  \
        loadgen validate scenarios/*.toml\n  \
        loadgen stack up                                      # serve the local stack until Ctrl-C\n\n\
        Exit codes: 0 pass, 1 a threshold failed, 2 bad input or usage, 3 the run could not be carried out"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario and write reports/<scenario>-<UTC time>/results.json.
    #[command(
        after_help = "Examples:\n  loadgen run scenarios/spike.toml\n  loadgen run scenarios/ci-smoke.toml --out reports/ci --quiet\n  loadgen run scenarios/steady.toml --target https://api.example.com --seed-data --seed 7\n  loadgen run scenarios/steady.toml --infra infra/ --seed-data"
    )]
    Run {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// Send the load to this base URL instead of the local stack (overrides [target] url).
        #[arg(long, value_name = "URL", conflicts_with = "infra")]
        target: Option<String>,
        /// Send the requests of the scenario's [targets.NAME] to URL instead of its url
        /// (repeatable: one per named target).
        #[arg(long, value_name = "NAME=URL")]
        target_url: Vec<String>,
        /// Target the stack deployed from this Terraform directory (reads `terraform output -json`);
        /// with --local, run the stack it describes on the local stack instead.
        #[arg(long, value_name = "DIR")]
        infra: Option<PathBuf>,
        /// Run the stack --infra's Terraform describes (functions, routes, tables) on the local stack.
        #[arg(long, requires = "infra", conflicts_with = "target")]
        local: bool,
        /// Do not pull CloudWatch metrics (cost from the REPORT lines and the function's headers,
        /// unknown without them; no reconciliation).
        #[arg(long)]
        no_cloudwatch: bool,
        /// Write `[data] items` into a URL target (`--target`, `--infra`) before the phases:
        /// into its table, or through the API with `[data] seed_via = "api"`; without it a URL
        /// target is never seeded. (`--seed` is the random seed, unrelated.)
        #[arg(long)]
        seed_data: bool,
        /// A price list TOML instead of the built-in one (loadgen/prices.toml).
        #[arg(long, value_name = "FILE")]
        prices: Option<PathBuf>,
        /// Refuse a run against a non-loopback target whose worst-case cost is higher (USD).
        #[arg(long, value_name = "USD", default_value_t = 5.0, value_parser = usd)]
        max_cost_usd: f64,
        /// Directory for results (default reports/<scenario>-<UTC time>).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Seed for the request mix, keys and Poisson arrivals (overrides the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// No progress and no summary on the terminal; a run that does not pass still says why
        /// (verdict, stop reason, failed thresholds) on standard error.
        #[arg(long, short)]
        quiet: bool,
        /// Fail the run (exit 1) when the generator could not keep the schedule (saturated:
        /// late sends, arrivals not sent, no file descriptor), whatever its thresholds say.
        #[arg(long)]
        fail_on_saturation: bool,
        /// Serve the run's live figures at `http://ADDR/metrics` (Prometheus/OpenMetrics text:
        /// requests by class, throttles by layer, ok latency, in flight, cold starts) while it runs.
        #[arg(long, value_name = "ADDR", value_parser = metrics_addr)]
        metrics_addr: Option<std::net::SocketAddr>,
        /// Send the load from N worker Lambdas, each its shard of the schedule (arrival k to worker
        /// k mod N), merged exactly into one run. With no target: N worker processes on the local
        /// stack. Against AWS: the function `infra/fleet/` deploys (see --fleet-function).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=900))]
        fleet: Option<u32>,
        /// The deployed worker function's name or ARN, or the directory of the applied
        /// infra/fleet/ whose outputs name it (default: loadgen-worker).
        #[arg(long, value_name = "NAME|DIR", requires = "fleet")]
        fleet_function: Option<String>,
        /// The longest stretch of the plan one worker invoke sends (e.g. 5m). A longer plan is
        /// cut into back-to-back segments on one schedule, each sent by fresh invokes. Default:
        /// as long as the worker's timeout allows (at most 900 s, less the lead and the drain).
        #[arg(long, value_name = "DURATION", value_parser = segment, requires = "fleet")]
        fleet_segment: Option<std::time::Duration>,
    },
    /// Re-render report.html, junit.xml and summary.md from a results.json.
    #[command(after_help = "Example:\n  loadgen report reports/spike-20261127T073232Z/results.json")]
    Report {
        /// The results document.
        results: PathBuf,
        /// Where to write (default: beside results.json).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Simulate a measured run at other traffic and settings: throttles, cold starts, cost.
    #[command(after_help = "Settings for --set: reserved_concurrency (or \"unreserved\"), provisioned_concurrency,\n\
account_concurrency, keep_warm (s), memory_mb (128-10240), architecture (x86_64, arm64).\n\
Several --set make a grid of every combination.\n\n\
Example:\n  loadgen simulate reports/steady-20261202T040000Z/results.json --traffic 10x \\\n    \
--set reserved_concurrency=10,50,100 --set memory_mb=256,1024\n  \
loadgen simulate reports/steady-20261202T040000Z/results.json --scenario scenarios/spike.toml\n  \
loadgen simulate reports/steady-20261202T040000Z/results.json --traffic-curve last-tuesday.csv")]
    Simulate {
        /// The results document of a local-stack run (it holds the calibration).
        results: PathBuf,
        /// A what-if TOML file: `scenario`, `traffic`, `traffic_curve`, `seed` and a `[set]` table (flags override).
        #[arg(long, value_name = "FILE.toml")]
        whatif: Option<PathBuf>,
        /// Simulate this scenario's phases, request mix and [stack] settings instead of the run's.
        #[arg(long, value_name = "FILE")]
        scenario: Option<PathBuf>,
        /// Replace the phases with a traffic curve: CSV of time and requests per period (CloudWatch Count).
        #[arg(long, value_name = "FILE.csv")]
        traffic_curve: Option<PathBuf>,
        /// Multiply every open-model rate of the run's plan, e.g. 10x or 0.5x.
        #[arg(long, value_name = "FACTOR", allow_hyphen_values = true)]
        traffic: Option<String>,
        /// A setting and the values to simulate, NAME=V1,V2,…; repeat for a grid.
        #[arg(long = "set", value_name = "NAME=VALUES")]
        sets: Vec<String>,
        /// Seed of the first replication (default: the run's).
        #[arg(long)]
        seed: Option<u64>,
        /// A price list TOML instead of the built-in one.
        #[arg(long, value_name = "FILE")]
        prices: Option<PathBuf>,
        /// Where to write simulation.json (default: beside results.json).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Compare a run against a baseline: diff table, compare.html, exit 1 on a regression.
    #[command(after_help = "Allowances: <metric>=<N>% (relative), <N>pp (percentage points, for rates) or <N>ms.\n\
Metrics: latency.{p50,p90,p95,p99,p999,max,mean}, service_time.p99, errors.rate, throttles.rate,\n\
cold_starts.rate, requests.count, rate.achieved, cost.per_million; per request: <name>.latency.p99 etc.\n\n\
Examples:\n  loadgen compare reports/base/results.json reports/new/results.json\n  \
loadgen compare base.json new.json --max-regression \"latency.p99=10%,errors.rate=0.5pp,get-item.latency.p50=5ms\"")]
    Compare {
        /// The baseline results.json.
        base: PathBuf,
        /// The new results.json.
        new: PathBuf,
        /// What may get worse and by how much (default: latency.p99=10%,errors.rate=0.5pp,throttles.rate=0.5pp).
        #[arg(long, value_name = "ALLOWANCES")]
        max_regression: Option<String>,
        /// Where to write compare.html (default: beside the new results.json).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Check scenario files without running them.
    #[command(after_help = "Example:\n  loadgen validate scenarios/*.toml")]
    Validate {
        /// Scenario files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// The local stack.
    Stack {
        /// What to do with it.
        #[command(subcommand)]
        action: StackAction,
    },
}

/// `loadgen stack …`.
#[derive(Debug, Subcommand)]
pub enum StackAction {
    /// Serve API Gateway, Lambda, DynamoDB and CloudWatch on loopback until Ctrl-C: the bundled
    /// target-api stack, or the stack a Terraform directory or a scenario's [stack] describes.
    #[command(
        after_help = "Examples:\n  loadgen stack up\n  loadgen stack up --infra examples/orders --port 3000 --dynamodb-port 8000\n  \
loadgen stack up --scenario examples/orders/load.toml"
    )]
    Up {
        /// The Terraform directory that describes the stack (functions, routes, tables).
        #[arg(long, value_name = "DIR", conflicts_with = "scenario")]
        infra: Option<PathBuf>,
        /// A scenario whose [stack] describes the stack (infra, functions, tables, overrides).
        #[arg(long, value_name = "FILE")]
        scenario: Option<PathBuf>,
        /// Latency profile: aws-typical, none, or a profile .toml (default: the description's, else aws-typical).
        #[arg(long)]
        profile: Option<String>,
        /// Reserved concurrency of the (first) function.
        #[arg(long)]
        reserved_concurrency: Option<u32>,
        /// Serve the HTTP API on this loopback port (default: any free port).
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        port: Option<u16>,
        /// Serve DynamoDB on this loopback port.
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        dynamodb_port: Option<u16>,
        /// Serve CloudWatch on this loopback port.
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        cloudwatch_port: Option<u16>,
        /// Serve Lambda's Invoke API on this loopback port.
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        lambda_port: Option<u16>,
    },
}

/// A `--max-cost-usd` that is no amount.
#[derive(Debug, thiserror::Error)]
#[error("'{0}' is not an amount in USD (a finite number, 0 or more)")]
struct NotUsd(String);

/// A spend limit: a finite number of dollars, 0 or more (`nan` would let every run through).
/// `--metrics-addr` that is no address and port.
#[derive(Debug, thiserror::Error)]
#[error("'{0}' is not an address and port; write e.g. 127.0.0.1:9464 (0.0.0.0:9464 to be scraped from another host)")]
struct NotAddr(String);

/// `--metrics-addr`: an IP address and port, `127.0.0.1:9464`.
fn metrics_addr(text: &str) -> Result<std::net::SocketAddr, NotAddr> {
    text.parse().map_err(|_| NotAddr(text.to_owned()))
}

/// A `--fleet-segment` that is no duration of a second or more.
#[derive(Debug, thiserror::Error)]
#[error("'{0}' is not a duration of 1 s or more; write e.g. 5m or 90s")]
struct NotSegment(String);

/// `--fleet-segment`: a duration of at least a second.
fn segment(text: &str) -> Result<std::time::Duration, NotSegment> {
    match humantime::parse_duration(text.trim()) {
        Ok(d) if d >= std::time::Duration::from_secs(1) => Ok(d),
        _ => Err(NotSegment(text.to_owned())),
    }
}

fn usd(text: &str) -> Result<f64, NotUsd> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(NotUsd(text.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
