//! Property test: thousands of random API Gateway events and bodies through the real handler
//! and a real DynamoDB endpoint. Every answer must be a JSON 2xx or 4xx; none may panic or 5xx.

mod common;

use base64::Engine;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"]).prop_map(String::from),
        1 => "[A-Za-z !]{0,10}",
    ]
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/items".to_owned()),
        Just("/health".to_owned()),
        "/items/[A-Za-z0-9._:%-]{0,140}",
        "/items/\\PC{0,20}",
        "/[ -~]{0,80}",
        "\\PC{0,30}",
        "/prod/items(/[a-z0-9]{1,8})?",
    ]
}

fn query() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,120}",
        ("[a-z0-9,%]{0,120}", prop::sample::select(vec!["batch", "per-item", "x", ""]), any::<bool>())
            .prop_map(|(ids, p, c)| { format!("ids={ids}&pattern={p}{}", if c { "&consistent=true" } else { "" }) }),
        Just("ids=".to_owned() + &"a,".repeat(600)),
    ]
}

fn json_body() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        "\\PC{0,20}".prop_map(Value::from),
    ];
    let tree = leaf.prop_recursive(40, 200, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,6}|id|PK|SK", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    tree.prop_map(|v| v.to_string())
}

fn body() -> impl Strategy<Value = (Option<String>, bool)> {
    prop_oneof![
        Just((None, false)),
        json_body().prop_map(|b| (Some(b), false)),
        json_body().prop_map(|b| (Some(base64::engine::general_purpose::STANDARD.encode(b)), true)),
        prop::collection::vec(any::<u8>(), 0..300)
            .prop_map(|b| (Some(base64::engine::general_purpose::STANDARD.encode(b)), true)),
        "\\PC{0,200}".prop_map(|s| (Some(s), true)),
        "\\PC{0,200}".prop_map(|s| (Some(s), false)),
    ]
}

fn assert_json_2xx_or_4xx(resp: &target_api::lambda::ProxyResponse, input: &Value) {
    let status = resp.status_code;
    assert!((200..300).contains(&status) || (400..500).contains(&status), "status {status} for {input}: {}", resp.body);
    if status != 204 {
        serde_json::from_str::<Value>(&resp.body).unwrap_or_else(|e| panic!("non-JSON body ({e}) for {input}"));
    }
}

#[test]
fn random_events_never_panic_or_5xx() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dynamo = rt.block_on(common::start_dynamo());
    let app = rt.block_on(common::app(&dynamo.endpoint, common::fast_retry()));
    let config = Config { cases: 2500, failure_persistence: None, ..Config::default() };
    let headers = prop::collection::btree_map("[a-z-]{1,12}", "[ -~]{0,40}", 0..5);
    let strategy = (
        method(),
        path(),
        query(),
        body(),
        headers,
        prop::option::of(prop::collection::vec("[a-z]{1,5}=[a-z]{0,5}", 0..3)),
    );
    TestRunner::new(config)
        .run(&strategy, |(method, path, query, (body, b64), headers, cookies)| {
            let mut ev = common::event(&method, &path, &query, body.as_deref());
            ev["isBase64Encoded"] = json!(b64);
            ev["headers"] = json!(headers);
            if let Some(c) = cookies {
                ev["cookies"] = json!(c);
            }
            let resp = rt.block_on(app.invoke(ev.clone(), "fuzz"));
            assert_json_2xx_or_4xx(&resp, &ev);
            Ok(())
        })
        .unwrap();
}

#[test]
fn arbitrary_json_events_are_rejected_cleanly() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dynamo = rt.block_on(common::start_dynamo());
    let app = rt.block_on(common::app(&dynamo.endpoint, common::fast_retry()));
    let config = Config { cases: 1000, failure_persistence: None, ..Config::default() };
    let strategy = json_body().prop_map(|s| serde_json::from_str::<Value>(&s).unwrap());
    TestRunner::new(config)
        .run(&strategy, |ev| {
            let resp = rt.block_on(app.invoke(ev.clone(), "fuzz"));
            assert_json_2xx_or_4xx(&resp, &ev);
            Ok(())
        })
        .unwrap();
}
