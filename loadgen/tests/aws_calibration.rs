//! A run against a deployed stack calibrates from CloudWatch Logs: the function's REPORT lines,
//! text and JSON log format alike (the seeding's before the measured window, the window's
//! after) and its Lambda Insights events, read with the real SDK from a moto server on
//! loopback — then `loadgen simulate` takes the results.json like a local-stack run's. Needs
//! `moto_server` (`pip install "moto[server]"`), so it is not in the default `cargo test`;
//! `.ci/run` installs moto and runs it.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use loadgen::cost::assess::FunctionFacts;
use loadgen::cost::aws_calibration;
use loadgen::cost::cloudwatch::Names;
use loadgen::event::{Event, Sink};
use loadgen::results::Results;

/// The warnings a calibration gave.
#[derive(Default)]
struct Warnings(std::sync::Mutex<Vec<String>>);

impl Sink for Warnings {
    fn event(&self, e: Event) {
        if let Event::LogsFailed { reason } = e {
            self.0.lock().unwrap().push(reason);
        }
    }
}

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn moto() -> (Moto, String) {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server on PATH (pip install \"moto[server]\")");
    // Owned by the guard at once: it is killed and waited for however the test ends.
    let moto = Moto(child);
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (moto, url);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("moto_server did not listen on {port}");
}

fn ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

async fn put(c: &aws_sdk_cloudwatchlogs::Client, group: &str, events: &[(SystemTime, String)]) {
    c.create_log_group().log_group_name(group).send().await.unwrap();
    c.create_log_stream().log_group_name(group).log_stream_name("s").send().await.unwrap();
    let batch: Vec<InputLogEvent> =
        events.iter().map(|(t, m)| InputLogEvent::builder().timestamp(ms(*t)).message(m).build().unwrap()).collect();
    c.put_log_events().log_group_name(group).log_stream_name("s").set_log_events(Some(batch)).send().await.unwrap();
}

fn report(id: usize, duration_ms: f64, init_ms: Option<f64>) -> String {
    let init = init_ms.map(|i| format!("\tInit Duration: {i:.2} ms")).unwrap_or_default();
    format!(
        "REPORT RequestId: r{id}\tDuration: {duration_ms:.2} ms\tBilled Duration: {} ms\tMemory Size: 256 MB\tMax Memory Used: 20 MB{init}",
        duration_ms.ceil() as u64
    )
}

