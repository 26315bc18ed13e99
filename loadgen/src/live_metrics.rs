//! `--metrics-addr`: the run's figures as a Prometheus/OpenMetrics endpoint while it runs, for a
//! Grafana dashboard beside the terminal's view (k6 and Gatling users expect one). The figures
//! come from the monitor's snapshots — requests sent, responses by outcome class, throttles by
//! layer, cold starts, in flight, the target rate — and the ok responses' latency from each
//! closed second's histogram, so the request path pays nothing for it. Served by hyper; encoded
//! by `prometheus-client` (classic buckets: it has no native histograms).

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use hdrhistogram::Histogram as Hdr;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::event::Snapshot;
use crate::record::{ALL, Class};

/// Labels of one series: `[("class", "ok")]`.
type Labels = Vec<(String, String)>;

/// What the endpoint serves, updated by the monitor.
pub struct LiveMetrics {
    registry: Registry,
    sent: Counter,
    responses: Family<Labels, Counter>,
    throttles: Family<Labels, Counter>,
    cold_starts: Counter,
    in_flight: Gauge,
    target_rate: Gauge<f64, AtomicU64>,
    phase: Family<Labels, Gauge>,
    ok_latency: Histogram,
    /// The totals already counted, so each snapshot adds only what is new.
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    sent: u64,
    classes: [u64; 8],
    cold_starts: u64,
    phase: String,
}

/// The ok latency's bucket bounds, s: 1, 1.5, 2, 3, 5 and 7.5 a decade from 1 ms to 60 s — from a
/// warm cache hit to a timeout, round numbers a reader recognises, each at most 1.67× the last.
fn buckets() -> Vec<f64> {
    let mut out: Vec<f64> = (-3..=1)
        .flat_map(|d| [1.0, 1.5, 2.0, 3.0, 5.0, 7.5].map(|m| m * 10f64.powi(d)))
        .filter(|b| *b < 60.0)
        .collect();
    out.push(60.0);
    // Rounded to what they are (no 0.30000000000000004).
    out.iter().map(|b| (b * 1e6).round() / 1e6).collect()
}

/// The layer a throttle class stands for, as the `layer` label says it.
fn layer(c: Class) -> Option<&'static str> {
    match c {
        Class::ApigwThrottled => Some("apigateway"),
        Class::LambdaThrottled => Some("lambda"),
        Class::DynamodbThrottled => Some("dynamodb"),
        _ => None,
    }
}

impl LiveMetrics {
    /// The metrics of the run of scenario `name`.
    pub fn new(name: &str) -> LiveMetrics {
        let mut registry =
            Registry::with_prefix_and_labels("loadgen", [("scenario".into(), name.to_owned().into())].into_iter());
        let m = LiveMetrics {
            sent: Counter::default(),
            responses: Family::default(),
            throttles: Family::default(),
            cold_starts: Counter::default(),
            in_flight: Gauge::default(),
            target_rate: Gauge::default(),
            phase: Family::default(),
            ok_latency: Histogram::new(buckets()),
            seen: Mutex::new(Seen::default()),
            registry: Registry::default(),
        };
        registry.register("requests_sent", "Arrivals sent", m.sent.clone());
        registry.register("responses", "Completed requests by outcome class", m.responses.clone());
        registry.register("throttles", "Throttled responses by the layer that refused", m.throttles.clone());
        registry.register("cold_starts", "Responses whose invocation paid a Lambda INIT", m.cold_starts.clone());
        registry.register("in_flight", "Requests in flight", m.in_flight.clone());
        registry.register(
            "target_rate",
            "Arrivals the schedule meant to send in the last whole second",
            m.target_rate.clone(),
        );
        registry.register("phase", "1 for the phase running now", m.phase.clone());
        registry.register_with_unit(
            "ok_latency",
            "Corrected latency of the ok responses, from the intended send time",
            prometheus_client::registry::Unit::Seconds,
            m.ok_latency.clone(),
        );
        LiveMetrics { registry, ..m }
    }

