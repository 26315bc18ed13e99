//! The engine against loopback servers of its own: rate accuracy, coordinated omission, gates
//! and abort-on-fail, run in-process through `loadgen::cmd::run`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use loadgen::cmd::run::{RunOptions, run};

/// A loopback server counting hits; `stall` makes it pause `stall_ms` every `every_ms`.
async fn server(delay_ms: u64, stall: Option<(u64, u64)>) -> (String, Arc<AtomicU64>) {
    let (url, hits, _) = server_counting_writes(delay_ms, stall).await;
    (url, hits)
}

/// [`server`], also counting the `POST /items` it was sent.
async fn server_counting_writes(delay_ms: u64, stall: Option<(u64, u64)>) -> (String, Arc<AtomicU64>, Arc<AtomicU64>) {
    let hits = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let counter = hits.clone();
    let writes = Arc::new(AtomicU64::new(0));
    let written = writes.clone();
    let app = Router::new()
        // What a function reporting its own handler time answers: the client's view can price it.
        .route("/diag", get(|| async { ([("x-env-id", "e1"), ("x-handler-us", "2000"), ("x-ddb-rcu", "0.5")], "ok") }))
        .route(
            "/items",
            axum::routing::post(move || {
                written.fetch_add(1, Ordering::Relaxed);
                async { (axum::http::StatusCode::CREATED, "{}") }
            }),
        )
        .route(
            "/hit",
            get(move || {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::Relaxed);
                    if let Some((every, stall_ms)) = stall {
                        let into = start.elapsed().as_millis() as u64 % every;
                        if into < stall_ms {
                            tokio::time::sleep(Duration::from_millis(stall_ms - into)).await;
                        }
                    }
                    if delay_ms > 0 {
                        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                    }
                    "ok"
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, hits, writes)
}

/// The timing-sensitive tests of this file run one at a time: on 2 cores, two generators at
/// thousands of requests per second would measure each other.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn scenario(dir: &std::path::Path, body: &str) -> std::path::PathBuf {
    let p = dir.join("s.toml");
    std::fs::write(&p, body).unwrap();
    p
}

