//! `[data]` seeding through the API under test (`seed_via = "api"`): each item `POST`ed to
//! `seed_path` at the scenario's seed rate, before the measured phases and never measured;
//! throttled writes are retried, since seeding must finish whatever the stack's limits. It is
//! off the measured path, so it goes through `reqwest` (the generator's own hyper client is
//! kept for the load). Seeding straight into the table is [`super::seed_table`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Semaphore;

use super::TargetError;
use crate::event::{Event, Sink};
use crate::scenario::Plan;
use crate::scenario::seed_data::{SeedVia, item, to_json};
use crate::scenario::template::OneFill;

/// Seeding writes in flight at most.
const IN_FLIGHT: usize = 64;
/// Attempts per item.
const ATTEMPTS: u32 = 8;

/// Seeds `[data] items` against `base`, at [`crate::scenario::Data::seeding_rate`] for the
/// function's reserved concurrency when it is known.
pub async fn seed(
    plan: &Plan,
    auth: Option<&crate::auth::Authorizer>,
    base: &str,
    reserved_concurrency: Option<u32>,
    sink: &Arc<dyn Sink>,
) -> Result<(), TargetError> {
    let items = plan.data.seeded_items();
    if items == 0 {
        return Ok(());
    }
    let rate = plan.data.seeding_rate(reserved_concurrency);
    let path = plan.data.seed_path.clone();
    sink.event(Event::Seeding { items, item_size: plan.data.item_size, rate, into: format!("POST {path}") });
    let client = reqwest::Client::builder().pool_max_idle_per_host(IN_FLIGHT).build().map_err(|e| {
        TargetError::Seeding { failed: items, items, last: format!("cannot build the HTTP client: {e}") }
    })?;
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let failures = Arc::new(AtomicU64::new(0));
    let last_error = Arc::new(Mutex::new(String::new()));
    let mut tasks = Vec::new();
    for n in 0..items {
        tokio::time::sleep_until((start + interval.mul_f64(n as f64)).into()).await;
        // The semaphore is never closed, so acquiring only waits.
        let Ok(permit) = permits.clone().acquire_owned().await else { break };
        let body = to_json(&item(&plan.data, n, SeedVia::Api)).to_string();
        let mut req = hyper::Request::post(format!("{base}{path}"));
        // `[target]`'s headers as every request sends them: one of a name, the JSON content type
        // unless they set their own.
        let mut typed = false;
        // Item n takes row n of each data file (wrapping), as a sequential feeder would.
        let field = |file: usize, column: &str, out: &mut String| {
            let rows = plan.data.files.get(file).and_then(|f| f.rows.as_deref()).filter(|r| !r.items.is_empty());
            if let Some(v) = rows.and_then(|r| r.items[n as usize % r.items.len()].1.get(column)) {
                v.write_to(out);
            }
        };
        for (k, v) in &plan.target.headers {
            let mut value = String::new();
            v.render(&mut value, &mut OneFill { n, payload: "", rng: fastrand::Rng::with_seed(n), field: &field });
            typed |= k.eq_ignore_ascii_case("content-type");
            req = req.header(k.as_str(), value);
        }
        if !typed {
            req = req.header("content-type", "application/json");
        }
        let body = Bytes::from(body);
        let mut req = match req.body(body.clone()) {
            Ok(r) => r,
            Err(e) => return Err(TargetError::Seeding { failed: items - n, items, last: e.to_string() }),
        };
        if let Some(a) = auth {
            // The host the request sends — `[target]`'s own, or the URL's as hyper writes it.
            let host = match req.headers().get(hyper::header::HOST).and_then(|h| h.to_str().ok()) {
                Some(h) => h.to_owned(),
                None => {
                    let h = crate::auth::host_of(req.uri());
                    if let Ok(v) = hyper::header::HeaderValue::from_str(&h) {
                        req.headers_mut().insert(hyper::header::HOST, v);
                    }
                    h
                }
            };
            a.apply(&mut req, &host, &body);
        }
        let req = match reqwest::Request::try_from(req) {
            Ok(r) => r,
            Err(e) => return Err(TargetError::Seeding { failed: items - n, items, last: e.to_string() }),
        };
        let (client, failures, last_error) = (client.clone(), failures.clone(), last_error.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            if !post_with_retries(&client, req, &last_error).await {
                failures.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let failed = failures.load(Ordering::Relaxed);
    if failed > 0 {
        let last = last_error.lock().unwrap_or_else(|e| e.into_inner()).clone();
        return Err(TargetError::Seeding { failed, items, last });
    }
    Ok(())
}

/// Sends `req` until it is answered 200 or 201, backing off between attempts; false when every
/// attempt failed (the last failure is kept in `last_error`).
async fn post_with_retries(client: &reqwest::Client, req: reqwest::Request, last_error: &Mutex<String>) -> bool {
    let note = |e: String| *last_error.lock().unwrap_or_else(|p| p.into_inner()) = e;
    let mut req = Some(req);
    for attempt in 0..ATTEMPTS {
        let Some(this) = req.take() else { break };
        // Bytes bodies clone cheaply; a request that could not is sent once.
        let copy = this.try_clone();
        match tokio::time::timeout(Duration::from_secs(30), client.execute(this)).await {
            Ok(Ok(resp)) if resp.status().as_u16() == 201 || resp.status().as_u16() == 200 => {
                let _ = resp.bytes().await;
                return true;
            }
            Ok(Ok(resp)) => {
                let status = resp.status();
                let _ = resp.bytes().await;
                note(format!("HTTP {status}"));
            }
            Ok(Err(e)) => note(e.without_url().to_string()),
            Err(_) => note("timed out".into()),
        }
        tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
        req = copy;
    }
    false
}