    /// Adds what `s` shows beyond the last snapshot, and the ok latencies of the seconds closed
    /// since (`ok`, µs).
    pub fn update(&self, s: &Snapshot, ok: Option<&Hdr<u64>>) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        self.sent.inc_by(s.sent.saturating_sub(seen.sent));
        seen.sent = seen.sent.max(s.sent);
        for (i, c) in ALL.into_iter().enumerate() {
            let new = s.totals[c].saturating_sub(seen.classes[i]);
            seen.classes[i] = seen.classes[i].max(s.totals[c]);
            self.responses.get_or_create(&vec![("class".into(), c.name().into())]).inc_by(new);
            if let Some(l) = layer(c) {
                self.throttles.get_or_create(&vec![("layer".into(), l.into())]).inc_by(new);
            }
        }
        self.cold_starts.inc_by(s.cold_starts.saturating_sub(seen.cold_starts));
        seen.cold_starts = seen.cold_starts.max(s.cold_starts);
        self.in_flight.set(i64::try_from(s.in_flight).unwrap_or(i64::MAX));
        // NaN where there is no schedule (a closed model, or the first second): a gap in a graph.
        self.target_rate.set(s.window_scheduled.unwrap_or(f64::NAN));
        if seen.phase != s.phase {
            if !seen.phase.is_empty() {
                self.phase.get_or_create(&vec![("name".into(), seen.phase.clone())]).set(0);
            }
            self.phase.get_or_create(&vec![("name".into(), s.phase.clone())]).set(1);
            seen.phase = s.phase.clone();
        }
        for v in ok.into_iter().flat_map(|h| h.iter_recorded()) {
            let secs = v.value_iterated_to() as f64 / 1e6;
            for _ in 0..v.count_at_value() {
                self.ok_latency.observe(secs);
            }
        }
    }

    /// The phases are over: no phase runs and nothing is in flight (the endpoint keeps serving
    /// the totals through the cost stage).
    pub fn finish(&self) {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        self.phase.get_or_create(&vec![("name".into(), seen.phase.clone())]).set(0);
        self.in_flight.set(0);
    }

    /// The exposition, in the `OpenMetrics` text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// The content type of [`LiveMetrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Binds `addr` now (so a taken port is an error before anything runs) and serves `GET
/// /metrics` on it until the process ends; anything else is a 404.
pub async fn serve(addr: SocketAddr, metrics: std::sync::Arc<LiveMetrics>) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // Out of descriptors (a run near its limit): wait, rather than spin on a core.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let metrics = metrics.clone();
                    async move { Ok::<_, std::convert::Infallible>(answer(&req, &metrics)) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(bound)
}

fn answer(
    req: &hyper::Request<hyper::body::Incoming>,
    metrics: &LiveMetrics,
) -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
    let (status, kind, body) = match (req.method(), req.uri().path()) {
        (&hyper::Method::GET, "/metrics") => (200, CONTENT_TYPE, metrics.render()),
        _ => (404, "text/plain; charset=utf-8", "loadgen serves GET /metrics\n".to_owned()),
    };
    hyper::Response::builder()
        .status(status)
        .header(hyper::header::CONTENT_TYPE, kind)
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{ClassCounts, histogram};

    #[test]
    fn counters_add_only_what_is_new_and_latency_is_of_the_ok_responses() {
        let m = LiveMetrics::new("spike");
        let mut totals = ClassCounts::default();
        totals.add(Class::Ok, 10);
        totals.add(Class::LambdaThrottled, 4);
        let mut s = Snapshot {
            phase: "warm-up".into(),
            sent: 14,
            totals,
            cold_starts: 2,
            in_flight: 3,
            window_scheduled: Some(30.0),
            ..Snapshot::default()
        };
        let mut ok = histogram::coarse();
        for us in [20_000, 40_000, 3_000_000] {
            ok.record(us).unwrap();
        }
        m.update(&s, Some(&ok));
        s.totals.add(Class::Ok, 5);
        s.sent = 19;
        s.phase = "spike".into();
        m.update(&s, None);
        let text = m.render();
        for want in [
            "loadgen_requests_sent_total{scenario=\"spike\"} 19",
            "loadgen_responses_total{scenario=\"spike\",class=\"ok\"} 15",
            "loadgen_throttles_total{scenario=\"spike\",layer=\"lambda\"} 4",
            "loadgen_cold_starts_total{scenario=\"spike\"} 2",
            "loadgen_in_flight{scenario=\"spike\"} 3",
            "loadgen_phase{scenario=\"spike\",name=\"spike\"} 1",
            "loadgen_phase{scenario=\"spike\",name=\"warm-up\"} 0",
            "loadgen_ok_latency_seconds_count{scenario=\"spike\"} 3",
            "loadgen_ok_latency_seconds_count{scenario=\"spike\"} 3",
            "loadgen_ok_latency_seconds_bucket{scenario=\"spike\",le=\"60.0\"} 3",
            "# EOF",
        ] {
            assert!(text.contains(want), "{want} in\n{text}");
        }
    }
}