fn opts(file: std::path::PathBuf, url: &str, out: &std::path::Path) -> RunOptions {
    RunOptions {
        scenario: file,
        no_cloudwatch: false,
        prices: None,
        max_cost_usd: None,
        fail_on_saturation: false,
        metrics_addr: None,
        fleet: None,
        target: Some(url.to_owned()),
        target_urls: Vec::new(),
        out: Some(out.to_path_buf()),
        seed: None,
        infra: None,
        local: false,
        seed_data: false,
        quiet: true,
    }
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("loadgen-test-{tag}-{}-{}", std::process::id(), fastrand::u64(..)));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn achieved_rate_is_within_one_percent_at_1000_and_5000() {
    let _serial = SERIAL.lock().await;
    for rate in [1000u64, 5000] {
        let (url, hits) = server(0, None).await;
        let dir = tempdir("rate");
        let file = scenario(
            &dir,
            &format!(
                "name = \"rate\"\n[[phase]]\nname = \"p\"\nduration = \"3s\"\nrate = {rate}\n[[request]]\nname = \"hit\"\npath = \"/hit\"\n"
            ),
        );
        let out = run(opts(file, &url, &dir)).await.unwrap();
        let r = &out.results;
        let expected = rate as f64 * 3.0;
        let sent = r.phases[0].sent as f64;
        assert!((sent - expected).abs() / expected < 0.01, "rate {rate}: sent {sent}, want {expected}");
        assert!(
            (r.phases[0].achieved_rate - rate as f64).abs() / (rate as f64) < 0.01,
            "rate {rate}: achieved {}",
            r.phases[0].achieved_rate
        );
        let ok = r.totals.by_class[loadgen::record::Class::Ok] as f64;
        assert!(ok >= sent * 0.99, "rate {rate}: {ok} of {sent} answered ok");
        assert!(hits.load(Ordering::Relaxed) as f64 >= ok, "every ok answer was a real hit");
        assert!(dir.join("results.json").is_file());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_opened_before_the_start_and_the_runs_own_counted() {
    let _serial = SERIAL.lock().await;
    let hit = "[[request]]\nname = \"hit\"\npath = \"/hit\"\n";
    // As set: 12 opened first, and 20 req/s answered at once never needs another.
    let (url, _) = server(0, None).await;
    let dir = tempdir("conns");
    let body = format!(
        "name = \"c\"\n[target]\nconnections = 12\n[[phase]]\nname = \"p\"\nduration = \"1s\"\nrate = 20\n{hit}"
    );
    let c = run(opts(scenario(&dir, &body), &url, &dir)).await.unwrap().results.generator.connections;
    assert_eq!((c.opened_before, c.opened_during), (12, 0), "{c:?}");
    assert!(c.connect_p50_ms > 0.0 && c.connect_max_ms >= c.connect_p50_ms, "{c:?}");
    // By default 100 req/s × 100 ms = 10 first; a 300 ms target keeps ~30 in flight, so the
    // run opens the rest itself, and says so.
    let (url, _) = server(300, None).await;
    let dir = tempdir("conns-slow");
    let body = format!("name = \"c\"\n[[phase]]\nname = \"p\"\nduration = \"2s\"\nrate = 100\n{hit}");
    let out = run(opts(scenario(&dir, &body), &url, &dir)).await.unwrap();
    let c = &out.results.generator.connections;
    assert_eq!(c.opened_before, 10, "{c:?}");
    assert!(c.opened_during >= 15, "{c:?}");
    let text = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(text.contains("connections opened during the run"), "the report shows them");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalls_show_in_corrected_latency_not_in_service_time() {
    let _serial = SERIAL.lock().await;
    // 200 ms stall every 2 s at 2,000 req/s; 20 requests in flight at most, like 20 connections.
    let (url, _) = server(1, Some((2000, 200))).await;
    let dir = tempdir("co");
    let file = scenario(
        &dir,
        "name = \"co\"\n[target]\nmax_in_flight = 20\n[[phase]]\nname = \"p\"\nduration = \"6s\"\nrate = 2000\n[[request]]\nname = \"hit\"\npath = \"/hit\"\n",
    );
    let out = run(opts(file, &url, &dir)).await.unwrap();
    let t = &out.results.totals;
    assert!(t.latency.p99_ms >= 100.0, "corrected p99 {} ms must show the stalls", t.latency.p99_ms);
    // The stall is 200 ms; a send that waited for a free slot does not carry it in its service time.
    assert!(
        t.service_time.p99_ms < 50.0,
        "service-time p99 {} ms stays near the normal 1 ms delay",
        t.service_time.p99_ms
    );
    assert!(t.latency.p99_ms > 2.0 * t.service_time.p99_ms);
    assert!(out.results.generator.late_sends > 0, "the sends held back by the stall are counted late");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_threshold_exits_1_and_abort_on_fail_stops_early() {
    let _serial = SERIAL.lock().await;
    let (url, _) = server(20, None).await;
    let dir = tempdir("gate");
    let file = scenario(
        &dir,
        "name = \"gate\"\n[[phase]]\nname = \"p\"\nduration = \"2s\"\nrate = 50\n[[request]]\nname = \"hit\"\npath = \"/hit\"\n[thresholds]\n\"latency.p50\" = \"< 5ms\"\n\"errors.rate\" = \"< 1%\"\n",
    );
    let out = run(opts(file, &url, &dir)).await.unwrap();
    assert_eq!(out.exit_code, 1);
    assert!(!out.results.passed);
    let p50 = out.results.thresholds.iter().find(|t| t.key == "latency.p50").unwrap();
    assert!(!p50.passed && p50.measured >= 20.0, "{p50:?}");
    assert!(out.results.thresholds.iter().find(|t| t.key == "errors.rate").unwrap().passed);

    // Every request 404s (no such path) and errors.rate aborts the run well before its 20 s.
    let file = scenario(
        &dir,
        "name = \"abort\"\n[[phase]]\nname = \"p\"\nduration = \"20s\"\nrate = 200\n[[request]]\nname = \"miss\"\npath = \"/nope\"\n[thresholds]\n\"errors.rate\" = { limit = \"< 1%\", abort_on_fail = true }\n",
    );
    let t = Instant::now();
    let out = run(opts(file, &url, &dir)).await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(8), "aborted early, took {:?}", t.elapsed());
    assert_eq!(out.exit_code, 1);
    assert_eq!(out.results.status, loadgen::results::Status::Aborted);
    assert!(out.results.abort_reason.as_deref().unwrap().contains("errors.rate"));
    assert!(dir.join("results.json").is_file(), "an aborted run still writes its results");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_costly_run_against_a_real_target_is_refused_before_any_request() {
    let _serial = SERIAL.lock().await;
    let dir = tempdir("guard");
    let file = scenario(
        &dir,
        "name = \"big\"\n[[phase]]\nname = \"p\"\nduration = \"1h\"\nrate = 1000\n[[request]]\nname = \"r\"\npath = \"/health\"\n",
    );
    // A non-loopback URL: the guard must refuse before anything is sent.
    let err = run(opts(file, "https://api.example.invalid", &dir)).await.unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("--max-cost-usd"), "{err}");
    assert!(!dir.join("results.json").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_thresholds_gate_the_run() {
    let _serial = SERIAL.lock().await;
    let (url, _) = server(0, None).await;
    let dir = tempdir("costgate");
    let file = scenario(
        &dir,
        "name = \"cg\"\n[[phase]]\nname = \"p\"\nduration = \"1s\"\nrate = 50\n[[request]]\nname = \"hit\"\npath = \"/diag\"\n[thresholds]\n\"cost.per_million_usd\" = \"< 0.01\"\n\"cost.run_usd\" = \"< 1\"\n",
    );
    let out = run(opts(file, &url, &dir)).await.unwrap();
    let cost = out.results.cost.as_ref().expect("priced from the client's view");
    // API Gateway $1.00/M + Lambda $0.20/M at least.
    assert!(cost.per_million_usd >= 1.2, "{}", cost.per_million_usd);
    let per_m = out.results.thresholds.iter().find(|t| t.key == "cost.per_million_usd").unwrap();
    assert!(!per_m.passed);
    assert!(out.results.thresholds.iter().find(|t| t.key == "cost.run_usd").unwrap().passed);
    assert_eq!(out.exit_code, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_target_is_never_written_to_or_priced_from_nothing() {
    let _serial = SERIAL.lock().await;
    let (url, _, writes) = server_counting_writes(0, None).await;
    let dir = tempdir("unpriced");
    let file = scenario(
        &dir,
        "name = \"up\"\n[data]\nitems = 20\n[[phase]]\nname = \"p\"\nduration = \"1s\"\nrate = 50\n[[request]]\nname = \"hit\"\npath = \"/hit\"\n[thresholds]\n\"cost.run_usd\" = \"< 1\"\n",
    );
    let out = run(opts(file.clone(), &url, &dir)).await.unwrap();
    let r = &out.results;
    // Nothing was written into someone else's API, and results.json says so.
    assert_eq!(writes.load(Ordering::Relaxed), 0);
    assert!(!r.scenario.data.seed);
    // Nothing measured what the function billed: no figure anywhere, and the cost gate fails.
    assert!(r.cost.is_none());
    assert!(r.cost_unknown.as_deref().is_some_and(|w| w.contains("--infra")), "{:?}", r.cost_unknown);
    assert!(!r.thresholds[0].passed);
    assert_eq!(out.exit_code, 1);
    let terminal = loadgen::report::terminal::summary(r);
    assert!(terminal.contains("cost unknown") && !terminal.contains('$'), "{terminal}");
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(md.contains("Cost unknown") && !md.contains("per million"), "{md}");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("Cost unknown") && !html.contains("per million requests"));
    // Asked, it seeds into the table by default — whose name it must be told, before anything
    // is sent.
    let seeded = RunOptions { seed_data: true, out: Some(dir.join("seeded")), ..opts(file, &url, &dir) };
    let e = run(seeded).await.unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("[target] table_name") && e.to_string().contains("seed_via"), "{e}");
    assert_eq!(writes.load(Ordering::Relaxed), 0);
    // Through the API only when the scenario says so: then POST /items, each item once.
    let api = scenario(
        &dir,
        "name = \"up\"\n[data]\nitems = 20\nseed_via = \"api\"\n[[phase]]\nname = \"p\"\nduration = \"1s\"\nrate = 50\n[[request]]\nname = \"hit\"\npath = \"/hit\"\n",
    );
    let seeded = RunOptions { seed_data: true, out: Some(dir.join("seeded-api")), ..opts(api, &url, &dir) };
    let out = run(seeded).await.unwrap();
    assert_eq!(writes.load(Ordering::Relaxed), 20);
    assert!(out.results.scenario.data.seed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_model_keeps_n_users_busy() {
    let _serial = SERIAL.lock().await;
    let (url, hits) = server(10, None).await;
    let dir = tempdir("closed");
    let file = scenario(
        &dir,
        "name = \"closed\"\n[[phase]]\nname = \"p\"\nduration = \"2s\"\nusers = 4\nthink = \"10ms\"\n[[request]]\nname = \"hit\"\npath = \"/hit\"\n",
    );
    let out = run(opts(file, &url, &dir)).await.unwrap();
    // 4 users × 2 s ÷ (~10 ms service + 10 ms think) ≈ 400.
    let n = hits.load(Ordering::Relaxed);
    assert!((250..=450).contains(&n), "{n}");
    assert_eq!(out.results.phases[0].target_rate, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_histograms_merge_back_to_the_totals() {
    let _serial = SERIAL.lock().await;
    let (url, _) = server(2, None).await;
    let dir = tempdir("hist");
    let file = scenario(
        &dir,
        "name = \"h\"\n[[phase]]\nname = \"a\"\nduration = \"1s\"\nrate = 100\n[[phase]]\nname = \"b\"\nduration = \"1s\"\nrate = 100\n[[request]]\nname = \"hit\"\npath = \"/hit\"\n",
    );
    let out = run(opts(file, &url, &dir)).await.unwrap();
    let text = std::fs::read_to_string(dir.join("results.json")).unwrap();
    let doc: loadgen::results::Results = serde_json::from_str(&text).unwrap();
    assert_eq!(doc.schema, loadgen::results::SCHEMA);
    let mut merged = loadgen::record::histogram::new();
    for cell in &doc.histograms {
        merged.add(loadgen::results::decode(&cell.latency).unwrap()).unwrap();
    }
    assert_eq!(loadgen::results::Stats::of(&merged), out.results.totals.latency, "cells merge exactly into the totals");
    assert_eq!(doc.phases.len(), 2);
    assert!(doc.series.len() >= 2);
}
