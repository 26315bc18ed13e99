//! The HTTP API emulator: events as AWS shapes them, route misses, stage throttling, CORS and
//! response mapping, driven by plain HTTP clients.

mod common;

use common::*;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use local_stack::Stack;
use serde_json::Value;

fn echo_config() -> local_stack::StackConfig {
    let mut c = config(misbehave());
    c.api.routes = vec!["GET /echo".into(), "POST /echo".into(), "ANY /{proxy+}".into()];
    c
}

/// Every key path of a JSON value (objects only), e.g. `requestContext.http.method`.
fn key_paths(v: &Value, prefix: &str, out: &mut Vec<String>) {
    if let Value::Object(m) = v {
        for (k, v) in m {
            let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
            // Header names and parameter names are data, not shape.
            if !["headers", "queryStringParameters", "pathParameters", "stageVariables"].contains(&k.as_str()) {
                key_paths(v, &p, out);
            }
            out.push(p);
        }
    }
}

#[tokio::test]
async fn events_have_every_field_aws_sends() {
    let stack = Stack::start(echo_config()).await.unwrap();
    let c = client();
    let url = format!("{}/echo?b=2&a=1&a=3", stack.endpoints().api_url);
    let r = send(
        &c,
        "POST",
        &url,
        &[
            ("cookie", "s=1; t=2"),
            ("x-multi", "one"),
            ("content-type", "application/octet-stream"),
            ("user-agent", "tester"),
        ],
        "\u{1}binary",
    )
    .await;
    assert_eq!(r.status, 200);
    let event: Value = r.json();
    let typed: ApiGatewayV2httpRequest = serde_json::from_value(event.clone()).expect("aws_lambda_events parses it");
    assert_eq!(typed.request_context.http.method.as_str(), "POST");
    assert_eq!(event["routeKey"], "POST /echo");
    assert_eq!(event["rawQueryString"], "b=2&a=1&a=3");
    assert_eq!(event["queryStringParameters"]["a"], "1,3", "repeated parameters are comma-joined");
    assert_eq!(event["cookies"], serde_json::json!(["s=1", "t=2"]));
    assert!(event["headers"].get("cookie").is_none(), "cookies move out of the headers");
    assert_eq!(event["headers"]["user-agent"], "tester");
    assert_eq!(event["isBase64Encoded"], true);
    assert_eq!(event["requestContext"]["http"]["userAgent"], "tester");
    assert!(event["requestContext"]["time"].as_str().unwrap().ends_with(" +0000"));
    assert_eq!(r.header("apigw-requestid"), event["requestContext"]["requestId"].as_str());
    // With no CORS configured on the API, the backend's own CORS headers pass through.
    assert_eq!(r.header("access-control-allow-origin"), Some("https://evil.example"));

    // Same key paths as the events recorded from AWS in target-api's fixtures.
    let mut ours = Vec::new();
    key_paths(&event, "", &mut ours);
    let fixture: Value =
        serde_json::from_str(include_str!("../../target-api/tests/data/post-item-base64.json")).unwrap();
    let mut theirs = Vec::new();
    key_paths(&fixture, "", &mut theirs);
    for p in &theirs {
        if p != "pathParameters" {
            assert!(ours.contains(p), "the gateway's event lacks {p}; it has {ours:?}");
        }
    }

    let r = send(&c, "GET", &format!("{}/items/a%3Ab", stack.endpoints().api_url), &[], "").await;
    assert_eq!(r.status, 200, "the proxy route catches it");
}

#[tokio::test]
async fn responses_are_mapped_with_cookies() {
    let stack = Stack::start(echo_config()).await.unwrap();
    let r = get(&format!("{}/anything", stack.endpoints().api_url)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), serde_json::json!({"ok": true}));
    let cookies: Vec<_> = r.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    assert_eq!(cookies, vec!["a=1; Path=/", "b=2"]);
}

#[tokio::test]
async fn unmatched_routes_are_the_gateways_404() {
    let mut c = config(misbehave());
    c.api.routes = vec!["GET /items/{id}".into()];
    let stack = Stack::start(c).await.unwrap();
    for (method, path) in [("GET", "/nope"), ("PUT", "/items/1"), ("GET", "/items/1/2")] {
        let r = send(&client(), method, &format!("{}{path}", stack.endpoints().api_url), &[], "").await;
        assert_eq!(r.status, 404, "{method} {path}");
        assert_eq!(r.json(), serde_json::json!({"message": "Not Found"}));
        assert_eq!(r.header("x-local-stack-cause"), Some("no-route"));
        assert!(r.header("apigw-requestid").is_some());
    }
    assert_eq!(stack.lambda().environments(), 0, "no route, no invoke");
}

