//! The attack: one dispatcher per phase sends each request at its intended time (open model)
//! or keeps N virtual users busy (closed model); latency is measured from the intended time
//! (no coordinated omission) and, separately, from the actual send. In-flight requests are
//! bounded; when the bound or the machine makes a send late, the lateness is recorded and the
//! run is marked saturated — the rate is never quietly lowered.
//!
//! [`pacer`] says when, [`mix`] what, [`send`] sends and records one request, [`flow`] runs a
//! flow's steps in order, [`timer`] wakes the dispatcher, [`monitor`] watches the run,
//! [`switch`] ends it early.

pub mod endpoint;
pub mod flow;
pub mod keys;
pub mod mix;
pub mod monitor;
pub mod pacer;
pub mod send;
pub mod switch;
pub mod timer;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use crate::http::{Connector, Connects, HttpClient};
use crate::record::{Recorder, Stop};
use crate::scenario::{Load, Plan};
use mix::{Instance, Mix, Unit};
use pacer::{Pacer, Shard};
pub use switch::StopSwitch;

/// The seed of phase `i`'s arrivals (and its request mix) in a plan seeded `plan_seed`: one
/// function, so the simulator draws the very schedule a run sends.
pub fn phase_seed(plan_seed: u64, i: usize) -> u64 {
    plan_seed.wrapping_mul(1_000_003).wrapping_add(i as u64)
}

