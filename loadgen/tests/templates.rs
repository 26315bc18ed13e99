//! Templates everywhere, as a server sees them: headers rendered per request (`{new_id}`,
//! `{seq}`, `{random_int}`, `{uuid}` in a body), a scenario's header replacing the default so a
//! server gets one `content-type`, and `{new_id}` never the same in two runs of one seed; data
//! files feeding fields (seeding through the API too) and checks counting without secrets.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::HeaderMap;
use loadgen::cmd::run::{RunOptions, run};

mod common;

/// What the server received: each request's headers (every value of each name) and body.
type Seen = Arc<Mutex<Vec<(Vec<(String, String)>, String)>>>;

async fn recording_server() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let app = Router::new().route(
        "/orders",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let h = headers.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned())).collect();
            log.lock().unwrap().push((h, body));
            async { (axum::http::StatusCode::CREATED, "{}") }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

const SCENARIO: &str = r#"name = "templated"
[target]
headers = { x-client = "loadgen-{seq}", content-type = "text/plain" }
[[phase]]
name = "p"
duration = "1s"
rate = 20
[[request]]
name = "create"
method = "POST"
path = "/orders"
body = '{{"ref": "{uuid}"}}'
headers = { content-type = "application/vnd.api+json", idempotency-key = "{new_id}", x-n = "{random_int:1:3}" }
"#;

