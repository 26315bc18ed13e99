//! The `loadgen` command: parse the command line, run, exit with the run's code.

use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = loadgen::cli::Cli::try_parse().unwrap_or_else(|e| {
        let code = if e.use_stderr() { loadgen::error::EXIT_BAD_INPUT } else { 0 };
        let _ = e.print();
        std::process::exit(code);
    });
    std::process::exit(loadgen::main_with(cli).await);
}
