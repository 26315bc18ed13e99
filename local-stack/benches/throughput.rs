//! End-to-end throughput of `GET /items/{id}` through gateway → Lambda → DynamoDB on the local
//! stack (latency profile `none`), and the latency the emulators add over calling target-api's
//! handler directly against the same DynamoDB endpoint.
//!
//! Run: `cargo bench -p local-stack --bench throughput` (builds target-api in release first).
//! Options (env): `BENCH_SECS` (default 10), `BENCH_CONNS` (default 8), `BENCH_ENVS`
//! (reserved concurrency, default 8: one environment per connection, so nothing throttles; on
//! 2 cores more processes than that cost more in context switches than they add). Loopback only; the client shares the machine's cores
//! with the stack, so the figure is a floor for the stack alone.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use local_stack::{Stack, StackConfig};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn release_target_api() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "-p", "target-api", "--bin", "target-api"])
        .current_dir(&root)
        .status()
        .expect("cargo build --release -p target-api");
    assert!(status.success());
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or(root.join("target")).join("release/target-api")
}

fn pct(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

#[tokio::main]
async fn main() {
    let secs = env_or("BENCH_SECS", 10);
    let conns = env_or("BENCH_CONNS", 8) as usize;
    let mut config = StackConfig::new(release_target_api());
    config.latency_profile = "none".into();
    config.function.reserved_concurrency = Some(env_or("BENCH_ENVS", 8) as u32);
    // This measures the emulator, not AWS: 8 environments here serve hundreds of requests per
    // second each, far past the 10 per environment Lambda allows, so that limit is off, and
    // each runs at the host's full speed rather than the CPU share of its memory.
    config.function.invocation_rate_limit = false;
    config.function.cpu_model = local_stack::config::CpuModel::None;
    config.api.stage_throttle = local_stack::config::Throttle { rate: 1e9, burst: u32::MAX };
    config.api.account_throttle = config.api.stage_throttle;
    config.dynamodb.read_units_per_s = 1e12;
    let stack = Stack::start(config).await.expect("start the stack");
    let api = stack.endpoints().api_url.clone();
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let put = hyper::Request::post(format!("{api}/items"))
        .body(Full::new(Bytes::from_static(br#"{"id":"bench-1","name":"widget","price":12.5}"#)))
        .unwrap();
    assert_eq!(client.request(put).await.unwrap().status(), 201);
    let url: hyper::Uri = format!("{api}/items/bench-1").parse().unwrap();

    // Warm every environment, then measure a closed loop of `conns` connections.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let run = |duration: Duration| {
        let stop = stop.clone();
        let url = url.clone();
        let client = client.clone();
        async move {
            stop.store(false, std::sync::atomic::Ordering::SeqCst);
            let tasks: Vec<_> = (0..conns)
                .map(|_| {
                    let (client, url, stop) = (client.clone(), url.clone(), stop.clone());
                    tokio::spawn(async move {
                        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
                        let mut errors = 0u64;
                        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                            let t = Instant::now();
                            let req = hyper::Request::get(url.clone()).body(Full::new(Bytes::new())).unwrap();
                            match client.request(req).await {
                                Ok(r) if r.status() == 200 => {
                                    let _ = r.into_body().collect().await;
                                    h.record(t.elapsed().as_micros() as u64).unwrap();
                                }
                                _ => errors += 1,
                            }
                        }
                        (h, errors)
                    })
                })
                .collect();
            tokio::time::sleep(duration).await;
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
            let mut errors = 0;
            for t in tasks {
                let (h, e) = t.await.unwrap();
                all.add(h).unwrap();
                errors += e;
            }
            (all, errors)
        }
    };
    let _ = run(Duration::from_secs(2)).await;
    let (h, errors) = run(Duration::from_secs(secs)).await;
    let rps = h.len() as f64 / secs as f64;

    // The same read through target-api's handler in-process, against the same DynamoDB endpoint.
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&stack.endpoints().dynamodb_url)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "static"))
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https(),
        )
        .load()
        .await;
    let app = target_api::App::new(
        target_api::DynamoStore::new(aws_sdk_dynamodb::Client::new(&conf), &stack.endpoints().table_name),
        target_api::BatchRetry::default(),
        target_api::diagnostics::Diagnostics::new(true, Duration::ZERO),
    );
    let req = target_api::ApiRequest { method: "GET".into(), path: "/items/bench-1".into(), ..Default::default() };
    let mut direct = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    let until = Instant::now() + Duration::from_secs(secs.min(5));
    while Instant::now() < until {
        let t = Instant::now();
        assert_eq!(app.serve(&req).await.response.status, 200);
        direct.record(t.elapsed().as_micros() as u64).unwrap();
    }
    // One request at a time through the stack, for a like-for-like p50.
    let mut single = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
    let until = Instant::now() + Duration::from_secs(secs.min(5));
    while Instant::now() < until {
        let t = Instant::now();
        let r = client.request(hyper::Request::get(url.clone()).body(Full::new(Bytes::new())).unwrap()).await.unwrap();
        let _ = r.into_body().collect().await;
        single.record(t.elapsed().as_micros() as u64).unwrap();
    }

    println!(
        "local-stack end-to-end GET /items/{{id}} (profile none, {} environments, {conns} connections, {secs} s)",
        stack.lambda().environments()
    );
    println!("  throughput      {rps:>9.0} req/s   (goal >= 4500)   errors {errors}");
    println!("  latency         p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms", pct(&h, 0.5), pct(&h, 0.9), pct(&h, 0.99));
    println!("one request at a time:");
    println!(
        "  handler direct  p50 {:.3} ms  (target-api App::serve -> DynamoDB layer -> dynoxide)",
        pct(&direct, 0.5)
    );
    println!(
        "  through stack   p50 {:.3} ms  (HTTP -> gateway -> Runtime API -> target-api -> DynamoDB)",
        pct(&single, 0.5)
    );
    println!("  added by the emulators at p50: {:.3} ms   (goal <= 0.2 ms)", pct(&single, 0.5) - pct(&direct, 0.5));
}
