//! `loadgen simulate` as a user runs it: a calibrated run's results.json, a traffic factor and a
//! grid, the table and simulation.json; the same seed gives the same document; a run without
//! calibration and a bad what-if exit 2 naming what to fix.

use std::path::{Path, PathBuf};
use std::process::Command;

use loadgen::results::calibration::{Calibration, FunctionLimits};
use loadgen::results::{Results, encode};
use loadgen::simulate::output::Simulation;

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("loadgen-sim-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The sample fixture (reserved concurrency 4, 20 → 150 → 20 req/s) with a calibration of
/// 12 ms holds.
fn calibrated(dir: &Path) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sample-results.json");
    let mut r: Results = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut durations = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
    let mut rng = fastrand::Rng::with_seed(5);
    for _ in 0..1000 {
        durations.record(8_000 + rng.u64(0..8_000)).unwrap();
    }
    let mut inits = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
    inits.record(30_000).unwrap();
    r.calibration = Some(Calibration {
        source: "test".into(),
        function: FunctionLimits {
            concurrency: 4,
            reserved: true,
            account_concurrency: 1000,
            provisioned: 0,
            scaling_per_10s: 1000,
            keep_warm_s: 300.0,
            rate_limits: true,
            memory_mb: 256,
        },
        invocations: 1000,
        durations_us: encode(&durations),
        inits_us: encode(&inits),
        invoke_overhead_ms: 1.0,
        cold_platform_ms: 100.0,
    });
    let out = dir.join("results.json");
    r.write(&out).unwrap();
    out
}

fn simulate(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen")).arg("simulate").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn read(dir: &Path) -> (String, Simulation) {
    let text = std::fs::read_to_string(dir.join("simulation.json")).unwrap();
    let sim = serde_json::from_str(&text).unwrap();
    (text, sim)
}

#[test]
fn a_grid_shows_throttles_falling_as_concurrency_rises() {
    let dir = tempdir("grid");
    let results = calibrated(&dir);
    let r = results.to_str().unwrap();
    let out = dir.join("a");
    let (code, stdout, stderr) =
        simulate(&[r, "--traffic", "2x", "--set", "reserved_concurrency=4,20,400", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("traffic 2x") && stdout.contains("reserved=20"), "{stdout}");
    let (text, sim) = read(&out);
    assert_eq!(sim.schema, "loadgen.simulation/v1");
    assert_eq!(sim.configurations.len(), 3);
    let thr: Vec<f64> = sim.configurations.iter().map(|c| c.lambda_throttled).collect();
    // At 2× the spike is 300 req/s: the invocation-rate limit of 4 environments allows 40/s,
    // of 20 200/s, of 400 far more.
    assert!(thr[0] > 0.5 && thr[1] > 0.05 && thr[1] < thr[0] && thr[2] < 0.01, "{thr:?}");
    assert_eq!(sim.configurations[0].requests, 2.0 * 760.0, "the plan's arrivals, doubled");
    assert!(sim.configurations[0].peak_concurrency <= 4);
    assert!(sim.configurations.iter().all(|c| c.cost.as_ref().is_some_and(|k| k.run_usd > 0.0)));
    assert_eq!(sim.recommended, Some(2), "the only one under 1%");
    // Same seed, same document.
    let again = dir.join("b");
    let (code, _, _) =
        simulate(&[r, "--traffic", "2x", "--set", "reserved_concurrency=4,20,400", "--out", again.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(read(&again).0.replace("/b/", "/a/"), text.replace("/b/", "/a/"));
}

#[test]
fn what_cannot_be_simulated_exits_2_naming_the_fix() {
    let dir = tempdir("bad");
    let results = calibrated(&dir);
    let r = results.to_str().unwrap();
    let (code, _, stderr) = simulate(&[r, "--set", "memory_mb=256,1024"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--set memory_mb") && stderr.contains("reserved_concurrency"), "{stderr}");
    let (code, _, stderr) = simulate(&[r, "--traffic", "-3x"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--traffic -3x"), "{stderr}");
    let (code, _, stderr) = simulate(&[r, "--traffic", "1000000x"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("lower the factor"), "{stderr}");
    let (code, _, stderr) = simulate(&[r, "--set", "provisioned_concurrency=9"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("more than the 4"), "{stderr}");
    // The fixture as shipped has no calibration.
    let plain = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sample-results.json");
    let (code, _, stderr) = simulate(&[plain.to_str().unwrap(), "--out", dir.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("sample-results.json: no calibration") && stderr.contains("local stack"), "{stderr}");
    let (code, _, stderr) = simulate(&[dir.join("missing.json").to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
}
