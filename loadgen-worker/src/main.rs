//! `loadgen-worker`: the fleet's Lambda function. Each invocation carries one
//! [`ShardOrder`] — the plan, the shard, the target and the common start — and answers with the
//! shard's [`ShardReport`], which the coordinator (`loadgen run --fleet N`) merges exactly with
//! the others'. The engine is loadgen's own: a worker sends exactly what a single host would of
//! its share of the schedule.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use loadgen::fleet::{ShardOrder, ShardReport, worker};

async fn handle(event: LambdaEvent<ShardOrder>) -> Result<ShardReport, Error> {
    // A refused or late shard, or one whose results exceed what an invoke may answer, is a
    // function error: the coordinator counts its arrivals as lost and names it.
    let report = worker::run_shard(event.payload).await.map_err(|e| Error::from(e.to_string()))?;
    worker::answer(&report).map_err(|e| Error::from(e.to_string()))?;
    Ok(report)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handle)).await
}
