//! Several targets in one scenario, as the servers see them: each request kind goes to its own
//! target's URL (with that URL's path prefix), carries its target's headers and authorization
//! and no other's; results and thresholds keep the targets apart, and `--target-url` moves a
//! named target without editing the file.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri};
use loadgen::cmd::run::{RunOptions, run};

mod common;

/// (path, x-api header, authorization header) of every request a server got.
type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

/// A server that records what it gets; `/v1/orders/fail` answers 500.
async fn server() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let app = Router::new().fallback(move |uri: Uri, h: HeaderMap| async move {
        let text = |n: &str| h.get(n).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        s.lock().unwrap().push((uri.path().to_owned(), text("x-api"), text("authorization")));
        match uri.path().ends_with("/fail") {
            true => (StatusCode::INTERNAL_SERVER_ERROR, "{\"message\":\"no\"}"),
            false => (StatusCode::OK, "{\"id\":\"o-1\"}"),
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

fn scenario(orders: &str) -> String {
    format!(
        r#"name = "two-apis"
[target]
headers = {{ x-api = "users" }}

[targets.orders]
url = "{orders}/v1"
headers = {{ x-api = "orders" }}
auth = {{ bearer = {{ command = "echo tok-orders-0123456789" }} }}

[[phase]]
name = "p"
duration = "2s"
rate = 40

[[request]]
name = "user"
path = "/users/{{seq}}"
weight = 2

[[request]]
name = "order"
target = "orders"
path = "/orders/{{seq}}"

[[request]]
name = "order-fail"
target = "orders"
path = "/orders/fail"
weight = 0.5

[[flow]]
name = "both"
weight = 0.5
[[flow.step]]
name = "read-order"
target = "orders"
path = "/orders/x"
capture = {{ order_id = "$.id" }}
[[flow.step]]
name = "read-user"
path = "/users/{{order_id}}"

[thresholds]
"default.errors.rate" = "== 0"
"orders.errors.rate" = "> 5%"
"orders.requests.count" = "> 20"
"order.errors.rate" = "== 0"
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_goes_to_its_target_with_that_targets_headers_and_auth() {
    let (users, users_seen) = server().await;
    let (orders, orders_seen) = server().await;
    let dir = common::tempdir("targets");
    let file = dir.join("s.toml");
    std::fs::write(&file, scenario(&orders)).unwrap();
    let out = run(common::quiet_run(file.clone(), &users, dir.join("out"))).await.unwrap();
    let r = &out.results;
    let failed: Vec<_> = r.thresholds.iter().filter(|t| !t.passed).collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(out.exit_code, 0);

    let users_seen = users_seen.lock().unwrap().clone();
    let orders_seen = orders_seen.lock().unwrap().clone();
    assert!(users_seen.len() > 40 && orders_seen.len() > 20, "{} {}", users_seen.len(), orders_seen.len());
    for (path, api, auth) in &users_seen {
        assert!(path.starts_with("/users/") && api == "users" && auth.is_empty(), "[target] got {path} {api} {auth}");
    }
    for (path, api, auth) in &orders_seen {
        assert!(path.starts_with("/v1/orders/"), "the named target's path prefix: {path}");
        assert_eq!((api.as_str(), auth.as_str()), ("orders", "Bearer tok-orders-0123456789"));
    }
    // The flow's second step went to [target] with what its first step captured at orders.
    assert!(users_seen.iter().any(|(p, _, _)| p == "/users/o-1"));

    // Results keep the targets apart: per target, and on each request kind.
    let names: Vec<&str> = r.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["default", "orders"]);
    assert_eq!(r.targets[0].url, users);
    assert_eq!(r.targets[1].requests, ["order", "order-fail", "both/read-order"]);
    assert_eq!(r.targets[0].summary.requests as usize, users_seen.len());
    assert_eq!(r.targets[1].summary.requests as usize, orders_seen.len());
    assert_eq!(r.targets[0].summary.error_rate, 0.0);
    assert!(r.targets[1].summary.error_rate > 0.05);
    let order = r.requests.iter().find(|q| q.name == "order").unwrap();
    assert_eq!(order.target.as_deref(), Some("orders"));
    // The token is never written: not in results.json, not in the reports.
    for f in ["results.json", "summary.md", "report.html", "junit.xml"] {
        let text = std::fs::read_to_string(dir.join("out").join(f)).unwrap();
        assert!(!text.contains("tok-orders"), "{f} holds the token");
        assert!(!text.contains("echo tok"), "{f} holds the command");
    }
    let md = std::fs::read_to_string(dir.join("out/summary.md")).unwrap();
    assert!(md.contains("| orders |"), "summary.md has the targets table: {md}");

    // --target-url moves a named target without editing the file.
    let (moved, moved_seen) = server().await;
    let opts = RunOptions {
        target_urls: vec![format!("orders={moved}/v2")],
        ..common::quiet_run(file.clone(), &users, dir.join("moved"))
    };
    let out = run(opts).await.unwrap();
    assert_eq!(out.results.targets[1].url, format!("{moved}/v2"));
    let moved_seen = moved_seen.lock().unwrap().clone();
    assert!(!moved_seen.is_empty() && moved_seen.iter().all(|(p, _, _)| p.starts_with("/v2/orders/")));

    // A name the scenario does not declare is a usage error that names them.
    let opts =
        RunOptions { target_urls: vec![format!("order={moved}")], ..common::quiet_run(file, &users, dir.join("bad")) };
    let e = run(opts).await.unwrap_err().to_string();
    assert!(e.contains("'order'") && e.contains("orders"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_target_off_loopback_is_held_by_the_spend_guard() {
    let dir = common::tempdir("targets-guard");
    let file = dir.join("s.toml");
    // Nothing listens at [target]; the guard must refuse before a request is sent anywhere.
    let text = "name = \"far\"\n[targets.prod]\nurl = \"https://api.example.com\"\n[[phase]]\nname = \"p\"\n\
                duration = \"1h\"\nrate = 5000\n[[request]]\nname = \"r\"\npath = \"/\"\ntarget = \"prod\"\n";
    std::fs::write(&file, text).unwrap();
    let e = run(common::quiet_run(file, "http://127.0.0.1:9", dir.join("out"))).await.unwrap_err();
    assert!(matches!(e, loadgen::error::Error::Guard(_)), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_default_targets_requests_are_priced_and_reconciled() {
    let (orders, seen) = server().await;
    let dir = common::tempdir("targets-cost");
    let file = dir.join("s.toml");
    let text = format!(
        "name = \"mixed\"\n[targets.orders]\nurl = \"{orders}\"\n[[phase]]\nname = \"p\"\nduration = \"3s\"\nrate = 20\n\
         [[request]]\nname = \"health\"\npath = \"/health\"\n[[request]]\nname = \"order\"\ntarget = \"orders\"\n\
         path = \"/orders/1\"\n"
    );
    std::fs::write(&file, text).unwrap();
    let out = dir.join("out");
    let run = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_loadgen"))
            .args(["run", "--quiet", "--out"])
            .arg(&out)
            .arg(&file)
            .env("LOADGEN_TARGET_API", common::target_api())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out/results.json")).unwrap()).unwrap();
    let to_orders = seen.lock().unwrap().len() as f64;
    let default = r["targets"][0]["summary"]["requests"].as_f64().unwrap();
    assert!(to_orders > 10.0 && default > 10.0, "{to_orders} {default}");
    assert_eq!(r["targets"][1]["summary"]["requests"].as_f64().unwrap(), to_orders);
    // The local stack's CloudWatch counted [target]'s requests only, and the client compares
    // them with its own requests to [target] only: no gap.
    let rows = r["cost"]["reconciliation"].as_array().unwrap();
    assert!(!rows.is_empty() && rows.iter().all(|x| x["flagged"] == false), "{rows:?}");
    let api = rows.iter().find(|x| x["what"].as_str().unwrap().contains("API requests")).unwrap();
    assert_eq!(api["client"].as_f64().unwrap(), default);
    // Per million is [target]'s requests'; the month is priced per arrival of every target.
    let cost = &r["cost"];
    let run_usd = cost["run"]["total"].as_f64().unwrap();
    assert!(
        (cost["per_million_usd"].as_f64().unwrap() - run_usd / default * 1e6).abs() < 1e-6 * run_usd.max(1.0) * 1e6
    );
    let arrivals = r["phases"][0]["sent"].as_f64().unwrap();
    let month = cost["monthly_average"]["total"].as_f64().unwrap();
    let expected = run_usd / arrivals * 20.0 * 30.0 * 86_400.0;
    assert!(month < expected * 1.2, "a month at 20 arrivals/s, not 20 requests/s of [target]: {month} vs {expected}");
    assert!(cost["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().contains("Only [target]'s requests")));
    std::fs::remove_dir_all(&dir).unwrap();
}
