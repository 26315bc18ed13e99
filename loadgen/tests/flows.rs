//! Flows as a server sees them: each arrival runs POST → GET by the captured id (with the
//! captured etag) → DELETE, in order, every step of one instance drawing the same data-file row;
//! a POST whose answer has no id ends its flow as failed (counted in the step's checks) and
//! sends nothing more; closed-model users run whole flows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use loadgen::cmd::run::run;

mod common;

/// What the server saw, in arrival order.
#[derive(Default)]
struct Seen {
    /// Created order id → (customer, etag).
    created: HashMap<String, (String, String)>,
    /// GETs: (id, if-match, x-customer).
    reads: Vec<(String, String, String)>,
    /// DELETEs: id, and whether its GET came first.
    deletes: Vec<(String, bool)>,
}

async fn shop() -> (String, Arc<Mutex<Seen>>) {
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let (post, get, delete) = (seen.clone(), seen.clone(), seen.clone());
    let app = Router::new()
        .route(
            "/orders",
            axum::routing::post(move |body: String| async move {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                if v["fail"] == true {
                    // An answer without the id the flow captures.
                    return (StatusCode::CREATED, HeaderMap::new(), "{\"status\":\"queued\"}".to_owned());
                }
                let mut s = post.lock().unwrap();
                let id = format!("o-{}", s.created.len());
                let etag = format!("\"v1-{id}\"");
                s.created.insert(id.clone(), (v["customer"].as_str().unwrap().to_owned(), etag.clone()));
                let mut h = HeaderMap::new();
                h.insert("etag", etag.parse().unwrap());
                (StatusCode::CREATED, h, serde_json::json!({ "id": id, "total": 12.5 }).to_string())
            }),
        )
        .route(
            "/orders/{id}",
            axum::routing::get(move |Path(id): Path<String>, h: HeaderMap| async move {
                let text = |n: &str| h.get(n).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
                let mut s = get.lock().unwrap();
                s.reads.push((id.clone(), text("if-match"), text("x-customer")));
                match s.created.contains_key(&id) {
                    true => (StatusCode::OK, serde_json::json!({ "id": id }).to_string()),
                    false => (StatusCode::NOT_FOUND, "{}".to_owned()),
                }
            })
            .delete(move |Path(id): Path<String>| async move {
                let mut s = delete.lock().unwrap();
                let read_first = s.reads.iter().any(|(r, _, _)| *r == id);
                s.deletes.push((id, read_first));
                StatusCode::NO_CONTENT
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

const CUSTOMERS: &str =
    "email,fail\nana@example.com,false\nbo@example.com,false\ncy@example.com,true\ndee@example.com,false\n";

fn scenario(load: &str) -> String {
    format!(
        r#"name = "checkout"
[[data.file]]
name = "customers"
path = "customers.csv"
order = "sequential"

[[phase]]
name = "p"
{load}

[[request]]
name = "create"
weight = 0
method = "POST"
path = "/orders"
body = '{{{{"customer": "{{customers.email}}", "fail": {{customers.fail}}}}}}'

[[flow]]
name = "checkout"

[[flow.step]]
request = "create"
capture = {{ order_id = "$.id", etag = "header:etag" }}
think = "20ms"

[[flow.step]]
name = "read"
path = "/orders/{{order_id}}"
headers = {{ if-match = "{{etag}}", x-customer = "{{customers.email}}" }}
check = {{ status = [200], json = {{ "$.id" = "exists" }} }}

[[flow.step]]
name = "delete"
method = "DELETE"
path = "/orders/{{order_id}}"

[thresholds]
"checks.rate" = "< 30%"
"checkout.flows_failed.rate" = "< 30%"
"checkout.flow_duration.p99" = "< 2s"
"checkout/read.latency.p99" = "< 1s"
"#
    )
}

async fn run_scenario(url: &str, tag: &str, load: &str) -> loadgen::results::Results {
    let dir = common::tempdir(tag);
    std::fs::write(dir.join("customers.csv"), CUSTOMERS).unwrap();
    let file = dir.join("s.toml");
    std::fs::write(&file, scenario(load)).unwrap();
    let out = run(common::quiet_run(file, url, dir.join("out"))).await.unwrap();
    let text = std::fs::read_to_string(dir.join("out/summary.md")).unwrap();
    assert!(text.contains("| checkout |"), "the report has the flows table: {text}");
    std::fs::remove_dir_all(&dir).unwrap();
    out.results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_arrival_runs_the_steps_in_order_with_what_earlier_steps_captured() {
    let (url, seen) = shop().await;
    let r = run_scenario(&url, "flows-open", "duration = \"1s\"\nrate = 20").await;
    let names: Vec<&str> = r.requests.iter().map(|q| q.name.as_str()).collect();
    assert_eq!(names, ["create", "checkout/create", "checkout/read", "checkout/delete"]);
    assert_eq!(r.phases[0].sent, 20, "a flow instance is one arrival, however many steps it sends");
    let f = &r.flows[0];
    // Every fourth customer's order comes back without an id: 5 of 20 flows cannot go on.
    assert_eq!((f.started, f.completed, f.failed, f.cut), (20, 15, 5, 0));
    assert!(f.duration.p50_ms >= 20.0, "a flow's duration includes its think time: {:?}", f.duration);
    assert_eq!(r.requests[0].summary.requests, 0, "weight 0: sent only by the flow");
    let counts: Vec<u64> = r.requests[1..].iter().map(|q| q.summary.requests).collect();
    assert_eq!(counts, [20, 15, 15]);
    let create = r.requests[1].checks.as_ref().expect("captures are checked");
    assert_eq!((create.checked, create.failed), (20, 5));
    assert_eq!(create.failures[0].reason, "capture etag (header:etag): no such header in the response");
    let read = r.requests[2].checks.as_ref().unwrap();
    assert_eq!((read.checked, read.failed), (15, 0));
    assert!(r.passed, "{:?}", r.thresholds);
    let failed = r.thresholds.iter().find(|t| t.key == "checkout.flows_failed.rate").unwrap();
    assert!((failed.measured - 0.25).abs() < 1e-9, "5 of 20 ended flows failed: {failed:?}");

    let s = seen.lock().unwrap();
    assert_eq!(s.created.len(), 15);
    for (id, etag, customer) in &s.reads {
        let (made_for, made_etag) = &s.created[id];
        assert_eq!(etag, made_etag, "the GET carries the etag its POST answered");
        assert_eq!(customer, made_for, "every step of an instance draws the same row");
    }
    assert_eq!(s.deletes.len(), 15);
    assert!(s.deletes.iter().all(|(id, read_first)| s.created.contains_key(id) && *read_first));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_model_users_run_whole_flows() {
    let (url, seen) = shop().await;
    let r = run_scenario(&url, "flows-closed", "duration = \"1s\"\nusers = 2\nthink = \"10ms\"").await;
    let f = &r.flows[0];
    assert!(f.started >= 8, "{f:?}");
    assert_eq!(f.started, f.completed + f.failed + f.cut);
    assert!(f.cut <= 2, "at most one instance per user is cut at the end: {f:?}");
    assert_eq!(r.requests[3].summary.requests, f.completed, "a completed flow's last step was answered");
    let s = seen.lock().unwrap();
    // An instance cut at the end may have sent a step whose answer came too late to record.
    assert!((s.deletes.len() as u64).abs_diff(f.completed) <= 2, "{} deletes, {f:?}", s.deletes.len());
    assert!(s.deletes.iter().all(|(_, read_first)| *read_first), "steps in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_without_an_answer_fails_its_flow_and_a_closed_phase_cuts_thinking_users() {
    let app = Router::new().route("/fast", axum::routing::get(|| async { "{}" })).route(
        "/slow",
        axum::routing::get(|| async {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            "{}"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let dir = common::tempdir("flows-fail");
    // A flow whose second step times out: no capture, yet it cannot count as completed.
    let timeouts = "name = \"t\"\n[target]\ntimeout = \"200ms\"\n[[phase]]\nname = \"p\"\nduration = \"1s\"\nrate = 5\n\
        [[flow]]\nname = \"f\"\n[[flow.step]]\npath = \"/fast\"\n[[flow.step]]\npath = \"/slow\"\n\
        [thresholds]\n\"f.flows_failed.rate\" = \"< 1%\"\n";
    std::fs::write(dir.join("t.toml"), timeouts).unwrap();
    let out = run(common::quiet_run(dir.join("t.toml"), &url, dir.join("t"))).await.unwrap();
    let f = &out.results.flows[0];
    assert_eq!((f.started, f.completed, f.failed), (5, 0, 5), "{f:?}");
    assert_eq!(out.exit_code, 1, "every flow failed: the gate fails");
    // Users thinking 3 s after the first step when their 1 s phase ends stop there.
    let closed = "name = \"c\"\n[[phase]]\nname = \"p\"\nduration = \"1s\"\nusers = 2\n\
        [[flow]]\nname = \"f\"\n[[flow.step]]\npath = \"/fast\"\nthink = \"3s\"\n[[flow.step]]\npath = \"/fast\"\n";
    std::fs::write(dir.join("c.toml"), closed).unwrap();
    let started = std::time::Instant::now();
    let out = run(common::quiet_run(dir.join("c.toml"), &url, dir.join("c"))).await.unwrap();
    let f = &out.results.flows[0];
    assert!(started.elapsed() < std::time::Duration::from_millis(2500), "{:?}", started.elapsed());
    assert_eq!((f.started, f.completed, f.cut), (2, 0, 2), "{f:?}");
    assert_eq!(out.results.requests[1].summary.requests, 0, "no step after the phase's end");
    std::fs::remove_dir_all(&dir).unwrap();
}
