//! The CloudWatch pull: `GetMetricData` for the run window through `aws-sdk-cloudwatch` — the
//! same calls against AWS (standard credential chain) and against the local stack — for
//! `AWS/Lambda`, `AWS/ApiGateway`, `AWS/DynamoDB` and the local stack's `LocalStack/Lambda`.
//! Waits, bounded and with progress, for data points AWS publishes late.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use serde::{Deserialize, Serialize};

/// The resources whose metrics are pulled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Names {
    /// Lambda function name.
    pub function: String,
    /// HTTP API id.
    pub api_id: String,
    /// Stage name.
    pub stage: String,
    /// DynamoDB table name.
    pub table: String,
    /// Region.
    pub region: String,
}

/// Where CloudWatch is.
#[derive(Debug, Clone)]
pub enum Source {
    /// The local stack's endpoint.
    Local(String),
    /// AWS, with the standard credential chain.
    Aws,
}

/// What was pulled: one summed (or maximal) value per query id.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Pulled {
    /// `local-stack` or `aws`.
    pub source: String,
    /// Query id → value over the window (absent when CloudWatch had no data).
    pub values: BTreeMap<String, f64>,
    /// Metrics requested (what `GetMetricData` bills), over every poll.
    pub metrics_requested: usize,
    /// Window start and end, Unix seconds.
    pub window: (i64, i64),
    /// The single period covering the window, s.
    pub period_s: i32,
    /// Polls made while waiting for late data.
    pub polls: u32,
    /// Lambda `ConcurrentExecutions` (Maximum) over time: `[seconds since the run's start,
    /// value]`, per second on the local stack and per minute on AWS (the metric's finest
    /// period there), for the report's concurrency chart.
    #[serde(default)]
    pub concurrency_series: Vec<[f64; 2]>,
}

/// The id of the per-period concurrency query; it is kept out of [`Pulled::values`].
const SERIES_ID: &str = "series_concurrency";

/// `(id, namespace, metric, stat, by-function | by-api | by-table | by-table-op:<Op>)`.
const QUERIES: &[(&str, &str, &str, &str, &str)] = &[
    ("invocations", "AWS/Lambda", "Invocations", "Sum", "fn"),
    ("errors", "AWS/Lambda", "Errors", "Sum", "fn"),
    ("throttles", "AWS/Lambda", "Throttles", "Sum", "fn"),
    ("duration_sum", "AWS/Lambda", "Duration", "Sum", "fn"),
    ("duration_p50", "AWS/Lambda", "Duration", "p50", "fn"),
    ("duration_p99", "AWS/Lambda", "Duration", "p99", "fn"),
    ("duration_max", "AWS/Lambda", "Duration", "Maximum", "fn"),
    ("concurrency_max", "AWS/Lambda", "ConcurrentExecutions", "Maximum", "fn"),
    ("init_count", "LocalStack/Lambda", "InitDuration", "SampleCount", "fn"),
    ("init_sum", "LocalStack/Lambda", "InitDuration", "Sum", "fn"),
    ("api_count", "AWS/ApiGateway", "Count", "Sum", "api"),
    ("api_4xx", "AWS/ApiGateway", "4xx", "Sum", "api"),
    ("api_5xx", "AWS/ApiGateway", "5xx", "Sum", "api"),
    ("api_latency_p99", "AWS/ApiGateway", "Latency", "p99", "api"),
    ("api_integration_latency_p99", "AWS/ApiGateway", "IntegrationLatency", "p99", "api"),
    ("read_units", "AWS/DynamoDB", "ConsumedReadCapacityUnits", "Sum", "table"),
    ("write_units", "AWS/DynamoDB", "ConsumedWriteCapacityUnits", "Sum", "table"),
    ("read_throttle_events", "AWS/DynamoDB", "ReadThrottleEvents", "Sum", "table"),
    ("write_throttle_events", "AWS/DynamoDB", "WriteThrottleEvents", "Sum", "table"),
    ("throttled_getitem", "AWS/DynamoDB", "ThrottledRequests", "Sum", "op:GetItem"),
    ("throttled_batchgetitem", "AWS/DynamoDB", "ThrottledRequests", "Sum", "op:BatchGetItem"),
    ("throttled_putitem", "AWS/DynamoDB", "ThrottledRequests", "Sum", "op:PutItem"),
    ("throttled_deleteitem", "AWS/DynamoDB", "ThrottledRequests", "Sum", "op:DeleteItem"),
];

fn dim(name: &str, value: &str) -> Dimension {
    Dimension::builder().name(name).value(value).build()
}

