//! `loadgen simulate` checked against the local stack: one steady run calibrates it, and each
//! scenario in [`SIMULATED`] — simulated from that calibration with `--scenario`, never from its
//! own run — must agree with what its run measured: the Lambda throttle share of every phase
//! within 2 percentage points or 10% of it (or three standard errors of the measured share, which
//! is itself a sample), cold starts within 20% (or 2, or three standard errors of the measured
//! count), the ok responses' p50 and p99 within 15%
//! (of the measured quantile, or of where three standard errors of its rank put it: a p99 of 600
//! responses is the 6th largest, and which of a burst's few cold starts that is, is chance), and
//! the run's cost within 5%. Each scenario in [`SELF_SIMULATED`] is simulated from its own run,
//! and every throttle threshold the simulation answers must agree with the measured one by the
//! same bounds ([`self_disagreements`]).
//!
//! A phase whose function held its environments longer or shorter than the calibration's did
//! (the machine busier: [`drifted`]) is also simulated with the calibration's durations scaled
//! to its own (by at most half as long again); its throttle share must agree with one of the
//! two. Both are printed, so a drift is seen, not hidden.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The scenarios simulated from the calibration.
pub const SIMULATED: &[&str] = &["spike", "ramp", "cold-start"];

/// The scenarios simulated from their own run, as `loadgen simulate results.json` is used: the
/// steady calibration has none of their request kinds.
pub const SELF_SIMULATED: &[&str] = &["hot-key"];

/// The calibrating run's results.json.
pub struct Calibration {
    results: PathBuf,
}

