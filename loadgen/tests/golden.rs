//! Golden files for the three renderers of a fixed results document (`tests/data/sample-results.json`,
//! from `tests/data/sample.toml` on the local stack), an escaping test with `<script>` in every
//! user-provided string, and `loadgen compare` on identical and on doctored runs.
//!
//! After an intended change to a renderer: `UPDATE_GOLDEN=1 cargo test -p loadgen --test golden`,
//! then read the diff of `tests/golden/` before committing it.

use std::path::{Path, PathBuf};
use std::process::Command;

use loadgen::report;
use loadgen::results::{Results, decode, encode};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(name)
}

fn sample() -> Results {
    serde_json::from_str(&std::fs::read_to_string(data("data/sample-results.json")).unwrap()).unwrap()
}

fn check_golden(name: &str, rendered: &str) {
    let path = data("golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, rendered).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; create it with UPDATE_GOLDEN=1", path.display()));
    if want != rendered {
        let line = want.lines().zip(rendered.lines()).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "{name} differs from {} at line {}:\n  golden:   {}\n  rendered: {}\nIf the change is intended: UPDATE_GOLDEN=1 cargo test -p loadgen --test golden",
            path.display(),
            line + 1,
            want.lines().nth(line).unwrap_or("<end>"),
            rendered.lines().nth(line).unwrap_or("<end>")
        );
    }
}

#[test]
fn renderers_match_their_golden_files() {
    let r = sample();
    check_golden("report.html", &report::html::render(&r));
    check_golden("junit.xml", &report::junit::render(&r));
    check_golden("summary.md", &report::markdown::render(&r));
}

#[test]
fn report_html_has_every_section_and_chart_and_no_external_reference() {
    let html = report::html::render(&sample());
    for id in [
        "id=\"verdict\"",
        "id=\"numbers\"",
        "id=\"chart-latency\"",
        "id=\"chart-throughput\"",
        "id=\"chart-concurrency\"",
        "id=\"chart-cold-starts\"",
        "id=\"chart-distribution\"",
        "id=\"chart-knee\"",
        "id=\"breakdown\"",
        "id=\"cost\"",
        "id=\"batch\"",
        "id=\"environment\"",
    ] {
        assert!(html.contains(id), "missing {id}");
    }
    assert_eq!(html.matches("<svg").count(), 6, "one inline SVG per chart, the knee's among them");
    // Nothing that could make a browser fetch: no scripts, links, imports or remote URLs.
    for forbidden in ["<script", "<link", "@import", "src=\"http", "href=\"http", "url(http"] {
        assert!(!html.contains(forbidden), "report.html contains {forbidden}");
    }
    assert!(html.contains("default-src 'none'"), "the CSP forbids every fetch");
    // The verdict of the fixture: throttles.rate fails.
    assert!(html.contains("class=\"badge fail\">FAIL"));
}

/// Appends `<script>` markup to every string a user could have written (directly in the scenario
/// or through the target and environment), keeping the document's own enums and encodings.
fn poison(v: &mut serde_json::Value, key: &str) {
    const KEEP: [&str; 13] = [
        "schema",
        "status",
        "class",
        "latency",
        "service_time",
        "unit",
        "kind",
        "source",
        "architecture",
        "cmp",
        "arrivals",
        "cpu",
        "cpu_model",
    ];
    match v {
        serde_json::Value::String(s) if !KEEP.contains(&key) => s.push_str("<script>alert(1)</script>\"'&"),
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| poison(x, key)),
        serde_json::Value::Object(m) => m.iter_mut().for_each(|(k, x)| poison(x, k)),
        _ => {}
    }
}

#[test]
fn script_in_every_user_string_is_escaped_everywhere() {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("data/sample-results.json")).unwrap()).unwrap();
    poison(&mut v, "");
    v["abort_reason"] = "<script>alert(2)</script>".into();
    let r: Results = serde_json::from_value(v).unwrap();
    assert!(r.requests[0].name.contains("<script>"), "the poison reached the request names");
    assert!(r.phases[0].name.contains("<script>"), "and the phase names (drawn inside the charts)");
    let html = report::html::render(&r);
    let junit = report::junit::render(&r);
    let md = report::markdown::render(&r);
    for (name, text) in [("report.html", &html), ("junit.xml", &junit), ("summary.md", &md)] {
        assert!(!text.to_lowercase().contains("<script"), "{name} lets markup through");
    }
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "the text is still shown, escaped");
    let c = loadgen::compare::compare(&r, &r, &[]).unwrap();
    let cmp = report::compare_html::render(&r, &r, &c);
    assert!(!cmp.to_lowercase().contains("<script"), "compare.html lets markup through");
}

#[test]
fn rendering_is_deterministic() {
    let r = sample();
    assert_eq!(report::html::render(&r), report::html::render(&r));
    let c = loadgen::compare::compare(&r, &r, &[]).unwrap();
    assert_eq!(report::compare_html::render(&r, &r, &c), report::compare_html::render(&r, &r, &c));
}

