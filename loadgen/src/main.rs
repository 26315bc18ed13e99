//! The `loadgen` command: parse the command line, run, print an error once, exit with the code.

use clap::Parser;
use loadgen::error::{Chain, EXIT_BAD_INPUT, EXIT_NOT_RUN};

fn main() {
    let cli = loadgen::cli::Cli::try_parse().unwrap_or_else(|e| {
        let code = if e.use_stderr() { EXIT_BAD_INPUT } else { 0 };
        let _ = e.print();
        std::process::exit(code);
    });
    // With one core to run on (a pinned benchmark, a small CI runner) the single-threaded
    // scheduler does the same work without the multi-threaded one's cross-thread queues and
    // wake-ups; with more, every core gets a worker.
    let one_core = std::thread::available_parallelism().is_ok_and(|n| n.get() == 1);
    let mut builder = if one_core {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let code = match builder.enable_all().build() {
        Ok(runtime) => {
            let code = match runtime.block_on(loadgen::main_with(cli)) {
                Ok(code) => code,
                Err(e) => {
                    // A closed stderr must not turn a failed run into a panic (exit 101).
                    loadgen::errln!("Error: {:#}", Chain(&e));
                    e.exit_code()
                }
            };
            // Its tasks stopped first, so none is reaping while every child left is.
            runtime.shutdown_timeout(std::time::Duration::from_millis(500));
            loadgen::children::end_all(std::time::Duration::from_secs(2));
            code
        }
        Err(e) => {
            loadgen::errln!("Error: cannot start the async runtime: {e}");
            EXIT_NOT_RUN
        }
    };
    std::process::exit(code);
}
