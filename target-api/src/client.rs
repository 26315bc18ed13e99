//! Builds the DynamoDB client once per execution environment, with the TLS stack and retry
//! policy chosen for a short cold start and short throttled requests.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader};
use aws_sdk_dynamodb::Client;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// SDK retries per DynamoDB call (first try included). The standard mode's 1 s–20 s backoff
/// would turn a throttled request into seconds of billed duration; a function should report
/// the throttle (503 + Retry-After) and let the caller back off instead.
const MAX_ATTEMPTS: u32 = 3;

/// The shared SDK configuration loader: ring TLS, short retries, bounded timeouts. Callers
/// add what differs (an endpoint, static test credentials) before `load()`.
pub fn loader() -> ConfigLoader {
    // ring through rustls: the workspace builds no aws-lc (see the root Cargo.toml).
    let http = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    let retry = RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(20))
        .with_max_backoff(Duration::from_millis(200));
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(5))
        .build();
    aws_config::defaults(BehaviorVersion::latest()).http_client(http).retry_config(retry).timeout_config(timeouts)
}

/// Builds the client from the standard environment: region, credentials and
/// `AWS_ENDPOINT_URL_DYNAMODB` (how the local stack points the function at its emulator).
///
/// Credentials resolve lazily, so nothing goes over the network here.
pub async fn dynamodb_from_env() -> Client {
    Client::new(&loader().load().await)
}
