//! loadgen as a user runs it — the binary, no `--target` — against the local stack: every
//! outcome class produced for real and recognised, and an interrupted run that still writes
//! its results.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{signal, silent_target, spawn_run, target_api, tempdir};
use serde_json::Value;

fn loadgen(dir: &Path, scenario: &str, extra: &[&str]) -> (i32, Value, String) {
    let file = dir.join("s.toml");
    std::fs::write(&file, scenario).unwrap();
    let out_dir = dir.join("out");
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["run", "--quiet", "--out"])
        .arg(&out_dir)
        .arg(&file)
        .args(extra)
        .env("LOADGEN_TARGET_API", target_api())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let results = std::fs::read_to_string(out_dir.join("results.json"))
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), results, stderr)
}

fn count(r: &Value, class: &str) -> u64 {
    r["totals"]["by_class"][class].as_u64().unwrap_or(0)
}

/// One short run per class, each with the stack settings that make that layer answer.
#[test]
fn every_outcome_class_is_produced_and_recognised() {
    let cases: &[(&str, &str, &str)] = &[
        ("ok", "", "path = \"/health\""),
        ("client_error", "[data]\nitems = 0\n", "path = \"/items/never-created\""),
        ("apigw_throttled", "[stack]\napi_rate = 1\napi_burst = 1\n", "path = \"/health\""),
        ("lambda_throttled", "[stack]\nreserved_concurrency = 0\n", "path = \"/health\""),
        (
            "dynamodb_throttled",
            "[stack]\ndynamodb_read_units = 1\nlatency_profile = \"none\"\n[data]\nitems = 20\nseed_rate = 200\n",
            "path = \"/items?ids={ids:20}&pattern=per-item\"",
        ),
        // 500 per-item reads at ~3 ms each outlast a 1 s function timeout.
        (
            "function_error",
            "[stack]\ntimeout = \"1s\"\n[data]\nitems = 500\nseed_rate = 1000\n",
            "path = \"/items?ids={ids:500}&pattern=per-item\"",
        ),
        // 200 per-item reads at ~3 ms each outlast a 100 ms integration timeout. The seeding
        // writes must not: a full core (1,769 MB) and a few writes in flight keep them well
        // inside it, where 64 environments sharing two host cores would not.
        (
            "timeout",
            "[stack]\nintegration_timeout = \"100ms\"\nmemory_mb = 1769\n[data]\nitems = 200\nseed_rate = 100\n",
            "path = \"/items?ids={ids:200}&pattern=per-item\"",
        ),
    ];
    let mut problems = Vec::new();
    for (class, stack, request) in cases {
        let dir = tempdir(class);
        let scenario = format!(
            "name = \"{class}\"\n{stack}\n[[phase]]\nname = \"p\"\nduration = \"2s\"\nrate = 10\n[[request]]\nname = \"r\"\n{request}\n"
        );
        let (code, r, stderr) = loadgen(&dir, &scenario, &[]);
        if r.is_null() {
            problems.push(format!("{class}: no results (exit {code}): {stderr}"));
            continue;
        }
        if count(&r, class) == 0 {
            problems.push(format!("{class}: not seen; outcomes {}", r["totals"]["by_class"]));
        }
        if *class == "ok" {
            // The cost section: priced, and client and CloudWatch agree to the request.
            let cost = &r["cost"];
            if cost["per_million_usd"].as_f64().unwrap_or(0.0) <= 0.0 {
                problems.push(format!("ok: no cost: {cost}"));
            }
            let rows = cost["reconciliation"].as_array().cloned().unwrap_or_default();
            if rows.len() < 5 || rows.iter().any(|x| x["flagged"] == true) {
                problems.push(format!("ok: reconciliation {rows:?}"));
            }
            if r["cloudwatch"]["source"] != "local-stack" {
                problems.push("ok: no CloudWatch pull".into());
            }
            if code != 0 || stderr.contains("verdict") {
                problems.push(format!("ok: a passing --quiet run says nothing of its verdict: exit {code}, {stderr}"));
            }
        }
        if *class == "function_error" || *class == "lambda_throttled" {
            // The gateway's bare 500 is ambiguous on AWS; the emulator's cause settles it.
            let mismatches = r["generator"]["heuristic_mismatches"].as_u64().unwrap();
            if *class == "lambda_throttled" && mismatches != 0 {
                problems.push(format!("{class}: the AWS heuristic should agree with the emulator"));
            }
        }
    }
    // A refused connection: transport errors, and the run stops as a dead target (exit 3).
    let dir = tempdir("transport");
    let scenario = "name = \"transport\"\n[[phase]]\nname = \"p\"\nduration = \"20s\"\nrate = 20\n[[request]]\nname = \"r\"\npath = \"/health\"\n";
    let (code, r, stderr) = loadgen(&dir, scenario, &["--target", "http://127.0.0.1:9"]);
    // --quiet still says on stderr why the run did not pass.
    if count(&r, "transport_error") == 0
        || code != 3
        || r["status"] != "aborted"
        || !stderr.contains("no verdict: stopped early")
    {
        problems.push(format!(
            "transport_error: exit {code}, status {}, outcomes {}",
            r["status"], r["totals"]["by_class"]
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn sigterm_still_writes_what_was_measured() {
    let dir = tempdir("sigterm");
    let file = dir.join("s.toml");
    std::fs::write(&file, "name = \"long\"\n[[phase]]\nname = \"p\"\nduration = \"60s\"\nrate = 20\n[[request]]\nname = \"r\"\npath = \"/health\"\n").unwrap();
    let out_dir = dir.join("out");
    let mut child = spawn_run(&file, &out_dir, &[]);
    std::thread::sleep(Duration::from_secs(4));
    signal(&child, "-TERM", 1);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(out_dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(r["status"], "aborted");
    assert!(r["abort_reason"].as_str().unwrap().contains("SIGTERM"));
    assert!(r["totals"]["requests"].as_u64().unwrap() > 10, "what was measured before the signal is kept");
    assert!(r["duration_s"].as_f64().unwrap() < 20.0);
}

#[test]
fn infra_outputs_name_the_target() {
    let dir = tempdir("infra");
    let tf = dir.join("tf");
    std::fs::create_dir_all(&tf).unwrap();
    // What `terraform apply` of infra/ leaves behind, pointing at a closed loopback port.
    std::fs::write(
        tf.join("terraform.tfstate"),
        r#"{"version":4,"terraform_version":"1.11.4","serial":1,"lineage":"t","outputs":{"api_url":{"value":"http://127.0.0.1:9/","type":"string"},"function_name":{"value":"loadlab-api","type":"string"},"table_name":{"value":"loadlab-items","type":"string"}},"resources":[],"check_results":null}"#,
    )
    .unwrap();
    let scenario = "name = \"infra\"\n[[phase]]\nname = \"p\"\nduration = \"6s\"\nrate = 5\n[[request]]\nname = \"r\"\npath = \"/health\"\n";
    let (code, r, stderr) = loadgen(&dir, scenario, &["--infra", tf.to_str().unwrap()]);
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(r["target"]["url"], "http://127.0.0.1:9");
    assert_eq!(r["target"]["infra"]["function_name"], "loadlab-api");

    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let (code, _, stderr) = loadgen(&dir, scenario, &["--infra", empty.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("api_url") || stderr.contains("terraform"), "{stderr}");
}

#[test]
fn a_target_that_never_answers_is_dead_not_a_pass() {
    let url = silent_target();
    let dir = tempdir("silent");
    let scenario = "name = \"silent\"\n[target]\ntimeout = \"500ms\"\n[[phase]]\nname = \"p\"\nduration = \"20s\"\nrate = 10\n\
                    [[request]]\nname = \"r\"\npath = \"/health\"\n";
    let (code, r, stderr) = loadgen(&dir, scenario, &["--target", &url]);
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(r["status"], "aborted");
    assert!(r["abort_reason"].as_str().unwrap().contains("timed out"), "{}", r["abort_reason"]);
    assert!(r["duration_s"].as_f64().unwrap() < 15.0, "stopped early");
    assert!(count(&r, "timeout") > 0);
}

#[test]
fn a_phase_ends_on_time_and_counts_what_the_in_flight_bound_held_back() {
    let url = silent_target();
    let dir = tempdir("held-back");
    let scenario = "name = \"held\"\n[target]\ntimeout = \"2s\"\nmax_in_flight = 5\n[[phase]]\nname = \"p\"\nduration = \"3s\"\n\
                    rate = 200\n[[request]]\nname = \"r\"\npath = \"/\"\n\
                    [thresholds]\n\"not_sent.rate\" = \"== 0\"\n\"p.not_sent.count\" = \"> 500\"\n";
    let _ = target_api(); // built (if it must be) before the clock starts
    let started = std::time::Instant::now();
    let (_, r, stderr) = loadgen(&dir, scenario, &["--target", &url]);
    // Three seconds of phase and a 2 s drain, never the 120 s the schedule would take at 5 in flight.
    assert!(started.elapsed() < Duration::from_secs(20), "{stderr}");
    let sent = r["phases"][0]["sent"].as_u64().unwrap();
    let not_sent = r["phases"][0]["not_sent"].as_u64().unwrap_or(0);
    assert_eq!(sent + not_sent, 600, "the whole schedule is either sent or counted: {sent} + {not_sent}");
    assert!(not_sent > 500, "{not_sent}");
    assert_eq!(r["generator"]["not_sent"].as_u64(), Some(not_sent));
    assert_eq!(r["generator"]["saturated"], true);
    let duration = r["duration_s"].as_f64().unwrap();
    assert!(duration <= 3.1, "{duration}");
    let achieved = r["achieved_rate"].as_f64().unwrap();
    assert!((achieved - sent as f64 / duration).abs() < 1e-6 && achieved < 20.0, "{achieved}");
    // Gated: a run that could not send its schedule fails a not_sent threshold.
    let verdicts: Vec<(&str, bool)> = r["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["key"].as_str().unwrap(), t["passed"].as_bool().unwrap()))
        .collect();
    assert_eq!(verdicts, [("not_sent.rate", false), ("p.not_sent.count", true)]);
    assert_eq!(r["passed"], false);
}

#[test]
fn signals_stop_the_drain_and_the_set_up_with_a_clear_exit() {
    // During the drain: a target that never answers would hold it for the 30 s timeout; one
    // signal shortens it to 2 s and a second ends it at once, results written either way.
    let url = silent_target();
    let dir = tempdir("drain-signal");
    let file = dir.join("s.toml");
    std::fs::write(&file, "name = \"drain\"\n[[phase]]\nname = \"p\"\nduration = \"2s\"\nrate = 5\n[[request]]\nname = \"r\"\npath = \"/\"\n").unwrap();
    let out_dir = dir.join("out");
    let started = std::time::Instant::now();
    let mut child = spawn_run(&file, &out_dir, &["--target", &url]);
    std::thread::sleep(Duration::from_secs(4));
    signal(&child, "-INT", 2);
    let status = child.wait().unwrap();
    // One signal would leave 2 s of drain (done at ~6.1 s); the second ends it at once.
    assert!(
        started.elapsed() < Duration::from_millis(5500),
        "the drain ended at the second signal: {:?}",
        started.elapsed()
    );
    assert_eq!(status.code(), Some(3));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(out_dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(r["status"], "aborted");

    // During the set-up (seeding 2,000 items at 20 a second): exit 3 at once, saying so.
    let dir = tempdir("setup-signal");
    let file = dir.join("s.toml");
    std::fs::write(
        &file,
        "name = \"setup\"\n[data]\nitems = 2000\nseed_rate = 20\n[[phase]]\nname = \"p\"\nduration = \"5s\"\nrate = 5\n\
         [[request]]\nname = \"r\"\npath = \"/health\"\n",
    )
    .unwrap();
    let child = spawn_run(&file, &dir.join("out"), &[]);
    std::thread::sleep(Duration::from_secs(6));
    let signalled = std::time::Instant::now();
    signal(&child, "-INT", 1);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("interrupted") && stderr.contains("nothing was measured"), "{stderr}");
    assert!(signalled.elapsed() < Duration::from_secs(5), "stopped at once, not after the seeding");
    assert!(
        stderr.contains("before credentials were fetched and the data seeded"),
        "interrupted while seeding: {stderr}"
    );
}

#[test]
fn running_out_of_file_descriptors_is_the_generators_failure_not_the_targets() {
    // A hard limit of 64 descriptors, far below what 300 requests held by a silent target need.
    let url = silent_target();
    let dir = tempdir("nofile");
    let file = dir.join("s.toml");
    std::fs::write(
        &file,
        "name = \"nofile\"\n[target]\ntimeout = \"3s\"\nmax_in_flight = 1000\n[[phase]]\nname = \"p\"\nduration = \"2s\"\n\
         rate = 150\n[[request]]\nname = \"r\"\npath = \"/\"\n",
    )
    .unwrap();
    let out_dir = dir.join("out");
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -Sn 32 && ulimit -Hn 64 && exec \"$0\" run --quiet --fail-on-saturation --target \"$1\" --out \"$2\" \"$3\"")
        .arg(env!("CARGO_BIN_EXE_loadgen"))
        .args([url.as_str(), out_dir.to_str().unwrap(), file.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("open files: the limit is 64 (raised to the hard limit)"), "{stderr}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(out_dir.join("results.json")).unwrap()).unwrap();
    let g = &r["generator"];
    let starved = g["out_of_files"].as_u64().unwrap_or(0);
    assert!(starved > 100, "{g}");
    assert_eq!(g["saturated"], true);
    assert!(g["not_sent"].as_u64().unwrap() >= starved, "arrivals without a socket are not sent: {g}");
    assert_eq!(count(&r, "transport_error"), 0, "not the target's failures: {}", r["totals"]);
    // Not a pass, said everywhere: --fail-on-saturation's exit 1, stderr, junit.xml.
    assert_eq!((out.status.code(), &r["passed"]), (Some(1), &Value::Bool(false)), "{stderr}");
    assert!(stderr.contains("generator saturated") && stderr.contains("without a file descriptor"), "{stderr}");
    let junit = std::fs::read_to_string(out_dir.join("junit.xml")).unwrap();
    assert!(junit.contains("name=\"generator keeps the schedule\"") && junit.contains("type=\"saturated\""), "{junit}");
}

#[test]
fn a_report_directory_lost_mid_run_loses_no_measurement() {
    let scenario = "name = \"lost\"\n[data]\nitems = 0\n[[phase]]\nname = \"p\"\nduration = \"3s\"\nrate = 20\n\
                    [[request]]\nname = \"r\"\npath = \"/health\"\n";
    for replaced in [false, true] {
        let dir = tempdir(if replaced { "out-replaced" } else { "out-removed" });
        let file = dir.join("s.toml");
        std::fs::write(&file, scenario).unwrap();
        let out_dir = dir.join("out");
        let child = spawn_run(&file, &out_dir, &[]);
        // Mid-phase: the directory (and the function log in it) goes away.
        std::thread::sleep(Duration::from_secs(3));
        std::fs::remove_dir_all(&out_dir).unwrap();
        if replaced {
            // ... and a file takes its name, so it cannot be made again.
            std::fs::write(&out_dir, "not a directory").unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        let written = if replaced {
            let moved = stderr
                .split("the results are in ")
                .nth(1)
                .and_then(|r| r.split(" instead").next())
                .unwrap_or_else(|| panic!("says where the results went: {stderr}"));
            PathBuf::from(moved)
        } else {
            out_dir.clone()
        };
        let r: Value = serde_json::from_str(&std::fs::read_to_string(written.join("results.json")).unwrap()).unwrap();
        assert!(r["totals"]["requests"].as_u64().unwrap() > 30, "every measurement kept: {}", r["totals"]);
        assert!(written.join("report.html").is_file());
    }
}
