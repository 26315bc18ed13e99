//! One request: sent, timed from its intended and its actual send, classified by what came back
//! (status, body start, the function's diagnostic headers) and recorded.

use std::sync::atomic::Ordering;
use std::time::Instant;

use http_body_util::Full;

use super::Engine;
use super::mix::Prepared;
use crate::http::{Failed, Response, response};
use crate::record::Class;
use crate::record::outcome::{self, Seen};
use crate::record::recorder::{Diag, Sample};
use crate::scenario::check;

/// The response headers read on every request, named once: a `&str` lookup parses the name
/// again each time.
mod names {
    use hyper::header::HeaderName;
    pub const ENV_ID: HeaderName = HeaderName::from_static("x-env-id");
    pub const ERROR_KIND: HeaderName = HeaderName::from_static("x-error-kind");
    pub const CAUSE: HeaderName = HeaderName::from_static("x-local-stack-cause");
    pub const COLD: HeaderName = HeaderName::from_static("x-cold-start");
    pub const INIT: HeaderName = HeaderName::from_static("x-local-stack-init-ms");
    pub const BILLED: HeaderName = HeaderName::from_static("x-local-stack-billed-ms");
    pub const DDB_CALLS: HeaderName = HeaderName::from_static("x-ddb-calls");
    pub const RCU: HeaderName = HeaderName::from_static("x-ddb-rcu");
    pub const WCU: HeaderName = HeaderName::from_static("x-ddb-wcu");
    pub const HANDLER_US: HeaderName = HeaderName::from_static("x-handler-us");
}

/// What a send is part of.
pub(super) enum Part<'a> {
    /// An arrival's standalone request.
    Arrival,
    /// A flow's step (the first is its arrival's request); what it captures goes to `vars`.
    Step {
        /// Whether it is the flow's first step.
        first: bool,
        /// The instance's captured values, by slot.
        vars: &'a mut Vec<String>,
    },
}

/// How a send went, for the flow that made it.
pub(super) struct Sent {
    /// When its response (or failure) came.
    pub done: Instant,
    /// Whether a response came (not a timeout or transport error).
    pub answered: bool,
    /// Whether every capture found its value (true without captures).
    pub captured: bool,
    /// No socket could be opened (no file descriptor left): it never left this process.
    pub no_socket: bool,
}

impl Engine {
    /// Sends one request; the caller has already counted it in `in_flight`. An arrival's
    /// request counts as sent with its scheduling lag; a later flow step's is paced by the step
    /// before it, not the schedule.
    pub(super) async fn send(&self, phase: usize, p: Prepared, due: Instant, part: Part<'_>) -> Sent {
        let sent_at = Instant::now();
        let second = self.plan_time(sent_at).as_secs() as usize;
        // Scheduling lag either way: late by the machine, or early by up to the send window.
        let lag_us =
            sent_at.saturating_duration_since(due).max(due.saturating_duration_since(sent_at)).as_micros() as u64;
        let from = due.min(sent_at);
        if matches!(part, Part::Arrival | Part::Step { first: true, .. }) {
            self.recorder.lock().unwrap_or_else(|e| e.into_inner()).sent(phase, second, lag_us);
        }
        let req = &self.plan.requests[p.request];
        let end = &self.endpoints[p.endpoint];
        let mut builder = hyper::Request::builder().method(p.method).uri(p.uri);
        if let Some(pool) = &end.fast
            && !p.headers.iter().any(|(n, _)| n == hyper::header::HOST)
        {
            builder = builder.header(hyper::header::HOST, pool.host().clone());
        }
        // The mix made each name once: the scenario's own replace the defaults.
        for (k, v) in p.headers {
            builder = builder.header(k, v);
        }
        // A check or capture on the body reads more of it than classification needs.
        let keep = if req.reads_body() { check::BODY_LIMIT } else { response::BODY_PEEK };
        let outcome = match builder.body(p.body) {
            Ok(mut http_req) => {
                if let Some(auth) = &end.auth {
                    sign(auth, &mut http_req);
                }
                let timeout = end.timeout;
                match &end.fast {
                    Some(pool) => {
                        let (parts, body) = http_req.into_parts();
                        tokio::time::timeout(timeout, pool.exchange(&parts, &body, keep)).await
                    }
                    None => {
                        let req = http_req.map(Full::new);
                        tokio::time::timeout(timeout, response::exchange(&self.client, req, keep)).await
                    }
                }
            }
            Err(_) => Ok(Err(Failed::TRANSPORT)),
        };
        let done = Instant::now();
        if let Ok(Err(Failed { out_of_files: true })) = outcome {
            return self.without_a_socket(phase, second, &part, done);
        }
        let mut sample = Sample {
            request: p.request,
            phase,
            class: Class::TransportError,
            latency_us: done.saturating_duration_since(from).as_micros() as u64,
            service_us: done.saturating_duration_since(sent_at).as_micros() as u64,
            cold: false,
            billed_ms: None,
            diag: None,
            second: self.plan_time(done).as_secs() as usize,
            heuristic_mismatch: false,
            gateway_denied: false,
        };
        let mut checked: Option<(u16, Option<check::Mismatch>)> = None;
        let resp = match outcome {
            Err(_) => {
                sample.class = Class::Timeout;
                None
            }
            Ok(Err(_)) => None,
            Ok(Ok(resp)) => {
                classify(&resp, &req.expect, &mut sample);
                Some(resp)
            }
        };
        // A request with a check or captures is checked whatever came back: no response fails
        // it. The check's own failure is said first; then the first capture that found nothing.
        let mut captured = true;
        if req.is_checked() {
            checked = Some(match &resp {
                Some(r) => {
                    let failed = req.check.as_ref().and_then(|c| c.verify(r.status, &r.body, r.truncated).err());
                    let took = match part {
                        Part::Step { vars, .. } => capture(req, r, vars),
                        Part::Arrival => Ok(()),
                    };
                    captured = took.is_ok();
                    (r.status, failed.or(took.err()))
                }
                None => {
                    captured = req.capture.is_empty();
                    (0, Some(check::Mismatch::NoResponse(sample.class.name())))
                }
            });
        }
        let mut rec = self.recorder.lock().unwrap_or_else(|e| e.into_inner());
        rec.record(&sample);
        if let Some((status, failure)) = checked {
            let body = resp.as_ref().map_or(&[][..], |r| r.body.as_slice());
            let secrets = self.redacted(failure.is_some());
            rec.checks[p.request].record(
                status,
                failure.as_ref().map(|f| (f as &dyn std::fmt::Display, body)),
                &secrets,
            );
        }
        drop(rec);
        // Only once recorded does the request stop counting: the drain then sees every result.
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Sent { done, captured, answered: resp.is_some(), no_socket: false }
    }
}

