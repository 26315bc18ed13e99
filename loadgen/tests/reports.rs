//! Reports as CI reads them: junit.xml through a real JUnit consumer (`junitparser`, from PyPI),
//! summary.md, `loadgen report` re-rendering byte for byte, and escaping of every
//! user-provided string.

use std::process::Command;

use axum::Router;
use axum::routing::get;
use loadgen::cmd::run::{RunOptions, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junit_and_markdown_are_read_back_and_rerendered_identically() {
    let app = Router::new().route("/ok", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = std::env::temp_dir().join(format!("loadgen-reports-{}-{}", std::process::id(), fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("s.toml");
    std::fs::write(
        &file,
        "name = \"reports\"\n[[phase]]\nname = \"p\"\nduration = \"1s\"\nrate = 50\n[[request]]\nname = \"<script>alert(1)</script>|`x`\"\npath = \"/ok\"\n\
         [thresholds]\n\"errors.rate\" = \"< 1%\"\n\"latency.p99\" = \"< 0.001ms\"\n\"requests.count\" = \"> 10\"\n",
    )
    .unwrap();
    let out_dir = dir.join("out");
    let opts = RunOptions {
        scenario: file,
        target: Some(url),
        target_urls: Vec::new(),
        out: Some(out_dir.clone()),
        seed: None,
        infra: None,
        local: false,
        quiet: true,
        no_cloudwatch: false,
        seed_data: false,
        prices: None,
        max_cost_usd: None,
        fail_on_saturation: false,
        metrics_addr: None,
        fleet: None,
    };
    let out = run(opts).await.unwrap();
    assert_eq!(out.exit_code, 1);

    let junit = std::fs::read_to_string(out_dir.join("junit.xml")).unwrap();
    let summary = std::fs::read_to_string(out_dir.join("summary.md")).unwrap();
    for text in [&junit, &summary] {
        assert!(!text.contains("<script>"), "user strings must be escaped:\n{text}");
    }
    assert!(summary.contains("❌ fail") && summary.contains("**FAIL**"));

    // A real JUnit consumer agrees with the thresholds: 5 cases (run, generator + 3), 1 failure.
    let py = "import sys, junitparser\n\
              x = junitparser.JUnitXml.fromfile(sys.argv[1])\n\
              cases = [c for s in x for c in s]\n\
              failed = [c.name for c in cases if not c.is_passed]\n\
              print(len(cases), len(failed), failed[0])";
    let res = Command::new("python3").args(["-c", py]).arg(out_dir.join("junit.xml")).output().unwrap();
    assert!(
        res.status.success(),
        "junitparser (pip install junitparser) must read it: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&res.stdout).trim(), "5 1 latency.p99 < 0.001ms");

    // Re-rendering from results.json gives the same bytes.
    let again = dir.join("again");
    let status = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["report"])
        .arg(out_dir.join("results.json"))
        .arg("--out")
        .arg(&again)
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    assert_eq!(std::fs::read_to_string(again.join("junit.xml")).unwrap(), junit);
    assert_eq!(std::fs::read_to_string(again.join("summary.md")).unwrap(), summary);

    let bad =
        Command::new(env!("CARGO_BIN_EXE_loadgen")).args(["report", "/nonexistent/results.json"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
