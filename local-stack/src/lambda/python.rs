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
/// else `~/.cache/loadgen`, else a directory under the system's temporary one.
pub fn default_cache() -> PathBuf {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    env("LOADGEN_CACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("loadgen")))
        .or_else(|| env("HOME").map(|d| d.join(".cache/loadgen")))
        .unwrap_or_else(|| std::env::temp_dir().join("loadgen-cache"))
}

/// The directory holding the runtime interface client for `python` under `cache`, when it is
/// already installed.
pub fn installed(python: &Python, cache: &Path) -> Option<PathBuf> {
    let dir = cache.join(format!("awslambdaric-{RIC_VERSION}-py{}", python.version));
    dir.join("awslambdaric").is_dir().then_some(dir)
}

static INSTALL_SEQ: AtomicU64 = AtomicU64::new(0);

/// The runtime interface client for `python`, installed with pip into `cache` on first use
/// (into a scratch directory renamed into place, so two runs installing at once never see a
/// half-written one).
pub fn runtime_client(python: &Python, cache: &Path) -> Result<PathBuf, String> {
    if let Some(dir) = installed(python, cache) {
        return Ok(dir);
    }
    let dir = cache.join(format!("awslambdaric-{RIC_VERSION}-py{}", python.version));
    let scratch =
        cache.join(format!(".installing-{}-{}", std::process::id(), INSTALL_SEQ.fetch_add(1, Ordering::Relaxed)));
    let fail = |why: String| {
        format!(
            "the Python runtime needs the AWS Lambda runtime interface client, and installing it failed: {why}. \
             Install it yourself with `{} -m pip install --target {} awslambdaric=={RIC_VERSION} boto3`",
            python.path.display(),
            dir.display()
        )
    };
    std::fs::create_dir_all(cache).map_err(|e| fail(format!("cannot create {}: {e}", cache.display())))?;
    let out = Command::new(&python.path)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-warn-script-location"])
        .arg("--target")
        .arg(&scratch)
        .args([format!("awslambdaric=={RIC_VERSION}"), "boto3".to_owned()])
        .output()
        .map_err(|e| fail(format!("cannot run {}: {e}", python.path.display())))?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&scratch);
        let stderr = String::from_utf8_lossy(&out.stderr);
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
