//! API Gateway in front of the function: each request of the plan routed as the stack's route
//! table selects it, and throttled by the same buckets the local stack's gateway uses
//! ([`local_stack::rules::GatewayThrottle`]): its route's (the stage default or its own), then the
//! account's. A throttled request is a 429 that never reaches Lambda and is not billed.

use local_stack::apigw::routes::RouteTable;
use local_stack::rules::GatewayThrottle;

use crate::results::calibration::GatewayLimits;
use crate::scenario::{Plan, Template};

/// The gateway for one plan: the route of each of its requests and each route's limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Gateway {
    /// Index into `limits` of each of the plan's requests, in order.
    route_of: Vec<usize>,
    /// `(rate, burst)` of each route.
    limits: Vec<(f64, u32)>,
    account: (f64, u32),
}

/// A request of the plan that matches none of the stack's routes (a run gets 404s for it).
#[derive(Debug, Clone, PartialEq)]
pub struct NoRoute {
    /// `name (METHOD path)`.
    pub request: String,
    /// The stack's route keys.
    pub routes: Vec<String>,
}

/// The path a request's template sends, as API Gateway routes it: placeholders filled, the
/// query dropped, percent-decoded (`%2F` separates segments, as in the emulator).
fn routed_path(template: &Template) -> String {
    let filled = template.filled("x");
    local_stack::apigw::routes::decode(filled.split('?').next().unwrap_or_default())
}

impl Gateway {
    /// The gateway `limits` configure, for `plan`'s requests.
    pub fn for_plan(limits: &GatewayLimits, plan: &Plan) -> Result<Gateway, NoRoute> {
        let table = RouteTable::new(&limits.routes).map_err(|_| NoRoute {
            request: "(the stack's route table does not parse)".into(),
            routes: limits.routes.clone(),
        })?;
        let route_of = plan
            .requests
            .iter()
            .map(|r| {
                let path = routed_path(&r.path);
                table
                    .select(&r.method, &path)
                    .and_then(|m| limits.routes.iter().position(|k| *k == m.route.key))
                    .ok_or_else(|| NoRoute {
                        request: format!("{} ({} {})", r.name, r.method, r.path.text()),
                        routes: limits.routes.clone(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let limits_of = |key: &str| {
            let t = limits.overrides.iter().find(|o| o.route == key).map_or(limits.stage, |o| o.throttle);
            (t.rate, t.burst)
        };
        Ok(Gateway {
            route_of,
            limits: limits.routes.iter().map(|k| limits_of(k)).collect(),
            account: (limits.account.rate, limits.account.burst),
        })
    }

    /// Fresh buckets, full, for one replication.
    pub fn throttle(&self) -> GatewayThrottle {
        GatewayThrottle::new(&self.limits, self.account)
    }

    /// The route index of the plan's request `request`.
    pub fn route(&self, request: usize) -> usize {
        self.route_of.get(request).copied().unwrap_or(usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_route_on_their_path_with_placeholders_filled() {
        let path = |t: &str| routed_path(&Template::parse(t).unwrap());
        assert_eq!(path("/items/{id}"), "/items/x");
        assert_eq!(path("/items?ids={ids:25}&pattern=per-item"), "/items");
        assert_eq!(path("/a/{{b}}"), "/a/{b}", "an escaped brace is a literal one");
        assert_eq!(path("/a%2Fb/{id}"), "/a/b/x", "decoded as the gateway routes");
    }
}
