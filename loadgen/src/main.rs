//! The `loadgen` command: parse the command line, run, exit with the code.

use clap::Parser;
use loadgen::error::EXIT_BAD_INPUT;

fn main() {
    let cli = loadgen::cli::Cli::try_parse().unwrap_or_else(|e| {
        let code = if e.use_stderr() { EXIT_BAD_INPUT } else { 0 };
        let _ = e.print();
        std::process::exit(code);
    });
    std::process::exit(loadgen::run_to_exit(cli));
}
