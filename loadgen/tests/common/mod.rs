//! What the tests that run loadgen share: the target-api binary it runs on the local stack,
//! built once, a fresh temporary directory, the options of a quiet run against a URL, a run
//! started in the background and the signals sent to it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The workspace's target-api binary (debug), built once if needed.
pub fn target_api() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| workspace_binary("target-api")).clone()
}

/// The fleet's loadgen-worker binary (debug), built once if needed.
pub fn worker() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| workspace_binary("loadgen-worker")).clone()
}

/// Builds the debug binary of the workspace package `name` (bin of the same name) and says
/// where it is: beside the loadgen binary cargo built for the tests.
fn workspace_binary(name: &str) -> PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", name, "--bin", name])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(status.success(), "building {name} failed");
    PathBuf::from(env!("CARGO_BIN_EXE_loadgen")).parent().unwrap().join(name)
}

/// A new directory under the system's temporary one, named for `tag`.
pub fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("loadgen-{tag}-{}-{}", std::process::id(), fastrand::u64(..)));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `loadgen run FILE --target URL --out OUT --quiet`.
pub fn quiet_run(file: PathBuf, url: &str, out: PathBuf) -> loadgen::cmd::run::RunOptions {
    loadgen::cmd::run::RunOptions {
        scenario: file,
        target: Some(url.to_owned()),
        out: Some(out),
        quiet: true,
        ..loadgen::cmd::run::RunOptions::default()
    }
}

/// The URL of a server that accepts every connection and never says a word.
pub fn silent_target() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    url
}

/// `loadgen run --quiet ARGS… --out OUT FILE` started in the background on this workspace's
/// target-api, its standard output dropped and its standard error piped.
pub fn spawn_run(file: &std::path::Path, out: &std::path::Path, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["run", "--quiet"])
        .args(args)
        .arg("--out")
        .arg(out)
        .arg(file)
        .env("LOADGEN_TARGET_API", target_api())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Sends `signal` (`-INT`, `-TERM`) to `child` `n` times, 150 ms apart.
pub fn signal(child: &std::process::Child, signal: &str, n: usize) {
    for _ in 0..n {
        assert!(Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap().success());
        std::thread::sleep(std::time::Duration::from_millis(150));
    }
}
