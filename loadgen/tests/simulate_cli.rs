//! `loadgen simulate` as a user runs it: a calibrated run's results.json, a traffic factor and a
//! grid, the table and simulation.json; the same seed gives the same document; a run without
//! calibration and a bad what-if exit 2 naming what to fix.

use std::path::{Path, PathBuf};
use std::process::Command;

use loadgen::results::calibration::{
    Calibration, CpuCalibration, FunctionLimits, GatewayLimits, RequestCalibration, TableLimits, Throttle,
};
use loadgen::results::{Results, encode};
use loadgen::simulate::output::Simulation;

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("loadgen-sim-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The sample fixture (reserved concurrency 4, 20 → 150 → 20 req/s) with a calibration of
/// 12 ms holds, half of them CPU at half a core, and two request kinds: get-item at 10 ms and
/// per-item-10 at 60 ms.
fn calibrated(dir: &Path) -> PathBuf {
    with_calibration(dir, true)
}

fn histogram(us: u64, n: u64) -> String {
    let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
    h.record_n(us, n).unwrap();
    encode(&h)
}

fn with_calibration(dir: &Path, cpu: bool) -> PathBuf {
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
        seeding_durations_us: histogram(5_000, 100),
        invoke_overhead_ms: 1.0,
        cold_platform_ms: 100.0,
        cold_platform_spread: None,
        client_overhead_ms: 3.0,
        // 3 ms of CPU at half a core is 6 ms of the 12 ms durations: half of them CPU-bound.
        cpu: cpu.then(|| CpuCalibration { source: "test".into(), share: 0.5, invocations: 1000, mean_ms: 3.0 }),
        requests: vec![
            RequestCalibration {
                name: "get-item".into(),
                method: "GET".into(),
                path: "/items/{id}".into(),
                responses: 800,
                durations_us: histogram(10_000, 800),
                read_units: Some(0.5),
                write_units: Some(0.0),
                calls: Some(1.0),
            },
            RequestCalibration {
                name: "per-item-10".into(),
                method: "GET".into(),
                path: "/items?ids={ids:10}&pattern=per-item".into(),
                responses: 200,
                durations_us: histogram(60_000, 200),
                read_units: Some(5.0),
                write_units: Some(0.0),
                calls: Some(10.0),
            },
        ],
        // target-api's routes behind the stage's default 1,000/s burst 500, as infra/ has it.
        gateway: Some(GatewayLimits {
            routes: local_stack::config::TARGET_API_ROUTES.iter().map(|r| r.to_string()).collect(),
            stage: Throttle { rate: 1000.0, burst: 500 },
            overrides: Vec::new(),
            account: Throttle { rate: 10_000.0, burst: 5_000 },
        }),
        assumed: Vec::new(),
        // A new on-demand table's warm throughput, as the local stack limits it by default.
        dynamodb: Some(TableLimits {
            read_units_per_s: 12_000.0,
            write_units_per_s: 4_000.0,
            partition_read_units_per_s: 3_000.0,
            partition_write_units_per_s: 1_000.0,
        }),
    });
    let out = dir.join("results.json");
    r.write(&out).unwrap();
    out
}

