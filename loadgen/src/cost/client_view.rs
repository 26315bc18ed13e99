//! What the client saw of a run, in the units the bill counts: requests that reached the
//! integration and the function, and the diagnostic headers' read/write units and handler time.

use crate::record::Class;
use crate::results::Results;

/// What the client saw, in the units the bill counts.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientView {
    /// Completed requests.
    pub completed: f64,
    /// Requests that reached the integration (API Gateway's own 429s and transport errors aside).
    pub api: f64,
    /// Requests that reached the function (Lambda throttles aside too).
    pub invocations: f64,
    /// Read units from the `x-ddb-rcu` headers.
    pub rcu: f64,
    /// Write units from the `x-ddb-wcu` headers.
    pub wcu: f64,
    /// Handler time summed from the `x-handler-us` headers, ms.
    pub handler_ms: f64,
    /// Responses that carried diagnostics.
    pub diagnosed: f64,
    /// Whether every request kind the functions answered reported its units: when one did
    /// not (a function without target-api's headers), the units the client saw are not the
    /// table's.
    pub units_complete: bool,
}

impl ClientView {
    /// The client's view of `results`.
    pub fn of(results: &Results) -> ClientView {
        let class = |c| results.totals.by_class[c] as f64;
        let completed = results.totals.requests as f64;
        // Neither API Gateway's own 429s nor its refusals at authorization reach the integration.
        let api =
            completed - class(Class::ApigwThrottled) - class(Class::TransportError) - results.gateway_denied as f64;
        let mut view =
            ClientView { completed, api, invocations: api - class(Class::LambdaThrottled), ..ClientView::default() };
        view.units_complete = true;
        for q in &results.requests {
            let d = &q.diagnostics;
            let answered = d.billed_responses > 0 || q.summary.by_class[Class::Ok] > 0;
            view.units_complete &= d.responses > 0 || !answered;
            view.rcu += d.rcu;
            view.wcu += d.wcu;
            view.handler_ms += d.handler_ms_mean * d.responses as f64;
            view.diagnosed += d.responses as f64;
        }
        view
    }
}
