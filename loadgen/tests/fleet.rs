//! `loadgen run --fleet N` on the local stack, as a user runs it: the worker function hosted
//! beside target-api and invoked through the local Invoke API, its shards merged into one run
//! that sends exactly what one host sends; a worker killed mid-run makes the run partial.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{target_api, tempdir, worker};
use serde_json::Value;

/// Even and Poisson open phases and a ramp, over a mix of kinds with a body and headers (which
/// reach the workers as written: a POST without its body would fail).
const SCENARIO: &str = r#"
name = "fleet"
seed = 11
[target]
headers = { x-run = "fleet-test" }
[stack]
latency_profile = "none"
[data]
items = 50
[[phase]]
name = "even"
duration = "2s"
rate = 40
[[phase]]
name = "poisson"
duration = "2s"
rate = 30
arrivals = "poisson"
[[phase]]
name = "ramp"
duration = "2s"
ramp = [10, 50]
[[request]]
name = "get-item"
weight = 3
path = "/items/{id}"
[[request]]
name = "create-item"
weight = 1
method = "POST"
path = "/items"
body = '{{"id":"{new_id}","name":"fleet"}}'
headers = { content-type = "application/json" }
[[request]]
name = "health"
weight = 1
path = "/health"
[thresholds]
"errors.rate" = "< 1%"
"create-item.ok.count" = "> 10"
"#;

fn command(dir: &Path, extra: &[&str]) -> Command {
    command_with(dir, extra, &worker())
}

fn command_with(dir: &Path, extra: &[&str], worker: &Path) -> Command {
    let file = dir.join("s.toml");
    std::fs::write(&file, SCENARIO).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_loadgen"));
    c.args(["run", "--quiet", "--no-cloudwatch", "--out"])
        .arg(dir.join("out"))
        .arg(&file)
        .args(extra)
        .env("LOADGEN_TARGET_API", target_api())
        .env("LOADGEN_WORKER", worker);
    c
}

fn results(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("out/results.json")).unwrap()).unwrap()
}

/// Each phase's (name, sent, not sent, lost).
fn sent_by_phase(r: &Value) -> Vec<(String, u64, u64, u64)> {
    let n = |p: &Value, k: &str| p[k].as_u64().unwrap_or(0);
    (r["phases"].as_array().unwrap().iter())
        .map(|p| (p["name"].as_str().unwrap().to_owned(), n(p, "sent"), n(p, "not_sent"), n(p, "lost")))
        .collect()
}

fn requests_by_kind(r: &Value) -> Vec<(String, u64)> {
    (r["requests"].as_array().unwrap().iter())
        .map(|q| (q["name"].as_str().unwrap().to_owned(), q["summary"]["requests"].as_u64().unwrap()))
        .collect()
}

#[test]
fn a_fleet_of_two_sends_exactly_what_one_host_sends() {
    let (one, two) = (tempdir("fleet-one"), tempdir("fleet-two"));
    let a = command(&one, &[]).output().unwrap();
    assert_eq!(a.status.code(), Some(0), "{}", String::from_utf8_lossy(&a.stderr));
    // A deployed worker's name means nothing to the local stack, which hosts its own.
    let b = command(&two, &["--fleet", "2", "--fleet-function", "elsewhere"]).output().unwrap();
    assert_eq!(b.status.code(), Some(0), "{}", String::from_utf8_lossy(&b.stderr));
    let (a, b) = (results(&one), results(&two));
    assert_eq!(b["status"], "completed");
    assert_eq!((b["fleet"]["workers"].as_u64(), a["fleet"].is_null()), (Some(2), true));
    assert_eq!(b["fleet"]["clocks"].as_array().unwrap().len(), 2, "every worker's clock");
    // Arrival k draws the same request kind on whichever worker sends it, so not only each
    // phase's arrivals but each kind's requests are the single host's.
    assert_eq!(sent_by_phase(&a), sent_by_phase(&b), "the same arrivals, phase by phase, none unsent");
    assert_eq!(requests_by_kind(&a), requests_by_kind(&b), "the same requests, kind by kind");
    let p50 = |r: &Value| r["totals"]["latency"]["p50_ms"].as_f64().unwrap();
    assert!(p50(&b) < 10.0 * p50(&a).max(1.0), "latency within noise: {} vs {}", p50(&b), p50(&a));
    // The worker is loadgen's, not the target's: it is in none of the target's figures.
    let functions = b["target"]["stack"]["extra_functions"].as_array().map_or(0, Vec::len);
    assert_eq!(functions, 0, "{}", b["target"]["stack"]);
}

#[test]
fn a_worker_killed_mid_run_makes_the_run_partial_and_names_its_shard() {
    let dir = tempdir("fleet-killed");
    // A copy of its own, so the processes found by its path are this run's workers alone.
    let worker = dir.join("loadgen-worker");
    std::fs::copy(common::worker(), &worker).unwrap();
    let child = command_with(&dir, &["--fleet", "2"], &worker).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let pids = |path: &Path| -> Vec<String> {
        let out = Command::new("pgrep").arg("-f").arg(path).output().unwrap();
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
    };
    let t0 = Instant::now();
    while pids(&worker).len() < 2 && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
    }
    // Into the phases (the lead is 3 s), then one worker dies.
    std::thread::sleep(Duration::from_secs(5));
    let victim = pids(&worker).into_iter().next().expect("a worker process");
    assert!(Command::new("kill").args(["-9", &victim]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let r = results(&dir);
    assert_eq!(r["status"], "partial");
    assert_eq!(r["passed"], false);
    let reason = r["abort_reason"].as_str().unwrap();
    assert!(reason.contains("1 of 2 fleet workers") && reason.contains("worker "), "{reason}");
    assert_eq!(r["fleet"]["lost"].as_array().unwrap().len(), 1, "{}", r["fleet"]);
    let lost: u64 = sent_by_phase(&r).iter().map(|p| p.3).sum();
    assert!(lost > 0, "the lost shard's arrivals are counted as lost");
    assert_eq!(sent_by_phase(&r).iter().map(|p| p.2).sum::<u64>(), 0, "and not as not sent: they may have been");
    let junit = std::fs::read_to_string(dir.join("out/junit.xml")).unwrap();
    assert!(junit.contains("type=\"partial\""), "{junit}");
}

#[test]
fn a_fleet_cannot_reach_this_machines_loopback() {
    let dir = tempdir("fleet-loopback");
    let out = command(&dir, &["--fleet", "2", "--target", "http://127.0.0.1:9"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--fleet") && stderr.contains("loopback"), "{stderr}");
}
