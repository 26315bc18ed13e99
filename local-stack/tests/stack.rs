//! The whole stack with the real target-api: gateway → Lambda → DynamoDB, what CloudWatch
//! then reports to the real SDK and the aws CLI, DynamoDB throttling, and clean shutdown.

mod common;

use std::time::Duration;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use common::*;
use local_stack::Stack;
use serde_json::json;

async fn cloudwatch(url: &str) -> aws_sdk_cloudwatch::Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http)
        .endpoint_url(url)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_cloudwatch::config::Credentials::new("test", "test", None, None, "static"))
        .load()
        .await;
    aws_sdk_cloudwatch::Client::new(&conf)
}

fn query(id: &str, ns: &str, name: &str, dims: &[(&str, &str)], stat: &str, period: i32) -> MetricDataQuery {
    let mut metric = Metric::builder().namespace(ns).metric_name(name);
    for (k, v) in dims {
        metric = metric.dimensions(Dimension::builder().name(*k).value(*v).build());
    }
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(MetricStat::builder().metric(metric.build()).period(period).stat(stat).build())
        .build()
}

#[tokio::test]
async fn target_api_end_to_end_and_cloudwatch_agrees() {
    let stack = Stack::start(config(target_api())).await.unwrap();
    let e = stack.endpoints().clone();
    let c = client();
    let r = send(
        &c,
        "POST",
        &format!("{}/items", e.api_url),
        &[("content-type", "application/json")],
        r#"{"id":"w1","name":"widget"}"#,
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.header("x-cold-start"), Some("true"));
    assert!(r.header("apigw-requestid").is_some());
    let r = send(&c, "GET", &format!("{}/items/w1", e.api_url), &[], "").await;
    assert_eq!((r.status, r.json()["name"].clone()), (200, json!("widget")));
    assert_eq!(r.header("x-cold-start"), Some("false"));
    assert_eq!(r.header("x-ddb-rcu"), Some("0.5"));
    let r = send(&c, "GET", &format!("{}/items?ids=w1,zz&pattern=per-item", e.api_url), &[], "").await;
    assert_eq!(r.json(), json!({"items": [{"id": "w1", "name": "widget"}], "missing": ["zz"]}));
    let r = send(&c, "DELETE", &format!("{}/items/w1", e.api_url), &[], "").await;
    assert_eq!(r.status, 204);
    let r = send(&c, "PATCH", &format!("{}/items/w1", e.api_url), &[], "").await;
    assert_eq!(r.status, 404, "no PATCH route: the gateway answers");

    let cw = cloudwatch(&e.cloudwatch_url).await;
    // A minute-aligned start, so the 60 s datapoints fall on whole minutes.
    let now_s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let now = std::time::UNIX_EPOCH + Duration::from_secs(now_s - now_s % 60 + 60);
    let out = cw
        .get_metric_data()
        .start_time(DateTime::from(now - Duration::from_secs(600)))
        .end_time(DateTime::from(now + Duration::from_secs(60)))
        .metric_data_queries(query(
            "count",
            "AWS/ApiGateway",
            "Count",
            &[("ApiId", &e.api_id), ("Stage", &e.stage)],
            "Sum",
            60,
        ))
        .metric_data_queries(query(
            "inv",
            "AWS/Lambda",
            "Invocations",
            &[("FunctionName", &e.function_name)],
            "Sum",
            60,
        ))
        .metric_data_queries(query("p99", "AWS/Lambda", "Duration", &[("FunctionName", &e.function_name)], "p99", 60))
        .metric_data_queries(query(
            "rcu",
            "AWS/DynamoDB",
            "ConsumedReadCapacityUnits",
            &[("TableName", &e.table_name)],
            "Sum",
            1,
        ))
        .send()
        .await
        .expect("GetMetricData over CBOR");
    let total = |id: &str| -> f64 {
        out.metric_data_results().iter().find(|r| r.id() == Some(id)).map(|r| r.values().iter().sum()).unwrap_or(-1.0)
    };
    assert_eq!(total("count"), 5.0);
    assert_eq!(total("inv"), 4.0, "the 404 never reached Lambda");
    assert!(total("p99") > 0.0);
    assert_eq!(total("rcu"), 1.5, "0.5 for the GetItem + 0.5 × 2 for the per-item read (a miss costs the minimum)");
    let ts = out.metric_data_results()[0].timestamps();
    assert!(!ts.is_empty() && ts[0].secs() % 60 == 0, "timestamps are period starts");

    let listed = cw.list_metrics().namespace("AWS/Lambda").send().await.unwrap();
    assert!(
        listed.metrics().iter().any(|m| m.metric_name() == Some("Throttles") || m.metric_name() == Some("Invocations"))
    );
    let err = cw
        .get_metric_data()
        .start_time(DateTime::from(now))
        .end_time(DateTime::from(now - Duration::from_secs(60)))
        .metric_data_queries(query("x", "AWS/Lambda", "Invocations", &[], "Sum", 60))
        .send()
        .await
        .unwrap_err();
    assert!(format!("{:?}", err).contains("InvalidParameterValue"), "{err:?}");
}

