//! The API Gateway HTTP API emulator: route selection, stage/route and account throttling as
//! token buckets, payload 2.0 events to the Lambda emulator, response mapping, the gateway's
//! own errors (`Not Found`, `Too Many Requests`, `Internal Server Error`, `Service
//! Unavailable`), CORS as configured, `apigw-requestid`, and the `AWS/ApiGateway` metrics.
//!
//! Every gateway-made error also carries `x-local-stack-cause`, an emulator-only header naming
//! the true cause, so loadgen can test the heuristics it must use on AWS.

pub mod event;
pub mod event_v1;
pub mod iam;
pub mod jwt;
pub mod listener;
pub mod response;
pub mod routes;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;

use crate::Shared;
use crate::config::{ApiConfig, Cors};
use crate::lambda::{LambdaService, Outcome};
use crate::metrics::{MetricId, Series};
use crate::profile::{Profile, Sampler};
use crate::rules::GatewayThrottle;
use routes::RouteTable;

/// The emulator-only header naming the cause of a gateway-made response.
pub const CAUSE_HEADER: &str = "x-local-stack-cause";
/// The emulator-only header on a response whose invocation started a new environment: its INIT
/// duration, ms, as the REPORT line's `Init Duration`.
pub const INIT_HEADER: &str = "x-local-stack-init-ms";
/// The emulator-only header with the invocation's billed duration, ms, as the REPORT line's.
pub const BILLED_HEADER: &str = "x-local-stack-billed-ms";
/// HTTP API payload limit: 10 MB.
pub const MAX_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;
/// Lambda's synchronous invoke payload limit: 6 MB.
pub const MAX_EVENT_BYTES: usize = 6 * 1024 * 1024;

/// Each route key's index, and the `(rate, burst)` of each: its own throttle, or the stage's
/// default (one bucket per route, as AWS applies the default per route).
pub fn route_limits(config: &ApiConfig, routes: &RouteTable) -> (HashMap<String, usize>, Vec<(f64, u32)>) {
    let mut index = HashMap::new();
    let mut limits = Vec::new();
    for (i, k) in routes.keys().enumerate() {
        let t = config.route_throttles.iter().find(|(rk, _)| rk == k).map(|(_, t)| *t).unwrap_or(config.stage_throttle);
        index.insert(k.to_owned(), i);
        limits.push((t.rate, t.burst));
    }
    (index, limits)
}

struct Metrics {
    count: Series,
    c4xx: Series,
    c5xx: Series,
    latency: Series,
    integration_latency: Series,
}

struct Gateway {
    config: ApiConfig,
    /// The port clients connect to (`x-forwarded-port`).
    listen_port: u16,
    account_id: String,
    /// The stack's region: an IAM route's signatures are scoped to it.
    region: String,
    routes: RouteTable,
    /// Each route's index into `throttle`.
    route_index: HashMap<String, usize>,
    /// The route and account buckets, over seconds since `started`.
    throttle: Mutex<GatewayThrottle>,
    started: Instant,
    /// Each route's function, an index into `functions`.
    route_function: HashMap<String, usize>,
    functions: Vec<LambdaService>,
    profile: Arc<Profile>,
    sampler: Arc<Sampler>,
    metrics: Metrics,
    /// The routes' JWT authorizers, when any route has one.
    jwt: Option<jwt::Verifier>,
    /// How long a body may take once its headers have come.
    body_timeout: Duration,
}

/// The gateway's router, to be served with `into_make_service_with_connect_info`.
pub fn router(
    config: ApiConfig,
    (account_id, region): (&str, &str),
    listen_port: u16,
    integrations: Vec<(Vec<String>, LambdaService)>,
    shared: &Shared,
) -> Result<axum::Router, String> {
    let (profile, sampler, store) = (shared.profile.clone(), shared.sampler.clone(), &shared.metrics);
    let keys: Vec<String> = integrations.iter().flat_map(|(keys, _)| keys.iter().cloned()).collect();
    let routes = RouteTable::new(&keys)?;
    let mut route_function = HashMap::new();
    for (i, (keys, _)) in integrations.iter().enumerate() {
        for k in keys {
            if route_function.insert(k.clone(), i).is_some() {
                return Err(format!("route '{k}' has two integrations; a route invokes one function"));
            }
        }
    }
    let functions = integrations.into_iter().map(|(_, f)| f).collect();
    let (route_index, limits) = route_limits(&config, &routes);
    let dims = [("ApiId", config.api_id.as_str()), ("Stage", config.stage.as_str())];
    let series = |name: &str, pct: bool| store.series(MetricId::new("AWS/ApiGateway", name, &dims), pct);
    let metrics = Metrics {
        count: series("Count", false),
        c4xx: series("4xx", false),
        c5xx: series("5xx", false),
        latency: series("Latency", true),
        integration_latency: series("IntegrationLatency", true),
    };
    let jwt = jwt::Verifier::new(&config.jwt_authorizers, &config.jwt_routes);
    let gw = Gateway {
        throttle: Mutex::new(GatewayThrottle::new(
            &limits,
            (config.account_throttle.rate, config.account_throttle.burst),
        )),
        started: Instant::now(),
        config,
        listen_port,
        account_id: account_id.to_owned(),
        region: region.to_owned(),
        routes,
        route_index,
        route_function,
        functions,
        profile,
        sampler,
        metrics,
        jwt,
        body_timeout: shared.client_timeouts.body,
    };
    Ok(axum::Router::new().fallback(handle).with_state(Arc::new(gw)))
}

