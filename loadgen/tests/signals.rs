//! Signals as a supervisor sends them: SIGINT and SIGTERM, once and twice, while the local
//! stack starts, while it is seeded, mid-phase and in the final drain. Every one must end the
//! run with exit 3 and a results.json that says `status: aborted` — never a kill with nothing
//! written. And `loadgen stack up` stopped either way leaves no function process behind, not
//! even a zombie: this test process is made the subreaper of its orphans and never reaps them,
//! so any loadgen did not reap would still be listed in /proc.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{signal, silent_target, spawn_run, target_api, tempdir};
use serde_json::Value;

/// Whether `pid` has its handlers for SIGINT (2) and SIGTERM (15) installed (`SigCgt`).
fn handles_signals(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let caught = status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .unwrap_or(0);
    caught & (1 << 1) != 0 && caught & (1 << 14) != 0
}

/// Starts `loadgen run --quiet` on `scenario` (with `args`), waits until it handles signals and
/// then `after` more, signals it, and returns its exit code and results.json.
fn interrupted(name: &str, scenario: &str, args: &[&str], after: Duration, (sig, n): (&str, usize)) -> (i32, Value) {
    let dir = tempdir(&format!("signal-{name}-{}{n}", sig.trim_start_matches('-')));
    let file = dir.join("s.toml");
    std::fs::write(&file, scenario).unwrap();
    let out = dir.join("out");
    let mut child = spawn_run(&file, &out, args);
    let started = Instant::now();
    while !handles_signals(child.id()) {
        assert!(started.elapsed() < Duration::from_secs(10), "{name}: no signal handlers after 10 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(after);
    signal(&child, sig, n);
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    let results = read_results(&out).unwrap_or_else(|| panic!("{name} {sig} x{n}: no results.json; stderr: {stderr}"));
    (status.code().unwrap_or(-1), results)
}

fn read_results(dir: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).ok()?).ok()
}

/// Function processes orphaned to this process (made their subreaper): ones a loadgen that
/// ended left behind, alive or as zombies.
fn orphans() -> Vec<String> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            // pid (comm) state ppid …
            let after = stat.rsplit_once(") ").map_or("", |(_, a)| a);
            stat.contains("(target-api)") && after.split_whitespace().nth(1) == Some(me.as_str())
        })
        .collect()
}

/// Every signal and count at one stage: exit 3, `status: aborted`, never `passed`, and no
/// function process left behind.
fn matrix(name: &str, scenario: &str, args: &[&str], after: Duration) -> Vec<Value> {
    rustix::process::set_child_subreaper(Some(rustix::process::getpid())).unwrap();
    let mut all = Vec::new();
    for sig in ["-INT", "-TERM"] {
        for n in [1, 2] {
            let (code, r) = interrupted(name, scenario, args, after, (sig, n));
            assert_eq!(code, 3, "{name} {sig} x{n}: {}", r["abort_reason"]);
            assert_eq!(r["status"], "aborted", "{name} {sig} x{n}");
            assert_eq!(r["passed"], false, "{name} {sig} x{n}");
            let reason = r["abort_reason"].as_str().unwrap_or_default();
            let said = if sig == "-INT" { "interrupted" } else { "terminated" };
            assert!(reason.contains(said), "{name} {sig} x{n}: {reason}");
            std::thread::sleep(Duration::from_millis(200));
            let left = orphans();
            assert!(left.is_empty(), "{name} {sig} x{n}: function processes left behind: {left:?}");
            all.push(r);
        }
    }
    all
}

const PHASE: &str =
    "[[phase]]\nname = \"p\"\nduration = \"10s\"\nrate = 5\n[[request]]\nname = \"r\"\npath = \"/health\"\n";

#[test]
fn while_the_stack_starts() {
    // Five provisioned environments are initialised before the stack is up.
    let scenario = format!("name = \"start\"\n[stack]\nprovisioned_concurrency = 5\n[data]\nitems = 0\n{PHASE}");
    for r in matrix("start", &scenario, &[], Duration::ZERO) {
        assert_eq!(r["totals"]["requests"], 0, "nothing was measured");
        assert!(r["abort_reason"].as_str().unwrap().contains("nothing was measured"), "{}", r["abort_reason"]);
    }
}

#[test]
fn while_the_data_is_seeded() {
    let scenario = format!("name = \"seed\"\n[data]\nitems = 2000\nseed_rate = 20\n{PHASE}");
    for r in matrix("seed", &scenario, &[], Duration::from_secs(3)) {
        assert_eq!(r["totals"]["requests"], 0);
        let reason = r["abort_reason"].as_str().unwrap();
        assert!(reason.contains("the data seeded") && reason.contains("nothing was measured"), "{reason}");
    }
}

#[test]
fn mid_phase_and_in_the_drain() {
    let url = silent_target();
    let mid = "name = \"mid\"\n[target]\ntimeout = \"30s\"\n[[phase]]\nname = \"p\"\nduration = \"10s\"\nrate = 5\n\
               [[request]]\nname = \"r\"\npath = \"/\"\n";
    for r in matrix("mid", mid, &["--target", &url], Duration::from_millis(1500)) {
        // Nothing is answered: what was sent shows in the achieved rate.
        let rate = r["achieved_rate"].as_f64().unwrap();
        assert!(rate > 0.0 && r["duration_s"].as_f64().unwrap() < 9.0, "stopped mid-phase with what was sent: {rate}");
    }
    // The phase ends at 1 s; its requests wait on the silent target in the drain.
    let drain = mid.replace("duration = \"10s\"", "duration = \"1s\"");
    for r in matrix("drain", &drain, &["--target", &url], Duration::from_secs(2)) {
        assert!(r["achieved_rate"].as_f64().unwrap() > 0.0, "the whole phase was sent");
    }
}

#[test]
fn stack_up_leaves_no_function_process_behind() {
    // Orphans of this process's descendants come here, and this process never reaps them.
    rustix::process::set_child_subreaper(Some(rustix::process::getpid())).unwrap();
    for sig in ["-INT", "-TERM"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_loadgen"))
            .args(["stack", "up"])
            .env("LOADGEN_TARGET_API", target_api())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut api = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("API:") {
                api = rest.split_whitespace().next().map(str::to_owned);
            }
            if line.starts_with("Serving until") {
                break;
            }
        }
        let api = api.expect("stack up prints its API URL");
        // Two requests at once start two function environments.
        let base = api.strip_prefix("http://").unwrap();
        let (host, prefix) = base.split_once('/').map_or((base, String::new()), |(h, p)| (h, format!("/{p}")));
        let asks: Vec<_> = (0..2)
            .map(|_| {
                let (host, prefix) = (host.to_owned(), prefix.clone());
                std::thread::spawn(move || {
                    let mut s = std::net::TcpStream::connect(&host).unwrap();
                    write!(s, "GET {prefix}/health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
                    let mut reply = String::new();
                    let _ = s.read_to_string(&mut reply);
                    reply
                })
            })
            .collect();
        for a in asks {
            assert!(a.join().unwrap().starts_with("HTTP/1.1 200"));
        }
        let functions: Vec<u32> = loadgen::children::children_of(child.id())
            .into_iter()
            .filter(|p| std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "target-api"))
            .collect();
        assert!(!functions.is_empty(), "stack up runs its functions as child processes");
        signal(&child, sig, 1);
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{sig}: stack up ends cleanly");
        std::thread::sleep(Duration::from_millis(300));
        let left: Vec<String> =
            functions.iter().filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok()).collect();
        assert!(left.is_empty(), "{sig}: function processes left behind (zombies show state Z): {left:?}");
        drop(lines);
    }
}
