//! One execution environment: a real `bootstrap` process, its own Runtime API endpoint on
//! loopback, and a watcher that notices when the process ends.

use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::code::Entrypoint;
use super::cpu::CpuLimiter;
use super::cpu_clock::CpuClock;
use super::runtime_api::{self, EnvRuntime, InitSignal, Invocation};

/// What a new environment is started with.
#[derive(Debug, Clone)]
pub struct Spawn<'a> {
    /// The code's command and directory.
    pub entry: &'a Entrypoint,
    /// The environment variables Lambda sets (without `AWS_LAMBDA_RUNTIME_API`, added here).
    pub env: &'a [(String, String)],
    /// ARN reported in `Lambda-Runtime-Invoked-Function-Arn`.
    pub function_arn: String,
    /// Where the process's stdout and stderr go.
    pub log: &'a std::fs::File,
    /// Gives the process its CPU share.
    pub cpu: &'a CpuLimiter,
    /// Initialised for provisioned concurrency (before traffic, kept ready).
    pub provisioned: bool,
    /// Where the process's id is listed while it is in INIT, so a shutdown can kill it.
    pub starting: &'a Mutex<Vec<u32>>,
}

/// Lambda's limit on a function's open files (its quotas: "File descriptors: 1,024"). The
/// process would otherwise inherit loadgen's, raised to the hard limit, and a function that
/// leaks descriptors would pass here and fail on AWS.
const FUNCTION_NOFILE: u64 = 1_024;

/// Sends SIGKILL to `pid` (an environment's process; its watcher reaps it).
pub fn kill_pid(pid: u32) {
    #[cfg(target_os = "linux")]
    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
}

/// Gives `pid` Lambda's open-file limit (lower only: never above what it has).
fn lambda_nofile(pid: u32) {
    #[cfg(target_os = "linux")]
    if let Some(p) = rustix::process::Pid::from_raw(pid as i32) {
        use rustix::process::{Resource, Rlimit, getrlimit, prlimit};
        let most = |v: Option<u64>| Some(v.map_or(FUNCTION_NOFILE, |v| v.min(FUNCTION_NOFILE)));
        // The child has what this process has (inherited at spawn).
        let now = getrlimit(Resource::Nofile);
        let _ = prlimit(Some(p), Resource::Nofile, Rlimit { current: most(now.current), maximum: most(now.maximum) });
    }
}

/// Keeps a pid in the `starting` list until dropped.
struct Listed<'a>(&'a Mutex<Vec<u32>>, u32);

impl Drop for Listed<'_> {
    fn drop(&mut self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).retain(|p| *p != self.1);
    }
}

/// A running environment.
#[derive(Debug)]
pub struct Env {
    /// Sequence number within the pool.
    pub id: u64,
    /// OS process id (for memory readings).
    pub pid: Option<u32>,
    /// Its CPU share is not enforced by a cgroup, so its CPU time is measured and held for.
    pub measured: bool,
    /// Part of the function's provisioned concurrency.
    pub provisioned: bool,
    invocations: mpsc::Sender<Invocation>,
    kill: Mutex<Option<oneshot::Sender<()>>>,
    exited: Arc<AtomicBool>,
    /// How the process ended, once it has: what an invocation waiting on it fails with.
    gone: tokio::sync::watch::Receiver<Option<String>>,
    server: tokio::task::JoinHandle<()>,
    /// When it last finished an invocation.
    pub last_used: Mutex<Instant>,
    /// Last `VmHWM` reading and when it was taken.
    memory: Mutex<Option<(Instant, u64)>>,
    /// Its CPU time, read before and after every invocation.
    cpu: Option<Mutex<CpuClock>>,
}

/// How starting an environment ended.
#[derive(Debug)]
pub enum Started {
    /// INIT done after this long (spawn → first `next`).
    Ready(Arc<Env>, Duration),
    /// INIT failed: error type and error document.
    Failed(String, String),
    /// INIT did not finish within the limit; the process was killed.
    TimedOut,
}

