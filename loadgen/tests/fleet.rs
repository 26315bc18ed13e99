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

    // The same plan cut into four 1.5 s segments, each sent by fresh invokes of both workers on
    // the one absolute schedule: still exactly the single host's arrivals, with no gap at the
    // boundaries (which fall inside phases).
    let cut = tempdir("fleet-segments");
    let c = command(&cut, &["--fleet", "2", "--fleet-segment", "1500ms"]).output().unwrap();
    assert_eq!(c.status.code(), Some(0), "{}", String::from_utf8_lossy(&c.stderr));
    let c = results(&cut);
    assert_eq!((c["status"].as_str(), c["fleet"]["segments"].as_u64()), (Some("completed"), Some(4)));
    assert_eq!(c["fleet"]["clocks"].as_array().unwrap().len(), 8, "2 workers x 4 segments");
    assert_eq!(sent_by_phase(&a), sent_by_phase(&c), "segments: the same arrivals, phase by phase");
    assert_eq!(requests_by_kind(&a), requests_by_kind(&c), "segments: the same requests, kind by kind");
    let sent: Vec<u64> = c["series"].as_array().unwrap().iter().map(|s| s["sent"].as_u64().unwrap()).collect();
    assert!(sent.len() >= 6 && sent[..6].iter().all(|&n| n > 0), "no second without sends: {sent:?}");
    let measured = |r: &Value| r["duration_s"].as_f64().unwrap();
    assert!((measured(&c) - measured(&a)).abs() < 0.5, "{} vs {}", measured(&c), measured(&a));
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

#[test]
fn a_worker_whose_clock_is_off_is_named_and_the_run_is_saturated() {
    let dir = tempdir("fleet-skewed");
    // Both workers' clocks 400 ms ahead: each starts its shard that much early.
    let out = command(&dir, &["--fleet", "2", "--fail-on-saturation"])
        .env("LOADGEN_WORKER_CLOCK_SKEW_MS", "400")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "saturated fails with --fail-on-saturation: {stderr}");
    let r = results(&dir);
    assert_eq!((r["generator"]["saturated"].as_bool(), r["generator"]["clock_skewed"].as_u64()), (Some(true), Some(2)));
    for c in r["fleet"]["clocks"].as_array().unwrap() {
        let (off, unc) = (c["offset_ms"].as_f64().unwrap(), c["uncertainty_ms"].as_f64().unwrap());
        assert!((off - 400.0).abs() <= unc + 5.0, "{c}");
    }
    assert!(stderr.contains("clocks off the schedule"), "{stderr}");
}

/// A flow that captures the id its first answer carries, behind a header whose value comes from
/// the environment — both reach the workers resolved (the text results.json keeps has
/// neither) — and a request that writes that value and fails a check on the answer echoing
/// it, so a worker keeps a failing body that must show the value redacted.
const FLOW: &str = r#"
name = "fleet-flow"
[target]
headers = { x-tenant = "${FLEET_TEST_KEY}" }
[stack]
latency_profile = "none"
[[phase]]
name = "steady"
duration = "3s"
rate = 10
[[flow]]
name = "order"
[[flow.step]]
name = "create"
method = "POST"
path = "/items"
body = '{{"id":"{new_id}","name":"flow"}}'
check = { status = [201] }
capture = { order_id = "$.id" }
think = "300ms"
[[flow.step]]
name = "read"
path = "/items/{order_id}"
check = { status = [200], json = { "$.id" = "exists" } }
[[request]]
name = "echo"
method = "POST"
path = "/items"
body = '{{"id":"{new_id}","name":"${FLEET_TEST_KEY}"}}'
check = { status = [201], json = { "$.absent" = "exists" } }
[thresholds]
"order.flows_failed.rate" = "< 1%"
"#;

#[test]
fn a_flow_with_captures_and_a_secret_header_runs_on_a_fleet_and_the_secret_stays_hidden() {
    let dir = tempdir("fleet-flow");
    let file = dir.join("flow.toml");
    std::fs::write(&file, FLOW).unwrap();
    let run = |out: &str, fleet: &[&str]| {
        let done = Command::new(env!("CARGO_BIN_EXE_loadgen"))
            .args(["run", "--quiet", "--no-cloudwatch", "--out"])
            .arg(dir.join(out))
            .arg(&file)
            .args(fleet)
            .env("LOADGEN_TARGET_API", target_api())
            .env("LOADGEN_WORKER", worker())
            .env("FLEET_TEST_KEY", "k3y-that-must-not-show")
            .output()
            .unwrap();
        assert_eq!(done.status.code(), Some(0), "{}", String::from_utf8_lossy(&done.stderr));
        let text = std::fs::read_to_string(dir.join(out).join("results.json")).unwrap();
        serde_json::from_str::<Value>(&text).unwrap()
    };
    // In three 1 s segments: with a 300 ms think, a few instances are under way at each
    // boundary. They run on through their worker's drain, as on one host, so the fleet's flows
    // end as one host's do: only those still thinking at the plan's end are cut.
    let r = run("out", &["--fleet", "2", "--fleet-segment", "1s"]);
    let one = run("one", &[]);
    assert_eq!(r["fleet"]["segments"].as_u64(), Some(3));
    let counts = |r: &Value| {
        let f = &r["flows"][0];
        (f["started"].as_u64().unwrap(), f["completed"].as_u64().unwrap(), f["failed"].as_u64().unwrap())
    };
    assert_eq!(counts(&r), counts(&one), "fleet {} vs one host {}", r["flows"][0], one["flows"][0]);
    let (started, completed, failed) = counts(&r);
    assert!(started > 5 && failed == 0 && started - completed <= 4, "{}", r["flows"][0]);
    let echo = r["requests"].as_array().unwrap().iter().find(|q| q["name"] == "echo").unwrap();
    let kept = echo["checks"]["failures"][0]["body"].as_str().unwrap();
    assert!(kept.contains("\"name\":\"<redacted>\""), "the failing answer is kept, the value in it redacted: {kept}");
    for entry in std::fs::read_dir(dir.join("out")).unwrap().chain(std::fs::read_dir(dir.join("one")).unwrap()) {
        let path = entry.unwrap().path();
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        assert!(!text.contains("k3y-that-must-not-show"), "{} shows the secret", path.display());
    }
}