/// Runs `tests/data/calibrate.toml`; an error says why it cannot calibrate.
pub fn calibrate(loadgen: &Path, api: &Path, root: &Path, dir: &Path) -> Result<Calibration, String> {
    let file = root.join("loadgen/tests/data/calibrate.toml");
    let out_dir = dir.join("calibrate");
    let out = Command::new(loadgen)
        .args(["run", "--quiet", "--out"])
        .arg(&out_dir)
        .arg(&file)
        .current_dir(root)
        .env("LOADGEN_TARGET_API", api)
        .output()
        .unwrap();
    let results = out_dir.join("results.json");
    if out.status.code() != Some(0) || !results.is_file() {
        return Err(format!(
            "calibrate: exit {:?}, cannot calibrate the simulation: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    let cal = &doc["calibration"];
    if cal.is_null() || cal["requests"].as_array().is_none_or(|r| r.len() != 2) || cal["cpu"].is_null() {
        return Err(format!("calibrate: results.json lacks a calibration with both request kinds and CPU: {cal}"));
    }
    // What the simulations draw from, printed so a failed validation shows whether the
    // calibrating run itself was unusual (cold starts measured under contention, slow kinds).
    let quantiles = |field: &Value| {
        field.as_str().and_then(loadgen::results::decode).map_or_else(
            || "none".to_owned(),
            |h| {
                format!(
                    "n {} mean {:.1} p50 {:.1} p99 {:.1} ms",
                    h.len(),
                    h.mean() / 1e3,
                    h.value_at_quantile(0.5) as f64 / 1e3,
                    h.value_at_quantile(0.99) as f64 / 1e3
                )
            },
        )
    };
    eprintln!(
        "calibration: cold starts {}, INIT {}, durations {}",
        doc["totals"]["cold_starts"],
        quantiles(&cal["inits_us"]),
        quantiles(&cal["durations_us"])
    );
    for k in cal["requests"].as_array().into_iter().flatten() {
        eprintln!("calibration kind {}: {}", k["name"], quantiles(&k["durations_us"]));
    }
    Ok(Calibration { results })
}

/// Where the simulation of `scenario` from `cal` disagrees with `measured`, its run.
pub fn disagreements(
    loadgen: &Path,
    cal: &Calibration,
    scenario: &Path,
    name: &str,
    measured: &Value,
    dir: &Path,
) -> Vec<String> {
    let args = [cal.results.as_os_str(), "--scenario".as_ref(), scenario.as_os_str()];
    let sim = match simulate(loadgen, &args, &dir.join(format!("simulate-{name}"))) {
        Ok(sim) => sim,
        Err(e) => return vec![format!("{name}: {e}")],
    };
    let c = &sim["configurations"][0];
    let mut problems = Vec::new();
    let mut report = |what: String, m: f64, s: f64, ok: bool| {
        eprintln!(
            "validation {name} {what}: measured {m:.4}, simulated {s:.4}{}",
            if ok { "" } else { "  <-- outside" }
        );
        if !ok {
            problems.push(format!("{name}: {what}: measured {m:.4}, simulated {s:.4}"));
        }
    };
    let drift = drifted(loadgen, cal, &args, name, measured, dir);
    for (i, (phase, window)) in
        measured["phases"].as_array().unwrap().iter().zip(c["windows"].as_array().unwrap()).enumerate()
    {
        let requests = phase["summary"]["requests"].as_f64().unwrap();
        if requests == 0.0 {
            continue;
        }
        let m = phase["summary"]["by_class"]["lambda_throttled"].as_f64().unwrap() / requests;
        let s = window["lambda_throttled"].as_f64().unwrap();
        let standard_error = (m * (1.0 - m) / requests).sqrt();
        let near = |s: f64| (s - m).abs() <= (0.1 * m).max(0.02).max(3.0 * standard_error);
        let what = format!("{} throttle share", phase["name"]);
        match drift.as_ref().and_then(|d| d.get(i).copied().flatten()) {
            Some((factor, d)) => {
                report(
                    format!("{what} (as calibrated; {d:.4} with the phase's holds x{factor:.2})"),
                    m,
                    s,
                    near(s) || near(d),
                );
            }
            None => report(what, m, s, near(s)),
        }
    }
    let m = measured["totals"]["cold_starts"].as_f64().unwrap();
    let s = c["cold_starts"].as_f64().unwrap();
    // A count of rare events is itself a sample: three standard errors (√n) bound it as they
    // bound a short window's share; runs of cold-start.toml measure 17 to 21 alike.
    report("cold starts".into(), m, s, (s - m).abs() <= (0.2 * m).max(2.0).max(3.0 * m.sqrt()));
    let ok = ok_latencies(measured);
    for (what, q, s) in
        [("ok p50 ms", 0.5, &c["ok_latency"]["p50_ms"]), ("ok p99 ms", 0.99, &c["ok_latency"]["p99_ms"])]
    {
        let s = s.as_f64().unwrap();
        let ms = |q: f64| ok.value_at_quantile(q.clamp(0.0, 1.0)) as f64 / 1e3;
        let m = ms(q);
        let rank_error = 3.0 * (q * (1.0 - q) / ok.len().max(1) as f64).sqrt();
        // Never the single largest: one slow response must not make any p99 pass.
        let top = 1.0 - 1.0 / ok.len().max(2) as f64;
        let (low, high) = (ms(q - rank_error), ms((q + rank_error).min(top)));
        report(what.into(), m, s, (s - m).abs() <= 0.15 * m || (0.85 * low..=1.15 * high).contains(&s));
    }
    // The target's cost: the harness's own GetMetricData calls are apart, in neither figure.
    let m = measured["cost"]["run"]["total"].as_f64().unwrap();
    let s = c["cost"]["run_usd"].as_f64().unwrap();
    report("cost per run USD".into(), m, s, (s - m).abs() <= 0.05 * m);
    problems
}

/// Each phase's throttle share simulated from the calibration with its handler durations
/// scaled to what the phase itself held (`--set duration_factor`): the run's REPORT durations
/// per kind against the calibration's, times the phase's `hold_scale` (its served latency
/// against the run's). On a two-core machine the function shares its cores with the generator,
/// gateway and DynamoDB, so its durations grow with the load it serves, which AWS's would not;
/// the calibration cannot know how busy a later run's machine is. `None` per phase where the
/// holds stayed within 3% of the calibration's, and `None` in all when there is nothing to scale.
fn drifted(
    loadgen: &Path,
    cal: &Calibration,
    args: &[&std::ffi::OsStr],
    name: &str,
    measured: &Value,
    dir: &Path,
) -> Option<Vec<Option<(f64, f64)>>> {
    let calibration: Value = serde_json::from_str(&std::fs::read_to_string(&cal.results).ok()?).ok()?;
    let kinds = |doc: &Value| -> Vec<(String, f64, f64)> {
        doc["calibration"]["requests"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|k| {
                let h = loadgen::results::decode(k["durations_us"].as_str()?)?;
                Some((k["name"].as_str()?.to_owned(), h.mean(), h.len() as f64))
            })
            .collect()
    };
    let base = kinds(&calibration);
    let (mut run, mut calibrated) = (0.0, 0.0);
    for (kind, mean, n) in kinds(measured) {
        if let Some((_, cal_mean, _)) = base.iter().find(|(k, ..)| *k == kind) {
            run += n * mean;
            calibrated += n * cal_mean;
        }
    }
    if calibrated == 0.0 {
        return None;
    }
    let points = measured["cost"]["knee"]["points"].as_array();
    let factors: Vec<Option<f64>> = measured["phases"]
        .as_array()?
        .iter()
        .map(|phase| {
            let scale = points
                .and_then(|p| p.iter().find(|p| p["phase"] == phase["name"]))
                .and_then(|p| p["hold_scale"].as_f64())
                .unwrap_or(1.0);
            let f = (run / calibrated * scale * 100.0).round() / 100.0;
            // Past half as long again (or two thirds as short) the machine, not the model, is
            // what a comparison would measure: the plain check stands then, and fails.
            ((f - 1.0).abs() > 0.03 && (0.67..=1.5).contains(&f)).then_some(f)
        })
        .collect();
    let mut values: Vec<f64> = factors.iter().flatten().copied().collect();
    values.sort_by(f64::total_cmp);
    values.dedup();
    if values.is_empty() {
        return None;
    }
    let set = format!("duration_factor={}", values.iter().map(|v| format!("{v}")).collect::<Vec<_>>().join(","));
    let mut with = args.to_vec();
    with.extend([std::ffi::OsStr::new("--set"), std::ffi::OsStr::new(&set)]);
    let sim = simulate(loadgen, &with, &dir.join(format!("simulate-{name}-drift"))).ok()?;
    let configurations = sim["configurations"].as_array()?;
    Some(
        factors
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let f = (*f)?;
                let c = &configurations[values.iter().position(|v| *v == f)?];
                Some((f, c["windows"][i]["lambda_throttled"].as_f64()?))
            })
            .collect(),
    )
}

/// Where the simulation of `name`'s own run (`measured`, written in `run_dir`) disagrees with
/// it on a throttle threshold both answer: a share within 2 percentage points, 10% of it or
/// three standard errors; a count within 20%, 2 or 3√n.
pub fn self_disagreements(loadgen: &Path, name: &str, run_dir: &Path, measured: &Value, dir: &Path) -> Vec<String> {
    let results = run_dir.join("results.json");
    let sim = match simulate(loadgen, &[results.as_os_str()], &dir.join(format!("simulate-self-{name}"))) {
        Ok(sim) => sim,
        Err(e) => return vec![format!("{name}: {e}")],
    };
    let simulated = sim["configurations"][0]["thresholds"].as_array().cloned().unwrap_or_default();
    let mut problems = Vec::new();
    let mut compared = 0;
    for t in measured["thresholds"].as_array().unwrap() {
        let key = t["key"].as_str().unwrap();
        let Some(s) = simulated.iter().find(|x| x["key"] == key).and_then(|x| x["simulated"].as_f64()) else {
            continue;
        };
        if !key.contains("throttled") {
            continue;
        }
        let m = t["measured"].as_f64().unwrap();
        let ok = if t["unit"] == "ratio" {
            // The kind's responses, for the standard error of its share.
            let request = key.split('.').next().unwrap();
            let n = measured["requests"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["name"] == request)
                .map_or(measured["totals"]["requests"].as_f64().unwrap(), |r| {
                    r["summary"]["requests"].as_f64().unwrap()
                });
            let standard_error = (m * (1.0 - m) / n.max(1.0)).sqrt();
            (s - m).abs() <= (0.1 * m).max(0.02).max(3.0 * standard_error)
        } else {
            (s - m).abs() <= (0.2 * m).max(2.0).max(3.0 * m.sqrt())
        };
        compared += 1;
        eprintln!(
            "validation {name} {key}: measured {m:.4}, simulated {s:.4}{}",
            if ok { "" } else { "  <-- outside" }
        );
        if !ok {
            problems.push(format!("{name}: {key}: measured {m:.4}, simulated {s:.4}"));
        }
    }
    if compared == 0 {
        problems.push(format!("{name}: the simulation answered none of the run's throttle thresholds"));
    }
    problems
}

/// `loadgen simulate ARGS --out OUT_DIR`'s simulation.json; an error says how it exited.
fn simulate(loadgen: &Path, args: &[&std::ffi::OsStr], out_dir: &Path) -> Result<Value, String> {
    let out = Command::new(loadgen).arg("simulate").args(args).arg("--out").arg(out_dir).output().unwrap();
    let text = std::fs::read_to_string(out_dir.join("simulation.json"))
        .map_err(|_| format!("simulate exited {:?}: {}", out.status.code(), String::from_utf8_lossy(&out.stderr)))?;
    Ok(serde_json::from_str(&text).unwrap())
}

/// The latencies of every ok response of a run, µs.
fn ok_latencies(results: &Value) -> hdrhistogram::Histogram<u64> {
    let mut all = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
    for cell in results["histograms"].as_array().unwrap().iter().filter(|c| c["class"] == "ok") {
        let h = loadgen::results::decode(cell["latency"].as_str().unwrap()).unwrap();
        all.add(&h).unwrap();
    }
    all
}
