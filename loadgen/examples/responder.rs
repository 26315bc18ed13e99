//! A loopback target for benchmarks: answers any request with a 2-byte body, optionally after a
//! fixed delay and with periodic stalls. Prints its URL on the first line of stdout.
//!
//! `cargo run --release -p loadgen --example responder -- [--delay-ms N] [--stall-every-ms N --stall-ms N] [--threads N]`

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::any;

fn arg(name: &str) -> Option<u64> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok())
}

fn main() {
    let delay = Duration::from_millis(arg("--delay-ms").unwrap_or(0));
    let stall = arg("--stall-every-ms").zip(arg("--stall-ms"));
    let threads = arg("--threads").unwrap_or(1) as usize;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build().expect("runtime");
    rt.block_on(async move {
        let start = Instant::now();
        let app = Router::new().fallback(any(move || async move {
            if let Some((every, stall_ms)) = stall {
                let into = start.elapsed().as_millis() as u64 % every;
                if into < stall_ms {
                    tokio::time::sleep(Duration::from_millis(stall_ms - into)).await;
                }
            }
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            "ok"
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        println!("http://{}", listener.local_addr().expect("addr"));
        axum::serve(listener, app).await.expect("serve");
    });
}
