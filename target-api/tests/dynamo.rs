//! Every route against a real DynamoDB-compatible endpoint (dynoxide on loopback) through the
//! real `aws-sdk-dynamodb` client, entered as API Gateway v2 events.

mod common;

use std::sync::atomic::Ordering;

use common::*;
use serde_json::{Value, json};

fn header<'a>(r: &'a target_api::lambda::ProxyResponse, name: &str) -> &'a str {
    r.headers.get(name).map(String::as_str).unwrap_or_else(|| panic!("missing header {name}: {:?}", r.headers))
}

#[tokio::test]
async fn every_route_end_to_end() {
    let d = start_dynamo().await;
    let app = app(&d.endpoint, fast_retry()).await;

    let r = call(&app, "GET", "/health", "", None).await;
    assert_eq!((r.status_code, body_json(&r)), (200, json!({"status": "ok"})));
    assert_eq!(header(&r, "x-ddb-calls"), "0");

    let r = call(&app, "POST", "/items", "", Some(r#"{"id":"a1","name":"widget","tags":["x"],"n":3}"#)).await;
    assert_eq!(r.status_code, 201, "{}", r.body);
    assert_eq!(body_json(&r), json!({"id":"a1","name":"widget","tags":["x"],"n":3}));
    assert_eq!(header(&r, "location"), "/items/a1");
    assert_eq!((header(&r, "x-ddb-calls"), header(&r, "x-ddb-wcu")), ("1", "1"));

    let r = call(&app, "POST", "/items", "", Some(r#"{"name":"generated"}"#)).await;
    assert_eq!(r.status_code, 201);
    let generated = body_json(&r)["id"].as_str().unwrap().to_owned();
    assert_eq!(generated.len(), 20);

    let r = call(&app, "GET", "/items/a1", "", None).await;
    assert_eq!((r.status_code, body_json(&r)["name"].clone()), (200, json!("widget")));
    assert_eq!(header(&r, "x-ddb-rcu"), "0.5");
    let r = call(&app, "GET", "/items/a1", "consistent=true", None).await;
    assert_eq!(header(&r, "x-ddb-rcu"), "1");
    let r = call(&app, "GET", &format!("/items/{generated}"), "", None).await;
    assert_eq!(r.status_code, 200);

    let r = call(&app, "GET", "/items/nope", "", None).await;
    assert_eq!(r.status_code, 404);
    assert_eq!(body_json(&r)["error"], "not_found");
    assert_eq!(header(&r, "x-ddb-rcu"), "0.5", "a miss still costs the minimum read");

    let r = call(&app, "DELETE", "/items/a1", "", None).await;
    assert_eq!((r.status_code, r.body.as_str()), (204, ""));
    assert_eq!(call(&app, "GET", "/items/a1", "", None).await.status_code, 404);
    assert_eq!(call(&app, "DELETE", "/items/a1", "", None).await.status_code, 204, "delete is idempotent");

    let r = call(&app, "PUT", "/items/a1", "", None).await;
    assert_eq!((r.status_code, header(&r, "allow")), (405, "DELETE, GET"));
    assert_eq!(call(&app, "GET", "/nowhere", "", None).await.status_code, 404);
    let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(70 * 1024));
    let r = call(&app, "POST", "/items", "", Some(&big)).await;
    assert_eq!((r.status_code, body_json(&r)["error"].clone()), (413, json!("payload_too_large")));
    // DynamoDB nests documents 32 levels deep at most and refuses empty attribute names: its
    // ValidationException must come back as the client's 400, not a 500.
    let deep = format!("{{\"d\":{}1{}}}", "[".repeat(40), "]".repeat(40));
    for bad in ["[]", "nope", r#"{"id":7}"#, r#"{"n":1e-200}"#, r#"{"":1}"#, deep.as_str()] {
        let r = call(&app, "POST", "/items", "", Some(bad)).await;
        assert_eq!(r.status_code, 400, "{bad}: {}", r.body);
        assert_eq!(header(&r, "x-error-kind"), "bad-request");
    }
}

#[tokio::test]
async fn both_read_patterns_return_identical_bodies() {
    let d = start_dynamo().await;
    let app = app(&d.endpoint, fast_retry()).await;
    for i in 0..300 {
        let body = json!({"id": format!("it{i:03}"), "v": i, "pad": "p".repeat(i % 50)}).to_string();
        assert_eq!(call(&app, "POST", "/items", "", Some(&body)).await.status_code, 201);
    }
    let cases: Vec<String> = vec![
        "it001,it002,it003".into(),
        "it001,ghost,it002".into(),
        "it005,it005,it004,it005".into(),
        "ghost1,ghost2".into(),
        (0..250)
            .map(|i| if i % 10 == 0 { format!("miss{i}") } else { format!("it{i:03}") })
            .collect::<Vec<_>>()
            .join(","),
    ];
    for ids in &cases {
        let b = call(&app, "GET", "/items", &format!("ids={ids}&pattern=batch"), None).await;
        let p = call(&app, "GET", "/items", &format!("ids={ids}&pattern=per-item"), None).await;
        assert_eq!((b.status_code, p.status_code), (200, 200));
        assert_eq!(b.body, p.body, "bodies differ for ids={ids}");
        // DynamoDB charges BatchGetItem per item, exactly as N GetItems.
        assert_eq!(header(&b, "x-ddb-rcu"), header(&p, "x-ddb-rcu"), "rcu differs for ids={ids}");
    }
    let big = &cases[4];
    let b = call(&app, "GET", "/items", &format!("ids={big}"), None).await;
    let p = call(&app, "GET", "/items", &format!("ids={big}&pattern=per-item"), None).await;
    assert_eq!(header(&b, "x-ddb-calls"), "3", "250 ids = 3 BatchGetItem calls of ≤100 keys");
    assert_eq!(header(&p, "x-ddb-calls"), "250");
    assert_eq!(header(&b, "x-ddb-rcu"), "125");
    let v = body_json(&b);
    assert_eq!((v["items"].as_array().unwrap().len(), v["missing"].as_array().unwrap().len()), (225, 25));
    assert_eq!(v["items"][0]["id"], "it001", "items come back in request order");
}

#[tokio::test]
async fn capacity_units_follow_dynamodb_rules() {
    let d = start_dynamo().await;
    let app = app(&d.endpoint, fast_retry()).await;
    // About 9 KB of item: rounds up to 12 KB for reads (3 × 4 KB) and 9-10 KB for writes.
    let body = json!({"id": "big", "pad": "x".repeat(9 * 1024 - 40)}).to_string();
    let r = call(&app, "POST", "/items", "", Some(&body)).await;
    assert_eq!(r.status_code, 201);
    let wcu: f64 = header(&r, "x-ddb-wcu").parse().unwrap();
    assert!((9.0..=10.0).contains(&wcu), "9 KB write is 9-10 WCU, got {wcu}");
    let r = call(&app, "GET", "/items/big", "", None).await;
    assert_eq!(header(&r, "x-ddb-rcu"), "1.5", "9 KB eventually consistent = 1.5 RCU");
    let r = call(&app, "GET", "/items/big", "consistent=true", None).await;
    assert_eq!(header(&r, "x-ddb-rcu"), "3", "9 KB strongly consistent = 3 RCU");
    let r = call(&app, "GET", "/items", "ids=big&consistent=true", None).await;
    assert_eq!(header(&r, "x-ddb-rcu"), "3");
    let r = call(&app, "DELETE", "/items/big", "", None).await;
    let wcu: f64 = header(&r, "x-ddb-wcu").parse().unwrap();
    assert!((9.0..=10.0).contains(&wcu), "delete costs the deleted item's size, got {wcu}");
}

#[tokio::test]
async fn unprocessed_keys_are_retried_until_complete() {
    let d = start_dynamo().await;
    let seed = app(&d.endpoint, fast_retry()).await;
    for i in 0..40 {
        call(&seed, "POST", "/items", "", Some(&json!({"id": format!("k{i}")}).to_string())).await;
    }
    let ids = (0..40).map(|i| format!("k{i}")).collect::<Vec<_>>().join(",");
    let expected = call(&seed, "GET", "/items", &format!("ids={ids}&pattern=per-item"), None).await;

    let (endpoint, calls, _stop) = start_doctored(d.db.clone(), Doctor::Unprocess { first_calls: 2 }).await;
    let flaky = app(&endpoint, fast_retry()).await;
    let r = call(&flaky, "GET", "/items", &format!("ids={ids}"), None).await;
    assert_eq!(r.status_code, 200, "{}", r.body);
    assert_eq!(r.body, expected.body);
    assert_eq!(calls.load(Ordering::SeqCst), 3, "two partial answers, then the rest");
    assert_eq!(header(&r, "x-ddb-calls"), "3");

    // An endpoint that always leaves keys unprocessed: bounded retries, then 503.
    let (endpoint, calls, _stop2) = start_doctored(d.db.clone(), Doctor::Unprocess { first_calls: usize::MAX }).await;
    let stuck = app(&endpoint, fast_retry()).await;
    let r = call(&stuck, "GET", "/items", &format!("ids={ids}"), None).await;
    assert_eq!(r.status_code, 503);
    assert_eq!(header(&r, "x-error-kind"), "dynamodb-throttled");
    assert_eq!(calls.load(Ordering::SeqCst), fast_retry().max_attempts as usize);
}

#[tokio::test]
async fn throttling_maps_to_503_with_retry_after() {
    let d = start_dynamo().await;
    for kind in ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"] {
        let (endpoint, _, _stop) = start_doctored(d.db.clone(), Doctor::Fail(kind)).await;
        let app = app(&endpoint, fast_retry()).await;
        for (method, path, query, body) in [
            ("GET", "/items/x", "", None),
            ("POST", "/items", "", Some(r#"{"id":"x"}"#)),
            ("DELETE", "/items/x", "", None),
            ("GET", "/items", "ids=a,b", None),
            ("GET", "/items", "ids=a,b&pattern=per-item", None),
        ] {
            let r = call(&app, method, path, query, body).await;
            assert_eq!(r.status_code, 503, "{kind} {method} {path}: {}", r.body);
            assert_eq!(header(&r, "x-error-kind"), "dynamodb-throttled");
            assert_eq!(header(&r, "retry-after"), "1");
            assert_eq!(body_json(&r)["error"], "dynamodb_throttled");
        }
    }
}

#[tokio::test]
async fn other_failures_are_500_without_internals() {
    let d = start_dynamo().await;
    // A table that does not exist: ResourceNotFoundException from the service.
    let app = target_api::App::new(
        target_api::DynamoStore::new(client(&d.endpoint).await, "no-such-table"),
        fast_retry(),
        target_api::diagnostics::Diagnostics::new(true, std::time::Duration::ZERO),
    );
    let r = call(&app, "GET", "/items/x", "", None).await;
    assert_eq!(r.status_code, 500);
    assert_eq!(body_json(&r), json!({"error": "internal", "message": "internal error"}));
    // A refused connection: a dispatch failure, same answer.
    let (endpoint, _, stop) = start_doctored(d.db.clone(), Doctor::Fail("InternalServerError")).await;
    drop(stop);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let app = common::app(&endpoint, fast_retry()).await;
    let r = call(&app, "GET", "/items/x", "", None).await;
    assert_eq!(r.status_code, 500, "{}", r.body);
    assert!(!r.body.contains("dispatch") && !r.body.contains("127.0.0.1"));
    let _: Value = body_json(&r);
}
