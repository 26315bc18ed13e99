//! CPU in proportion to memory: a CPU-bound request takes about twice as long at half the
//! memory, whichever way this machine enforces the share, and the mode in force is reported.

mod common;

use std::time::{Duration, Instant};

use common::*;
use local_stack::Stack;
use local_stack::config::CpuModel;
use local_stack::lambda::cpu::CpuEnforcement;

/// The median wall time of `n` warm `/spin/<ms>` requests at `memory_mb`.
async fn spin(memory_mb: u32, model: CpuModel, ms: u32, n: usize) -> (Duration, CpuEnforcement) {
    let mut c = config(misbehave());
    c.api.routes = vec!["ANY /{proxy+}".into()];
    c.function.memory_mb = memory_mb;
    c.function.cpu_model = model;
    let stack = Stack::start(c).await.unwrap();
    let url = stack.endpoints().api_url.clone();
    assert_eq!(get(&format!("{url}/warm")).await.status, 200, "the cold start, out of the way");
    let mut took = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        let r = get(&format!("{url}/spin/{ms}")).await;
        assert_eq!(r.status, 200);
        took.push(t.elapsed());
    }
    took.sort();
    (took[n / 2], stack.lambda().cpu_enforcement())
}

fn assert_twice(half: Duration, full: Duration, what: &str) {
    let ratio = half.as_secs_f64() / full.as_secs_f64();
    assert!(
        (1.6..=2.4).contains(&ratio),
        "{what}: 884 MB took {half:?}, 1769 MB {full:?}: ratio {ratio:.2}, not 2 ± 20%"
    );
}

#[tokio::test]
async fn half_the_memory_takes_twice_as_long_on_cpu() {
    let (full, mode) = spin(1769, CpuModel::Proportional, 120, 5).await;
    let (half, _) = spin(884, CpuModel::Proportional, 120, 5).await;
    assert_ne!(mode, CpuEnforcement::Off);
    assert_twice(half, full, &format!("{mode:?}"));
}

#[tokio::test]
async fn measured_cpu_time_holds_the_response_for_the_share() {
    let (full, mode) = spin(1769, CpuModel::Measured, 120, 5).await;
    assert_eq!(mode, CpuEnforcement::CpuTime);
    let (half, _) = spin(884, CpuModel::Measured, 120, 5).await;
    assert_twice(half, full, "measured");
}

#[tokio::test]
async fn cpu_model_none_runs_at_full_speed() {
    let (full, mode) = spin(1769, CpuModel::None, 60, 3).await;
    let (small, _) = spin(128, CpuModel::None, 60, 3).await;
    assert_eq!(mode, CpuEnforcement::Off);
    assert!(small < full * 2, "128 MB took {small:?} against {full:?} without a CPU model");
}

/// The cgroup directory an environment process is in, from `/proc/<pid>/cgroup` and the
/// mounts: `None` when it is in none of ours.
fn env_cgroup(pid: u32) -> Option<std::path::PathBuf> {
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let rel = own.lines().find_map(|l| l.splitn(3, ':').nth(2).filter(|p| p.contains("/loadlab-")))?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mounts.lines().find_map(|l| {
        let point = l.split_whitespace().nth(4)?;
        let dir = std::path::Path::new(point).join(rel.trim_start_matches('/'));
        dir.is_dir().then_some(dir)
    })
}

#[tokio::test]
async fn a_stopped_stack_leaves_no_cgroup_behind() {
    let mut c = config(misbehave());
    c.api.routes = vec!["ANY /{proxy+}".into()];
    let stack = Stack::start(c).await.unwrap();
    if !matches!(stack.lambda().cpu_enforcement(), CpuEnforcement::CgroupV1 | CpuEnforcement::CgroupV2) {
        eprintln!("no cgroups on this machine: nothing to leave behind");
        return;
    }
    assert_eq!(get(&format!("{}/warm", stack.endpoints().api_url)).await.status, 200);
    let pid = stack.lambda().pids()[0];
    let env_dir = env_cgroup(pid).expect("the environment runs in its own cgroup");
    let parent = env_dir.parent().unwrap().to_path_buf();
    assert!(parent.file_name().unwrap().to_string_lossy().starts_with("loadlab-"), "{}", parent.display());
    assert_eq!(stack.lambda().cpu_refused(), 0);
    stack.stop();
    // Processes are reaped asynchronously; the directories go with them.
    let until = Instant::now() + Duration::from_secs(3);
    while (env_dir.exists() || parent.exists()) && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!env_dir.exists() && !parent.exists(), "{} is still there", parent.display());
}
