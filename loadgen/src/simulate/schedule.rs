//! The plan's offered load through the model: every open-model phase's arrivals from the same
//! pacer and seeds a run uses, one function carrying its state (busy and warm environments,
//! token buckets) from phase to phase as the real stack does, counted per window of constant
//! offered rate — a constant phase, each step of a steps phase, a ramp as a whole — after the
//! seeding writes a run makes first. Closed-model phases have no offered rate: the model lets
//! their time pass with nothing arriving.

use hdrhistogram::Histogram;

use crate::attack::pacer::Pacer;
use crate::attack::phase_seed;
use crate::scenario::{Arrivals, Load, Plan};

use super::dynamodb::{Served, Table, TableSpec};
use super::gateway::Gateway;
use super::lambda::{Admission, FunctionModel, FunctionSpec, Holds};

/// Simulated arrivals at most over every replication: enough replications to smooth a short
/// plan, few enough that a long one costs about a second per configuration.
const SIMULATED_ARRIVALS: f64 = 2_000_000.0;
/// Replications at most.
const REPLICATIONS: u32 = 20;

/// Replications for `plan`: as many as [`SIMULATED_ARRIVALS`] allows, 1 to [`REPLICATIONS`].
pub fn replications(plan: &Plan) -> u32 {
    let arrivals: f64 = plan.phases.iter().map(|p| p.load.mean_rate().unwrap_or(0.0) * p.duration.as_secs_f64()).sum();
    (SIMULATED_ARRIVALS / arrivals.max(1.0)).clamp(1.0, f64::from(REPLICATIONS)) as u32
}

/// One stretch of the plan at one offered rate, with what the model did in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// The phase's name, with the step (`name step 2/4`) for a steps phase.
    pub label: String,
    /// Start and end, seconds since the measured phases began.
    pub start_s: f64,
    /// End, s.
    pub end_s: f64,
    /// Offered rate, req/s (a ramp's mean).
    pub rate: f64,
    /// True for a ramp (the rate is a mean over a changing load).
    pub ramp: bool,
    /// Arrivals spacing.
    pub arrivals: Arrivals,
    /// Arrivals simulated (over every replication).
    pub offered: u64,
    /// Of them, throttled by API Gateway (429, never reaching Lambda).
    pub apigw_throttled: u64,
    /// Of them, throttled by Lambda.
    pub throttled: u64,
    /// Of them, admitted by Lambda and answered `dynamodb_throttled` (a DynamoDB call still
    /// throttled after the function's retries); 0 when the table is not simulated.
    pub dynamodb_throttled: u64,
    /// DynamoDB `(read, write)` units the admitted calls consumed, when the table is simulated.
    pub units: (f64, f64),
    /// Of them, cold starts.
    pub cold_starts: u64,
    /// Billed Lambda milliseconds of the admitted ones.
    pub billed_ms: f64,
    /// Of them, on provisioned environments.
    pub provisioned_billed_ms: f64,
    /// Most environments busy at once.
    pub peak_concurrency: u32,
    /// What became of each of the plan's requests (all 0 when arrivals were not drawn per
    /// request: no gateway, no table and one hold distribution).
    pub by_request: Vec<RequestCounts>,
    /// Latency the client would see for the admitted ones, µs: the hold plus what it waits
    /// beyond it.
    pub ok_latency_us: Histogram<u64>,
}

/// What became of one request kind's arrivals in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestCounts {
    /// Arrivals.
    pub offered: u64,
    /// Throttled by API Gateway.
    pub apigw_throttled: u64,
    /// Throttled by Lambda.
    pub throttled: u64,
    /// Admitted and answered `dynamodb_throttled`.
    pub dynamodb_throttled: u64,
}

impl RequestCounts {
    /// Invocations Lambda admitted.
    pub fn admitted(&self) -> u64 {
        self.offered.saturating_sub(self.apigw_throttled + self.throttled)
    }
}

/// A latency histogram: 1 µs to an hour, three significant digits, as a run's.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds")
}

impl Window {
    /// The simulated throttle share; `None` with no arrivals.
    pub fn throttle_share(&self) -> Option<f64> {
        (self.offered > 0).then(|| self.throttled as f64 / self.offered as f64)
    }
}

