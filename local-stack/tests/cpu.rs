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
