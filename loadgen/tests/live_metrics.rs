//! `--metrics-addr`: scraped while a run on the local stack runs, the endpoint shows requests
//! by class, Lambda's throttles by layer, the ok responses' latency and the phase — and a taken
//! port is refused before anything runs.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// `GET /metrics` over plain HTTP/1.0: the status line, headers and body as text.
fn scrape(addr: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    Some(text)
}

/// The value of the series that starts with `series` (labels included), if it is there.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines().find(|l| l.starts_with(series)).and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

fn free_addr() -> String {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string()
}

#[test]
fn the_endpoint_is_scraped_while_the_run_runs() {
    let dir = common::tempdir("metrics");
    let file = dir.join("m.toml");
    // One environment, at most 10 invocations a second: 40 a second is throttled at once.
    std::fs::write(
        &file,
        "name = \"m\"\n[stack]\nreserved_concurrency = 1\nlatency_profile = \"none\"\n[data]\nitems = 20\n\
         [[phase]]\nname = \"busy\"\nduration = \"5s\"\nrate = 40\n[[request]]\nname = \"get\"\npath = \"/items/{id}\"\n",
    )
    .unwrap();
    let addr = free_addr();
    let mut child = common::spawn_run(&file, &dir.join("out"), &["--no-cloudwatch", "--metrics-addr", &addr]);
    let start = Instant::now();
    let mut seen = None;
    while start.elapsed() < Duration::from_secs(120) {
        if let Some(text) = scrape(&addr) {
            let ok = value(&text, "loadgen_responses_total{scenario=\"m\",class=\"ok\"}").unwrap_or(0.0);
            let throttled = value(&text, "loadgen_throttles_total{scenario=\"m\",layer=\"lambda\"}").unwrap_or(0.0);
            let latency = value(&text, "loadgen_ok_latency_seconds_count{scenario=\"m\"}").unwrap_or(0.0);
            if ok > 0.0 && throttled > 0.0 && latency > 0.0 {
                seen = Some(text);
                break;
            }
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let status = child.wait().unwrap();
    let text = seen.expect("a scrape during the run showed ok responses, Lambda throttles and ok latency");
    assert!(text.starts_with("HTTP/1.1 200") || text.starts_with("HTTP/1.0 200"), "{text}");
    assert!(text.contains("application/openmetrics-text"), "{text}");
    for want in
        ["loadgen_requests_sent_total", "loadgen_in_flight", "loadgen_phase{scenario=\"m\",name=\"busy\"} 1", "# EOF"]
    {
        assert!(text.contains(want), "{want} in\n{text}");
    }
    assert!(status.code().is_some(), "the run ended by itself");
}

#[test]
fn a_taken_port_is_refused_before_anything_runs() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = common::tempdir("metrics-taken");
    let file = dir.join("m.toml");
    std::fs::write(&file, "name = \"m\"\n[target]\nurl = \"http://127.0.0.1:9\"\n[[phase]]\nname = \"p\"\nduration = \"1s\"\nrate = 1\n[[request]]\nname = \"r\"\npath = \"/\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["run", "--metrics-addr", &addr, "--out"])
        .arg(dir.join("out"))
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("--metrics-addr {addr}: cannot listen there")), "{stderr}");
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["run", "--metrics-addr", "9464", "x.toml"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("write e.g. 127.0.0.1:9464"));
}

#[test]
fn the_grafana_dashboard_queries_only_what_the_endpoint_serves() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/grafana-dashboard.json");
    let dash: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let served = loadgen::live_metrics::LiveMetrics::new("s");
    served.update(&loadgen::event::Snapshot { phase: "p".into(), ..Default::default() }, None);
    let text = served.render();
    let mut queried = 0;
    for panel in dash["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for name in
                expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("loadgen_"))
            {
                assert!(
                    text.contains(&format!("\n{name}")) || text.starts_with(name),
                    "{name} (in '{expr}') is not served:\n{text}"
                );
                queried += 1;
            }
        }
    }
    assert!(queried >= 8, "the dashboard queries the endpoint's series ({queried})");
}
