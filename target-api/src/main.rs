//! The Lambda entry point: build the client once, then serve invocations through the
//! Runtime API.

use std::time::Instant;

use lambda_http::{Error, LambdaEvent, lambda_runtime, service_fn};
use serde_json::Value;
use target_api::{App, BatchRetry, DynamoStore, diagnostics::Diagnostics};

// The SDK's request path allocates and frees many small objects per call: glibc's malloc and
// free, with the memmove around them, were about a third of the function's user time per
// request, and with mimalloc the local stack's benchmark serves 8-10% more (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// One invocation at a time per environment, so one thread: no worker pool to start at init.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let started = Instant::now();
    target_api::telemetry::init();
    let table = std::env::var("TABLE_NAME")
        .map_err(|_| "TABLE_NAME is not set: the function needs the DynamoDB table name in TABLE_NAME")?;
    let client = target_api::client::dynamodb_from_env().await;
    let app =
        App::new(DynamoStore::new(client, table), BatchRetry::default(), Diagnostics::from_env(started.elapsed()));
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<_, Error>(app.invoke(event.payload, &event.context.request_id).await)
    }))
    .await
}
