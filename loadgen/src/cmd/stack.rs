//! `loadgen stack up`: the local stack served on loopback until Ctrl-C, with the addresses and
//! the environment the aws CLI and SDKs need to use it.

use std::sync::Arc;

use super::progress::Console;
use crate::error::{EXIT_PASS, Error};
use crate::event::Sink;
use crate::target;

/// Serves the stack with `profile` and `reserved_concurrency` until Ctrl-C.
pub async fn up(profile: String, reserved_concurrency: u32) -> Result<i32, Error> {
    let sink: Arc<dyn Sink> = Arc::new(Console::new("stack", false));
    let binary = target::binary::target_api(&sink)?;
    let mut config = local_stack::StackConfig::new(binary);
    config.latency_profile = profile;
    config.function.reserved_concurrency = Some(reserved_concurrency);
    let memory_mb = config.function.memory_mb;
    let stack = local_stack::Stack::start(config).await.map_err(Error::StackUp)?;
    let e = stack.endpoints();
    crate::outln!("API:          {}", e.api_url);
    crate::outln!("DynamoDB:     {} (table {})", e.dynamodb_url, e.table_name);
    crate::outln!("CloudWatch:   {}", e.cloudwatch_url);
    crate::outln!("Function log: {}", stack.log_path().display());
    crate::outln!("CPU:          {}", stack.lambda().cpu_enforcement().describe(memory_mb));
    crate::outln!("\nPoint the aws CLI and SDKs at it:");
    for line in e.env_exports() {
        crate::outln!("  {line}");
    }
    crate::outln!("\nServing until Ctrl-C.");
    tokio::signal::ctrl_c().await.map_err(Error::Signal)?;
    stack.stop();
    Ok(EXIT_PASS)
}