#[tokio::test]
async fn wrong_methods_are_the_gateways_404_or_the_functions_405() {
    // Without a matching route the gateway answers; through `$default` the function does.
    let mut c = config(target_api());
    c.api.routes.push("$default".into());
    let stack = Stack::start(c).await.unwrap();
    let api = stack.endpoints().api_url.clone();
    let r = send(&client(), "PATCH", &format!("{api}/items/x"), &[], "").await;
    assert_eq!(r.status, 405, "routed by $default to target-api");
    assert_eq!(r.header("allow"), Some("DELETE, GET"));
    assert_eq!(r.json()["error"], "method_not_allowed");
    let r = send(&client(), "GET", &format!("{api}/nowhere"), &[], "").await;
    assert_eq!((r.status, r.json()["error"].clone()), (404, json!("not_found")), "the function's own 404");

    let stack = Stack::start(config(target_api())).await.unwrap();
    let r = send(&client(), "PATCH", &format!("{}/items/x", stack.endpoints().api_url), &[], "").await;
    assert_eq!((r.status, r.json()), (404, json!({"message": "Not Found"})), "no route: the gateway's 404");
}

#[tokio::test]
async fn aws_cli_works_against_dynamodb_and_cloudwatch() {
    let stack = Stack::start(config(target_api())).await.unwrap();
    let e = stack.endpoints().clone();
    let r = send(&client(), "POST", &format!("{}/items", e.api_url), &[], r#"{"id":"cli","n":1}"#).await;
    assert_eq!(r.status, 201);
    let aws = |args: Vec<String>| aws_cli(args, &e.region, Vec::new());
    let out = aws(vec![
        "dynamodb".into(),
        "get-item".into(),
        "--endpoint-url".into(),
        e.dynamodb_url.clone(),
        "--table-name".into(),
        e.table_name.clone(),
        "--key".into(),
        r#"{"PK":{"S":"ITEM#cli"},"SK":{"S":"ITEM"}}"#.into(),
        "--return-consumed-capacity".into(),
        "TOTAL".into(),
        "--output".into(),
        "json".into(),
    ])
    .await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Item"]["n"]["N"], "1");
    assert_eq!(v["ConsumedCapacity"]["CapacityUnits"], 0.5);

    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let queries = format!(
        r#"[{{"Id":"c","MetricStat":{{"Metric":{{"Namespace":"AWS/Lambda","MetricName":"Invocations","Dimensions":[{{"Name":"FunctionName","Value":"{}"}}]}},"Period":60,"Stat":"Sum"}}}}]"#,
        e.function_name
    );
    let out = aws(vec![
        "cloudwatch".into(),
        "get-metric-data".into(),
        "--endpoint-url".into(),
        e.cloudwatch_url.clone(),
        "--start-time".into(),
        (now - 600).to_string(),
        "--end-time".into(),
        (now + 60).to_string(),
        "--metric-data-queries".into(),
        queries,
        "--output".into(),
        "json".into(),
    ])
    .await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["MetricDataResults"][0]["Values"], json!([1.0]), "{v}");
}

