//! The attack loop: one dispatcher per phase sends each request at its intended time (open
//! model) or keeps N virtual users busy (closed model); latency is measured from the intended
//! time (no coordinated omission) and, separately, from the actual send. In-flight requests are
//! bounded; when the bound or the machine makes a send late, the lateness is recorded and the
//! run is marked saturated — the rate is never quietly lowered.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use http_body_util::{BodyExt, Full};
use tokio::sync::watch;

use crate::client::HttpClient;
use crate::conn::{Failed, Pool};
use crate::keys::KeyPicker;
use crate::outcome::{self, Class, Seen};
use crate::pacer::Pacer;
use crate::recorder::{Diag, Recorder, Sample};
use crate::scenario::{Load, Plan};

/// Largest response body read for classification; the rest is drained and dropped.
const BODY_PEEK: usize = 512;

/// The response headers read on every request, named once: a `&str` lookup parses the name
/// again each time.
mod names {
    use hyper::header::HeaderName;
    pub const ENV_ID: HeaderName = HeaderName::from_static("x-env-id");
    pub const ERROR_KIND: HeaderName = HeaderName::from_static("x-error-kind");
    pub const CAUSE: HeaderName = HeaderName::from_static("x-local-stack-cause");
    pub const COLD: HeaderName = HeaderName::from_static("x-cold-start");
    pub const DDB_CALLS: HeaderName = HeaderName::from_static("x-ddb-calls");
    pub const RCU: HeaderName = HeaderName::from_static("x-ddb-rcu");
    pub const WCU: HeaderName = HeaderName::from_static("x-ddb-wcu");
    pub const HANDLER_US: HeaderName = HeaderName::from_static("x-handler-us");
}

/// Shared state of one run.
pub struct Engine {
    /// The plan.
    pub plan: Arc<Plan>,
    /// Base URL requests are appended to.
    pub base: String,
    /// The HTTP client.
    pub client: HttpClient,
    /// What was measured.
    pub recorder: Arc<Mutex<Recorder>>,
    /// Requests in flight now.
    pub in_flight: Arc<AtomicU64>,
    /// When the measured phases began.
    pub start: Instant,
    /// Set to stop early (Ctrl-C, abort threshold, dead target).
    pub stop: watch::Receiver<bool>,
    /// Index of the phase running now.
    pub phase_now: Arc<AtomicU64>,
    /// When the last phase ended (or the run was stopped), before in-flight requests drained.
    pub phases_end: Mutex<Option<Instant>>,
    /// The plain-http fast path (`None` for https, HTTP/2 or an unparsable base).
    fast: Option<Pool>,
    /// What request paths are appended to: the whole base URL for the general client, only its
    /// path for the fast path (origin-form request targets).
    prefix: String,
    /// Each request kind's URI when its path has no placeholders: parsed once, cloned cheaply.
    fixed_uris: Vec<Option<hyper::Uri>>,
    keys: Arc<KeyPicker>,
    payload: Arc<str>,
    fresh_ids: Arc<AtomicU64>,
}

/// A request ready to send.
struct Prepared {
    request: usize,
    method: hyper::Method,
    uri: hyper::Uri,
    body: Bytes,
}

impl Engine {
    /// An engine for `plan` against `base`.
    pub fn new(plan: Arc<Plan>, base: String, client: HttpClient, stop: watch::Receiver<bool>) -> Self {
        let recorder = Arc::new(Mutex::new(Recorder::new(plan.requests.len(), plan.phases.len())));
        let keys = Arc::new(KeyPicker::new(plan.data.items, &plan.data.distribution));
        let payload: Arc<str> = "x".repeat(plan.data.item_size).into();
        // HTTP/2 is only ever negotiated by ALPN over TLS, so plain http is HTTP/1.1 either way.
        let fast = Pool::for_base(&base, plan.target.max_in_flight.min(4096));
        let prefix = match &fast {
            Some(_) => {
                base.parse::<hyper::Uri>().map(|u| u.path().trim_end_matches('/').to_owned()).unwrap_or_default()
            }
            None => base.clone(),
        };
        let fixed_uris = plan
            .requests
            .iter()
            .map(|r| {
                let literal: Option<String> = r
                    .path
                    .parts
                    .iter()
                    .map(|p| match p {
                        crate::scenario::template::Part::Literal(s) => Some(s.as_str()),
                        _ => None,
                    })
                    .collect();
                literal.and_then(|l| format!("{prefix}{l}").parse().ok())
            })
            .collect();
        Self {
            plan,
            base,
            client,
            phases_end: Mutex::new(None),
            fast,
            prefix,
            fixed_uris,
            recorder,
            in_flight: Arc::new(AtomicU64::new(0)),
            start: Instant::now(),
            stop,
            phase_now: Arc::new(AtomicU64::new(0)),
            keys,
            payload,
            fresh_ids: Arc::new(AtomicU64::new(0)),
        }
    }

    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// Renders a request from the mix.
    fn prepare(&self, rng: &mut fastrand::Rng, weights_total: f64) -> Prepared {
        let mut x = rng.f64() * weights_total;
        let mut idx = 0;
        for (i, r) in self.plan.requests.iter().enumerate() {
            idx = i;
            if x < r.weight {
                break;
            }
            x -= r.weight;
        }
        let req = &self.plan.requests[idx];
        let method = hyper::Method::from_bytes(req.method.as_bytes()).unwrap_or(hyper::Method::GET);
        if let (Some(uri), None) = (&self.fixed_uris[idx], &req.body) {
            return Prepared { request: idx, method, uri: uri.clone(), body: Bytes::new() };
        }
        let keys = &self.keys;
        let fresh = &self.fresh_ids;
        let run_tag = self.plan.seed;
        let mut path = String::with_capacity(self.prefix.len() + 64);
        path.push_str(&self.prefix);
        let mut body = String::new();
        {
            let rng_cell = std::cell::RefCell::new(&mut *rng);
            let mut id = || keys.pick(&mut rng_cell.borrow_mut());
            let mut ids = |n: usize, out: &mut Vec<u64>| keys.pick_distinct(n, &mut rng_cell.borrow_mut(), out);
            let mut new_id = || format!("new-{run_tag}-{}", fresh.fetch_add(1, Ordering::Relaxed));
            req.path.render(&mut path, &mut id, &mut ids, &mut new_id, &self.payload);
            if let Some(b) = &req.body {
                b.render(&mut body, &mut id, &mut ids, &mut new_id, &self.payload);
            }
        }
        let uri = hyper::Uri::try_from(path).unwrap_or_else(|_| hyper::Uri::from_static("http://invalid./"));
        Prepared { request: idx, method, uri, body: Bytes::from(body) }
    }

