//! CPU in proportion to memory, as Lambda gives it: each execution environment gets
//! [`rules::cpu_share`] of a core. Where this process may create cgroups (root, or a delegated
//! subtree) the kernel enforces it — cgroup v2 `cpu.max` or v1 `cpu.cfs_quota_us` — for the
//! environment's process and everything it starts. Where it may not, each invocation's CPU time
//! is measured from `/proc` and the environment and its response are held for the time the
//! share would have cost ([`CpuEnforcement::CpuTime`], an approximation: it slows a request by
//! its own CPU time only, not by the interleaving a real quota causes).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::config::CpuModel;
use crate::rules;

/// How the CPU share is enforced on this machine, as results.json records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CpuEnforcement {
    /// The kernel's CPU controller, cgroup v2 (`cpu.max`).
    CgroupV2,
    /// The kernel's CPU controller, cgroup v1 (`cpu.cfs_quota_us`).
    CgroupV1,
    /// Measured CPU time per invocation, the response held for what the share would cost.
    CpuTime,
    /// Not enforced: `cpu_model = "none"`, every environment at full speed.
    Off,
}

impl CpuEnforcement {
    /// One line for start-up and the reports.
    pub fn describe(self, memory_mb: u32) -> String {
        let share = rules::cpu_share(memory_mb);
        match self {
            CpuEnforcement::CgroupV2 => {
                format!("{share:.3} of a core per environment at {memory_mb} MB (cgroup v2 cpu.max)")
            }
            CpuEnforcement::CgroupV1 => {
                format!("{share:.3} of a core per environment at {memory_mb} MB (cgroup v1 cpu.cfs_quota_us)")
            }
            CpuEnforcement::CpuTime => format!(
                "{share:.3} of a core per environment at {memory_mb} MB, approximated: each invocation is held for its \
                 measured CPU time x (1/share - 1)"
            ),
            CpuEnforcement::Off => "full host speed for every environment (cpu_model = \"none\")".into(),
        }
    }
}

/// A cgroup quota: `quota_us` of CPU every `period_us`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// CPU time allowed per period, µs.
    pub quota_us: u64,
    /// The period, µs.
    pub period_us: u64,
}

/// The quota that gives `share` of a core. Below one core the quota is the kernel's minimum
/// of 1 ms and the period stretches to match: a short period keeps the throttling fine-grained,
/// so a 4 ms burst at 0.07 of a core takes ~57 ms as on Lambda rather than running at full
/// speed inside one long period's allowance. From one core up, 100 ms periods.
pub fn quota(share: f64) -> Quota {
    const MIN_QUOTA_US: u64 = 1_000;
    const MAX_PERIOD_US: u64 = 1_000_000;
    if share < 1.0 {
        let period_us = ((MIN_QUOTA_US as f64 / share.max(1e-3)).round() as u64).clamp(MIN_QUOTA_US, MAX_PERIOD_US);
        Quota { quota_us: MIN_QUOTA_US, period_us }
    } else {
        Quota { quota_us: (share * 100_000.0).round() as u64, period_us: 100_000 }
    }
}

#[derive(Debug)]
enum Mode {
    Cgroup { v2: bool, parent: Arc<Parent> },
    CpuTime,
    Off,
}

/// The directory this stack's environment cgroups live in, removed when the last is gone.
#[derive(Debug)]
struct Parent {
    dir: PathBuf,
}

