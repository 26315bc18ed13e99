//! The `loadgen` command: parse the command line, run, exit with the run's code.

use clap::Parser;

fn main() {
    let cli = loadgen::cli::Cli::try_parse().unwrap_or_else(|e| {
        let code = if e.use_stderr() { loadgen::error::EXIT_BAD_INPUT } else { 0 };
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
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            std::process::exit(loadgen::error::EXIT_NOT_RUN);
        }
    };
    std::process::exit(runtime.block_on(loadgen::main_with(cli)));
}
