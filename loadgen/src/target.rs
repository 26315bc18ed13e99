//! Where the load goes: a URL, or — with none — the local stack started on loopback with the
//! scenario's `[stack]` overrides; and the `[data]` seeding that precedes the measured phases.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use local_stack::{Stack, StackConfig};
use tokio::sync::Semaphore;

use crate::client::HttpClient;
use crate::error::RunError;
use crate::scenario::Plan;
use crate::scenario::template::seeded_id;

/// Finds the target-api binary the local stack runs, building it when it is missing.
///
/// Looks at `LOADGEN_TARGET_API`, then next to the loadgen executable (where `cargo run`
/// puts both), then `target/release/`. Building needs cargo and this workspace.
pub fn target_api_binary(quiet: bool) -> Result<PathBuf, RunError> {
    if let Some(p) = std::env::var_os("LOADGEN_TARGET_API") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(RunError::Setup(format!("LOADGEN_TARGET_API={} does not exist", p.display())))
        };
    }
    let beside = std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.join("target-api")));
    let release = PathBuf::from("target/release/target-api");
    for candidate in beside.iter().chain(std::iter::once(&release)) {
        if candidate.is_file() {
            return Ok(candidate.clone());
        }
    }
    if !Path::new("target-api/Cargo.toml").is_file() {
        return Err(RunError::Setup(
            "the target-api binary was not found; run loadgen from the repository root, build it with \
             `cargo build --release -p target-api`, or set LOADGEN_TARGET_API to its path"
                .into(),
        ));
    }
    if !quiet {
        eprintln!(
            "loadgen: target-api is not built yet; building it now (cargo build --release -p target-api, first run only)…"
        );
    }
    let status = std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--release", "-p", "target-api", "--bin", "target-api"])
        .status()
        .map_err(|e| RunError::Setup(format!("cannot run cargo to build target-api: {e}")))?;
    if !status.success() {
        return Err(RunError::Setup("building target-api failed; see cargo's output above".into()));
    }
    let dir = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target"));
    let built = dir.join("release/target-api");
    if built.is_file() {
        Ok(built)
    } else {
        Err(RunError::Setup(format!("cargo built target-api but {} is missing", built.display())))
    }
}

/// The local stack's settings: those of `infra/` when run from the repository root (the same
/// Terraform the real stack is deployed with), else the built-in defaults that mirror it —
/// then the scenario's `[stack]` overrides.
pub fn stack_config(plan: &Plan, binary: PathBuf, log_dir: &Path) -> Result<StackConfig, RunError> {
    let infra = Path::new("infra");
    let mut c = if infra.join("variables.tf").is_file() {
        StackConfig::from_infra(infra, binary)
            .map_err(|e| RunError::Setup(format!("cannot read the stack settings from infra/: {e}")))?
    } else {
        StackConfig::new(binary)
    };
    let o = &plan.stack;
    if let Some(v) = o.reserved_concurrency {
        c.function.reserved_concurrency = v;
    }
    if let Some(v) = o.memory_mb {
        c.function.memory_mb = v;
    }
    if let Some(v) = o.timeout {
        c.function.timeout = v;
    }
    if let Some(v) = o.keep_warm {
        c.function.keep_warm = v;
    }
    if let Some(v) = &o.latency_profile {
        c.latency_profile = v.clone();
    }
    if let Some(v) = o.api_rate {
        c.api.stage_throttle.rate = v;
    }
    if let Some(v) = o.api_burst {
        c.api.stage_throttle.burst = v;
    }
    if let Some(v) = o.integration_timeout {
        c.api.integration_timeout = v;
    }
    if let Some(v) = o.dynamodb_read_units {
        c.dynamodb.read_units_per_s = v;
    }
    if let Some(v) = o.dynamodb_write_units {
        c.dynamodb.write_units_per_s = v;
    }
    c.seed = plan.seed;
    c.log_dir = Some(log_dir.to_path_buf());
    Ok(c)
}