/// Another scenario: 10 s at 60 req/s of the fixture's two GETs, reserved concurrency 2.
const SCENARIO: &str = r#"
name = "other"
[data]
items = 100
seed_via = "api"
[stack]
reserved_concurrency = 2
[[phase]]
name = "flat"
duration = "10s"
rate = 60
arrivals = "even"
[[request]]
name = "one"
weight = 1
path = "/items/{id}"
[[request]]
name = "many"
weight = 1
path = "/items?ids={ids:10}&pattern=per-item"
[thresholds]
"throttles.rate" = "< 1%"
"flat.latency.p99" = "< 100ms"
"errors.rate" = "< 1%"
"#;

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
    let (code, _, stderr) = simulate(&[r, "--set", "memory=256,1024"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--set memory") && stderr.contains("memory_mb"), "{stderr}");
    let no_cpu = with_calibration(&dir.join("no-cpu"), false);
    let (code, _, stderr) = simulate(&[no_cpu.to_str().unwrap(), "--set", "memory_mb=256,1024"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("CPU time per invocation") && stderr.contains("lambda-insights.log"), "{stderr}");
    // Another scenario with a request the run never sent.
    let other = dir.join("other.toml");
    std::fs::write(&other, SCENARIO.replace("/items/{id}", "/orders/{id}")).unwrap();
    let (code, _, stderr) = simulate(&[r, "--scenario", other.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("GET /orders/{id}") && stderr.contains("GET /items/{id}"), "{stderr}");
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

#[test]
fn memory_stretches_the_cpu_bound_part_and_prices_its_gb_seconds() {
    let dir = tempdir("memory");
    let results = calibrated(&dir);
    let out = dir.join("m");
    let (code, stdout, stderr) = simulate(&[
        results.to_str().unwrap(),
        "--set",
        "memory_mb=128,256,1024",
        "--set",
        "reserved_concurrency=400",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("memory=1024") && stdout.contains("p99 ms"), "{stdout}");
    assert!(stdout.contains("of the handler's time was CPU"), "{stdout}");
    let (_, sim) = read(&out);
    let f: Vec<f64> = sim.configurations.iter().map(|c| c.duration_factor).collect();
    // Half CPU-bound at half a core: at 128 MB (0.072 of a core) that half takes ~6.9x as long,
    // at 1024 MB (0.579) a little less.
    let expect = |mb: f64| 0.5 + 0.5 * 0.5 / (mb / 1769.0);
    assert!((f[0] - expect(128.0)).abs() < 0.05, "{f:?}");
    assert_eq!(f[1], 1.0, "the run's own memory is as measured");
    assert!((f[2] - expect(1024.0)).abs() < 0.01, "{f:?}");
    let p50: Vec<f64> = sim.configurations.iter().map(|c| c.ok_latency.p50_ms).collect();
    assert!(p50[0] > 3.0 * p50[1] && p50[2] < p50[1], "{p50:?}");
    // The run's own: 12 ms mean durations + 1 ms overhead + 3 ms beyond the hold.
    let mean = sim.configurations[1].ok_latency.mean_ms;
    assert!((mean - 16.0).abs() < 1.5, "{mean}");
    let cost: Vec<f64> = sim.configurations.iter().map(|c| c.cost.as_ref().unwrap().run_usd).collect();
    assert!(cost[0] > cost[1], "128 MB runs so much longer that it costs more: {cost:?}");
    assert!(sim.configurations.iter().all(|c| c.memory_mb > 0 && c.ok_latency.count > 0));
    let html = std::fs::read_to_string(out.join("simulate.html")).unwrap();
    assert!(
        html.contains("chart-memory") && html.contains("memory=1024") && html.contains("<svg"),
        "power-tuning curve"
    );
    assert!(!html.contains("chart-reserved"), "one reservation: no curve to draw");
    let md = std::fs::read_to_string(out.join("simulation.md")).unwrap();
    assert!(md.contains("| memory=128 reserved=400 |"), "{md}");
}

#[test]
fn a_slower_handler_holds_environments_longer_on_top_of_its_memory() {
    let dir = tempdir("duration-factor");
    let results = calibrated(&dir);
    let out = dir.join("d");
    let (code, stdout, stderr) = simulate(&[
        results.to_str().unwrap(),
        "--set",
        "duration_factor=1,3x",
        "--set",
        "memory_mb=256,1024",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("duration_factor=3x"), "{stdout}");
    let (_, sim) = read(&out);
    let c = &sim.configurations;
    let f: Vec<f64> = c.iter().map(|c| c.duration_factor).collect();
    // Its own factor multiplies the memory's: 1024 MB's alone is below 1.
    assert_eq!(f[0], 1.0);
    assert!(f[1] < 1.0 && (f[3] - 3.0 * f[1]).abs() < 1e-9 && f[2] == 3.0, "{f:?}");
    let p50: Vec<f64> = c.iter().map(|c| c.ok_latency.p50_ms).collect();
    assert!(p50[2] > 2.0 * p50[0], "three times the handler's time: {p50:?}");
    // The fixture's ~13 ms holds meet the invocation-rate limit (10 per environment per
    // second) before the concurrency one, at either factor: the same share is throttled.
    assert_eq!(c[2].lambda_throttled, c[0].lambda_throttled);
    let cost = |i: usize| c[i].cost.as_ref().unwrap().run_usd;
    assert!(cost(2) > cost(0), "more GB-seconds");
}

#[test]
fn another_scenario_runs_its_own_mix_and_stack_on_the_calibration() {
    let dir = tempdir("scenario");
    let results = calibrated(&dir);
    let other = dir.join("other.toml");
    std::fs::write(&other, SCENARIO).unwrap();
    let out = dir.join("s");
    let (code, stdout, stderr) =
        simulate(&[results.to_str().unwrap(), "--scenario", other.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("simulate other"), "{stdout}");
    let (_, sim) = read(&out);
    assert_eq!((sim.scenario.as_str(), sim.calibration_scenario.as_str()), ("other", "sample"));
    let c = &sim.configurations[0];
    assert_eq!((c.concurrency, c.requests), (2, 600.0), "its reservation and its 10 s at 60/s");
    // Half 11 ms, half 61 ms holds: 2.16 environments busy on average, over the 2 reserved,
    // and the invocation-rate limit (20/s) binds first: two thirds and more are throttled.
    assert!(c.lambda_throttled > 0.6, "{}", c.lambda_throttled);
    // Its thresholds: throttles and the phase's p99 are simulated, errors are not.
    let keys: Vec<(&str, bool)> = c.thresholds.iter().map(|t| (t.key.as_str(), t.passed)).collect();
    assert_eq!(keys, [("flat.latency.p99", true), ("throttles.rate", false)]);
    assert_eq!(sim.thresholds_not_simulated, ["errors.rate < 1%"]);
    assert_eq!(sim.recommended, None);
    assert!(sim.recommendation.contains("throttles.rate < 1% fails in 1 of 1"), "{}", sim.recommendation);
    // Ok latencies are the two kinds' plus 1 ms overhead and 3 ms beyond the hold (14 and 64 ms);
    // the seeding's 100 writes warmed both environments, so none starts cold in the phase.
    let l = &c.ok_latency;
    assert!((13.9..14.1).contains(&l.min_ms) && (63.9..64.1).contains(&l.max_ms), "{l:?}");
    assert_eq!(c.cold_starts, 0.0);
}

#[test]
fn the_recommendation_is_the_cheapest_that_passes_the_scenarios_thresholds() {
    let dir = tempdir("recommend");
    let results = calibrated(&dir);
    let other = dir.join("other.toml");
    std::fs::write(&other, SCENARIO).unwrap();
    let out = dir.join("r");
    let (code, stdout, stderr) = simulate(&[
        results.to_str().unwrap(),
        "--scenario",
        other.to_str().unwrap(),
        "--set",
        "reserved_concurrency=2,10,50",
        "--traffic",
        "1x,2x",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (_, sim) = read(&out);
    assert_eq!(sim.traffic, [1.0, 2.0]);
    let labels: Vec<String> = sim.configurations.iter().map(|c| c.label()).collect();
    assert_eq!(labels[0], "traffic=1x reserved=2");
    assert_eq!(labels.len(), 6);
    // Traffic is expected, not chosen: 2 environments throttle at either factor, 10 carry 1x
    // (60/s) but not 2x (120/s, over their 100 invocations a second); only 50 passes at both,
    // and it is priced at 2x.
    let i = sim.recommended.expect("a configuration passes");
    assert_eq!(sim.configurations[i].concurrency, 50, "{stdout}");
    assert_eq!(sim.configurations[i].traffic, 2.0);
    assert!(stdout.contains("at every traffic factor (priced at 2x)"), "{stdout}");
    assert!(stdout.contains("not simulated, not checked: errors.rate < 1%"), "{stdout}");
    let html = std::fs::read_to_string(out.join("simulate.html")).unwrap();
    assert!(html.contains("chart-reserved") && html.contains("chart-traffic") && html.contains("RECOMMENDED"));
}

#[test]
fn a_traffic_curve_replaces_the_phases_period_by_period() {
    let dir = tempdir("curve");
    let results = calibrated(&dir);
    let csv = dir.join("tuesday.csv");
    // Ten minutes as CloudWatch exports Count: 600, 1200, … requests a minute; minute 5 missing.
    let rows: String =
        (0..10).filter(|m| *m != 5).map(|m| format!("2026-11-24T13:{m:02}:00Z,{}\n", 600 * (m + 1))).collect();
    std::fs::write(&csv, format!("\"Time\",\"Count\"\n{rows}")).unwrap();
    let out = dir.join("c");
    let (code, stdout, stderr) = simulate(&[
        results.to_str().unwrap(),
        "--traffic-curve",
        csv.to_str().unwrap(),
        "--set",
        "reserved_concurrency=400",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (_, sim) = read(&out);
    let c = &sim.configurations[0];
    assert_eq!(c.windows.len(), 10, "one window a minute, the missing one at zero");
    assert_eq!(c.windows[0].phase, "curve step 1/10");
    assert_eq!((c.windows[1].rate, c.windows[5].rate), (20.0, 0.0));
    let expected: f64 = (0..10).filter(|m| *m != 5).map(|m| 600.0 * f64::from(m + 1)).sum();
    assert!((c.requests - expected).abs() / expected < 0.02, "{} vs {expected}", c.requests);
    // The fixture's phase-scoped threshold names a phase the curve does not have.
    assert!(stdout.contains("not simulated, not checked"), "{stdout}");
    std::fs::write(&csv, "Time,Count\n2026-11-24T13:00:00Z,600\n2026-11-24T13:01:00Z,lots\n").unwrap();
    let (code, _, stderr) = simulate(&[results.to_str().unwrap(), "--traffic-curve", csv.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("tuesday.csv:3:") && stderr.contains("\"lots\""), "{stderr}");
}

#[test]
fn a_whatif_file_is_the_command_line_written_down() {
    let dir = tempdir("whatif");
    let results = calibrated(&dir);
    std::fs::write(dir.join("other.toml"), SCENARIO).unwrap();
    let file = dir.join("whatif.toml");
    std::fs::write(
        &file,
        "scenario = \"other.toml\"\ntraffic = [\"1x\", \"2x\"]\n[set]\nreserved_concurrency = [10, 50]\n",
    )
    .unwrap();
    let out = dir.join("w");
    let (code, _, stderr) =
        simulate(&[results.to_str().unwrap(), "--whatif", file.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let (_, sim) = read(&out);
    assert_eq!((sim.scenario.as_str(), sim.configurations.len()), ("other", 4));
    // A flag overrides the file's value; the same setting in both is refused.
    let (code, _, stderr) = simulate(&[
        results.to_str().unwrap(),
        "--whatif",
        file.to_str().unwrap(),
        "--traffic",
        "3x",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(read(&out).1.traffic, [3.0]);
    let (code, _, stderr) =
        simulate(&[results.to_str().unwrap(), "--whatif", file.to_str().unwrap(), "--set", "reserved_concurrency=5"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("on the command line"), "{stderr}");
    // A value AWS refuses for the scenario's function (reservation 2) is reported at its line.
    std::fs::write(&file, "scenario = \"other.toml\"\n\n[set]\nprovisioned_concurrency = [1, 3]\n").unwrap();
    let (code, _, stderr) = simulate(&[results.to_str().unwrap(), "--whatif", file.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("whatif.toml:4:27: set.provisioned_concurrency: 3: more than the 2"), "{stderr}");
}

#[test]
fn nothing_measured_never_passes_and_nothing_offered_is_refused() {
    let dir = tempdir("nothing");
    let results = calibrated(&dir);
    let r = results.to_str().unwrap();
    // Reservation 0 admits nothing: its latency threshold has nothing to measure and fails.
    let lat = dir.join("lat.toml");
    let only_latency =
        SCENARIO.replace("\"throttles.rate\" = \"< 1%\"\n", "").replace("\"errors.rate\" = \"< 1%\"\n", "");
    std::fs::write(&lat, only_latency).unwrap();
    let out = dir.join("n");
    let (code, _, stderr) = simulate(&[
        r,
        "--scenario",
        lat.to_str().unwrap(),
        "--set",
        "reserved_concurrency=0,50",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (_, sim) = read(&out);
    let zero = &sim.configurations[0];
    assert_eq!((zero.lambda_throttled, zero.thresholds[0].simulated, zero.thresholds[0].passed), (1.0, None, false));
    assert_eq!(sim.recommended, Some(1));
    // A plan with only closed-model phases offers nothing to simulate.
    let closed = dir.join("closed.toml");
    std::fs::write(&closed, SCENARIO.replace("rate = 60\n", "users = 4\n")).unwrap();
    let (code, _, stderr) = simulate(&[r, "--scenario", closed.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("closed.toml: no open-model phase"), "{stderr}");
    // A threshold of a closed-model phase is not simulated: listed, not failed.
    let mixed = dir.join("mixed.toml");
    let with_closed = SCENARIO
        .replace(
            "[[request]]\nname = \"one\"",
            "[[phase]]\nname = \"users\"\nduration = \"5s\"\nusers = 2\n[[request]]\nname = \"one\"",
        )
        .replace("\"errors.rate\" = \"< 1%\"\n", "\"users.latency.p99\" = \"< 1ms\"\n");
    std::fs::write(&mixed, with_closed).unwrap();
    let out = dir.join("m");
    let (code, _, stderr) = simulate(&[r, "--scenario", mixed.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let (_, sim) = read(&out);
    assert_eq!(sim.thresholds_not_simulated, ["users.latency.p99 < 1ms"]);
    assert!(sim.configurations[0].thresholds.iter().all(|t| t.key != "users.latency.p99"));
    // A calibration edited into nonsense is refused, naming the field.
    let mut doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    doc["calibration"]["client_overhead_ms"] = serde_json::json!(1e300);
    let tampered = dir.join("tampered.json");
    std::fs::write(&tampered, doc.to_string()).unwrap();
    let (code, _, stderr) = simulate(&[tampered.to_str().unwrap(), "--out", dir.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("calibration is damaged (client_overhead_ms"), "{stderr}");
}

#[test]
fn the_stage_throttle_turns_requests_into_429s_before_lambda() {
    let dir = tempdir("gateway");
    let results = calibrated(&dir);
    let out = dir.join("g");
    let (code, stdout, stderr) = simulate(&[
        results.to_str().unwrap(),
        "--set",
        "reserved_concurrency=400",
        "--set",
        "api_rate=1000,30",
        "--set",
        "api_burst=10",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("429 %"), "{stdout}");
    let (_, sim) = read(&out);
    let (open, tight) = (&sim.configurations[0], &sim.configurations[1]);
    assert_eq!(open.apigw_throttled, 0.0);
    // The spike's 150/s against 30/s per route: GET /items/{id} gets 4/7 of it (86/s, 65% over),
    // GET /items the two batch kinds' 2/7 (43/s, 30% over), POST /items 21/s (none): 46% of the
    // spike is refused, a little less for the 10 tokens each route holds when it starts.
    assert!(tight.apigw_throttled > 0.2 && tight.lambda_throttled == 0.0, "{tight:?}");
    let spike = &tight.windows[1];
    assert!((0.40..0.47).contains(&spike.apigw_throttled), "{spike:?}");
    assert!(tight.windows[0].apigw_throttled < 0.01, "20/s fits everywhere");
    // A 429 is not billed by API Gateway and never invokes Lambda.
    let (a, b) = (open.cost.as_ref().unwrap(), tight.cost.as_ref().unwrap());
    assert!(b.run_usd < a.run_usd, "{} vs {}", b.run_usd, a.run_usd);
    // Without the stack's gateway in the calibration, a gateway what-if is an error.
    let mut doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    doc["calibration"]["gateway"] = serde_json::Value::Null;
    let old = dir.join("old.json");
    std::fs::write(&old, doc.to_string()).unwrap();
    let (code, _, stderr) = simulate(&[old.to_str().unwrap(), "--set", "api_rate=10"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("API Gateway throttling"), "{stderr}");
}

#[test]
fn a_scenarios_simulate_table_is_what_simulate_does_unless_asked_otherwise() {
    let dir = tempdir("table");
    let results = calibrated(&dir);
    let r = results.to_str().unwrap();
    let other = dir.join("other.toml");
    let table = "\n[simulate]\ntraffic = [\"1x\", \"2x\"]\n[simulate.set]\nreserved_concurrency = [10, 50]\n";
    std::fs::write(&other, format!("{SCENARIO}{table}")).unwrap();
    let out = dir.join("t");
    let (code, stdout, stderr) = simulate(&[r, "--scenario", other.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let (_, sim) = read(&out);
    assert_eq!((sim.traffic.as_slice(), sim.configurations.len()), ([1.0, 2.0].as_slice(), 4));
    assert!(sim.notes.iter().any(|n| n.contains("[simulate] table of")), "{:?}", sim.notes);
    assert!(stdout.contains("reserved=10"), "{stdout}");
    // Any what-if on the command line replaces the table.
    let (code, _, stderr) =
        simulate(&[r, "--scenario", other.to_str().unwrap(), "--traffic", "3x", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let (_, sim) = read(&out);
    assert_eq!((sim.traffic.as_slice(), sim.configurations.len()), ([3.0].as_slice(), 1));
    // The run's own scenario's table, kept in results.json, applies to `simulate results.json`.
    let mut doc: Results = serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    doc.scenario.simulate =
        Some(loadgen::scenario::whatif::parse(&dir.join("run.toml"), "[set]\nmemory_mb = [256, 512, 1024]\n").unwrap());
    let own = dir.join("own.json");
    doc.write(&own).unwrap();
    let (code, _, stderr) = simulate(&[own.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(read(&out).1.configurations.len(), 3);
    // `validate` checks the table's values against the scenario's function, at their line.
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, format!("{SCENARIO}\n[simulate.set]\nprovisioned_concurrency = [1, 3]\n")).unwrap();
    let v = Command::new(env!("CARGO_BIN_EXE_loadgen")).arg("validate").arg(&bad).output().unwrap();
    let stderr = String::from_utf8_lossy(&v.stderr);
    assert_eq!(v.status.code(), Some(2), "{stderr}");
    let line = SCENARIO.lines().count() + 3;
    assert!(
        stderr.contains(&format!("bad.toml:{line}:27: simulate.set.provisioned_concurrency: 3: more than the 2")),
        "{stderr}"
    );
    std::fs::write(&bad, format!("{SCENARIO}\n[simulate]\ntrafic = \"2x\"\n")).unwrap();
    let v = Command::new(env!("CARGO_BIN_EXE_loadgen")).arg("validate").arg(&bad).output().unwrap();
    let stderr = String::from_utf8_lossy(&v.stderr);
    assert!(v.status.code() == Some(2) && stderr.contains("trafic"), "{stderr}");
}

#[test]
fn a_small_provisioned_table_throttles_where_on_demand_does_not_and_bills_by_the_hour() {
    let dir = tempdir("table-capacity");
    let results = calibrated(&dir);
    let out = dir.join("d");
    let (code, stdout, stderr) = simulate(&[
        results.to_str().unwrap(),
        "--set",
        "dynamodb_capacity=on-demand,20/1,provisioned:2000/200",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("ddb %"), "{stdout}");
    let (_, sim) = read(&out);
    let [on_demand, small, large] = [&sim.configurations[0], &sim.configurations[1], &sim.configurations[2]];
    assert_eq!(on_demand.table.as_ref().map(|t| t.mode.as_str()), Some("on-demand"));
    assert_eq!(on_demand.dynamodb_throttled, 0.0);
    // The fixture reads ~1–3 units per request at up to 150 req/s: 20 RCU cannot serve it.
    assert!(small.dynamodb_throttled > 0.1, "{}", small.dynamodb_throttled);
    assert!(small.ok_latency.count < on_demand.ok_latency.count);
    assert_eq!(large.dynamodb_throttled, 0.0);
    // 2,000 RCU and 200 WCU for a month cost ~$285, far more than the units served on demand.
    let month = |c: &loadgen::simulate::output::SimulatedConfiguration| c.cost.as_ref().unwrap().month_usd;
    assert!(month(large) - month(on_demand) > 150.0, "{} vs {}", month(large), month(on_demand));
    // A bad capacity, and a table the calibration does not know, exit 2 naming the fix.
    let (code, _, stderr) = simulate(&[results.to_str().unwrap(), "--set", "dynamodb_capacity=lots"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("provisioned read/write capacity units such as 500/100"), "{stderr}");
    let mut doc: Results = serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    doc.calibration.as_mut().unwrap().dynamodb = None;
    let bare = dir.join("bare.json");
    doc.write(&bare).unwrap();
    let (code, _, stderr) = simulate(&[bare.to_str().unwrap(), "--set", "dynamodb_capacity=on-demand"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("DynamoDB limits"), "{stderr}");
    // A provisioned table is what the what-if says: the units are all it needs.
    let (code, _, stderr) =
        simulate(&[bare.to_str().unwrap(), "--set", "dynamodb_capacity=20/1", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(read(&out).1.configurations[0].dynamodb_throttled > 0.1);
    let (code, stdout, stderr) = simulate(&[bare.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("DynamoDB is not simulated"), "{stdout}");
}

#[test]
fn a_latency_threshold_alone_never_recommends_refusing_the_traffic() {
    let dir = tempdir("latency-only");
    let results = calibrated(&dir);
    let only = dir.join("latency.toml");
    std::fs::write(
        &only,
        SCENARIO.replace("\"throttles.rate\" = \"< 1%\"\n", "").replace("\"errors.rate\" = \"< 1%\"\n", ""),
    )
    .unwrap();
    let out = dir.join("l");
    let (code, _, stderr) = simulate(&[
        results.to_str().unwrap(),
        "--scenario",
        only.to_str().unwrap(),
        "--set",
        "reserved_concurrency=1,50",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (_, sim) = read(&out);
    // One environment serves its few requests fast and refuses the rest: it passes the latency
    // threshold and costs least, and is still not the recommendation.
    let one = &sim.configurations[0];
    assert!(one.thresholds.iter().all(|t| t.passed) && one.lambda_throttled > 0.5, "{one:?}");
    assert_eq!(sim.recommended, Some(1), "{}", sim.recommendation);
    assert!(sim.recommendation.contains("keeps the throttles no threshold bounds under 1%"), "{}", sim.recommendation);
}
