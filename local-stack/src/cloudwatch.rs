//! The CloudWatch endpoint: `GetMetricData` and `ListMetrics`, answered from the stack's
//! [`MetricStore`] in both protocols CloudWatch speaks today — Smithy RPC v2 CBOR (the current
//! `aws-sdk-cloudwatch`) and AWS JSON 1.0 (the aws CLI v1 / botocore 1.43 picks it). One
//! implementation serves both: JSON input is read into the same CBOR value tree, and the
//! answer is written back in the caller's protocol.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ciborium::Value as Cbor;

use crate::metrics::{MetricId, MetricStore, Stat};

/// CBOR tag for epoch-seconds timestamps (RFC 8949 §3.4.2), which Smithy requires.
const EPOCH_TAG: u64 = 1;

const JSON_TARGET_PREFIX: &str = "GraniteServiceVersion20100801.";

/// The router: `POST /service/GraniteServiceVersion20100801/operation/{op}` (CBOR) and
/// `POST /` with `X-Amz-Target: GraniteServiceVersion20100801.{op}` (JSON).
pub fn router(store: MetricStore) -> axum::Router {
    axum::Router::new()
        .route("/service/GraniteServiceVersion20100801/operation/{op}", axum::routing::post(handle))
        .route("/", axum::routing::post(handle_json))
        .with_state(store)
}

/// CBOR value → JSON (tags dropped: JSON timestamps are bare epoch seconds).
fn to_json(v: &Cbor) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Cbor::Integer(i) => i64::try_from(*i).map(J::from).unwrap_or(J::Null),
        Cbor::Float(f) => serde_json::Number::from_f64(*f).map(J::Number).unwrap_or(J::Null),
        Cbor::Text(s) => J::String(s.clone()),
        Cbor::Bool(b) => J::Bool(*b),
        Cbor::Array(a) => J::Array(a.iter().map(to_json).collect()),
        Cbor::Map(m) => J::Object(m.iter().filter_map(|(k, v)| Some((k.as_text()?.to_owned(), to_json(v)))).collect()),
        Cbor::Tag(_, inner) => to_json(inner),
        _ => J::Null,
    }
}

fn json_response(status: StatusCode, value: &Cbor) -> Response {
    let mut r = (status, to_json(value).to_string()).into_response();
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/x-amz-json-1.0"));
    h.insert("x-amzn-requestid", HeaderValue::from_static("00000000-0000-4000-8000-000000000000"));
    r
}

async fn handle_json(State(store): State<MetricStore>, headers: axum::http::HeaderMap, body: Bytes) -> Response {
    let op = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix(JSON_TARGET_PREFIX))
        .unwrap_or("")
        .to_owned();
    let input: Cbor = if body.is_empty() {
        Cbor::Map(Vec::new())
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                let err = map(vec![
                    ("__type", text("SerializationException")),
                    ("message", text(&format!("body is not JSON: {e}"))),
                ]);
                return json_response(StatusCode::BAD_REQUEST, &err);
            }
        }
    };
    match dispatch(&store, &op, &input) {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => {
            json_response(StatusCode::BAD_REQUEST, &map(vec![("__type", text(e.code)), ("message", text(&e.message))]))
        }
    }
}

fn dispatch(store: &MetricStore, op: &str, input: &Cbor) -> Result<Cbor, ApiError> {
    match op {
        "GetMetricData" => get_metric_data(store, input),
        "ListMetrics" => list_metrics(store, input),
        _ => Err(ApiError {
            code: "UnknownOperationException",
            message: format!("the local stack's CloudWatch serves GetMetricData and ListMetrics, not '{op}'"),
        }),
    }
}

struct ApiError {
    code: &'static str,
    message: String,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError { code: "InvalidParameterValue", message: message.into() }
}

fn cbor_response(status: StatusCode, value: &Cbor) -> Response {
    let mut body = Vec::new();
    if ciborium::into_writer(value, &mut body).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/cbor"));
    h.insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
    h.insert("x-amzn-requestid", HeaderValue::from_static("00000000-0000-4000-8000-000000000000"));
    r
}

async fn handle(State(store): State<MetricStore>, Path(op): Path<String>, body: Bytes) -> Response {
    let input: Cbor = if body.is_empty() {
        Cbor::Map(Vec::new())
    } else {
        match ciborium::from_reader(body.as_ref()) {
            Ok(v) => v,
            Err(e) => {
                return error(ApiError { code: "SerializationException", message: format!("body is not CBOR: {e}") });
            }
        }
    };
    match dispatch(&store, &op, &input) {
        Ok(v) => cbor_response(StatusCode::OK, &v),
        Err(e) => error(e),
    }
}

fn error(e: ApiError) -> Response {
    let body = map(vec![("__type", text(e.code)), ("message", text(&e.message))]);
    cbor_response(StatusCode::BAD_REQUEST, &body)
}

// ---- small CBOR helpers over ciborium's Value tree (tags and int/float both accepted) ----

fn text(s: &str) -> Cbor {
    Cbor::Text(s.to_owned())
}

fn map(entries: Vec<(&str, Cbor)>) -> Cbor {
    Cbor::Map(entries.into_iter().map(|(k, v)| (text(k), v)).collect())
}

