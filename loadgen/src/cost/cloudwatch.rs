//! The CloudWatch pull: `GetMetricData` for the run window through `aws-sdk-cloudwatch` — the
//! same calls against AWS (standard credential chain) and against the local stack — for
//! `AWS/Lambda`, `AWS/ApiGateway`, `AWS/DynamoDB` and the local stack's `LocalStack/Lambda`.
//! Waits, bounded and with progress, for data points AWS publishes late.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};

use local_stack::rules::ThrottleReason;

use crate::event::{Event, Sink};
use crate::results::{CloudWatchSource, MetricId, Pulled};

/// The resources whose metrics are pulled.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Names {
    /// Lambda function name (the main one: percentiles and the concurrency series are its).
    pub function: String,
    /// The stack's other functions: their counts and sums are added to the main one's.
    pub more_functions: Vec<String>,
    /// The stack's other tables, added likewise.
    pub more_tables: Vec<String>,
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

/// The id of the per-period concurrency query; it is kept out of [`Pulled::values`].
const SERIES_ID: &str = "series_concurrency";

/// Which resource a metric's dimensions name.
#[derive(Debug, Clone, Copy)]
enum By {
    /// `FunctionName`.
    Function,
    /// `ApiId` and `Stage`.
    Api,
    /// `TableName`.
    Table,
    /// `TableName` and `Operation`.
    TableOp(&'static str),
    /// `FunctionName` and the local stack's throttle `Reason`.
    FunctionReason(&'static str),
}

/// `(id, namespace, metric, statistic, dimensions)` of every query.
const QUERIES: &[(MetricId, &str, &str, &str, By)] = &[
    (MetricId::Invocations, "AWS/Lambda", "Invocations", "Sum", By::Function),
    (MetricId::Errors, "AWS/Lambda", "Errors", "Sum", By::Function),
    (MetricId::Throttles, "AWS/Lambda", "Throttles", "Sum", By::Function),
    (MetricId::DurationSum, "AWS/Lambda", "Duration", "Sum", By::Function),
    (MetricId::DurationP50, "AWS/Lambda", "Duration", "p50", By::Function),
    (MetricId::DurationP99, "AWS/Lambda", "Duration", "p99", By::Function),
    (MetricId::DurationMax, "AWS/Lambda", "Duration", "Maximum", By::Function),
    (MetricId::ConcurrencyMax, "AWS/Lambda", "ConcurrentExecutions", "Maximum", By::Function),
    (MetricId::InitCount, "LocalStack/Lambda", "InitDuration", "SampleCount", By::Function),
    (MetricId::InitSum, "LocalStack/Lambda", "InitDuration", "Sum", By::Function),
    (
        MetricId::ThrottlesConcurrency,
        "LocalStack/Lambda",
        "Throttles",
        "Sum",
        By::FunctionReason(ThrottleReason::ReservedConcurrency.label()),
    ),
    (
        MetricId::ThrottlesInvocationRate,
        "LocalStack/Lambda",
        "Throttles",
        "Sum",
        By::FunctionReason(ThrottleReason::InvocationRate.label()),
    ),
    (
        MetricId::ThrottlesAccountConcurrency,
        "LocalStack/Lambda",
        "Throttles",
        "Sum",
        By::FunctionReason(ThrottleReason::AccountConcurrency.label()),
    ),
    (
        MetricId::ThrottlesAccountInvocationRate,
        "LocalStack/Lambda",
        "Throttles",
        "Sum",
        By::FunctionReason(ThrottleReason::AccountInvocationRate.label()),
    ),
    (
        MetricId::ThrottlesScalingRate,
        "LocalStack/Lambda",
        "Throttles",
        "Sum",
        By::FunctionReason(ThrottleReason::ScalingRate.label()),
    ),
    (MetricId::ProvisionedInvocations, "AWS/Lambda", "ProvisionedConcurrencyInvocations", "Sum", By::Function),
    (MetricId::SpilloverInvocations, "AWS/Lambda", "ProvisionedConcurrencySpilloverInvocations", "Sum", By::Function),
    (MetricId::ApiCount, "AWS/ApiGateway", "Count", "Sum", By::Api),
    (MetricId::Api4xx, "AWS/ApiGateway", "4xx", "Sum", By::Api),
    (MetricId::Api5xx, "AWS/ApiGateway", "5xx", "Sum", By::Api),
    (MetricId::ApiLatencyP99, "AWS/ApiGateway", "Latency", "p99", By::Api),
    (MetricId::ApiIntegrationLatencyP99, "AWS/ApiGateway", "IntegrationLatency", "p99", By::Api),
    (MetricId::ReadUnits, "AWS/DynamoDB", "ConsumedReadCapacityUnits", "Sum", By::Table),
    (MetricId::WriteUnits, "AWS/DynamoDB", "ConsumedWriteCapacityUnits", "Sum", By::Table),
    (MetricId::ReadThrottleEvents, "AWS/DynamoDB", "ReadThrottleEvents", "Sum", By::Table),
    (MetricId::WriteThrottleEvents, "AWS/DynamoDB", "WriteThrottleEvents", "Sum", By::Table),
    (MetricId::ThrottledGetItem, "AWS/DynamoDB", "ThrottledRequests", "Sum", By::TableOp("GetItem")),
    (MetricId::ThrottledBatchGetItem, "AWS/DynamoDB", "ThrottledRequests", "Sum", By::TableOp("BatchGetItem")),
    (MetricId::ThrottledPutItem, "AWS/DynamoDB", "ThrottledRequests", "Sum", By::TableOp("PutItem")),
    (MetricId::ThrottledDeleteItem, "AWS/DynamoDB", "ThrottledRequests", "Sum", By::TableOp("DeleteItem")),
];

/// Statistics that are a maximum over the window rather than a sum.
fn is_max(id: MetricId) -> bool {
    matches!(id, MetricId::DurationMax | MetricId::ConcurrencyMax)
}

fn dim(name: &str, value: &str) -> Dimension {
    Dimension::builder().name(name).value(value).build()
}

/// A query id for the `n`th resource of a kind: the metric's own id for the main one,
/// `<id>__<n>` for the others.
fn query_id(id: &str, n: usize) -> String {
    if n == 0 { id.to_owned() } else { format!("{id}__{n}") }
}

/// Whether a statistic adds up across functions or tables: counts and sums do; percentiles
/// and maxima (compared with the main function's own limits) stay the main function's.
fn adds_up(stat: &str) -> bool {
    matches!(stat, "Sum" | "SampleCount")
}

fn queries(names: &Names, period: i32, local: bool) -> Vec<MetricDataQuery> {
    let fine = if local { 1 } else { 60 };
    let functions: Vec<&String> = std::iter::once(&names.function).chain(&names.more_functions).collect();
    let tables: Vec<&String> =
        std::iter::once(&names.table).chain(&names.more_tables).filter(|t| !t.is_empty()).collect();
    let mut out = Vec::new();
    let all = QUERIES
        .iter()
        .map(|(id, ns, m, stat, by)| (id.as_str(), *ns, *m, *stat, *by, period))
        .chain([(SERIES_ID, "AWS/Lambda", "ConcurrentExecutions", "Maximum", By::Function, fine)])
        // AWS has no LocalStack namespace: INIT durations come from REPORT lines there.
        .filter(|q| local || q.1 != "LocalStack/Lambda");
    for (id, ns, metric, stat, by, period) in all {
        // Every function's and table's counts; the main one's alone for percentiles and series.
        let many = adds_up(stat) && id != SERIES_ID;
        let dims: Vec<Vec<Dimension>> = match by {
            By::Function => functions.iter().map(|f| vec![dim("FunctionName", f)]).collect(),
            By::FunctionReason(r) => functions.iter().map(|f| vec![dim("FunctionName", f), dim("Reason", r)]).collect(),
            By::Api => vec![vec![dim("ApiId", &names.api_id), dim("Stage", &names.stage)]],
            By::Table => tables.iter().map(|t| vec![dim("TableName", t)]).collect(),
            By::TableOp(op) => tables.iter().map(|t| vec![dim("TableName", t), dim("Operation", op)]).collect(),
        };
        for (n, dims) in dims.into_iter().enumerate().take(if many { usize::MAX } else { 1 }) {
            let m = Metric::builder().namespace(ns).metric_name(metric).set_dimensions(Some(dims)).build();
            out.push(
                MetricDataQuery::builder()
                    .id(query_id(id, n))
                    .metric_stat(MetricStat::builder().metric(m).period(period).stat(stat).build())
                    .build(),
            );
        }
    }
    out
}

async fn client(source: &Source, region: &str) -> aws_sdk_cloudwatch::Client {
    let endpoint = match source {
        Source::Local(url) => Some(url.as_str()),
        Source::Aws => None,
    };
    aws_sdk_cloudwatch::Client::new(&crate::sdk::config(endpoint, region).await)
}

fn secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Why the pull failed.
#[derive(Debug, thiserror::Error)]
pub enum CloudWatchError {
    /// The call itself failed (credentials, network, an unknown metric).
    #[error("CloudWatch GetMetricData failed: {0}")]
    GetMetricData(String),
}

/// What to pull and how long to wait for it.
#[derive(Debug, Clone)]
pub struct Pull<'a> {
    /// Where CloudWatch is.
    pub source: Source,
    /// The resources.
    pub names: &'a Names,
    /// The run window, `[start, end)`.
    pub window: (SystemTime, SystemTime),
    /// Wait (polling) until API Gateway's `Count` reaches 99% of this many requests.
    pub expect_count: Option<f64>,
    /// The most to wait for late data points.
    pub max_wait: Duration,
}

/// Pulls the window, reporting waits for late data to `sink`.
pub async fn pull(req: Pull<'_>, sink: &Arc<dyn Sink>) -> Result<Pulled, CloudWatchError> {
    let Pull { source, names, window: (start, end), expect_count, max_wait } = req;
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
        source: if local { CloudWatchSource::LocalStack } else { CloudWatchSource::Aws },
        values: Default::default(),
        metrics_requested: 0,
        window: (from, to),
        period_s: period,
        polls: 0,
        concurrency_series: Vec::new(),
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
                CloudWatchError::GetMetricData(aws_sdk_cloudwatch::error::DisplayErrorContext(&e).to_string())
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
            let Some(id) = MetricId::from_name(id.split("__").next().unwrap_or(id)) else { continue };
            if values.is_empty() {
                continue;
            }
            // Each resource's value, then the resources' together (only sums have several).
            let v = if is_max(id) { values.iter().copied().fold(f64::MIN, f64::max) } else { values.iter().sum() };
            *pulled.values.entry(id).or_insert(0.0) += v;
        }
        let count = pulled.get(MetricId::ApiCount).unwrap_or(0.0);
        let done = expect_count.is_none_or(|want| count >= want * 0.99);
        if done || waited.elapsed() >= max_wait {
            return Ok(pulled);
        }
        sink.event(Event::CloudWatchLate {
            seen: count,
            expected: expect_count.unwrap_or(0.0),
            waited: waited.elapsed(),
            max_wait,
        });
        tokio::time::sleep(Duration::from_secs(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_functions_and_tables_add_their_counts_but_not_their_percentiles() {
        let names = Names {
            function: "a".into(),
            more_functions: vec!["b".into()],
            table: "t".into(),
            more_tables: vec!["u".into()],
            ..Names::default()
        };
        let ids: Vec<String> = queries(&names, 60, true).iter().filter_map(|q| q.id().map(str::to_owned)).collect();
        assert!(ids.contains(&"invocations__1".to_owned()) && ids.contains(&"read_units__1".to_owned()), "{ids:?}");
        assert!(!ids.iter().any(|i| i.starts_with("duration_p99__")), "{ids:?}");
        assert_eq!(ids.iter().filter(|i| i.starts_with(SERIES_ID)).count(), 1);
    }

    #[test]
    fn every_metric_id_has_exactly_one_query() {
        for &id in MetricId::ALL {
            assert_eq!(QUERIES.iter().filter(|q| q.0 == id).count(), 1, "{id:?}");
        }
        assert_eq!(QUERIES.len(), MetricId::ALL.len());
    }
}