#[tokio::test]
async fn a_burst_above_the_stage_bucket_gets_429s() {
    let mut c = echo_config();
    c.api.stage_throttle = local_stack::config::Throttle { rate: 1.0, burst: 5 };
    let stack = Stack::start(c).await.unwrap();
    let url = format!("{}/ok", stack.endpoints().api_url);
    let burst: Vec<_> = (0..20)
        .map(|_| {
            tokio::spawn({
                let url = url.clone();
                async move { get(&url).await }
            })
        })
        .collect();
    let mut ok = 0;
    let mut throttled = 0;
    for b in burst {
        let r = b.await.unwrap();
        match r.status {
            200 => ok += 1,
            429 => {
                assert_eq!(r.json(), serde_json::json!({"message": "Too Many Requests"}));
                assert_eq!(r.header("x-local-stack-cause"), Some("apigw-throttled"));
                throttled += 1;
            }
            s => panic!("unexpected status {s}"),
        }
    }
    // Five tokens in the bucket, plus at most one refilled during the burst.
    assert!((5..=6).contains(&ok), "ok={ok}");
    assert_eq!(ok + throttled, 20);
    let c4 = stack.metrics().query(
        &local_stack::metrics::MetricId::new(
            "AWS/ApiGateway",
            "4xx",
            &[("ApiId", "loc4lapi01"), ("Stage", "$default")],
        ),
        0,
        i64::MAX,
        3600,
        local_stack::metrics::Stat::Sum,
    );
    assert_eq!(c4[0].1, throttled as f64);
}

#[tokio::test]
async fn zero_throttle_settings_block_everything() {
    let mut c = echo_config();
    c.api.stage_throttle = local_stack::config::Throttle { rate: 0.0, burst: 0 };
    let stack = Stack::start(c).await.unwrap();
    let r = get(&format!("{}/ok", stack.endpoints().api_url)).await;
    assert_eq!(r.status, 429, "the Terraform 0/0 pitfall: every request throttled");
}

#[tokio::test]
async fn cors_preflight_and_actual_responses() {
    let mut c = echo_config();
    c.api.cors = Some(local_stack::config::Cors {
        allow_origins: vec!["https://app.example".into()],
        allow_methods: vec!["GET".into(), "POST".into()],
        allow_headers: vec!["content-type".into()],
        expose_headers: vec!["x-cold-start".into()],
        max_age: Some(300),
        allow_credentials: false,
    });
    let stack = Stack::start(c).await.unwrap();
    let api = &stack.endpoints().api_url;
    let pre = [("origin", "https://app.example"), ("access-control-request-method", "POST")];
    let r = send(&client(), "OPTIONS", &format!("{api}/no/route/needed"), &pre, "").await;
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), Some("https://app.example"));
    assert_eq!(r.header("access-control-allow-methods"), Some("GET,POST"));
    assert_eq!(r.header("access-control-max-age"), Some("300"));
    assert_eq!(stack.lambda().environments(), 0, "the gateway answers preflight itself");

    let r = send(&client(), "GET", &format!("{api}/echo"), &[("origin", "https://app.example")], "").await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example"),
        "backend CORS headers are replaced"
    );
    assert_eq!(r.header("access-control-expose-headers"), Some("x-cold-start"));
    let r = send(&client(), "GET", &format!("{api}/echo"), &[("origin", "https://other.example")], "").await;
    assert_eq!(r.header("access-control-allow-origin"), None);
}

