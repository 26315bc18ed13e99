//! Every scenario in `scenarios/` proves its header: its thresholds encode what the header says
//! the run shows, and this test runs each one on the local stack as a user would — the release
//! binaries `cargo loadgen` runs — and requires every threshold to pass. Long scenarios run with
//! shorter phases where what they show does not depend on the length. Where a run throttled,
//! its knee's simulated throttle shares must agree with the measured ones.
//!
//!
//! It also validates `loadgen simulate` against the real thing: a steady run
//! (`tests/data/calibrate.toml`) calibrates it, and spike, ramp and cold-start — simulated with
//! `--scenario` from that calibration alone — must match their measured runs, and hot-key,
//! simulated from its own run, must throttle its hot key as the run did ([`validation`]).
//!
//! It takes about six minutes and a release build, so it is not in the default `cargo test`;
//! `.ci/run` runs it: `cargo test -p loadgen --test scenarios -- --ignored`.

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "scenarios/validation.rs"]
mod validation;

/// Scenarios whose phases may be cut to this length without changing what they show.
const SHORTENED: &[(&str, &str)] = &[("steady", "20s"), ("batch-vs-item", "20s"), ("ramp", "5s")];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The release loadgen and target-api binaries, built if needed: a scenario's thresholds speak
/// of what users run, and a debug build is several times slower on the local stack.
fn release_binaries() -> (PathBuf, PathBuf) {
    let mut cargo = Command::new(env!("CARGO"));
    // Without the package variables cargo gives this test (CARGO_PKG_NAME=loadgen, …): build
    // scripts such as ring's rerun when they change, so with them these release artifacts would
    // differ from a shell's `cargo loadgen` or scripts/build-lambda.sh build, and each would
    // recompile the graph the other built (as loadgen's own target-api build avoids).
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("CARGO_PKG_")
            || k.starts_with("CARGO_MANIFEST_")
            || k.starts_with("CARGO_CRATE_")
            || k.starts_with("CARGO_BIN_")
            || k == "CARGO_PRIMARY_PACKAGE"
        {
            cargo.env_remove(&key);
        }
    }
    let status = cargo
        .args(["build", "--release", "--quiet", "-p", "loadgen", "-p", "target-api"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(status.success());
    let debug = PathBuf::from(env!("CARGO_BIN_EXE_loadgen"));
    let release = debug.parent().unwrap().parent().unwrap().join("release");
    (release.join("loadgen"), release.join("target-api"))
}

/// `file` as the test runs it: with its phases cut to `phase_len` when given (a phase's is the
/// only `duration` key a scenario has).
fn prepared(file: &Path, phase_len: Option<&str>, dir: &Path) -> PathBuf {
    let Some(len) = phase_len else { return file.to_path_buf() };
    let text = std::fs::read_to_string(file).unwrap();
    let cut: Vec<String> = text
        .lines()
        .map(|l| if l.starts_with("duration = ") { format!("duration = \"{len}\"") } else { l.to_owned() })
        .collect();
    assert!(cut.iter().any(|l| l == &format!("duration = \"{len}\"")), "{} has no phase duration", file.display());
    let out = dir.join(file.file_name().unwrap());
    std::fs::write(&out, cut.join("\n")).unwrap();
    out
}

#[test]
#[ignore = "six minutes of scenarios and a release build; .ci/run runs it"]
fn every_scenario_shows_what_its_header_says() {
    let (loadgen, api) = release_binaries();
    let dir = std::env::temp_dir().join(format!("loadgen-scenarios-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "{files:?}");
    let mut problems = Vec::new();
    let calibration = validation::calibrate(&loadgen, &api, &root(), &dir);
    if let Err(e) = &calibration {
        problems.push(e.clone());
    }
    for file in &files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(file).unwrap();
        if !text.contains("[thresholds]") {
            problems.push(format!("{name}: no thresholds back its header"));
            continue;
        }
        let len = SHORTENED.iter().find(|(n, _)| *n == name).map(|(_, l)| *l);
        let scenario = prepared(file, len, &dir);
        let out_dir = dir.join(&name);
        let out = Command::new(&loadgen)
            .args(["run", "--quiet", "--out"])
            .arg(&out_dir)
            .arg(&scenario)
            .current_dir(root())
            .env("LOADGEN_TARGET_API", &api)
            .output()
            .unwrap();
        let results: serde_json::Value = match std::fs::read_to_string(out_dir.join("results.json")) {
            Ok(t) => serde_json::from_str(&t).unwrap(),
            Err(_) => {
                problems.push(format!(
                    "{name}: no results (exit {:?}): {}",
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr)
                ));
                continue;
            }
        };
        let failed: Vec<String> = results["thresholds"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["passed"] != true)
            .map(|t| format!("{} {} (measured {})", t["key"], t["condition"], t["measured"]))
            .collect();
        if out.status.code() != Some(0) || !failed.is_empty() {
            problems.push(format!("{name}: exit {:?}, failed: {}", out.status.code(), failed.join("; ")));
        }
        // A panic in a task of its own leaves the exit code alone: only its message tells.
        let stderr = String::from_utf8_lossy(&out.stderr);
        if let Some(at) = stderr.find("panicked") {
            problems.push(format!("{name}: a task panicked: {}", stderr[at..].chars().take(200).collect::<String>()));
        }
        problems.extend(knee_disagreements(&name, &results));
        if let Ok(cal) = &calibration
            && validation::SIMULATED.contains(&name.as_str())
        {
            problems.extend(validation::disagreements(&loadgen, cal, &scenario, &name, &results, &dir));
        }
        if validation::SELF_SIMULATED.contains(&name.as_str()) {
            problems.extend(validation::self_disagreements(&loadgen, &name, &out_dir, &results, &dir));
        }
    }
    assert!(problems.is_empty(), "scenarios whose runs do not show their headers:\n{}", problems.join("\n"));
}

/// Where the knee's simulated throttle share (the plan's arrivals, the run's hold times) is
/// further from the measured one than 2 percentage points, 10% of it, or three standard errors
/// of the measured share, whichever is largest: the report's predictions must be what the run
/// shows, and a short window's measured share is itself a sample (300 requests at 13% have a
/// standard error of 1.9 points).
fn knee_disagreements(name: &str, results: &serde_json::Value) -> Vec<String> {
    let Some(points) = results["cost"]["knee"]["points"].as_array() else { return Vec::new() };
    let mut out = Vec::new();
    for p in points {
        let measured = p["measured"].as_f64().unwrap();
        let Some(simulated) = p["simulated"].as_f64() else {
            out.push(format!("{name}: knee point {} has no simulated share", p["phase"]));
            continue;
        };
        let n = (p["rate"].as_f64().unwrap() * p["seconds"].as_f64().unwrap()).max(1.0);
        let standard_error = (measured * (1.0 - measured) / n).sqrt();
        if (simulated - measured).abs() > (0.1 * measured).max(0.02).max(3.0 * standard_error) {
            out.push(format!(
                "{name}: knee at {}: measured {:.2}%, simulated {:.2}%",
                p["phase"],
                measured * 100.0,
                simulated * 100.0
            ));
        }
    }
    out
}