/// The windows of `plan`, counts zero.
pub fn windows(plan: &Plan) -> Vec<Window> {
    let mut out = Vec::new();
    let mut start = 0.0;
    for phase in &plan.phases {
        let d = phase.duration.as_secs_f64();
        let window = |label: String, s: f64, e: f64, rate: f64, ramp: bool| Window {
            label,
            start_s: s,
            end_s: e,
            rate,
            ramp,
            arrivals: phase.arrivals,
            offered: 0,
            apigw_throttled: 0,
            throttled: 0,
            dynamodb_throttled: 0,
            units: (0.0, 0.0),
            cold_starts: 0,
            billed_ms: 0.0,
            provisioned_billed_ms: 0.0,
            peak_concurrency: 0,
            by_request: vec![RequestCounts::default(); plan.requests.len()],
            ok_latency_us: latency_histogram(),
        };
        match &phase.load {
            Load::Constant { rate } => out.push(window(phase.name.clone(), start, start + d, *rate, false)),
            Load::Ramp { from, to } => out.push(window(phase.name.clone(), start, start + d, (from + to) / 2.0, true)),
            Load::Steps { rates } => {
                let step = d / rates.len() as f64;
                for (k, r) in rates.iter().enumerate() {
                    let s = start + k as f64 * step;
                    out.push(window(format!("{} step {}/{}", phase.name, k + 1, rates.len()), s, s + step, *r, false));
                }
            }
            Load::Closed { .. } => {}
        }
        start += d;
    }
    out
}

/// Seeding through the API before the measured phases, as a run does it: `[data] items`
/// writes evenly spaced at the seeding rate, through the function, with the seeding's own hold times, counted
/// nowhere — what it leaves is environments warm (and token buckets drawn) when the first phase
/// starts. A run starts its phases once every write has been answered; so does this. Returns
/// when that is, s. (A run retries a throttled write; here it is dropped: the seeding rate
/// stays under the invocation-rate limit, so throttles are rare.)
fn seed(plan: &Plan, spec: &FunctionSpec, holds: &Holds, f: &mut FunctionModel, rng: &mut fastrand::Rng) -> f64 {
    // Seeding straight into the table never reaches the function.
    if plan.data.seed_via != crate::scenario::seed_data::SeedVia::Api {
        return 0.0;
    }
    let items = plan.data.seeded_items();
    let rate = plan.data.seeding_rate(Some(spec.concurrency));
    if items == 0 || rate.is_nan() || rate <= 0.0 {
        return 0.0;
    }
    let writes = holds.for_seeding();
    for n in 0..items {
        f.invoke(n as f64 / rate, &writes, rng);
    }
    let end = f.last_end().max(items as f64 / rate);
    f.advance(end);
    end
}

/// Runs `plan` through one function `replications` times (the first with the run's own
/// arrival seeds, the others with fresh ones; hold times drawn anew each time) and returns its
/// windows with the counts and billed time summed over the replications (peak concurrency:
/// the highest of any). No gateway in front: [`run_with`] has one.
pub fn run(plan: &Plan, spec: &FunctionSpec, holds: &Holds, replications: u32) -> Vec<Window> {
    run_with(plan, spec, holds, Downstream::default(), replications)
}

/// What is simulated around the function: API Gateway in front, the DynamoDB table behind.
#[derive(Debug, Clone, Copy, Default)]
pub struct Downstream<'a> {
    /// API Gateway's throttling, when simulated.
    pub gateway: Option<&'a Gateway>,
    /// The table, when simulated.
    pub table: Option<&'a TableSpec>,
}

/// [`run`] with API Gateway's throttling in front of the function and the table behind it, as
/// `around` gives them: each arrival is then one of the plan's requests, drawn by weight, on its
/// route and with its DynamoDB units.
pub fn run_with(
    plan: &Plan,
    spec: &FunctionSpec,
    holds: &Holds,
    around: Downstream<'_>,
    replications: u32,
) -> Vec<Window> {
    run_windows(plan, spec, (holds, &[]), around, replications)
}

