//! What loadgen leaves behind when it exits: nothing. Child processes (the local stack's
//! functions, a token command, a build) are stopped by their owners, but one whose owner was
//! cancelled mid-way — a stack still starting when Ctrl-C came — is only killed, and reaped by
//! the runtime in the background; a process that exits first leaves it a zombie (or, were the
//! kill lost, running) wherever nothing reaps orphans, as in a container whose first process
//! is a shell. So at exit every child left is killed and reaped.

use std::time::{Duration, Instant};

/// Kills every child process left and reaps them, waiting at most `wait` for them to end.
pub fn end_all(wait: Duration) {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{Pid, Signal, WaitOptions, kill_process, waitpid};
        for pid in children_of(std::process::id()) {
            if let Some(pid) = Pid::from_raw(pid as i32) {
                let _ = kill_process(pid, Signal::KILL);
            }
        }
        let deadline = Instant::now() + wait;
        loop {
            match waitpid(None, WaitOptions::NOHANG) {
                Ok(Some(_)) => continue,
                // Children are left, none has ended yet.
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                // None left (ECHILD), or out of time.
                _ => break,
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (wait, Instant::now());
}

/// The children of process `pid` now, from every one of its threads' `children` list (empty
/// where `/proc` has none).
pub fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        out.extend(text.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
    }
    out
}
