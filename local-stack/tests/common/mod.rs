//! Shared test helpers: the target-api binary, a stack with test settings, a plain HTTP client.
#![allow(dead_code, missing_docs)]

use std::path::PathBuf;
use std::sync::OnceLock;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use local_stack::StackConfig;

/// The workspace's debug target-api binary, built once per test process if needed.
pub fn target_api() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // tests run from target/debug/deps/<name>; the binary lands in target/debug.
        let dir = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().to_path_buf();
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "target-api", "--bin", "target-api"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build -p target-api");
        assert!(status.success(), "building target-api failed");
        dir.join("target-api")
    })
    .clone()
}

/// The misbehaving test function.
pub fn misbehave() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/functions/misbehave.py")
}

/// Test defaults: no added latency, a private log dir.
pub fn config(binary: PathBuf) -> StackConfig {
    let mut c = StackConfig::new(binary);
    c.latency_profile = "none".into();
    c
}

pub struct Reply {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

pub fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

pub async fn send(
    c: &Client<HttpConnector, Full<Bytes>>,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut req = hyper::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = c.request(req.body(Full::new(Bytes::from(body.to_owned()))).unwrap()).await.expect("request");
    let (parts, body) = resp.into_parts();
    Reply { status: parts.status.as_u16(), headers: parts.headers, body: body.collect().await.unwrap().to_bytes() }
}

pub async fn get(url: &str) -> Reply {
    send(&client(), "GET", url, &[], "").await
}

/// True when a process with this pid still exists (and is not a zombie).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.split(") ").nth(1).is_some_and(|rest| rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// Runs the real aws CLI with `args` off the async threads, with dummy credentials, `region`,
/// no instance-metadata lookups and no pager, plus `env` (an endpoint variable, say).
pub async fn aws_cli(args: Vec<String>, region: &str, env: Vec<(&'static str, String)>) -> std::process::Output {
    if std::process::Command::new("aws").arg("--version").output().is_err() {
        panic!("the aws CLI is needed for this test (.ci/run installs it: pip install awscli)");
    }
    let region = region.to_owned();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new("aws")
            .args(&args)
            .envs(env)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", &region)
            .env("AWS_DEFAULT_REGION", &region)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_PAGER", "")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}