/// [`run_with`] with hold times of their own in some windows: an arrival in window `i` draws
/// from `per_window[i]` when there is one, else from `holds` (which the seeding always uses).
/// The knee explains a measured run this way, each window at the hold times it had.
pub fn run_windows(
    plan: &Plan,
    spec: &FunctionSpec,
    (holds_all, per_window): (&Holds, &[Holds]),
    around: Downstream<'_>,
    replications: u32,
) -> Vec<Window> {
    let holds = holds_all;
    let Downstream { gateway, table } = around;
    let mut out = windows(plan);
    let total: f64 = plan.requests.iter().map(|r| r.weight).sum();
    let mut sum = 0.0;
    let cumulative: Vec<f64> = plan
        .requests
        .iter()
        .map(|r| {
            sum += r.weight / total;
            sum
        })
        .collect();
    // A mix of the plan's own kinds (another scenario's) is drawn per request.
    let by_request = holds.warm.len() > 1 && holds.warm.len() == plan.requests.len();
    let drawn = gateway.is_some() || by_request || table.is_some();
    for rep in 0..u64::from(replications.max(1)) {
        let plan_seed = plan.seed.wrapping_add(rep.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut rng = fastrand::Rng::with_seed(plan_seed ^ 0x5eed_0f40_1d00);
        let mut function = FunctionModel::new(spec.clone());
        let mut throttle = gateway.map(Gateway::throttle);
        let mut db = table.map(Table::new);
        let measured_start = seed(plan, spec, holds, &mut function, &mut rng);
        let mut phase_start = measured_start;
        // Arrival times never decrease, so the window they fall in only moves forward (a
        // traffic curve has thousands).
        let mut at = 0usize;
        for (i, phase) in plan.phases.iter().enumerate() {
            if let Some(mut pacer) = Pacer::new(&phase.load, phase.duration, phase.arrivals, phase_seed(plan_seed, i)) {
                while let Some(offset) = pacer.next_due() {
                    let t = phase_start + offset.as_secs_f64();
                    let since = t - measured_start + 1e-9;
                    while out.get(at + 1).is_some_and(|w| w.start_s <= since) {
                        at += 1;
                    }
                    let Some(w) = out.get_mut(at).filter(|w| w.start_s <= since) else { continue };
                    w.offered += 1;
                    let holds = per_window.get(at).unwrap_or(holds_all);
                    let request = if drawn {
                        let u = rng.f64();
                        cumulative.iter().position(|c| u < *c).unwrap_or(cumulative.len().saturating_sub(1))
                    } else {
                        0
                    };
                    let mut counts = RequestCounts { offered: 1, ..RequestCounts::default() };
                    if let (Some(g), Some(b)) = (gateway, throttle.as_mut())
                        && !b.admit(g.route(request), t)
                    {
                        w.apigw_throttled += 1;
                        counts.apigw_throttled = 1;
                        add(&mut w.by_request[request], counts);
                        continue;
                    }
                    let kind = match (by_request, holds.warm.len()) {
                        (true, _) => request,
                        (false, 1) => 0,
                        (false, _) => holds.warm.pick(&mut rng),
                    };
                    let mut served = None;
                    let admission = match db.as_mut() {
                        Some(db) => function.invoke_with(t, holds, &mut rng, |start, rng| {
                            let s = db.serve(start, holds.warm.sample_kind(kind, rng), request, rng);
                            served = Some(s);
                            s.duration_s
                        }),
                        None => function.invoke_kind(t, holds, kind, &mut rng),
                    };
                    if drawn {
                        counts.throttled = u64::from(matches!(admission, Admission::Throttled(_)));
                        counts.dynamodb_throttled = u64::from(served.is_some_and(|s| s.throttled));
                        add(&mut w.by_request[request], counts);
                    }
                    count(w, admission, served, holds, function.busy());
                }
            }
            phase_start += phase.duration.as_secs_f64();
        }
    }
    out
}

fn add(to: &mut RequestCounts, c: RequestCounts) {
    to.offered += c.offered;
    to.apigw_throttled += c.apigw_throttled;
    to.throttled += c.throttled;
    to.dynamodb_throttled += c.dynamodb_throttled;
}

/// Counts one admission decision, and what the table did to it, into its window.
fn count(w: &mut Window, admission: Admission, served: Option<Served>, holds: &Holds, busy: usize) {
    if let Some(s) = served {
        w.units.0 += s.units.0;
        w.units.1 += s.units.1;
    }
    let dynamodb_throttled = served.is_some_and(|s| s.throttled);
    w.dynamodb_throttled += u64::from(dynamodb_throttled);
    let hold = match admission {
        Admission::Throttled(_) => {
            w.throttled += 1;
            None
        }
        Admission::Cold(h, _) => {
            w.cold_starts += 1;
            Some(h)
        }
        Admission::Provisioned(h) => {
            w.provisioned_billed_ms += admission.billed_ms(holds);
            Some(h)
        }
        Admission::Warm(h) => Some(h),
    };
    if let Some(h) = hold.filter(|_| !dynamodb_throttled) {
        w.ok_latency_us.saturating_record(((h + holds.client_s) * 1e6).round().max(1.0) as u64);
    }
    w.billed_ms += admission.billed_ms(holds);
    w.peak_concurrency = w.peak_concurrency.max(busy as u32);
}