/// A copy of the sample whose every latency is `factor` times the original, histograms included.
fn slowed(factor: u64) -> serde_json::Value {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("data/sample-results.json")).unwrap()).unwrap();
    for cell in v["histograms"].as_array_mut().unwrap() {
        for field in ["latency", "service_time"] {
            let h = decode(cell[field].as_str().unwrap()).unwrap();
            let mut slow = loadgen::record::histogram::new();
            for x in h.iter_recorded() {
                slow.record_n(x.value_iterated_to() * factor, x.count_at_value()).unwrap();
            }
            cell[field] = encode(&slow).into();
        }
    }
    v
}

fn compare(base: &Path, new: &Path, extra: &[&str]) -> (i32, String) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_loadgen")).arg("compare").arg(base).arg(new).args(extra).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

#[test]
fn compare_passes_identical_runs_and_fails_a_doctored_regression() {
    let dir = std::env::temp_dir().join(format!("loadgen-compare-{}-{}", std::process::id(), fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    let base = data("data/sample-results.json");
    let (code, out) = compare(&base, &base, &["--out", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no regression"), "{out}");
    let html = std::fs::read_to_string(dir.join("compare.html")).unwrap();
    assert!(html.contains("NO REGRESSION") && html.matches("<svg").count() == 3);

    let slow = dir.join("slow.json");
    std::fs::write(&slow, serde_json::to_string(&slowed(2)).unwrap()).unwrap();
    let (code, out) = compare(&base, &slow, &["--out", dir.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("REGRESSED (latency.p99)"), "{out}");
    // Read from the merged histograms: doubled values give a doubled p99 (within HdrHistogram's
    // 3 significant digits), which summary fields (left untouched) could not have shown.
    let c = loadgen::compare::compare(
        &sample(),
        &serde_json::from_value(slowed(2)).unwrap(),
        &loadgen::compare::parse_allowances("latency.p99=10%").unwrap(),
    )
    .unwrap();
    let p99 = c.rows.iter().find(|r| r.key == "latency.p99").unwrap();
    assert!((p99.new / p99.base - 2.0).abs() < 0.01, "{p99:?}");

    // A looser allowance lets the same change through; a bad allowance is a usage error.
    let (code, out) = compare(&base, &slow, &["--max-regression", "latency.p99=150%", "--out", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = compare(&base, &slow, &["--max-regression", "latency.p99=10"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("needs a unit"), "{out}");
    let (code, out) = compare(&base, Path::new("/nonexistent/results.json"), &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("/nonexistent/results.json"), "{out}");
}

#[test]
fn compare_says_how_the_runs_differ_and_how_many_samples_each_figure_rests_on() {
    let base = sample();
    let c = loadgen::compare::compare(&base, &base, &[]).unwrap();
    assert!(c.warnings.is_empty(), "the same run twice: {:?}", c.warnings);
    let p99 = c.rows.iter().find(|r| r.key == "latency.p99").unwrap();
    let ok_and_more = base.totals.requests;
    assert!(p99.samples.0 > 0 && p99.samples.0 <= ok_and_more && p99.samples.0 == p99.samples.1, "{p99:?}");

    // Another scenario, another stack, a saturated generator: each said; a thin figure is noise.
    let mut other = sample();
    other.scenario.name = "another".into();
    other.generator.saturated = true;
    if let Some(s) = other.target.stack.as_mut() {
        s.function.memory_mb *= 2;
        s.log_dir = Some("/elsewhere".into());
    }
    let c = loadgen::compare::compare(&base, &other, &[]).unwrap();
    let said = c.warnings.join("\n");
    assert!(said.contains("different scenarios ('sample' and 'another')"), "{said}");
    assert!(said.contains("local stack's settings differ"), "{said}");
    assert!(said.contains("new run's generator was saturated"), "{said}");
    let text = report::terminal::comparison(&c);
    assert!(text.contains("warning: the runs are of different scenarios") && text.contains("samples"), "{text}");
    let thin = c.rows.iter().find(|r| r.samples.0 < loadgen::compare::NOISE_BELOW);
    if let Some(r) = thin {
        assert!(r.noisy() && r.samples_shown().ends_with("noise"), "{r:?}");
    }
    let html = report::compare_html::render(&base, &other, &c);
    assert!(html.contains("Warning: the runs are of different scenarios") && html.contains("samples"));
    // Only where the stack differs beyond its logs' place.
    let mut moved = sample();
    if let Some(s) = moved.target.stack.as_mut() {
        s.log_dir = Some("/elsewhere".into());
    }
    assert!(loadgen::compare::compare(&base, &moved, &[]).unwrap().warnings.is_empty());
}

#[test]
fn an_aborted_run_has_no_pass_verdict_in_any_output() {
    let mut r = sample();
    r.status = loadgen::results::Status::Aborted;
    r.abort_reason = Some("interrupted by SIGINT".into());
    r.passed = true; // what the part that ran said: the verdict must still not be PASS
    let terminal = report::terminal::summary(&r);
    assert!(terminal.contains("verdict: ABORTED") && !terminal.contains("verdict: PASS"), "{terminal}");
    let quiet = report::terminal::quiet_failure(&r).expect("an aborted run is said under --quiet");
    assert!(quiet.contains("no verdict") && quiet.contains("SIGINT"), "{quiet}");
    assert!(report::html::render(&r).contains("ABORTED"));
    assert!(report::markdown::render(&r).contains("aborted"));
    assert!(report::junit::render(&r).contains("type=\"aborted\""));
}
