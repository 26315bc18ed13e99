//! Where a request goes: `[target]` or one of the `[targets.NAME]`, each with its own
//! keep-alive pool on plain http (the fast path) or the general client's base URL, the prefix
//! its paths are appended to, its timeout and its authorizer.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::Authorizer;
use crate::http::{Connects, Pool};
use crate::scenario::Plan;

/// One target as the engine sends to it.
pub struct Endpoint {
    /// The plain-http fast path (`None` for https, HTTP/2 or an unparsable base).
    pub fast: Option<Pool>,
    /// What request paths are appended to: only the base URL's path on the fast path
    /// (origin-form request targets), else the whole base URL.
    pub prefix: String,
    /// Per-request timeout.
    pub timeout: Duration,
    /// How its requests are authorized.
    pub auth: Option<Arc<Authorizer>>,
}

impl Endpoint {
    /// The endpoint of base URL `base`, keeping up to `max_idle` connections, each counted in
    /// `connects`.
    fn new(base: &str, max_idle: usize, timeout: Duration, connects: &Arc<Connects>) -> Endpoint {
        // HTTP/2 is only ever negotiated by ALPN over TLS, so plain http is HTTP/1.1 either way.
        let fast = Pool::for_base(base, max_idle, connects.clone());
        let prefix = match &fast {
            Some(_) => {
                base.parse::<hyper::Uri>().map(|u| u.path().trim_end_matches('/').to_owned()).unwrap_or_default()
            }
            None => base.to_owned(),
        };
        Endpoint { fast, prefix, timeout, auth: None }
    }

    /// Every endpoint of `plan`: `[target]` at `base` first, then each `[targets.NAME]` in the
    /// plan's order (request kinds name them by [`Plan::target_of`] + 1).
    pub fn all(plan: &Plan, base: &str, connects: &Arc<Connects>) -> Vec<Endpoint> {
        let max_idle = plan.target.max_in_flight.min(4096);
        std::iter::once(Endpoint::new(base, max_idle, plan.target.timeout, connects))
            .chain(plan.targets.iter().map(|t| Endpoint::new(&t.url, max_idle, t.timeout, connects)))
            .collect()
    }

    /// Opens up to `n` connections to it before the schedule starts (through the general
    /// client's `connector` off the fast path); returns how many opened.
    pub async fn preopen(&self, n: usize, connector: &crate::http::Connector) -> usize {
        match &self.fast {
            Some(pool) => pool.preopen(n).await,
            None => match self.prefix.parse::<hyper::Uri>() {
                Ok(uri) => connector.preopen(&uri, n).await,
                Err(_) => 0,
            },
        }
    }
}

/// The endpoint index of request kind `i`: 0 for `[target]`, 1 + its index among the named.
pub fn index_of(plan: &Plan, i: usize) -> usize {
    plan.target_of(i).map_or(0, |t| t + 1)
}