    /// Runs every phase in order; returns when done or stopped, after in-flight requests
    /// finish (at most the request timeout, or 2 s when stopped).
    pub async fn run(self: &Arc<Self>) {
        let weights: f64 = self.plan.requests.iter().map(|r| r.weight).sum();
        let mut phase_start = self.start;
        for (i, phase) in self.plan.phases.iter().enumerate() {
            if self.stopped() {
                break;
            }
            self.phase_now.store(i as u64, Ordering::Relaxed);
            let seed = self.plan.seed.wrapping_mul(1_000_003).wrapping_add(i as u64);
            let end = phase_start + phase.duration;
            match &phase.load {
                Load::Closed { users, think } => self.closed(i, *users, *think, end, seed, weights).await,
                _ => {
                    let pacer = Pacer::new(&phase.load, phase.duration, phase.arrivals, seed).expect("open model");
                    self.open(i, pacer, phase_start, seed, weights).await;
                    let mut stop = self.stop.clone();
                    tokio::select! {
                        _ = tokio::time::sleep_until(end.into()) => {}
                        _ = stop.wait_for(|s| *s) => {}
                    }
                }
            }
            phase_start = end;
        }
        *self.phases_end.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now().min(phase_start));
        let grace =
            if self.stopped() { Duration::from_secs(2) } else { self.plan.target.timeout + Duration::from_millis(100) };
        let until = Instant::now() + grace;
        while self.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Sends the phase's schedule. The sends in flight are futures of this one task rather
    /// than a task each: a new send is first polled — and written — the moment it is due, not
    /// after whatever else the scheduler had queued, and no task is allocated per request.
    /// When the schedule ends, what is still in flight is handed to a task that drains it.
    async fn open(self: &Arc<Self>, phase: usize, mut pacer: Pacer, phase_start: Instant, seed: u64, weights: f64) {
        let mut rng = fastrand::Rng::with_seed(seed ^ 0x9e37_79b9_7f4a_7c15);
        let mut stop = self.stop.clone();
        let max = self.plan.target.max_in_flight;
        let mut inflight = FuturesUnordered::new();
        let mut wake = crate::timer::Wake::new();
        let mut next = pacer.next_due();
        while let Some(offset) = next {
            if self.stopped() {
                break;
            }
            let due = phase_start + offset;
            if inflight.len() >= max || due > Instant::now() + crate::timer::WINDOW {
                // Not due yet, or the in-flight bound is reached (the lateness then shows):
                // meanwhile, drive what is in flight.
                tokio::select! {
                    biased;
                    _ = stop.wait_for(|s| *s) => break,
                    Some(()) = inflight.next(), if !inflight.is_empty() => continue,
                    _ = wake.until(due), if inflight.len() < max => {}
                }
                // The fallback timer may wake up to half a tick early: send then.
            }
            let prepared = self.prepare(&mut rng, weights);
            let me = self.clone();
            // Counted before the send runs, so the final drain waits for it too.
            self.in_flight.fetch_add(1, Ordering::SeqCst);
            inflight.push(async move { me.send(phase, prepared, due).await });
            next = pacer.next_due();
        }
        if !inflight.is_empty() {
            tokio::spawn(async move { while inflight.next().await.is_some() {} });
        }
    }