/// The seed of arrival `k`'s draws (its request kind, keys, rows), from the phase's: each
/// arrival draws from its own stream, so it draws the same on whichever shard sends it
/// (splitmix64's finalizer spreads neighbouring indices apart).
fn arrival_seed(phase_seed: u64, k: u64) -> u64 {
    let mut z = (phase_seed ^ 0x9e37_79b9_7f4a_7c15).wrapping_add(k.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// How long a stopped run waits for the requests in flight.
const STOPPED_GRACE: Duration = Duration::from_secs(2);

/// One arrival's work.
enum Work {
    /// A standalone request.
    One(mix::Prepared),
    /// A flow instance, its first step rendered (so a data file's end stops the dispatcher).
    Flow {
        /// Which flow.
        flow: usize,
        /// Its first request.
        first: mix::Prepared,
        /// Its rows and captures.
        inst: Instance,
        /// The seed of its later steps' renderings.
        seed: u64,
    },
}

/// Shared state of one run.
pub struct Engine {
    /// The plan.
    pub plan: Arc<Plan>,
    /// What was measured.
    pub recorder: Arc<Mutex<Recorder>>,
    /// Requests in flight now.
    pub in_flight: Arc<AtomicU64>,
    /// When the measured phases began.
    pub start: Instant,
    /// Thrown to stop early (a signal, an abort-on-fail threshold, a dead target).
    pub stop: StopSwitch,
    /// Index of the phase running now.
    pub phase_now: Arc<AtomicU64>,
    /// When the last phase ended (or the run was stopped), before in-flight requests drained.
    phases_end: Mutex<Option<Instant>>,
    /// The general client (https, HTTP/2), shared by every target.
    client: HttpClient,
    /// Its connector, which opens connections before the start.
    connector: Connector,
    /// Every connection opened, before the start and during the run.
    pub connects: Arc<Connects>,
    /// `[target]` and then each `[targets.NAME]`: pool, prefix, timeout, authorizer.
    endpoints: Vec<endpoint::Endpoint>,
    /// Which request to send next and how it reads.
    mix: Mix,
    /// What a failing check's body must not show (the scenario's own secrets).
    secrets: Vec<String>,
    /// The counts of arrivals left unsent at a phase's end, still running.
    counting: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// The share of the schedule this host sends (all of it but on a fleet worker).
    shard: Shard,
    /// The plan's time at `start`: where in the plan this engine's window begins (0 but on a
    /// fleet worker running a later segment).
    origin: Duration,
    /// The plan's time at which this engine's window ends (`Duration::MAX`: the plan's end).
    until: Duration,
    /// Each open phase's schedule advanced to the window, and its first arrival there
    /// ([`Engine::prepare_window`]).
    prepared: Mutex<Vec<Option<Prepared>>>,
    /// The drain is over: no flow step starts any more.
    drained: AtomicBool,
}

/// A phase's schedule and its next arrival.
type Prepared = (Pacer, Option<(u64, Duration)>);

impl Engine {
    /// An engine for `plan` against `base` (and its `[targets.NAME]` at their own URLs).
    pub fn new(plan: Arc<Plan>, base: &str, (client, connector): (HttpClient, Connector), stop: StopSwitch) -> Self {
        let mut rec = Recorder::new(plan.requests.len(), plan.phases.len());
        rec.flows = vec![crate::record::flows::FlowSum::default(); plan.flows.len()];
        let recorder = Arc::new(Mutex::new(rec));
        let connects = connector.connects().clone();
        let endpoints = endpoint::Endpoint::all(&plan, base, &connects);
        let prefixes: Vec<&str> = endpoints.iter().map(|e| e.prefix.as_str()).collect();
        let mix = Mix::new(&plan, &prefixes);
        let secrets = plan.secrets();
        Self {
            secrets,
            plan,
            client,
            connector,
            connects,
            phases_end: Mutex::new(None),
            endpoints,
            mix,
            recorder,
            in_flight: Arc::new(AtomicU64::new(0)),
            start: Instant::now(),
            stop,
            phase_now: Arc::new(AtomicU64::new(0)),
            counting: Mutex::new(Vec::new()),
            shard: Shard::WHOLE,
            origin: Duration::ZERO,
            until: Duration::MAX,
            prepared: Mutex::new(Vec::new()),
            drained: AtomicBool::new(false),
        }
    }

    /// Sends only the arrivals due from `from` to `until` of the plan's time — a segment of a
    /// plan longer than one Lambda invoke may run — with `start` standing for `from`. Seconds
    /// and the measured time stay the plan's, so segments merge as one run.
    pub fn with_window(mut self, from: Duration, until: Duration) -> Self {
        self.origin = from;
        self.until = until;
        self
    }

    /// Whether this engine's window reaches the plan's end (a single host's always does).
    fn last_window(&self) -> bool {
        self.until >= self.plan.duration()
    }

    /// Before the start of a window that begins after the plan's: advances each open phase's
    /// schedule to it and replays this shard's earlier arrivals through the mix, unsent, so the
    /// counters they draw from (`{seq}`, a data file's next row) stand where one host's would.
    /// Blocking, and as long as the earlier arrivals are many: call it in the lead before the
    /// start, never on the schedule. (A plan whose later flow steps or closed-model users draw
    /// from counters cannot be replayed so; [`crate::fleet::cut`] runs it in one segment.)
    pub fn prepare_window(&self) {
        if self.origin.is_zero() {
            return;
        }
        let mut phase_start = Duration::ZERO;
        let mut prepared = Vec::new();
        for (i, phase) in self.plan.phases.iter().enumerate() {
            let seed = phase_seed(self.plan.seed, i);
            let pacer = Pacer::new(&phase.load, phase.duration, phase.arrivals, seed).map(|p| p.sharded(self.shard));
            prepared.push(pacer.map(|mut p| {
                let mut rng = fastrand::Rng::new();
                let mut next = p.next_arrival();
                while let Some((k, _)) = next.filter(|(_, offset)| phase_start + *offset < self.origin) {
                    rng.seed(arrival_seed(seed, k));
                    let _ = self.next_work(&mut rng);
                    next = p.next_arrival();
                }
                (p, next)
            }));
            phase_start += phase.duration;
        }
        *self.prepared.lock().unwrap_or_else(|e| e.into_inner()) = prepared;
    }

    /// The plan's time at `at`.
    pub fn plan_time(&self, at: Instant) -> Duration {
        self.origin + at.saturating_duration_since(self.start)
    }

    /// The instant of the plan's time `t` (at least `start`).
    fn instant_at(&self, t: Duration) -> Instant {
        self.start + t.saturating_sub(self.origin)
    }

    /// Sends only `shard`'s share of the schedule: its arrivals, its closed-model users, its
    /// share of every counter — what a fleet worker does.
    pub fn with_shard(mut self, shard: Shard) -> Self {
        self.shard = shard;
        self.mix.set_shard(shard);
        self
    }

    /// Authorizes the requests of each target with its authorizer: `[target]`'s first, then
    /// each `[targets.NAME]`'s in the plan's order.
    pub fn with_auth(mut self, auth: Vec<Option<Arc<crate::auth::Authorizer>>>) -> Self {
        for (e, a) in self.endpoints.iter_mut().zip(auth) {
            e.auth = a;
        }
        self
    }

    /// Opens each target's first connections ([`Plan::opening_connections`] to every target
    /// some request goes to) before the schedule, so their connect and TLS time is a figure of
    /// its own and not in the first requests' latency; the clock starts after them. Bounded by
    /// the longest request timeout: a target that does not answer then meets the run's requests.
    /// The caller races it with the stop switch.
    pub async fn open_connections(mut self) -> Self {
        let n = self.plan.opening_connections();
        if n > 0 {
            let used: std::collections::BTreeSet<usize> =
                (0..self.plan.requests.len()).map(|i| endpoint::index_of(&self.plan, i)).collect();
            let longest = self.endpoints.iter().map(|e| e.timeout).max().unwrap_or(self.plan.target.timeout);
            // All targets at once: the first's connections do not idle while the others open.
            let opening =
                futures_util::future::join_all(used.iter().map(|&i| self.endpoints[i].preopen(n, &self.connector)));
            let _ = tokio::time::timeout(longest, opening).await;
        }
        self.connects.start();
        self.start = Instant::now();
        self
    }

    fn stopped(&self) -> bool {
        self.stop.is_stopped()
    }

    /// Whether no new flow step starts: the run was stopped, the drain is over, or the plan's
    /// last phase has ended. A window that ends before the plan's end lets its flow instances
    /// run on through the drain, as one host would past that instant.
    fn over(&self) -> bool {
        self.stopped()
            || self.drained.load(Ordering::SeqCst)
            || (self.last_window() && self.phases_end.lock().unwrap_or_else(|e| e.into_inner()).is_some())
    }

    /// Whether a flow instance thinking between steps holds its place in flight: in a window
    /// that ends before the plan's end it does, so the drain waits for it.
    fn holds_while_thinking(&self) -> bool {
        !self.last_window()
    }

    /// What the next arrival does, its first request rendered; `Err` when a `unique` data file
    /// has run out (the run is then stopped).
    fn next_work(&self, rng: &mut fastrand::Rng) -> Option<Work> {
        let work = match self.mix.draw(rng) {
            Unit::Request(i) => self.mix.render(i, rng, &mut Instance::default()).map(Work::One),
            Unit::Flow(f) => {
                let flow = &self.plan.flows[f];
                let mut inst = Instance::new(flow.captures.len());
                self.mix.render(flow.steps[0].request, rng, &mut inst).map(|first| Work::Flow {
                    flow: f,
                    first,
                    inst,
                    seed: rng.u64(..),
                })
            }
        };
        match work {
            Ok(w) => Some(w),
            Err(mix::Exhausted(file)) => {
                self.stop.stop(Stop::DataExhausted { file });
                None
            }
        }
    }

    /// Does one arrival's work, due at `due`; the caller has counted its first request in
    /// `in_flight`. A flow starts no step after `deadline` (a closed phase's end: its users
    /// stop there).
    /// Sends one arrival's work; false when it found no file descriptor to send with (a
    /// flow's answer says only whether its first step did).
    async fn work(&self, phase: usize, work: Work, due: Instant, deadline: Option<Instant>) -> bool {
        match work {
            Work::One(p) => !self.send(phase, p, due, send::Part::Arrival).await.no_socket,
            Work::Flow { flow, first, inst, seed } => {
                let run = flow::Run { phase, flow, due, seed, deadline };
                self.flow(run, first, inst).await
            }
        }
    }

    /// The measured duration: from the start to the end of the last phase that ran (or the
    /// stop), not including the drain of in-flight requests — rates divide by it.
    pub fn measured(&self) -> Duration {
        self.phases_end
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map_or_else(|| self.plan_time(Instant::now()), |end| self.plan_time(end))
    }

    /// The second (since the start) in which the last phase ended, once it has.
    pub fn phases_ended_second(&self) -> Option<usize> {
        let end = *self.phases_end.lock().unwrap_or_else(|e| e.into_inner());
        end.map(|e| self.plan_time(e).as_secs() as usize)
    }

    /// Runs every phase in order; returns when done or stopped, after in-flight requests
    /// finish (at most the request timeout, or 2 s when stopped).
    pub async fn run(self: &Arc<Self>) {
        // Phases are walked in the plan's time; those wholly outside the window are skipped.
        let mut phase_start = Duration::ZERO;
        for (i, phase) in self.plan.phases.iter().enumerate() {
            let phase_end = phase_start + phase.duration;
            if self.stopped() || phase_start >= self.until {
                break;
            }
            if phase_end <= self.origin {
                phase_start = phase_end;
                continue;
            }
            self.phase_now.store(i as u64, Ordering::Relaxed);
            let seed = phase_seed(self.plan.seed, i);
            let end = self.instant_at(phase_end.min(self.until));
            match &phase.load {
                Load::Closed { users, think } => self.closed(i, *users, *think, end, seed).await,
                _ => {
                    let ready =
                        self.prepared.lock().unwrap_or_else(|e| e.into_inner()).get_mut(i).and_then(Option::take);
                    let ready = ready.unwrap_or_else(|| {
                        let mut p = Pacer::new(&phase.load, phase.duration, phase.arrivals, seed)
                            .expect("open model")
                            .sharded(self.shard);
                        let first = p.next_arrival();
                        (p, first)
                    });
                    self.open(i, ready, (phase_start, end), seed).await;
                    tokio::select! {
                        _ = tokio::time::sleep_until(end.into()) => {}
                        _ = self.stop.stopped() => {}
                    }
                }
            }
            phase_start = phase_end;
        }
        let ended = self.instant_at(phase_start.min(self.until));
        *self.phases_end.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now().min(ended));
        let longest = self.endpoints.iter().map(|e| e.timeout).max().unwrap_or(self.plan.target.timeout);
        let grace = if self.stopped() { STOPPED_GRACE } else { longest + Duration::from_millis(100) };
        let mut until = Instant::now() + grace;
        let mut stopped = self.stopped();
        while self.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < until && !self.stop.is_hurried() {
            // A stop during the drain shortens it; a second signal ends it.
            if !stopped && self.stopped() {
                stopped = true;
                until = until.min(Instant::now() + STOPPED_GRACE);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.drained.store(true, Ordering::SeqCst);
        let counting = std::mem::take(&mut *self.counting.lock().unwrap_or_else(|e| e.into_inner()));
        for c in counting {
            let _ = c.await;
        }
    }

    /// Sends the phase's schedule. The sends in flight are futures of this one task rather
    /// than a task each: a new send is first polled — and written — the moment it is due, not
    /// after whatever else the scheduler had queued, and no task is allocated per request.
    /// When the schedule ends, what is still in flight is handed to a task that drains it.
    ///
    /// The phase ends at its planned end whatever is left: arrivals the in-flight bound or the
    /// machine held back until then are not sent late into the next phase (or past the run's
    /// end, which would inflate the achieved rate), but counted as not sent.
    ///
    /// `phase_start` is the plan's time; only the arrivals in this engine's window are sent.
    async fn open(
        self: &Arc<Self>,
        phase: usize,
        (mut pacer, mut next): Prepared,
        (phase_start, end): (Duration, Instant),
        seed: u64,
    ) {
        let mut rng = fastrand::Rng::new();
        let mut stop = self.stop.watch();
        let max = self.plan.target.max_in_flight;
        let mut inflight = FuturesUnordered::new();
        let mut wake = timer::Wake::new();
        // An arrival due just before the end still goes if it is no more than late (5 ms): a
        // timer's ordinary lag at the last send must not read as a generator falling behind.
        let cutoff = end + Duration::from_micros(crate::record::recorder::LATE_US);
        let phase_over = tokio::time::sleep_until(cutoff.into());
        tokio::pin!(phase_over);
        let in_window = |t: Duration| t >= self.origin && t < self.until;
        // An earlier segment's arrivals (when not prepared): another worker's invoke sent them.
        while next.is_some_and(|(_, offset)| phase_start + offset < self.origin) {
            next = pacer.next_arrival();
        }
        while let Some((k, offset)) = next.filter(|(_, offset)| in_window(phase_start + *offset)) {
            if self.stopped() || Instant::now() >= cutoff {
                break;
            }
            let due = self.instant_at(phase_start + offset);
            if inflight.len() >= max || due > Instant::now() + timer::WINDOW {
                // Not due yet, or the in-flight bound is reached (the lateness then shows):
                // meanwhile, drive what is in flight.
                tokio::select! {
                    biased;
                    _ = stop.wait_for(|s| *s) => break,
                    _ = &mut phase_over => break,
                    Some(()) = inflight.next(), if !inflight.is_empty() => continue,
                    _ = wake.until(due), if inflight.len() < max => {}
                }
                // The fallback timer may wake up to half a tick early: send then.
            }
            rng.seed(arrival_seed(seed, k));
            let Some(work) = self.next_work(&mut rng) else { break };
            let me = self.clone();
            // Counted before the send runs, so the final drain waits for it too.
            self.in_flight.fetch_add(1, Ordering::SeqCst);
            inflight.push(async move {
                me.work(phase, work, due, None).await;
            });
            next = pacer.next_arrival();
        }
        // What the schedule still held when the phase ended (a stop is said otherwise),
        // counted off the runtime: a long saturated phase may leave millions, and the next
        // phase starts now.
        if next.is_some_and(|(_, offset)| in_window(phase_start + offset)) && !self.stopped() {
            let (rec, until) = (self.recorder.clone(), self.until);
            let counted = tokio::task::spawn_blocking(move || {
                let owed = std::iter::from_fn(|| pacer.next_due()).take_while(|o| phase_start + *o < until);
                let left = 1 + owed.count() as u64;
                rec.lock().unwrap_or_else(|e| e.into_inner()).not_sent[phase] += left;
            });
            self.counting.lock().unwrap_or_else(|e| e.into_inner()).push(counted);
        }
        if !inflight.is_empty() {
            tokio::spawn(async move { while inflight.next().await.is_some() {} });
        }
    }

    async fn closed(self: &Arc<Self>, phase: usize, users: u32, think: Duration, end: Instant, seed: u64) {
        let done = Arc::new(AtomicBool::new(false));
        let shard = self.shard;
        let tasks: Vec<_> = (0..users)
            .filter(|u| shard.owns(u64::from(*u)))
            .map(|u| {
                let me = self.clone();
                let done = done.clone();
                tokio::spawn(async move {
                    let mut rng = fastrand::Rng::with_seed(seed ^ (u as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d));
                    while Instant::now() < end && !me.stopped() && !done.load(Ordering::Relaxed) {
                        let Some(work) = me.next_work(&mut rng) else { break };
                        // A closed model waits for each answer by design: the send is the
                        // intended time, so its latency is service time.
                        me.in_flight.fetch_add(1, Ordering::SeqCst);
                        if !me.work(phase, work, Instant::now(), Some(end)).await {
                            // Out of descriptors: a user with no think time would spin on
                            // failing connects and starve the signal and progress tasks.
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                        if !think.is_zero() {
                            tokio::time::sleep(think.min(end.saturating_duration_since(Instant::now()))).await;
                        }
                    }
                })
            })
            .collect();
        tokio::select! {
            _ = tokio::time::sleep_until(end.into()) => {}
            _ = self.stop.stopped() => {}
        }
        done.store(true, Ordering::Relaxed);
        for t in tasks {
            let _ = t.await;
        }
    }
}
