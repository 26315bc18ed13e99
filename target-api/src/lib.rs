//! target-api: the Lambda function under test — an items REST API over a single `PK`/`SK`
//! DynamoDB table, serving both the BatchGetItem and the per-item GetItem read patterns.
//!
//! The pipeline inside one invocation: [`lambda`] (event → [`app::ApiRequest`]) →
//! [`routes`] (validated [`routes::Route`]) → [`app`] (DynamoDB through [`store::Store`]) →
//! [`lambda::ProxyResponse`], with [`diagnostics`] headers and one log line.

pub mod app;
pub mod attr;
pub mod client;
pub mod diagnostics;
pub mod error;
pub mod lambda;
pub mod routes;
pub mod store;
pub mod telemetry;

pub use app::{ApiRequest, ApiResponse, App, BatchRetry};
pub use store::{DynamoStore, Store};