/// `LV7fzho-PHcEJPw=`-shaped request ids, as HTTP APIs send them: 16 characters of URL-safe
/// base64 (`-` and `_`, never `+` or `/`).
fn new_request_id() -> String {
    let bytes: [u8; 11] = std::array::from_fn(|_| fastrand::u8(..));
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

fn gateway_error(status: StatusCode, message: &str, cause: &str) -> (StatusCode, Vec<(String, String)>, Vec<u8>) {
    let headers =
        vec![("content-type".to_owned(), "application/json".to_owned()), (CAUSE_HEADER.to_owned(), cause.to_owned())];
    // A message may quote what the request said (a region), so it is written as JSON.
    (status, headers, serde_json::json!({ "message": message }).to_string().into_bytes())
}

fn origin_allowed<'a>(cors: &'a Cors, origin: &'a str) -> Option<&'a str> {
    if cors.allow_origins.iter().any(|o| o == "*") {
        return Some(if cors.allow_credentials { origin } else { "*" });
    }
    cors.allow_origins.iter().find(|o| o.eq_ignore_ascii_case(origin)).map(|_| origin)
}

async fn handle(
    State(gw): State<Arc<Gateway>>,
    ConnectInfo(source): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let started = Instant::now();
    let request_id = new_request_id();
    let (parts, body) = req.into_parts();
    let method = parts.method.clone();
    let headers = parts.headers.clone();
    let origin = headers.get("origin").and_then(|v| v.to_str().ok()).map(str::to_owned);

    let (status, mut out_headers, out_body, integration) =
        serve(&gw, &parts, body, source, &request_id, &method, &headers, origin.as_deref()).await;

    let preflight = method == Method::OPTIONS && headers.contains_key("access-control-request-method");
    // CORS on actual responses: the gateway's headers replace whatever the backend sent.
    if let Some(cors) = &gw.config.cors
        && !preflight
    {
        out_headers.retain(|(k, _)| !k.starts_with("access-control-"));
        if let Some(origin) = &origin
            && let Some(allow) = origin_allowed(cors, origin)
        {
            out_headers.push(("access-control-allow-origin".into(), allow.to_owned()));
            if cors.allow_credentials {
                out_headers.push(("access-control-allow-credentials".into(), "true".into()));
            }
            if !cors.expose_headers.is_empty() {
                out_headers.push(("access-control-expose-headers".into(), cors.expose_headers.join(",")));
            }
        }
    }

    let overhead = gw.sampler.sample(&gw.profile.apigw.overhead);
    if !overhead.is_zero() {
        tokio::time::sleep(overhead).await;
    }
    let m = &gw.metrics;
    m.count.record(1.0);
    m.c4xx.record(if (400..500).contains(&status.as_u16()) { 1.0 } else { 0.0 });
    m.c5xx.record(if status.as_u16() >= 500 { 1.0 } else { 0.0 });
    m.latency.record(started.elapsed().as_secs_f64() * 1e3);
    if let Some(d) = integration {
        m.integration_latency.record(d.as_secs_f64() * 1e3);
    }

    let mut response = Response::builder().status(status);
    for (k, v) in out_headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::try_from(v.as_str())) {
            // Hop-by-hop and length headers are the server's to set.
            if k != "content-length" && k != "transfer-encoding" && k != "connection" {
                response = response.header(k, v);
            }
        }
    }
    response = response.header("apigw-requestid", request_id);
    response.body(Body::from(out_body)).unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

