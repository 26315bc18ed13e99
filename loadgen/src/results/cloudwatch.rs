//! What the CloudWatch pull returned for the run window, as results.json records it: one value
//! per metric query, named by [`MetricId`], and Lambda's concurrency over time.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where the metrics came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CloudWatchSource {
    /// The local stack's CloudWatch endpoint.
    LocalStack,
    /// AWS.
    Aws,
}

impl CloudWatchSource {
    /// As results.json and the reports write it (`local-stack`, `aws`).
    pub fn as_str(self) -> &'static str {
        match self {
            CloudWatchSource::LocalStack => "local-stack",
            CloudWatchSource::Aws => "aws",
        }
    }
}

/// Defines [`MetricId`] from one list: each variant with the id CloudWatch returns it with and
/// results.json keys its value with, so the enum, [`MetricId::ALL`] and the names cannot drift.
macro_rules! metric_ids {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// Each metric query of the pull.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum MetricId {
            $($(#[$doc])* $variant,)*
        }

        impl MetricId {
            /// Every id, in the order the queries are sent.
            pub const ALL: &'static [MetricId] = &[$(MetricId::$variant),*];

            /// The id as CloudWatch queries and results.json name it (`api_count`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(MetricId::$variant => $name,)*
                }
            }
        }
    };
}

metric_ids! {
    /// Lambda `Invocations`, Sum.
    Invocations = "invocations",
    /// Lambda `Errors`, Sum.
    Errors = "errors",
    /// Lambda `Throttles`, Sum.
    Throttles = "throttles",
    /// Lambda `Duration`, Sum, ms.
    DurationSum = "duration_sum",
    /// Lambda `Duration`, p50, ms.
    DurationP50 = "duration_p50",
    /// Lambda `Duration`, p99, ms.
    DurationP99 = "duration_p99",
    /// Lambda `Duration`, Maximum, ms.
    DurationMax = "duration_max",
    /// Lambda `ConcurrentExecutions`, Maximum.
    ConcurrencyMax = "concurrency_max",
    /// The local stack's `InitDuration`, `SampleCount` (cold starts).
    InitCount = "init_count",
    /// The local stack's `InitDuration`, Sum, ms.
    InitSum = "init_sum",
    /// The local stack's `Throttles` for reserved concurrency, Sum.
    ThrottlesConcurrency = "throttles_concurrency",
    /// The local stack's `Throttles` for the invocation-rate limit, Sum.
    ThrottlesInvocationRate = "throttles_invocation_rate",
    /// The local stack's `Throttles` for the account's concurrency, Sum.
    ThrottlesAccountConcurrency = "throttles_account_concurrency",
    /// The local stack's `Throttles` for the account's invocation rate, Sum.
    ThrottlesAccountInvocationRate = "throttles_account_invocation_rate",
    /// The local stack's `Throttles` for the scaling rate, Sum.
    ThrottlesScalingRate = "throttles_scaling_rate",
    /// Lambda `ProvisionedConcurrencyInvocations`, Sum.
    ProvisionedInvocations = "provisioned_invocations",
    /// Lambda `ProvisionedConcurrencySpilloverInvocations`, Sum.
    SpilloverInvocations = "spillover_invocations",
    /// API Gateway `Count`, Sum.
    ApiCount = "api_count",
    /// API Gateway `4xx`, Sum.
    Api4xx = "api_4xx",
    /// API Gateway `5xx`, Sum.
    Api5xx = "api_5xx",
    /// API Gateway `Latency`, p99, ms.
    ApiLatencyP99 = "api_latency_p99",
    /// API Gateway `IntegrationLatency`, p99, ms.
    ApiIntegrationLatencyP99 = "api_integration_latency_p99",
    /// DynamoDB `ConsumedReadCapacityUnits`, Sum.
    ReadUnits = "read_units",
    /// DynamoDB `ConsumedWriteCapacityUnits`, Sum.
    WriteUnits = "write_units",
    /// DynamoDB `ReadThrottleEvents`, Sum.
    ReadThrottleEvents = "read_throttle_events",
    /// DynamoDB `WriteThrottleEvents`, Sum.
    WriteThrottleEvents = "write_throttle_events",
    /// DynamoDB `ThrottledRequests` of GetItem, Sum.
    ThrottledGetItem = "throttled_getitem",
    /// DynamoDB `ThrottledRequests` of BatchGetItem, Sum.
    ThrottledBatchGetItem = "throttled_batchgetitem",
    /// DynamoDB `ThrottledRequests` of PutItem, Sum.
    ThrottledPutItem = "throttled_putitem",
    /// DynamoDB `ThrottledRequests` of DeleteItem, Sum.
    ThrottledDeleteItem = "throttled_deleteitem",
}

impl MetricId {
    /// The id of this name.
    pub fn from_name(name: &str) -> Option<MetricId> {
        Self::ALL.iter().copied().find(|id| id.as_str() == name)
    }
}

impl Serialize for MetricId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for MetricId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        MetricId::from_name(&name).ok_or_else(|| serde::de::Error::custom(format!("unknown metric id '{name}'")))
    }
}

impl JsonSchema for MetricId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "MetricId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = MetricId::ALL.iter().map(|id| id.as_str()).collect();
        schemars::json_schema!({ "type": "string", "enum": names })
    }
}

/// What was pulled: one summed (or maximal) value per query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Pulled {
    /// Local stack or AWS.
    pub source: CloudWatchSource,
    /// Query → value over the window (absent when CloudWatch had no data).
    pub values: BTreeMap<MetricId, f64>,
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

impl Pulled {
    /// The value of one query, when CloudWatch had data for it.
    pub fn get(&self, id: MetricId) -> Option<f64> {
        self.values.get(&id).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_back_by_name() {
        for &id in MetricId::ALL {
            assert_eq!(MetricId::from_name(id.as_str()), Some(id));
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(serde_json::from_str::<MetricId>(&json).unwrap(), id);
        }
        let names: std::collections::HashSet<_> = MetricId::ALL.iter().map(|id| id.as_str()).collect();
        assert_eq!(names.len(), MetricId::ALL.len(), "names are distinct");
    }

    #[test]
    fn written_names_are_the_serde_names() {
        for s in [CloudWatchSource::LocalStack, CloudWatchSource::Aws] {
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{}\"", s.as_str()));
        }
        for k in [crate::results::TargetKind::LocalStack, crate::results::TargetKind::Url] {
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{}\"", k.as_str()));
        }
        for c in crate::record::ALL {
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{}\"", c.name()));
        }
        for a in [local_stack::config::Architecture::X86_64, local_stack::config::Architecture::Arm64] {
            assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{}\"", a.as_str()));
        }
    }
}