async fn run_once(url: &str, tag: &str) {
    let dir = std::env::temp_dir().join(format!("loadgen-templates-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("s.toml");
    std::fs::write(&file, SCENARIO).unwrap();
    let out = run(common::quiet_run(file, url, dir.join("out"))).await.unwrap();
    assert_eq!(out.results.totals.by_class[loadgen::record::Class::Ok], 20);
    // results.json names the request's headers but never says their values.
    let text = std::fs::read_to_string(dir.join("out/results.json")).unwrap();
    assert!(text.contains("idempotency-key") && !text.contains("{new_id}") && !text.contains("vnd.api"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn values<'a>(h: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    h.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_are_rendered_and_new_ids_are_never_reused() {
    let (url, seen) = recording_server().await;
    run_once(&url, "a").await;
    let first: Vec<_> = seen.lock().unwrap().drain(..).collect();
    assert_eq!(first.len(), 20);
    let mut seqs = Vec::new();
    for (h, body) in &first {
        // The request's content type replaced both [target]'s and the JSON default: one only.
        assert_eq!(values(h, "content-type"), ["application/vnd.api+json"], "{h:?}");
        let key = values(h, "idempotency-key");
        assert!(key.len() == 1 && key[0].starts_with("new-") && key[0].matches('-').count() == 2, "{key:?}");
        let n: i64 = values(h, "x-n")[0].parse().unwrap();
        assert!((1..=3).contains(&n));
        seqs.push(values(h, "x-client")[0].trim_start_matches("loadgen-").parse::<u64>().unwrap());
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["ref"].as_str().unwrap().len(), 36, "a uuid: {body}");
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (0..20).collect::<Vec<_>>(), "{{seq}} counts every request once");
    let keys = |reqs: &[(Vec<(String, String)>, String)]| -> HashSet<String> {
        reqs.iter().map(|(h, _)| values(h, "idempotency-key")[0].to_owned()).collect()
    };
    let a = keys(&first);
    assert_eq!(a.len(), 20, "unique within a run");
    // The same scenario and seed again: none of its new ids is one the first run wrote.
    run_once(&url, "b").await;
    let second: Vec<_> = seen.lock().unwrap().drain(..).collect();
    assert!(keys(&second).is_disjoint(&a));
}

/// A server whose every other answer has an empty `items`, and a token in every body.
async fn half_empty_server() -> String {
    let n = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let app = Router::new().route(
        "/orders",
        axum::routing::get(move || {
            let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            async move {
                let items = if i.is_multiple_of(2) { "[1]" } else { "[]" };
                ([("content-type", "application/json")], format!(r#"{{"items":{items},"sessionToken":"secret-xyz"}}"#))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_checks_are_counted_gated_and_shown_without_secrets() {
    let url = half_empty_server().await;
    let dir = std::env::temp_dir().join(format!("loadgen-checks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("s.toml");
    std::fs::write(
        &file,
        r#"name = "checked"
[[phase]]
name = "p"
duration = "1s"
rate = 20
[[request]]
name = "list"
path = "/orders"
check = { status = [200], json = { "$.items" = "non-empty", "$.sessionToken" = "exists" } }
[thresholds]
"checks.rate" = "< 10%"
"list.checks.failed" = "<= 10"
"#,
    )
    .unwrap();
    let out = run(common::quiet_run(file, &url, dir.join("out"))).await.unwrap();
    let r = &out.results;
    // The class is the response's: every one is ok; the check failed on half of them.
    assert_eq!(r.totals.by_class[loadgen::record::Class::Ok], 20);
    let c = r.requests[0].checks.as_ref().unwrap();
    assert_eq!((c.checked, c.failed), (20, 10));
    assert_eq!(c.failures.len(), 3);
    assert_eq!(c.failures[0].reason, "$.items is missing or empty");
    assert!(
        !c.failures[0].body.contains("secret-xyz") && c.failures[0].body.contains("<redacted>"),
        "{:?}",
        c.failures[0]
    );
    let verdicts: Vec<(&str, bool)> = r.thresholds.iter().map(|t| (t.key.as_str(), t.passed)).collect();
    assert_eq!(verdicts, [("checks.rate", false), ("list.checks.failed", true)]);
    assert_eq!(out.exit_code, 1);
    let html = std::fs::read_to_string(dir.join("out/report.html")).unwrap();
    assert!(html.contains("First failing responses") && !html.contains("secret-xyz"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_files_feed_fields_in_order_and_unique_rows_end_the_run() {
    let (url, seen) = recording_server().await;
    let dir = std::env::temp_dir().join(format!("loadgen-feeders-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("users.csv"), "email,plan\na@x.example,free\nb@x.example,pro\nc@x.example,free\n").unwrap();
    let scenario = |order: &str, rate: u32| {
        format!(
            "name = \"fed\"\n[[data.file]]\nname = \"users\"\npath = \"users.csv\"\norder = \"{order}\"\n[[phase]]\nname = \"p\"\nduration = \"1s\"\nrate = {rate}\n[[request]]\nname = \"create\"\nmethod = \"POST\"\npath = \"/orders\"\nbody = '{{{{\"email\": \"{{users.email}}\"}}}}'\nheaders = {{ x-plan = \"{{users.plan}}\" }}\n"
        )
    };
    let go = |text: String, out: &str| {
        let file = dir.join(format!("{out}.toml"));
        std::fs::write(&file, text).unwrap();
        common::quiet_run(file, &url, dir.join(out))
    };
    // Sequential: rows in turn, and a request's two fields from one row.
    let out = run(go(scenario("sequential", 6), "seq")).await.unwrap();
    assert_eq!(out.exit_code, 0);
    let got: Vec<(String, String)> = seen
        .lock()
        .unwrap()
        .drain(..)
        .map(|(h, body)| {
            let email = serde_json::from_str::<serde_json::Value>(&body).unwrap()["email"].as_str().unwrap().to_owned();
            (email, values(&h, "x-plan")[0].to_owned())
        })
        .collect();
    let plan_of = |e: &str| match e {
        "b@x.example" => "pro",
        _ => "free",
    };
    assert!(got.iter().all(|(e, p)| plan_of(e) == p), "one row per request: {got:?}");
    let emails: HashSet<&str> = got.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(emails.len(), 3, "every row taken: {got:?}");
    // Unique: three rows for ten sends — the run stops at the fourth, saying why, never a pass.
    let out = run(go(scenario("unique", 10), "uniq")).await.unwrap();
    assert_eq!(seen.lock().unwrap().len(), 3);
    assert_eq!(out.exit_code, 3);
    let why = out.results.abort_reason.clone().unwrap_or_default();
    assert!(why.contains("data file 'users' ran out of rows"), "{why}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeding_through_the_api_sends_the_target_headers_once_each_with_their_rows() {
    let (url, seen) = recording_server().await;
    let dir = std::env::temp_dir().join(format!("loadgen-seed-headers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("users.csv"), "email\na@x.example\nb@x.example\n").unwrap();
    let file = dir.join("s.toml");
    std::fs::write(
        &file,
        r#"name = "seeded"
[target]
headers = { x-user = "{users.email}", Content-Type = "application/json; charset=utf-8" }
[[data.file]]
name = "users"
path = "users.csv"
[data]
items = 3
seed_via = "api"
seed_path = "/orders"
[[phase]]
name = "p"
duration = "1s"
rate = 1
[[request]]
name = "create"
method = "POST"
path = "/orders"
"#,
    )
    .unwrap();
    let opts = RunOptions { seed_data: true, ..common::quiet_run(file, &url, dir.join("out")) };
    assert_eq!(run(opts).await.unwrap().exit_code, 0);
    let seen = seen.lock().unwrap();
    // Seeding posts run concurrently, so their order of arrival is not theirs.
    let mut seeded: Vec<(Vec<&str>, Vec<&str>)> =
        seen[..3].iter().map(|(h, _)| (values(h, "content-type"), values(h, "x-user"))).collect();
    seeded.sort();
    let json = vec!["application/json; charset=utf-8"];
    assert_eq!(
        seeded,
        [(json.clone(), vec!["a@x.example"]), (json.clone(), vec!["a@x.example"]), (json, vec!["b@x.example"])],
        "item n draws row n (wrapping), and the scenario's content type replaces the default"
    );
    drop(seen);
    std::fs::remove_dir_all(&dir).unwrap();
}