    async fn closed(
        self: &Arc<Self>,
        phase: usize,
        users: u32,
        think: Duration,
        end: Instant,
        seed: u64,
        weights: f64,
    ) {
        let done = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = (0..users)
            .map(|u| {
                let me = self.clone();
                let done = done.clone();
                tokio::spawn(async move {
                    let mut rng = fastrand::Rng::with_seed(seed ^ (u as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d));
                    while Instant::now() < end && !me.stopped() && !done.load(Ordering::Relaxed) {
                        let prepared = me.prepare(&mut rng, weights);
                        // A closed model waits for each answer by design: the send is the
                        // intended time, so its latency is service time.
                        me.in_flight.fetch_add(1, Ordering::SeqCst);
                        me.send(phase, prepared, Instant::now()).await;
                        if !think.is_zero() {
                            tokio::time::sleep(think.min(end.saturating_duration_since(Instant::now()))).await;
                        }
                    }
                })
            })
            .collect();
        let mut stop = self.stop.clone();
        tokio::select! {
            _ = tokio::time::sleep_until(end.into()) => {}
            _ = stop.wait_for(|s| *s) => {}
        }
        done.store(true, Ordering::Relaxed);
        for t in tasks {
            let _ = t.await;
        }
    }

    /// Sends one request; the caller has already counted it in `in_flight`.
    async fn send(&self, phase: usize, p: Prepared, due: Instant) {
        let sent_at = Instant::now();
        let second = sent_at.saturating_duration_since(self.start).as_secs() as usize;
        // Scheduling lag either way: late by the machine, or early by up to half a timer tick.
        let lag_us =
            sent_at.saturating_duration_since(due).max(due.saturating_duration_since(sent_at)).as_micros() as u64;
        let from = due.min(sent_at);
        self.recorder.lock().unwrap_or_else(|e| e.into_inner()).sent(phase, second, lag_us);
        let req = &self.plan.requests[p.request];
        let mut builder = hyper::Request::builder().method(p.method).uri(p.uri);
        if let Some(pool) = &self.fast {
            builder = builder.header(hyper::header::HOST, pool.host().clone());
        }
        for (k, v) in self.plan.target.headers.iter().chain(req.headers.iter()) {
            builder = builder.header(k.as_str(), v.as_str());
        }
        if !p.body.is_empty() {
            builder = builder.header("content-type", "application/json");
        }
        let outcome = match builder.body(Full::new(p.body)) {
            Ok(http_req) => {
                let timeout = self.plan.target.timeout;
                match &self.fast {
                    Some(pool) => tokio::time::timeout(timeout, pool.exchange(http_req, read_response)).await,
                    None => tokio::time::timeout(timeout, exchange(&self.client, http_req)).await,
                }
            }
            Err(_) => Ok(Err(Failed)),
        };
        let done = Instant::now();
        let mut sample = Sample {
            request: p.request,
            phase,
            class: Class::TransportError,
            latency_us: done.saturating_duration_since(from).as_micros() as u64,
            service_us: done.saturating_duration_since(sent_at).as_micros() as u64,
            cold: false,
            diag: None,
            second: done.saturating_duration_since(self.start).as_secs() as usize,
            heuristic_mismatch: false,
        };
        match outcome {
            Err(_) => sample.class = Class::Timeout,
            Ok(Err(Failed)) => sample.class = Class::TransportError,
            Ok(Ok(resp)) => {
                let h = &resp.headers;
                let text = |name: hyper::header::HeaderName| h.get(name).and_then(|v| v.to_str().ok());
                let num = |name| text(name).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
                let has_diag = h.contains_key(names::ENV_ID);
                let seen = Seen {
                    status: resp.status,
                    body: &resp.body,
                    has_diagnostics: has_diag,
                    error_kind: text(names::ERROR_KIND),
                    emulator_cause: text(names::CAUSE),
                };
                let (class, mismatch) = outcome::classify(&seen, &req.expect);
                sample.class = class;
                sample.heuristic_mismatch = mismatch;
                sample.cold = text(names::COLD) == Some("true");
                if has_diag {
                    sample.diag = Some(Diag {
                        ddb_calls: num(names::DDB_CALLS),
                        rcu: num(names::RCU),
                        wcu: num(names::WCU),
                        handler_us: num(names::HANDLER_US),
                    });
                }
            }
        }
        self.recorder.lock().unwrap_or_else(|e| e.into_inner()).record(&sample);
        // Only once recorded does the request stop counting: the drain then sees every result.
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Response {
    status: u16,
    headers: hyper::HeaderMap,
    body: Vec<u8>,
}

/// Sends through the general client and reads the response.
async fn exchange(client: &HttpClient, req: hyper::Request<Full<Bytes>>) -> Result<Response, Failed> {
    let resp = client.request(req).await.map_err(|_| Failed)?;
    read_response(resp).await
}

/// Reads the whole response (the body must be consumed for the connection to be reused),
/// keeping only its first bytes.
async fn read_response(resp: hyper::Response<hyper::body::Incoming>) -> Result<Response, Failed> {
    let (parts, mut body) = resp.into_parts();
    let mut kept = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| Failed)?;
        if let Some(data) = frame.data_ref()
            && kept.len() < BODY_PEEK
        {
            kept.extend_from_slice(&data[..data.len().min(BODY_PEEK - kept.len())]);
        }
    }
    Ok(Response { status: parts.status.as_u16(), headers: parts.headers, body: kept })
}