/// The deployed stack's outputs, from `terraform output -json` in `dir` (the applied `infra/`).
pub fn infra_outputs(dir: &Path) -> Result<serde_json::Value, RunError> {
    let out = std::process::Command::new("terraform")
        .arg(format!("-chdir={}", dir.display()))
        .args(["output", "-json"])
        .output()
        .map_err(|e| RunError::Usage(format!("--infra needs terraform on PATH: {e}")))?;
    if !out.status.success() {
        return Err(RunError::Usage(format!(
            "--infra {}: terraform output failed: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| RunError::Usage(format!("--infra {}: terraform output is not JSON: {e}", dir.display())))?;
    let flat: serde_json::Map<String, serde_json::Value> =
        v.as_object().into_iter().flatten().map(|(k, o)| (k.clone(), o["value"].clone())).collect();
    if !flat.get("api_url").is_some_and(|u| u.is_string()) {
        return Err(RunError::Usage(format!(
            "--infra {}: no api_url output; run `terraform apply` there first",
            dir.display()
        )));
    }
    Ok(serde_json::Value::Object(flat))
}

/// Starts the local stack.
pub async fn start_stack(config: StackConfig) -> Result<Stack, RunError> {
    Stack::start(config).await.map_err(|e| RunError::Setup(e.to_string()))
}

/// Seeds `[data] items` through `POST /items` at the scenario's seed rate. Not measured.
pub async fn seed(plan: &Plan, client: &HttpClient, base: &str, quiet: bool) -> Result<(), RunError> {
    let items = plan.data.items;
    if items == 0 {
        return Ok(());
    }
    if !quiet {
        eprintln!(
            "loadgen: seeding {items} items of ~{} bytes at {} items/s (not measured)…",
            plan.data.item_size, plan.data.seed_rate
        );
    }
    let payload: Arc<str> = "x".repeat(plan.data.item_size).into();
    let permits = Arc::new(Semaphore::new(64));
    let interval = Duration::from_secs_f64(1.0 / plan.data.seed_rate);
    let start = Instant::now();
    let failures = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let last_error = Arc::new(std::sync::Mutex::new(String::new()));
    let mut tasks = Vec::new();
    for n in 0..items {
        tokio::time::sleep_until((start + interval.mul_f64(n as f64)).into()).await;
        let permit = permits.clone().acquire_owned().await.map_err(|_| RunError::Setup("seeding stopped".into()))?;
        let body = format!(r#"{{"id":"{}","payload":"{payload}"}}"#, seeded_id(n));
        let mut req = hyper::Request::post(format!("{base}/items")).header("content-type", "application/json");
        for (k, v) in &plan.target.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let req = req.body(Full::new(Bytes::from(body))).map_err(|e| RunError::Setup(e.to_string()))?;
        let (client, failures, last_error) = (client.clone(), failures.clone(), last_error.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = permit;
            // A throttled seed request is retried: seeding must finish, whatever the limits.
            let mut req = Some(req);
            for attempt in 0..8 {
                let this = match req.take() {
                    Some(r) => r,
                    None => break,
                };
                let copy = clone_request(&this);
                match tokio::time::timeout(Duration::from_secs(30), client.request(this)).await {
                    Ok(Ok(resp)) if resp.status().as_u16() == 201 || resp.status().as_u16() == 200 => {
                        let _ = resp.into_body().collect().await;
                        return;
                    }
                    Ok(Ok(resp)) => {
                        let status = resp.status();
                        let _ = resp.into_body().collect().await;
                        *last_error.lock().unwrap_or_else(|e| e.into_inner()) = format!("HTTP {status}");
                    }
                    Ok(Err(e)) => *last_error.lock().unwrap_or_else(|e2| e2.into_inner()) = e.to_string(),
                    Err(_) => *last_error.lock().unwrap_or_else(|e| e.into_inner()) = "timed out".into(),
                }
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                req = copy;
            }
            failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let failed = failures.load(std::sync::atomic::Ordering::Relaxed);
    if failed > 0 {
        let last = last_error.lock().unwrap_or_else(|e| e.into_inner()).clone();
        return Err(RunError::Setup(format!("seeding failed for {failed} of {items} items (last error: {last})")));
    }
    Ok(())
}

fn clone_request(r: &hyper::Request<Full<Bytes>>) -> Option<hyper::Request<Full<Bytes>>> {
    let mut b = hyper::Request::builder().method(r.method().clone()).uri(r.uri().clone());
    for (k, v) in r.headers() {
        b = b.header(k, v);
    }
    // Full bodies clone cheaply.
    b.body(r.body().clone()).ok()
}