#[tokio::test]
async fn dynamodb_throughput_limits_throttle_the_function() {
    let mut c = config(target_api());
    c.dynamodb.read_units_per_s = 2.0;
    let stack = Stack::start(c).await.unwrap();
    let e = stack.endpoints().clone();
    let cl = client();
    assert_eq!(send(&cl, "POST", &format!("{}/items", e.api_url), &[], r#"{"id":"hot"}"#).await.status, 201);
    let mut statuses = Vec::new();
    for _ in 0..20 {
        let r = send(&cl, "GET", &format!("{}/items/hot", e.api_url), &[], "").await;
        if r.status == 503 {
            assert_eq!(r.header("x-error-kind"), Some("dynamodb-throttled"));
        }
        statuses.push(r.status);
    }
    assert!(statuses.contains(&200) && statuses.contains(&503), "{statuses:?}");
    let throttled = stack.metrics().query(
        &local_stack::metrics::MetricId::new(
            "AWS/DynamoDB",
            "ThrottledRequests",
            &[("TableName", &e.table_name), ("Operation", "GetItem")],
        ),
        0,
        i64::MAX,
        3600,
        local_stack::metrics::Stat::Sum,
    );
    assert!(throttled[0].1 >= 1.0);

    // A batch read past the balance comes back partly as UnprocessedKeys, which target-api retries.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ids: Vec<String> = (0..30).map(|i| format!("k{i}")).collect();
    let r = send(&cl, "GET", &format!("{}/items?ids={}", e.api_url, ids.join(",")), &[], "").await;
    assert!(r.status == 200 || r.status == 503, "{}", r.status);
    let events = stack.metrics().query(
        &local_stack::metrics::MetricId::new("AWS/DynamoDB", "ReadThrottleEvents", &[("TableName", &e.table_name)]),
        0,
        i64::MAX,
        3600,
        local_stack::metrics::Stat::Sum,
    );
    assert!(events[0].1 >= 1.0);
}

#[tokio::test]
async fn no_process_is_left_after_stop() {
    let stack = Stack::start(config(target_api())).await.unwrap();
    let url = stack.endpoints().api_url.clone();
    let burst: Vec<_> = (0..3)
        .map(|_| {
            tokio::spawn({
                let url = url.clone();
                async move { get(&format!("{url}/health")).await }
            })
        })
        .collect();
    for b in burst {
        assert_eq!(b.await.unwrap().status, 200);
    }
    let pids = stack.lambda().pids();
    assert!(!pids.is_empty());
    stack.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(pids.iter().all(|p| !alive(*p)), "left running: {pids:?}");
}

#[test]
fn no_process_is_left_after_a_panic_in_the_host() {
    let bin = target_api();
    let (tx, rx) = std::sync::mpsc::channel();
    let host = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let stack = Stack::start(config(bin)).await.unwrap();
            assert_eq!(get(&format!("{}/health", stack.endpoints().api_url)).await.status, 200);
            tx.send(stack.lambda().pids()).unwrap();
            panic!("the host program panics with the stack running");
        });
    });
    assert!(host.join().is_err());
    let pids = rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(!pids.is_empty() && pids.iter().all(|p| !alive(*p)), "left running: {pids:?}");
}

/// DynamoDB serves each partition at most 3,000 read units a second however far below its
/// limits the table is: a hot key is throttled with the key-range reason while another is not.
#[tokio::test]
async fn a_hot_partition_key_is_throttled_while_the_table_is_not() {
    let mut c = config(target_api());
    c.dynamodb.partition_read_units_per_s = 2.0;
    let stack = Stack::start(c).await.unwrap();
    let e = stack.endpoints().clone();
    let cl = client();
    for id in ["hot", "cold"] {
        let body = format!(r#"{{"id":"{id}"}}"#);
        assert_eq!(send(&cl, "POST", &format!("{}/items", e.api_url), &[], &body).await.status, 201);
    }
    let get = |id: &str| {
        format!(r#"{{"TableName":"{}","Key":{{"PK":{{"S":"ITEM#{id}"}},"SK":{{"S":"ITEM"}}}}}}"#, e.table_name)
    };
    // The emulator wants an Authorization header, not a valid signature.
    let auth =
        "AWS4-HMAC-SHA256 Credential=test/20261202/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0";
    let headers = [
        ("x-amz-target", "DynamoDB_20120810.GetItem"),
        ("content-type", "application/x-amz-json-1.0"),
        ("authorization", auth),
        ("x-amz-date", "20261202T000000Z"),
    ];
    let mut hot = Vec::new();
    for _ in 0..12 {
        hot.push(send(&cl, "POST", &format!("{}/", e.dynamodb_url), &headers, &get("hot")).await);
    }
    let throttled: Vec<_> = hot.iter().filter(|r| r.status == 400).collect();
    assert!(!throttled.is_empty(), "12 reads of half a unit each past a 2-unit partition");
    let body = throttled[0].json();
    let reason = &body["ThrottlingReasons"][0]["reason"];
    assert_eq!(reason, "TableReadKeyRangeThroughputExceeded", "{body}");
    // Another key, its own partition, is served; so is the hot one through the API once it refills.
    let cold = send(&cl, "POST", &format!("{}/", e.dynamodb_url), &headers, &get("cold")).await;
    assert_eq!(cold.status, 200, "{}", String::from_utf8_lossy(&cold.body));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(send(&cl, "GET", &format!("{}/items/hot", e.api_url), &[], "").await.status, 200);
}