impl Engine {
    /// A request for which no socket could be opened (no file descriptor left): it never left
    /// this process, so it is the generator's failure (saturation), never one of the target's
    /// transport errors, and an arrival's is counted as not sent.
    fn without_a_socket(&self, phase: usize, second: usize, part: &Part<'_>, done: Instant) -> Sent {
        let arrival = matches!(part, Part::Arrival | Part::Step { first: true, .. });
        let scheduled = self.plan.phases[phase].load.mean_rate().is_some();
        let mut rec = self.recorder.lock().unwrap_or_else(|e| e.into_inner());
        rec.out_of_files(phase, arrival.then_some((second, scheduled)));
        drop(rec);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Sent { done, captured: false, answered: false, no_socket: true }
    }

    /// What a failing check's body must not show: the scenario's own secrets and, for a
    /// failure, every token any target's authorizer has used (the one in use, one refreshed
    /// away since, another target's — a server may echo a token it was not sent).
    fn redacted(&self, failed: bool) -> std::borrow::Cow<'_, [String]> {
        let tokens: Vec<String> = match failed {
            true => self.endpoints.iter().filter_map(|e| e.auth.as_ref()).flat_map(|a| a.tokens()).collect(),
            false => Vec::new(),
        };
        match tokens.is_empty() {
            true => (&self.secrets[..]).into(),
            false => tokens.into_iter().chain(self.secrets.iter().cloned()).collect::<Vec<_>>().into(),
        }
    }
}

/// Authorizes `req` for the host it sends: its own `Host` header, the pool's, or the URL's as
/// the client would write it (set now, so the signed and the sent host cannot differ).
fn sign(auth: &crate::auth::Authorizer, req: &mut hyper::Request<bytes::Bytes>) {
    let host = match req.headers().get(hyper::header::HOST) {
        Some(h) => h.to_str().unwrap_or("").to_owned(),
        None => {
            let h = crate::auth::host_of(req.uri());
            if let Ok(v) = hyper::header::HeaderValue::from_str(&h) {
                req.headers_mut().insert(hyper::header::HOST, v);
            }
            h
        }
    };
    let body = req.body().clone();
    auth.apply(req, &host, &body);
}

/// Takes `req`'s captures from `resp` into their slots of `vars`; the first that finds nothing
/// says why. The body is parsed once for all of them.
fn capture(req: &crate::scenario::Request, resp: &Response, vars: &mut [String]) -> Result<(), check::Mismatch> {
    if req.capture.is_empty() {
        return Ok(());
    }
    use crate::scenario::flow::{NotJson, Source};
    let json = if !req.capture.iter().any(|c| matches!(c.source, Source::Json(_))) {
        Err(NotJson(String::new()))
    } else if resp.truncated {
        Err(NotJson(format!("larger than the {} KiB read", check::BODY_LIMIT / 1024)))
    } else {
        serde_json::from_slice::<serde_json::Value>(&resp.body).map_err(|e| NotJson(e.to_string()))
    };
    for c in &req.capture {
        let value = c.take(&resp.headers, &json)?;
        if let Some(slot) = vars.get_mut(c.slot) {
            *slot = value;
        }
    }
    Ok(())
}

/// Fills in the class, cold start and diagnostics of `sample` from the response.
fn classify(resp: &Response, expect: &[u16], sample: &mut Sample) {
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
    let (class, mismatch) = outcome::classify(&seen, expect);
    sample.class = class;
    sample.heuristic_mismatch = mismatch;
    sample.gateway_denied = outcome::denied_at_authorization(&seen);
    // The local stack says what the REPORT line says of every function; target-api also says
    // it itself, which is all there is on AWS.
    sample.cold = h.contains_key(names::INIT) || text(names::COLD) == Some("true");
    sample.billed_ms = text(names::BILLED).and_then(|v| v.parse::<f64>().ok()).filter(|v| v.is_finite() && *v >= 0.0);
    if has_diag {
        sample.diag = Some(Diag {
            ddb_calls: num(names::DDB_CALLS),
            rcu: num(names::RCU),
            wcu: num(names::WCU),
            handler_us: num(names::HANDLER_US),
        });
    }
}