type Served = (StatusCode, Vec<(String, String)>, Vec<u8>, Option<Duration>);

/// The request's body, or the gateway's refusal: 413 for one longer than [`MAX_PAYLOAD_BYTES`]
/// — at once when its `Content-Length` says so, before any of it is read (so a client that
/// asked `Expect: 100-continue` is never told to send it) — 400 for a body the client framed
/// wrongly (a malformed chunk size, a connection closed short of its length), 408 for one that
/// did not arrive within `timeout` ([`crate::config::ClientTimeouts`]).
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    timeout: Duration,
) -> Result<Bytes, (StatusCode, Vec<(String, String)>, Vec<u8>)> {
    let too_large = || gateway_error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large", "payload-too-large");
    let declared =
        headers.get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_PAYLOAD_BYTES as u64) {
        return Err(too_large());
    }
    use http_body_util::BodyExt as _;
    match tokio::time::timeout(timeout, http_body_util::Limited::new(body, MAX_PAYLOAD_BYTES).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(_)) => Err(gateway_error(StatusCode::BAD_REQUEST, "Bad Request", "malformed-body")),
        Err(_) => Err(gateway_error(StatusCode::REQUEST_TIMEOUT, "Request Timeout", "body-timeout")),
    }
}

#[allow(clippy::too_many_arguments)]
async fn serve(
    gw: &Gateway,
    parts: &axum::http::request::Parts,
    body: Body,
    source: SocketAddr,
    request_id: &str,
    method: &Method,
    headers: &HeaderMap,
    origin: Option<&str>,
) -> Served {
    let with_none = |(s, h, b): (StatusCode, Vec<(String, String)>, Vec<u8>)| (s, h, b, None);

    // Preflight: answered by the gateway itself when CORS is configured, route or not.
    if let (Some(cors), true, Some(origin)) = (&gw.config.cors, method == Method::OPTIONS, origin)
        && headers.contains_key("access-control-request-method")
    {
        let mut h = Vec::new();
        if let Some(allow) = origin_allowed(cors, origin) {
            h.push(("access-control-allow-origin".to_owned(), allow.to_owned()));
            if !cors.allow_methods.is_empty() {
                h.push(("access-control-allow-methods".into(), cors.allow_methods.join(",")));
            }
            if !cors.allow_headers.is_empty() {
                h.push(("access-control-allow-headers".into(), cors.allow_headers.join(",")));
            }
            if let Some(age) = cors.max_age {
                h.push(("access-control-max-age".into(), age.to_string()));
            }
            if cors.allow_credentials {
                h.push(("access-control-allow-credentials".into(), "true".into()));
            }
        }
        return (StatusCode::NO_CONTENT, h, Vec::new(), None);
    }

    // HTTP APIs route on, and deliver, the decoded path.
    let path = routes::decode(parts.uri.path());
    // A named stage is served under its name; routes match what follows it, while the event's
    // rawPath keeps the stage, as AWS delivers it.
    let routed = match gw.config.stage.as_str() {
        "$default" => Some(path.as_str()),
        stage => path.strip_prefix('/').and_then(|p| p.strip_prefix(stage)).and_then(|rest| match rest {
            "" => Some("/"),
            r if r.starts_with('/') => Some(r),
            _ => None,
        }),
    };
    let Some(matched) = routed.and_then(|p| gw.routes.select(method.as_str(), p)) else {
        return with_none(gateway_error(StatusCode::NOT_FOUND, "Not Found", "no-route"));
    };
    let route_key = matched.route.key.clone();
    let admitted = gw.route_index.get(&route_key).is_some_and(|i| {
        let now = gw.started.elapsed().as_secs_f64();
        gw.throttle.lock().unwrap_or_else(|p| p.into_inner()).admit(*i, now)
    });
    if !admitted {
        return with_none(gateway_error(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests", "apigw-throttled"));
    }
    let body = match read_body(headers, body, gw.body_timeout).await {
        Ok(b) => b,
        Err(refused) => return with_none(refused),
    };
    // What the function is told of the caller: `requestContext.authorizer`.
    let mut authorizer = None;
    if gw.config.iam_routes.contains(&route_key) {
        let pq = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let authority = parts.uri.authority().map(|a| a.as_str());
        if let Err(denied) =
            iam::verify(method.as_str(), (pq, authority), headers, &body, &gw.region, SystemTime::now())
        {
            return with_none(gateway_error(StatusCode::FORBIDDEN, &denied.message(), "iam-denied"));
        }
        let arn = format!("arn:aws:iam::{}:user/{}", gw.account_id, iam::ACCESS_KEY_ID);
        authorizer = Some(serde_json::json!({ "iam": {
            "accessKey": iam::ACCESS_KEY_ID, "accountId": gw.account_id, "callerId": iam::ACCESS_KEY_ID,
            "userArn": arn, "userId": iam::ACCESS_KEY_ID,
        }}));
    }
    if let Some(v) = gw.jwt.as_ref().filter(|v| v.guards(&route_key)) {
        match v.verify(&route_key, headers).await {
            Ok(a) => authorizer = Some(serde_json::json!({ "jwt": { "claims": a.claims, "scopes": a.scopes } })),
            Err(jwt::Denied::Unauthorized(why)) => {
                let mut e = gateway_error(StatusCode::UNAUTHORIZED, "Unauthorized", "jwt-denied");
                let quoted = why.replace('"', "'");
                e.1.push((
                    "www-authenticate".into(),
                    format!("Bearer scope=\"\" error=\"invalid_token\" error_description=\"{quoted}\""),
                ));
                return with_none(e);
            }
            Err(jwt::Denied::Forbidden) => {
                return with_none(gateway_error(StatusCode::FORBIDDEN, "Forbidden", "jwt-denied"));
            }
        }
    }
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let protocol = match parts.version {
        axum::http::Version::HTTP_2 => "HTTP/2.0",
        axum::http::Version::HTTP_10 => "HTTP/1.0",
        _ => "HTTP/1.1",
    };
    let meta = event::RequestMeta {
        method: method.as_str(),
        path: &path,
        raw_query: parts.uri.query().unwrap_or(""),
        protocol,
        source,
        listen_port: gw.listen_port,
        stage_variables: &gw.config.stage_variables,
        route_key: &route_key,
        path_params: &matched.params,
        api_id: &gw.config.api_id,
        stage: &gw.config.stage,
        account_id: &gw.account_id,
        request_id,
        time_epoch_ms: now_ms,
    };
    let Some(lambda) = gw.route_function.get(&route_key).and_then(|i| gw.functions.get(*i)).cloned() else {
        return with_none(gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error", "emulator-error"));
    };
    let v1 = lambda.config().payload_format_version == "1.0";
    let mut event = if v1 { event_v1::build(&meta, headers, &body) } else { event::build(&meta, headers, &body) };
    if let Some(a) = authorizer {
        // Payload 1.0 has the JWT's claims and scopes at the top of `authorizer`.
        event["requestContext"]["authorizer"] = match (v1, a.get("jwt")) {
            (true, Some(jwt)) => jwt.clone(),
            _ => a,
        };
    }
    let event = Bytes::from(event.to_string());
    if event.len() > MAX_EVENT_BYTES {
        return with_none(gateway_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request Entity Too Large",
            "payload-too-large",
        ));
    }

    // The invoke runs on its own task: when the integration times out the function keeps
    // running (and is billed), exactly as on AWS.
    let invoke_started = Instant::now();
    let invoked = lambda.clone();
    let task = tokio::spawn(async move { invoked.invoke(event).await });
    let timeout = lambda.config().integration_timeout.unwrap_or(gw.config.integration_timeout);
    let result = match tokio::time::timeout(timeout, task).await {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => {
            return with_none(gateway_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error",
                "emulator-error",
            ));
        }
        Err(_) => {
            let e = gateway_error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable", "integration-timeout");
            return (e.0, e.1, e.2, Some(invoke_started.elapsed()));
        }
    };
    let integration = Some(invoke_started.elapsed());
    let mut served = match &result.outcome {
        Outcome::Throttled(_) => {
            gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error", "lambda-throttled")
        }
        Outcome::FunctionError { .. } => {
            gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error", "function-error")
        }
        Outcome::Success(payload) => match if v1 { response::map_v1(payload) } else { response::map(payload) } {
            Some(m) => (StatusCode::from_u16(m.status).unwrap_or(StatusCode::OK), m.headers, m.body),
            None => gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error", "malformed-response"),
        },
    };
    // What the REPORT line says of this invocation, for a client that cannot read the log:
    // emulator-only, as the cause header is.
    if let Some(init) = result.init_ms {
        served.1.push((INIT_HEADER.to_owned(), format!("{init:.2}")));
    }
    if !matches!(result.outcome, Outcome::Throttled(_)) {
        served.1.push((BILLED_HEADER.to_owned(), result.billed_ms.to_string()));
    }
    (served.0, served.1, served.2, integration)
}