impl Drop for Parent {
    /// Removes the environments' cgroups and its own. The last of them go when the stack
    /// stops, as its processes are being killed: it waits up to half a second for them to go.
    fn drop(&mut self) {
        for _ in 0..50 {
            if let Ok(children) = fs::read_dir(&self.dir) {
                for c in children.flatten().filter(|c| c.path().is_dir()) {
                    let _ = fs::remove_dir(c.path());
                }
            }
            if fs::remove_dir(&self.dir).is_ok() || !self.dir.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// An environment's own cgroup, removed when the environment's process has been reaped.
#[derive(Debug)]
pub struct CgroupGuard {
    dir: PathBuf,
    v2: bool,
    quota: Quota,
    _parent: Arc<Parent>,
}

/// What puts an environment under its share once its INIT is done.
#[derive(Debug, Clone)]
pub struct Limit {
    dir: PathBuf,
    v2: bool,
    quota: Quota,
}

impl Limit {
    /// Applies the share. `Err` when the kernel refused it (the process may be gone).
    pub fn apply(&self) -> std::io::Result<()> {
        write_quota(&self.dir, self.v2, self.quota)
    }
}

impl CgroupGuard {
    /// What applies this environment's share later.
    pub fn limit(&self) -> Limit {
        Limit { dir: self.dir.clone(), v2: self.v2, quota: self.quota }
    }

    /// Removes the cgroup once its process has been reaped. The kernel may take a moment to
    /// see the process leave, so it tries a few times before leaving it to `Drop`.
    pub async fn release(self) {
        for _ in 0..20 {
            if fs::remove_dir(&self.dir).is_ok() || !self.dir.exists() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for CgroupGuard {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.dir);
    }
}

/// Gives environments their CPU share.
#[derive(Debug)]
pub struct CpuLimiter {
    mode: Mode,
    share: f64,
    next: AtomicU64,
    /// Environments the kernel would not put under a cgroup (measured instead).
    refused: AtomicU64,
}

static PARENT_SEQ: AtomicU64 = AtomicU64::new(0);

impl CpuLimiter {
    /// The best enforcement this machine allows for `model` at `memory_mb`.
    pub fn new(model: CpuModel, memory_mb: u32) -> CpuLimiter {
        let share = rules::cpu_share(memory_mb);
        let mode = match model {
            CpuModel::None => Mode::Off,
            CpuModel::Measured => Mode::CpuTime,
            CpuModel::Proportional => match cgroup_parent(share) {
                Some((dir, v2)) => Mode::Cgroup { v2, parent: Arc::new(Parent { dir }) },
                None => Mode::CpuTime,
            },
        };
        CpuLimiter { mode, share, next: AtomicU64::new(0), refused: AtomicU64::new(0) }
    }

    /// Environments started so far that the kernel would not put under a cgroup, whose CPU
    /// time was measured instead: the start-up probe makes this rare, and a run reports it.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// The enforcement in force.
    pub fn enforcement(&self) -> CpuEnforcement {
        match &self.mode {
            Mode::Cgroup { v2: true, .. } => CpuEnforcement::CgroupV2,
            Mode::Cgroup { v2: false, .. } => CpuEnforcement::CgroupV1,
            Mode::CpuTime => CpuEnforcement::CpuTime,
            Mode::Off => CpuEnforcement::Off,
        }
    }

    /// Puts a freshly spawned process under its share. `Err` when the kernel refused it: the
    /// caller then measures the environment's CPU time instead.
    ///
    /// Doubt: the process is moved right after it is spawned (moving it before `exec` needs
    /// `unsafe` code we do not allow), so its first instructions run unthrottled — far less
    /// than a millisecond of a start-up that takes several.
    ///
    /// INIT runs unthrottled: the share is applied by [`CgroupGuard::limit`] once INIT is done.
    /// AWS documents CPU in proportion to memory without naming the phase; measured cold starts
    /// show INIT running faster than the handler would at the same memory (up to ~3 GB, where
    /// the handler too gets two unthrottled vCPUs), and a Python function importing boto3 at
    /// 256 MB initialises in well under a second on Lambda where 0.145 of a core would take ~5 s
    /// (docs/aws-semantics.md §2). The measured fallback holds invocations only, so both modes
    /// agree.
    pub fn attach(&self, pid: u32) -> std::io::Result<Option<CgroupGuard>> {
        let Mode::Cgroup { v2, parent } = &self.mode else { return Ok(None) };
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let dir = parent.dir.join(format!("env-{n}"));
        let made = fs::create_dir(&dir).and_then(|()| fs::write(dir.join("cgroup.procs"), pid.to_string()));
        // Dropped on failure, the guard removes what was made.
        let guard = CgroupGuard { dir, v2: *v2, quota: quota(self.share), _parent: parent.clone() };
        if made.is_err() {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        made.map(|()| Some(guard))
    }

    /// How long to hold an invocation that used `cpu` of CPU time at full speed, so it takes
    /// what the share would have made it take. Zero unless CPU time is measured.
    pub fn hold_for(&self, cpu: Duration, measured: bool) -> Duration {
        if !measured || self.share >= 1.0 {
            return Duration::ZERO;
        }
        cpu.mul_f64(1.0 / self.share - 1.0)
    }

    /// Whether environments without a cgroup are measured (proportional CPU, no cgroup).
    pub fn measures(&self) -> bool {
        !matches!(self.mode, Mode::Off)
    }
}

fn write_quota(dir: &Path, v2: bool, q: Quota) -> std::io::Result<()> {
    if v2 {
        fs::write(dir.join("cpu.max"), format!("{} {}", q.quota_us, q.period_us))
    } else {
        // The period first: the kernel refuses a quota over a period it does not fit.
        fs::write(dir.join("cpu.cfs_period_us"), q.period_us.to_string())?;
        fs::write(dir.join("cpu.cfs_quota_us"), q.quota_us.to_string())
    }
}

/// A directory where environment cgroups with a CPU controller can be made, and whether it is
/// cgroup v2; proved with a trial child given the very quota environments will get (a parent
/// with a lower limit refuses a larger one) and a process moved into it. Leftovers of a stack
/// that was killed (whose process is gone) are removed on the way.
fn cgroup_parent(share: f64) -> Option<(PathBuf, bool)> {
    let mounts = fs::read_to_string("/proc/self/mountinfo").ok()?;
    let own = fs::read_to_string("/proc/self/cgroup").ok()?;
    for v2 in [true, false] {
        for base in candidates(&mounts, &own, v2) {
            sweep(&base);
            let dir =
                base.join(format!("loadlab-{}-{}", std::process::id(), PARENT_SEQ.fetch_add(1, Ordering::Relaxed)));
            if fs::create_dir(&dir).is_err() {
                continue;
            }
            let ok = (!v2 || fs::write(dir.join("cgroup.subtree_control"), "+cpu").is_ok()) && {
                let probe = dir.join("probe");
                let ok = fs::create_dir(&probe).is_ok()
                    && write_quota(&probe, v2, quota(share)).is_ok()
                    && moves_a_process(&probe);
                let _ = fs::remove_dir(&probe);
                ok
            };
            if ok {
                return Some((dir, v2));
            }
            let _ = fs::remove_dir(&dir);
        }
    }
    None
}

/// Whether a process can be moved into `dir`: a short-lived `sleep`, killed and reaped at once
/// so `dir` can be removed. Without `sleep` on PATH it is assumed (the quota was accepted).
fn moves_a_process(dir: &Path) -> bool {
    let Ok(mut child) = std::process::Command::new("sleep")
        .arg("5")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    else {
        return true;
    };
    let moved = fs::write(dir.join("cgroup.procs"), child.id().to_string()).is_ok();
    let _ = child.kill();
    let _ = child.wait();
    // The kernel may take a moment to see the process leave before the cgroup can go.
    for _ in 0..50 {
        if fs::read_to_string(dir.join("cgroup.procs")).is_ok_and(|p| p.trim().is_empty()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    moved
}

/// Where to try: this process's own cgroup, then the hierarchy's root. In cgroup v2 a child
/// needs `+cpu` in its parent's `cgroup.subtree_control`, which the kernel allows only in a
/// cgroup without processes of its own, or the root.
fn candidates(mountinfo: &str, own: &str, v2: bool) -> Vec<PathBuf> {
    let mount = mountinfo.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        let fstype = post.split_whitespace().next()?;
        let point = pre.split_whitespace().nth(4)?;
        let opts = post.split_whitespace().nth(2).unwrap_or("");
        let fits = if v2 { fstype == "cgroup2" } else { fstype == "cgroup" && opts.split(',').any(|o| o == "cpu") };
        fits.then(|| PathBuf::from(point))
    });
    let Some(mount) = mount else { return Vec::new() };
    if v2
        && !fs::read_to_string(mount.join("cgroup.controllers")).is_ok_and(|c| c.split_whitespace().any(|x| x == "cpu"))
    {
        return Vec::new();
    }
    let path = own.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, controllers, path) = (f.next()?, f.next()?, f.next()?);
        let fits = if v2 { controllers.is_empty() } else { controllers.split(',').any(|c| c == "cpu") };
        fits.then(|| path.trim_start_matches('/').to_owned())
    });
    let mut out = Vec::new();
    if let Some(p) = path.filter(|p| !p.is_empty()) {
        out.push(mount.join(p));
    }
    out.push(mount);
    out
}

/// Removes `loadlab-<pid>-*` directories under `base` whose process has ended (the
/// environments in them ended with it).
fn sweep(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("loadlab-").and_then(|r| r.split('-').next()) else { continue };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        if let Ok(children) = fs::read_dir(e.path()) {
            for c in children.flatten().filter(|c| c.path().is_dir()) {
                let _ = fs::remove_dir(c.path());
            }
        }
        let _ = fs::remove_dir(e.path());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quota_below_a_core_keeps_one_millisecond_and_stretches_the_period() {
        let q = quota(rules::cpu_share(256));
        assert_eq!(q.quota_us, 1_000);
        assert!((6_900..=6_920).contains(&q.period_us), "{q:?}");
        assert_eq!(quota(0.5), Quota { quota_us: 1_000, period_us: 2_000 });
        assert_eq!(quota(2.0), Quota { quota_us: 200_000, period_us: 100_000 });
        assert_eq!(quota(0.0).period_us, 1_000_000, "the kernel's longest period");
    }

    #[test]
    fn measured_cpu_time_is_held_for_what_the_share_costs() {
        let half = CpuLimiter { mode: Mode::CpuTime, share: 0.5, next: AtomicU64::new(0), refused: AtomicU64::new(0) };
        assert_eq!(half.hold_for(Duration::from_millis(10), true), Duration::from_millis(10));
        assert_eq!(half.hold_for(Duration::from_millis(10), false), Duration::ZERO, "a cgroup does it");
        let full = CpuLimiter { mode: Mode::CpuTime, share: 1.0, next: AtomicU64::new(0), refused: AtomicU64::new(0) };
        assert_eq!(full.hold_for(Duration::from_millis(10), true), Duration::ZERO);
    }

    #[test]
    fn cgroup_candidates_come_from_mountinfo_and_the_own_cgroup() {
        let mountinfo = "30 25 0:26 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n\
                         31 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        let own = "4:memory:/x\n1:cpu:/ci/job\n0::/\n";
        assert_eq!(
            candidates(mountinfo, own, false),
            vec![PathBuf::from("/sys/fs/cgroup/cpu/ci/job"), PathBuf::from("/sys/fs/cgroup/cpu")]
        );
        assert!(candidates(mountinfo, own, true).is_empty(), "no cgroup2 mount");
    }
}