fn queries(names: &Names, period: i32, local: bool) -> Vec<MetricDataQuery> {
    let fine = if local { 1 } else { 60 };
    QUERIES
        .iter()
        .map(|(id, ns, m, stat, by)| (*id, *ns, *m, *stat, *by, period))
        .chain([(SERIES_ID, "AWS/Lambda", "ConcurrentExecutions", "Maximum", "fn", fine)])
        // AWS has no LocalStack namespace: INIT durations come from REPORT lines there.
        .filter(|q| local || q.1 != "LocalStack/Lambda")
        .map(|(id, ns, metric, stat, by, period)| {
            let dims = match by {
                "fn" => vec![dim("FunctionName", &names.function)],
                "api" => vec![dim("ApiId", &names.api_id), dim("Stage", &names.stage)],
                "table" => vec![dim("TableName", &names.table)],
                op => vec![dim("TableName", &names.table), dim("Operation", op.trim_start_matches("op:"))],
            };
            let m = Metric::builder().namespace(ns).metric_name(metric).set_dimensions(Some(dims)).build();
            MetricDataQuery::builder()
                .id(id)
                .metric_stat(MetricStat::builder().metric(m).period(period).stat(stat).build())
                .build()
        })
        .collect()
}

async fn client(source: &Source, region: &str) -> aws_sdk_cloudwatch::Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http)
        .region(aws_config::Region::new(region.to_owned()));
    if let Source::Local(url) = source {
        // The local stack checks nothing, but the SDK must sign with something, and must never
        // look for credentials on the instance-metadata address.
        loader = loader.endpoint_url(url).credentials_provider(aws_sdk_cloudwatch::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "loadgen-local",
        ));
    }
    aws_sdk_cloudwatch::Client::new(&loader.load().await)
}

fn secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Pulls the window `[start, end)`. With `expect_count`, waits (up to `max_wait`, polling) until
/// API Gateway's `Count` reaches 99% of the requests the client completed.
pub async fn pull(
    source: Source,
    names: &Names,
    start: SystemTime,
    end: SystemTime,
    expect_count: Option<f64>,
    max_wait: Duration,
    quiet: bool,
) -> Result<Pulled, String> {
    let local = matches!(source, Source::Local(_));
    let cw = client(&source, &names.region).await;
    // One period over the whole window: AWS wants multiples of 60 s; the local stack has 1 s data.
    let (from, to) = if local {
        (secs(start), secs(end) + 1)
    } else {
        let from = secs(start) - secs(start).rem_euclid(60);
        (from, from + ((secs(end) + 1 - from) as f64 / 60.0).ceil() as i64 * 60)
    };
    let period = (to - from).max(1) as i32;
    let queries = queries(names, period, local);
    let waited = Instant::now();
    let mut pulled = Pulled {
        source: if local { "local-stack" } else { "aws" }.into(),
        window: (from, to),
        period_s: period,
        ..Pulled::default()
    };
    loop {
        pulled.polls += 1;
        pulled.metrics_requested += queries.len();
        let out = cw
            .get_metric_data()
            .start_time(DateTime::from_secs(from))
            .end_time(DateTime::from_secs(to))
            .set_metric_data_queries(Some(queries.clone()))
            .send()
            .await
            .map_err(|e| {
                format!("CloudWatch GetMetricData failed: {}", aws_sdk_cloudwatch::error::DisplayErrorContext(&e))
            })?;
        pulled.values.clear();
        for r in out.metric_data_results() {
            let (Some(id), values) = (r.id(), r.values()) else { continue };
            if id == SERIES_ID {
                let t0 = secs(start) as f64;
                let mut points: Vec<[f64; 2]> =
                    r.timestamps().iter().zip(values).map(|(t, v)| [t.secs() as f64 - t0, *v]).collect();
                points.sort_by(|a, b| a[0].total_cmp(&b[0]));
                pulled.concurrency_series = points;
                continue;
            }
            if values.is_empty() {
                continue;
            }
            let v = if id.ends_with("_max") {
                values.iter().copied().fold(f64::MIN, f64::max)
            } else {
                values.iter().sum()
            };
            pulled.values.insert(id.to_owned(), v);
        }
        let count = pulled.values.get("api_count").copied().unwrap_or(0.0);
        let done = expect_count.is_none_or(|want| count >= want * 0.99);
        if done || waited.elapsed() >= max_wait {
            return Ok(pulled);
        }
        if !quiet {
            eprintln!(
                "loadgen: CloudWatch shows {count:.0} of {:.0} requests so far; waiting for late data points ({:.0}s of at most {:.0}s)…",
                expect_count.unwrap_or(0.0),
                waited.elapsed().as_secs_f64(),
                max_wait.as_secs_f64()
            );
        }
        tokio::time::sleep(Duration::from_secs(20)).await;
    }
}