/// The same report as a JSON log format `platform.report` event.
fn json_report(id: usize, duration_ms: f64, init_ms: Option<f64>) -> String {
    let init = init_ms.map(|i| format!(r#","initDurationMs":{i}"#)).unwrap_or_default();
    format!(
        r#"{{"time":"2026-12-02T10:00:00.000Z","type":"platform.report","record":{{"requestId":"r{id}","metrics":{{"durationMs":{duration_ms},"billedDurationMs":{},"memorySizeMB":256,"maxMemoryUsedMB":20{init}}},"status":"success"}}}}"#,
        duration_ms.ceil() as u64
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto_server; .ci/run installs moto and runs it"]
async fn a_deployed_functions_log_calibrates_the_run_as_the_local_stacks_does() {
    let (_moto, url) = moto();
    // Static dummy credentials and a region, as every client aimed at loopback gets.
    let config = loadgen::sdk::config(Some(&url), "us-east-1").await;
    let c = aws_sdk_cloudwatchlogs::Client::new(&config);
    let start = SystemTime::now() - Duration::from_secs(600);
    let window = start + Duration::from_secs(120);
    let end = window + Duration::from_secs(60);
    // Two seeding writes before the window (one cold), 60 invocations in it (two cold), a START
    // line the reader must skip, and one invocation of long before the run, not read.
    let mut lines = vec![
        (start, report(99, 500.0, None)),
        (window - Duration::from_secs(30), report(0, 9.0, Some(120.0))),
        (window - Duration::from_secs(29), report(1, 8.0, None)),
        (window + Duration::from_millis(10), "START RequestId: r2 Version: $LATEST".to_owned()),
    ];
    for i in 0..60 {
        let cold = (i % 30 == 0).then_some(150.0);
        // Half in the JSON log format, as a function with `log_format = "JSON"` writes them.
        let (id, d) = (i + 2, 10.0 + i as f64 % 5.0);
        let line = if i % 2 == 0 { report(id, d, cold) } else { json_report(id, d, cold) };
        lines.push((window + Duration::from_millis(100 + 900 * i as u64), line));
    }
    put(&c, "/aws/lambda/orders-api", &lines).await;
    let insight = |id: usize, function: &str, t: SystemTime| {
        (
            t,
            format!(
                r#"{{"event_type":"performance","function_name":"{function}","request_id":"r{id}","cpu_total_time":4.0}}"#
            ),
        )
    };
    let events: Vec<(SystemTime, String)> = (2..62)
        .map(|i| insight(i, "orders-api", window + Duration::from_secs(1)))
        .chain([insight(3, "someone-else", window + Duration::from_secs(2))])
        .collect();
    put(&c, "/aws/lambda-insights", &events).await;

    let results: Results = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sample-results.json")).unwrap(),
    )
    .unwrap();
    let names = Names {
        function: "orders-api".into(),
        api_id: "abc123".into(),
        stage: "$default".into(),
        table: "orders".into(),
        region: "us-east-1".into(),
        ..Names::default()
    };
    // The run was told 1,024 MB; the REPORT lines say 256, and win.
    // Its Terraform outputs say the stage's throttle, the routes and an on-demand table.
    let outputs = loadgen::results::InfraOutputs {
        routes: Some(vec!["GET /health".into()]),
        throttling_rate_limit: Some(200.0),
        throttling_burst_limit: Some(100.0),
        table_billing_mode: Some("PAY_PER_REQUEST".into()),
        ..Default::default()
    };
    let (gateway, table) = aws_calibration::deployed_limits(&outputs);
    let facts = FunctionFacts { memory_mb: 1024, reserved_concurrency: Some(10), gateway, table, ..Default::default() };
    let warnings = Arc::new(Warnings::default());
    let sink: Arc<dyn Sink> = warnings.clone();
    let cal = aws_calibration::calibrate(&facts, &names, Some(&url), &results, (window, end), &sink)
        .await
        .expect("a calibration from CloudWatch Logs");
    assert_eq!(cal.invocations, 60, "the window's REPORT lines, not the seeding's");
    assert!(
        cal.source.contains("/aws/lambda/orders-api") && cal.source.contains("reserved concurrency 10"),
        "{}",
        cal.source
    );
    assert!(cal.assumed.iter().all(|a| !a.starts_with("reservation") && a != "memory"), "{:?}", cal.assumed);
    assert!(cal.assumed.iter().any(|a| a.contains("cold-start platform time")), "{:?}", cal.assumed);
    assert_eq!(cal.gateway.as_ref().map(|g| g.stage.rate), Some(200.0), "the stage's throttle, from the outputs");
    assert_eq!(cal.dynamodb.map(|t| t.read_units_per_s), Some(12_000.0));
    assert!(cal.assumed.iter().any(|a| a.contains("account throttle")), "{:?}", cal.assumed);
    assert!(cal.assumed.iter().any(|a| a.contains("table throughput")), "{:?}", cal.assumed);
    assert!(warnings.0.lock().unwrap().is_empty(), "{:?}", warnings.0.lock().unwrap());
    assert_eq!((cal.function.concurrency, cal.function.reserved, cal.function.memory_mb), (10, true, 256));
    let durations = loadgen::results::decode(&cal.durations_us).unwrap();
    assert!((durations.mean() - 12_000.0).abs() < 100.0, "{}", durations.mean());
    assert_eq!(loadgen::results::decode(&cal.inits_us).unwrap().len(), 2);
    assert_eq!(loadgen::results::decode(&cal.seeding_durations_us).unwrap().len(), 2);
    // Only this function's performance events count: 60 of 4 ms.
    let cpu = cal.cpu.clone().expect("CPU time from Lambda Insights");
    assert_eq!((cpu.invocations, cpu.mean_ms), (60, 4.0));
    assert!(!cal.requests.is_empty(), "the kinds' durations, from the run's ok latencies");

    // A function without a log group is a warning naming what to check, and no calibration.
    let missing = Names { function: "no-such-fn".into(), ..names };
    assert!(aws_calibration::calibrate(&facts, &missing, Some(&url), &results, (window, end), &sink).await.is_none());
    let said = warnings.0.lock().unwrap().join("\n");
    assert!(said.contains("/aws/lambda/no-such-fn") && said.contains("check the function name and region"), "{said}");
}
