//! Lambda's Python runtimes on this machine: an interpreter of the version asked for (or the
//! machine's `python3`, said so), and the AWS Lambda runtime interface client (`awslambdaric`,
//! from PyPI) with the AWS SDK the Python runtimes include (boto3), installed once into a cache
//! directory of the tool's own rather than into the user's Python.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

/// The runtime interface client version installed: the one this emulator's Runtime API was
/// checked against.
pub const RIC_VERSION: &str = "4.2.2";
/// The AWS SDK for Python installed beside it, as Lambda's Python runtimes include one; pinned
/// so every machine runs the same.
pub const BOTO3_VERSION: &str = "1.44.18";
/// How long pip may take before the install is given up.
const INSTALL_LIMIT: std::time::Duration = std::time::Duration::from_secs(600);

/// An interpreter found for a runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Python {
    /// The executable.
    pub path: PathBuf,
    /// What it is (`3.11`).
    pub version: String,
    /// The runtime asked for (`3.12`).
    pub wanted: String,
}

impl Python {
    /// A note for the user when this is not the version the runtime names.
    pub fn mismatch(&self) -> Option<String> {
        (self.version != self.wanted).then(|| {
            format!(
                "python{} is not installed here; its functions run on {} (python {}), so code that needs {} may fail or time differently",
                self.wanted,
                self.path.display(),
                self.version,
                self.wanted
            )
        })
    }
}

fn version_of(exe: &Path) -> Option<String> {
    let out = Command::new(exe).args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(name)).find(|p| p.is_file())
}

/// `python3.N` when it is on `PATH`, else `python3` whatever its version.
pub fn interpreter(version: &str) -> Result<Python, String> {
    for name in [format!("python{version}"), "python3".to_owned()] {
        if let Some(path) = on_path(&name)
            && let Some(found) = version_of(&path)
        {
            return Ok(Python { path, version: found, wanted: version.to_owned() });
        }
    }
    Err(format!(
        "a python{version} runtime needs Python 3 on PATH (python{version} or python3); install it (apt-get install python3 python3-pip)"
    ))
}

/// Where the tool keeps what it installs: `LOADGEN_CACHE_DIR`, else `$XDG_CACHE_HOME/loadgen`,
/// else `~/.cache/loadgen`. Never a shared temporary directory: code found there would run in
/// the user's functions.
pub fn default_cache() -> Option<PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    env("LOADGEN_CACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("loadgen")))
        .or_else(|| env("HOME").map(|d| d.join(".cache/loadgen")))
}

/// The directory holding the runtime interface client for `python` under `cache`, when it is
/// already installed.
pub fn installed(python: &Python, cache: &Path) -> Option<PathBuf> {
    let dir = install_dir(python, cache);
    dir.join("awslambdaric").is_dir().then_some(dir)
}

fn install_dir(python: &Python, cache: &Path) -> PathBuf {
    cache.join(format!("awslambdaric-{RIC_VERSION}-boto3-{BOTO3_VERSION}-py{}", python.version))
}

/// Runs `cmd` to its end, or kills it at `limit`; its stderr.
fn run_limited(mut cmd: Command, limit: std::time::Duration) -> Result<(bool, String), String> {
    use std::io::Read;
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut stderr = child.stderr.take();
    // Read stderr on the side so a chatty pip never blocks on a full pipe.
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let started = std::time::Instant::now();
    let status = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => break status,
            None if started.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("pip did not finish in {} s", limit.as_secs()));
            }
            None => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    };
    Ok((status.success(), reader.join().unwrap_or_default()))
}

static INSTALL_SEQ: AtomicU64 = AtomicU64::new(0);

/// The runtime interface client for `python`, installed with pip into `cache` on first use
/// (into a scratch directory renamed into place, so two runs installing at once never see a
/// half-written one).
pub fn runtime_client(python: &Python, cache: &Path) -> Result<PathBuf, String> {
    if let Some(dir) = installed(python, cache) {
        return Ok(dir);
    }
    let dir = install_dir(python, cache);
    let scratch =
        cache.join(format!(".installing-{}-{}", std::process::id(), INSTALL_SEQ.fetch_add(1, Ordering::Relaxed)));
    let packages = [format!("awslambdaric=={RIC_VERSION}"), format!("boto3=={BOTO3_VERSION}")];
    let fail = |why: String| {
        format!(
            "the Python runtime needs the AWS Lambda runtime interface client, and installing it failed: {why}. \
             Install it yourself with `{} -m pip install --only-binary=:all: --target {} {}`",
            python.path.display(),
            dir.display(),
            packages.join(" ")
        )
    };
    std::fs::create_dir_all(cache).map_err(|e| fail(format!("cannot create {}: {e}", cache.display())))?;
    let mut pip = Command::new(&python.path);
    // Wheels only: installing never runs a package's own build code.
    pip.args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-warn-script-location"])
        .arg("--only-binary=:all:")
        .arg("--target")
        .arg(&scratch)
        .args(&packages);
    let (ok, stderr) = run_limited(pip, INSTALL_LIMIT).map_err(|e| {
        let _ = std::fs::remove_dir_all(&scratch);
        fail(format!("cannot run {}: {e}", python.path.display()))
    })?;
    if !ok {
        let _ = std::fs::remove_dir_all(&scratch);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("pip failed").trim().to_owned();
        return Err(fail(last));
    }
    if std::fs::rename(&scratch, &dir).is_err() {
        // Another run installed it first; theirs is as good.
        let _ = std::fs::remove_dir_all(&scratch);
    }
    installed(python, cache).ok_or_else(|| fail(format!("pip finished but {} holds no awslambdaric", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_version_falls_back_and_says_so() {
        let p = Python { path: "/usr/bin/python3".into(), version: "3.11".into(), wanted: "3.12".into() };
        assert!(p.mismatch().unwrap().contains("python3.12 is not installed here"));
        assert_eq!(Python { wanted: "3.11".into(), ..p }.mismatch(), None);
    }
}