impl Env {
    /// Spawns the process and waits for INIT, at most `init_limit`.
    pub async fn start(id: u64, spawn: Spawn<'_>, init_limit: Duration) -> Started {
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => return Started::Failed("Runtime.Unknown".into(), format!("cannot bind the Runtime API: {e}")),
        };
        let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
        let (runtime, invocations, init_rx) = EnvRuntime::new(spawn.function_arn);
        let app = runtime_api::router(runtime.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });

        let entry = spawn.entry;
        let mut cmd = tokio::process::Command::new(&entry.program);
        cmd.args(&entry.args).current_dir(&entry.task_root);
        cmd.env_clear().envs(spawn.env.iter().map(|(k, v)| (k, v))).env("AWS_LAMBDA_RUNTIME_API", &addr);
        let (out, err) = match (spawn.log.try_clone(), spawn.log.try_clone()) {
            (Ok(o), Ok(e)) => (Stdio::from(o), Stdio::from(e)),
            _ => (Stdio::null(), Stdio::null()),
        };
        cmd.stdin(Stdio::null()).stdout(out).stderr(err).kill_on_drop(true);
        let started_at = Instant::now();
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                server.abort();
                return Started::Failed(
                    "Runtime.InvalidEntrypoint".into(),
                    format!("cannot start {}: {e}", entry.program.display()),
                );
            }
        };
        let pid = child.id();
        let _listed = pid.map(|p| {
            lambda_nofile(p);
            spawn.starting.lock().unwrap_or_else(|e| e.into_inner()).push(p);
            Listed(spawn.starting, p)
        });
        // Without a cgroup (none here, or the kernel refused this one) the CPU time is measured.
        let cgroup = pid.and_then(|p| spawn.cpu.attach(p).ok().flatten());
        let measured = spawn.cpu.measures() && cgroup.is_none();
        let limit = cgroup.as_ref().map(super::cpu::CgroupGuard::limit);
        let (kill_tx, kill_rx) = oneshot::channel::<()>();
        let exited = Arc::new(AtomicBool::new(false));
        let (gone_tx, gone) = tokio::sync::watch::channel(None);
        let watcher_rt = runtime.clone();
        let watcher_exited = exited.clone();
        tokio::spawn(async move {
            let how = tokio::select! {
                status = child.wait() => match status {
                    Ok(s) => match s.code() {
                        Some(code) => format!("exit status {code}"),
                        None => "signal".to_owned(),
                    },
                    Err(e) => format!("wait failed: {e}"),
                },
                _ = kill_rx => {
                    let _ = child.kill().await;
                    "killed".to_owned()
                }
            };
            watcher_exited.store(true, Ordering::SeqCst);
            watcher_rt.exited(&how);
            // Said gone once its cgroup is released too: a shutdown waiting on it leaves none.
            if let Some(g) = cgroup {
                g.release().await;
            }
            let _ = gone_tx.send(Some(how));
        });
        let env = Arc::new(Env {
            id,
            pid,
            measured,
            provisioned: spawn.provisioned,
            invocations,
            kill: Mutex::new(Some(kill_tx)),
            exited,
            gone,
            server,
            last_used: Mutex::new(Instant::now()),
            memory: Mutex::new(None),
            cpu: pid.map(|p| Mutex::new(CpuClock::new(p))),
        });
        match tokio::time::timeout(init_limit, init_rx).await {
            Ok(Ok(InitSignal::Ready)) => {
                // INIT ran unthrottled; invocations run under the share.
                if let Some(l) = &limit
                    && l.apply().is_err()
                {
                    env.kill();
                    return Started::Failed(
                        "Runtime.Unknown".into(),
                        "the environment's CPU share could not be applied".into(),
                    );
                }
                Started::Ready(env, started_at.elapsed())
            }
            Ok(Ok(InitSignal::Failed { error_type, body })) => {
                env.kill();
                Started::Failed(error_type, String::from_utf8_lossy(&body).into_owned())
            }
            Ok(Ok(InitSignal::Exited(how))) => {
                env.kill();
                Started::Failed(
                    "Runtime.ExitError".into(),
                    format!("RequestId: init Error: Runtime exited with error: {how}"),
                )
            }
            Ok(Err(_)) => {
                env.kill();
                Started::Failed("Runtime.Unknown".into(), "init ended without a signal".into())
            }
            Err(_) => {
                env.kill();
                Started::TimedOut
            }
        }
    }

    /// Hands an invocation to the runtime (it is waiting in `next`).
    pub async fn deliver(&self, inv: Invocation) -> Result<(), Invocation> {
        self.invocations.send(inv).await.map_err(|e| e.0)
    }

    /// Once the process has ended: how. An invocation queued to it, or handed to it after it
    /// ended, fails at once with this rather than waiting out the function's timeout (no
    /// runtime is left to take it from the queue).
    pub async fn died(&self) -> String {
        let mut gone = self.gone.clone();
        match gone.wait_for(Option::is_some).await {
            Ok(how) => how.clone().unwrap_or_default(),
            // The watcher is gone without a word: the process is no longer watched, so dead.
            Err(_) => "the environment's watcher ended".to_owned(),
        }
    }

    /// True once the process has ended.
    pub fn is_dead(&self) -> bool {
        self.exited.load(Ordering::SeqCst)
    }

    /// Kills the process (idempotent).
    pub fn kill(&self) {
        if let Some(k) = self.kill.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = k.send(());
        }
        self.server.abort();
    }

    /// The process's CPU time so far; `None` once it has ended.
    pub fn cpu_time(&self) -> Option<Duration> {
        self.cpu.as_ref()?.lock().unwrap_or_else(|p| p.into_inner()).read()
    }

    /// Peak resident memory of the process in MB (`VmHWM`), as REPORT's Max Memory Used.
    /// Read from `/proc` at most once a second per environment: it is a high-water mark, and
    /// reading it on every invoke costs more than the rest of the bookkeeping together.
    pub fn max_memory_mb(&self) -> Option<u64> {
        let mut cached = self.memory.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, mb)) = *cached
            && at.elapsed() < Duration::from_secs(1)
        {
            return Some(mb);
        }
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid?)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        let mb = kb.div_ceil(1024);
        *cached = Some((Instant::now(), mb));
        Some(mb)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.kill();
    }
}