fn get<'a>(v: &'a Cbor, key: &str) -> Option<&'a Cbor> {
    match v {
        Cbor::Map(entries) => entries.iter().find(|(k, _)| k.as_text() == Some(key)).map(|(_, v)| v),
        Cbor::Tag(_, inner) => get(inner, key),
        _ => None,
    }
}

fn as_str(v: Option<&Cbor>) -> Option<&str> {
    v.and_then(Cbor::as_text)
}

fn as_f64(v: Option<&Cbor>) -> Option<f64> {
    match v? {
        Cbor::Tag(_, inner) => as_f64(Some(inner)),
        Cbor::Float(f) => Some(*f),
        Cbor::Integer(i) => i64::try_from(*i).ok().map(|i| i as f64),
        _ => None,
    }
}

fn as_array(v: Option<&Cbor>) -> &[Cbor] {
    match v {
        Some(Cbor::Array(a)) => a,
        _ => &[],
    }
}

fn dimensions(v: Option<&Cbor>) -> Vec<(String, Option<String>)> {
    as_array(v)
        .iter()
        .filter_map(|d| Some((as_str(get(d, "Name"))?.to_owned(), as_str(get(d, "Value")).map(str::to_owned))))
        .collect()
}

fn metric_cbor(id: &MetricId) -> Cbor {
    let dims = id.dimensions.iter().map(|(k, v)| map(vec![("Name", text(k)), ("Value", text(v))])).collect();
    map(vec![("Namespace", text(&id.namespace)), ("MetricName", text(&id.name)), ("Dimensions", Cbor::Array(dims))])
}

fn get_metric_data(store: &MetricStore, input: &Cbor) -> Result<Cbor, ApiError> {
    let start = as_f64(get(input, "StartTime")).ok_or_else(|| invalid("StartTime is required"))?;
    let end = as_f64(get(input, "EndTime")).ok_or_else(|| invalid("EndTime is required"))?;
    if end <= start {
        return Err(invalid("EndTime must be after StartTime"));
    }
    let ascending = as_str(get(input, "ScanBy")) == Some("TimestampAscending");
    let queries = as_array(get(input, "MetricDataQueries"));
    if queries.is_empty() || queries.len() > 500 {
        return Err(invalid("MetricDataQueries must hold 1 to 500 queries"));
    }
    let mut results = Vec::new();
    let mut messages = Vec::new();
    for q in queries {
        let id = as_str(get(q, "Id")).ok_or_else(|| invalid("every MetricDataQuery needs an Id"))?;
        if get(q, "ReturnData").and_then(Cbor::as_bool) == Some(false) {
            continue;
        }
        let Some(stat_q) = get(q, "MetricStat") else {
            messages.push(map(vec![
                ("Code", text("Unsupported")),
                ("Value", text(&format!("query {id}: only MetricStat queries are supported locally, not Expression"))),
            ]));
            continue;
        };
        let metric =
            get(stat_q, "Metric").ok_or_else(|| invalid(format!("query {id}: MetricStat.Metric is required")))?;
        let namespace =
            as_str(get(metric, "Namespace")).ok_or_else(|| invalid(format!("query {id}: Namespace is required")))?;
        let name =
            as_str(get(metric, "MetricName")).ok_or_else(|| invalid(format!("query {id}: MetricName is required")))?;
        let dims: Vec<(String, String)> =
            dimensions(get(metric, "Dimensions")).into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect();
        let dim_refs: Vec<(&str, &str)> = dims.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let period = as_f64(get(stat_q, "Period")).ok_or_else(|| invalid(format!("query {id}: Period is required")))?;
        if period < 1.0 || period.fract() != 0.0 {
            return Err(invalid(format!("query {id}: Period must be a whole number of seconds >= 1")));
        }
        let stat: Stat = as_str(get(stat_q, "Stat"))
            .ok_or_else(|| invalid(format!("query {id}: Stat is required")))?
            .parse()
            .map_err(|e: String| invalid(format!("query {id}: {e}")))?;
        let metric_id = MetricId::new(namespace, name, &dim_refs);
        let mut points = store.query(&metric_id, start.floor() as i64, end.ceil() as i64, period as i64, stat);
        if ascending {
            points.reverse();
        }
        let label = as_str(get(q, "Label")).unwrap_or(name);
        results.push(map(vec![
            ("Id", text(id)),
            ("Label", text(label)),
            (
                "Timestamps",
                Cbor::Array(
                    points.iter().map(|(t, _)| Cbor::Tag(EPOCH_TAG, Box::new(Cbor::Integer((*t).into())))).collect(),
                ),
            ),
            ("Values", Cbor::Array(points.iter().map(|(_, v)| Cbor::Float(*v)).collect())),
            ("StatusCode", text("Complete")),
        ]));
    }
    Ok(map(vec![("MetricDataResults", Cbor::Array(results)), ("Messages", Cbor::Array(messages))]))
}

fn list_metrics(store: &MetricStore, input: &Cbor) -> Result<Cbor, ApiError> {
    let ids = store.list(
        as_str(get(input, "Namespace")),
        as_str(get(input, "MetricName")),
        &dimensions(get(input, "Dimensions")),
    );
    Ok(map(vec![("Metrics", Cbor::Array(ids.iter().map(metric_cbor).collect()))]))
}