/// A GET through the gateway against the event AWS recorded for the same request
/// (`tests/data/aws-apigw-v2-get.json`, the `aws_lambda_events` crate's fixture
/// `example-apigw-v2-request-no-authorizer.json`, a curl GET on an HTTP API): the same fields,
/// nesting and types, the same headers, the values AWS's rules give.
#[tokio::test]
async fn a_get_is_the_event_aws_recorded() {
    let mut c = config(misbehave());
    c.api.routes = vec!["$default".into()];
    let stack = Stack::start(c).await.unwrap();
    let url = stack.endpoints().api_url.clone();
    let port = url.rsplit(':').next().unwrap().to_owned();
    let r =
        send(&client(), "GET", &format!("{url}/echo"), &[("accept", "*/*"), ("user-agent", "curl/7.58.0")], "").await;
    assert_eq!(r.status, 200);
    let ours: Value = r.json();
    let aws: Value = serde_json::from_str(include_str!("data/aws-apigw-v2-get.json")).unwrap();
    // `authentication` is there only when the API uses mutual TLS.
    let shape = |v: &Value| -> Vec<String> {
        let mut out = Vec::new();
        key_paths(v, "", &mut out);
        out.retain(|p| !p.starts_with("requestContext.authentication"));
        out.sort();
        out
    };
    assert_eq!(shape(&ours), shape(&aws), "fields and nesting");
    let headers = |v: &Value| v["headers"].as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(headers(&ours), headers(&aws), "the headers API Gateway adds");
    let type_of = |v: &Value| match v {
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Object(_) => "object",
        _ => "other",
    };
    for p in shape(&aws) {
        let at = |v: &Value| p.split('.').fold(v.clone(), |v, k| v[k].clone());
        assert_eq!(type_of(&at(&ours)), type_of(&at(&aws)), "type of {p}");
    }
    let h = &ours["headers"];
    assert_eq!(h["content-length"], "0", "API Gateway adds it to a bodiless request");
    assert_eq!(h["x-forwarded-port"], port.as_str(), "the port the client connected to");
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    let ctx = &ours["requestContext"];
    let id = ctx["requestId"].as_str().unwrap();
    assert_eq!(id.len(), aws["requestContext"]["requestId"].as_str().unwrap().len());
    assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || "-_=".contains(c)), "URL-safe base64: {id}");
    assert!(!ctx["domainName"].as_str().unwrap().contains(':'), "no port in the domain name");
    assert_eq!(ours["routeKey"], "$default");
    assert_eq!(ours["isBase64Encoded"], false);
}

/// The decoded path is what HTTP APIs route on and deliver; bodies that are not text are
/// base64-encoded; a client's forwarding headers are extended, not trusted.
#[tokio::test]
async fn paths_bodies_and_forwarding_headers_follow_aws() {
    let mut c = config(misbehave());
    c.api.routes = vec!["GET /echo/{id}".into(), "ANY /{proxy+}".into()];
    c.api.stage_variables = vec![("env".into(), "test".into())];
    let stack = Stack::start(c).await.unwrap();
    let url = stack.endpoints().api_url.clone();
    let cl = client();
    let event = |r: Reply| -> Value { r.json() };

    let e = event(send(&cl, "GET", &format!("{url}/echo/a%40b?q=%20x"), &[], "").await);
    assert_eq!((e["routeKey"].as_str(), e["rawPath"].as_str()), (Some("GET /echo/{id}"), Some("/echo/a@b")));
    assert_eq!(e["requestContext"]["http"]["path"], "/echo/a@b");
    assert_eq!(e["pathParameters"]["id"], "a@b");
    assert_eq!(e["rawQueryString"], "q=%20x", "the query string stays as sent");
    assert_eq!(e["queryStringParameters"]["q"], " x");
    assert_eq!(e["stageVariables"]["env"], "test");

    let e = event(send(&cl, "GET", &format!("{url}/echo/a%2Fb"), &[], "").await);
    assert_eq!(e["routeKey"], "ANY /{proxy+}", "a decoded / separates segments, so {{id}} cannot match");
    assert_eq!(e["rawPath"], "/echo/a/b");

    let form = [("content-type", "application/x-www-form-urlencoded")];
    let e = event(send(&cl, "POST", &format!("{url}/echo"), &form, "a=1").await);
    assert_eq!((e["isBase64Encoded"].as_bool(), e["body"].as_str()), (Some(true), Some("YT0x")), "form posts");
    let e = event(send(&cl, "POST", &format!("{url}/echo"), &[], "hi").await);
    assert_eq!((e["isBase64Encoded"].as_bool(), e["body"].as_str()), (Some(true), Some("aGk=")), "no content type");
    let json = [("content-type", "application/json")];
    let e = event(send(&cl, "POST", &format!("{url}/echo"), &json, "{}").await);
    assert_eq!((e["isBase64Encoded"].as_bool(), e["body"].as_str()), (Some(false), Some("{}")));
    assert_eq!(e["headers"]["content-length"], "2");

    let claims = [("x-forwarded-for", "9.9.9.9"), ("x-forwarded-port", "1"), ("x-forwarded-proto", "gopher")];
    let e = event(send(&cl, "GET", &format!("{url}/echo"), &claims, "").await);
    assert_eq!(e["headers"]["x-forwarded-for"], "9.9.9.9, 127.0.0.1", "the caller is appended");
    assert_eq!(e["headers"]["x-forwarded-proto"], "http");
    assert_ne!(e["headers"]["x-forwarded-port"], "1");
}
