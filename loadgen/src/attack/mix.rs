//! What is sent next: a request kind drawn by weight from the mix, its path and body rendered
//! from their templates with seeded keys, fresh ids and the payload.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use super::keys::KeyPicker;
use crate::scenario::Plan;
use crate::scenario::template::push_id;

/// A request ready to send.
pub struct Prepared {
    /// Index of the request kind.
    pub request: usize,
    /// Method.
    pub method: hyper::Method,
    /// Where to.
    pub uri: hyper::Uri,
    /// Body (empty for none).
    pub body: Bytes,
}

/// The request mix of one run.
pub struct Mix {
    /// Request kinds, their weights and templates.
    requests: Vec<Kind>,
    weights_total: f64,
    /// What request paths are appended to: the whole base URL for the general client, only its
    /// path for the fast path (origin-form request targets).
    prefix: String,
    keys: KeyPicker,
    payload: String,
    fresh_ids: AtomicU64,
    run_tag: u64,
    /// A data file's rows, whose keys `{id}` renders.
    file_keys: crate::scenario::seed_data::Rows,
}

struct Kind {
    weight: f64,
    method: hyper::Method,
    path: crate::scenario::Template,
    body: Option<crate::scenario::Template>,
    /// The URI when the path has no placeholders: parsed once, cloned cheaply.
    fixed: Option<hyper::Uri>,
}

impl Mix {
    /// The mix of `plan`, with paths appended to `prefix`.
    pub fn new(plan: &Plan, prefix: String) -> Mix {
        let requests = plan
            .requests
            .iter()
            .map(|r| Kind {
                weight: r.weight,
                method: hyper::Method::from_bytes(r.method.as_bytes()).unwrap_or(hyper::Method::GET),
                path: r.path.clone(),
                body: r.body.clone(),
                fixed: r.path.literal().and_then(|l| format!("{prefix}{l}").parse().ok()),
            })
            .collect::<Vec<_>>();
        Mix {
            weights_total: requests.iter().map(|k| k.weight).sum(),
            requests,
            prefix,
            keys: KeyPicker::new(plan.data.items, &plan.data.distribution),
            payload: "x".repeat(plan.data.item_size),
            fresh_ids: AtomicU64::new(0),
            run_tag: plan.seed,
            file_keys: plan.data.rows.clone(),
        }
    }

    /// Draws a request kind by weight and renders it.
    pub fn prepare(&self, rng: &mut fastrand::Rng) -> Prepared {
        let mut x = rng.f64() * self.weights_total;
        let mut idx = 0;
        for (i, r) in self.requests.iter().enumerate() {
            idx = i;
            if x < r.weight {
                break;
            }
            x -= r.weight;
        }
        let kind = &self.requests[idx];
        if let (Some(uri), None) = (&kind.fixed, &kind.body) {
            return Prepared { request: idx, method: kind.method.clone(), uri: uri.clone(), body: Bytes::new() };
        }
        let mut path = String::with_capacity(self.prefix.len() + 64);
        path.push_str(&self.prefix);
        let mut body = String::new();
        {
            let rng_cell = std::cell::RefCell::new(&mut *rng);
            let keys = &self.keys;
            let mut id = || keys.pick(&mut rng_cell.borrow_mut());
            let mut ids = |n: usize, out: &mut Vec<u64>| keys.pick_distinct(n, &mut rng_cell.borrow_mut(), out);
            let mut new_id = || format!("new-{}-{}", self.run_tag, self.fresh_ids.fetch_add(1, Ordering::Relaxed));
            // A data file's keys, or the generated items' ids.
            let file_keys = self.file_keys.as_deref();
            let id_text = |out: &mut String, n: u64| match file_keys.and_then(|r| r.keys.get(n as usize)) {
                Some(k) => out.push_str(k),
                None => push_id(out, n),
            };
            kind.path.render(&mut path, &mut id, &mut ids, &mut new_id, &self.payload, &id_text);
            if let Some(b) = &kind.body {
                b.render(&mut body, &mut id, &mut ids, &mut new_id, &self.payload, &id_text);
            }
        }
        let uri = hyper::Uri::try_from(path).unwrap_or_else(|_| hyper::Uri::from_static("http://invalid./"));
        Prepared { request: idx, method: kind.method.clone(), uri, body: Bytes::from(body) }
    }
}
