//! Logging: one JSON object per line on stdout (CloudWatch Logs keeps each as one event).

/// Installs the JSON subscriber. Level from `AWS_LAMBDA_LOG_LEVEL` (Lambda's advanced logging
/// control) or `RUST_LOG`, default `info`.
pub fn init() {
    let filter = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .map(|v| v.to_lowercase())
        .unwrap_or_else(|_| "info".into());
    let filter =
        tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .try_init();
}
