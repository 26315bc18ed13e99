//! Recorder → results document: the summaries per run, phase and request kind, generator
//! health, the series and every histogram cell, from what the attack recorded.

use std::time::Duration;

use super::ChecksResult;
use super::summary::summarize;
use super::{
    Environment, GeneratorHealth, HistogramCell, PhaseResult, RequestResult, Results, SCHEMA, Stats, Status,
    TargetInfo, TargetResult, encode,
};
use crate::record::histogram::{max_ms, quantile_ms};
use crate::record::{Recorder, Stop};
use crate::scenario::Plan;

/// A generator whose scheduling lag p99 is above this, ms, did not keep the schedule.
const SATURATED_LAG_P99_MS: f64 = 10.0;
/// … nor did one that sent more than this share of requests late.
const SATURATED_LATE_SHARE: f64 = 0.01;

/// What the run itself knows besides the recorder.
pub struct RunFacts {
    /// The measured duration (the phases, without the final drain).
    pub measured: Duration,
    /// CPU seconds the process used during the phases.
    pub cpu_seconds: f64,
    /// Why it stopped early, if it did.
    pub stop: Option<Stop>,
    /// Where the load went.
    pub target: TargetInfo,
    /// When the phases began.
    pub started: time::OffsetDateTime,
    /// When they ended.
    pub finished: time::OffsetDateTime,
    /// The connections opened, before the start and during the run.
    pub connections: super::ConnectionStats,
}

/// To the millisecond: the nanoseconds a clock gives are noise to every reader.
fn rfc3339(t: time::OffsetDateTime) -> String {
    let t = t.replace_millisecond(t.millisecond()).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

impl Results {
    /// The document of a finished run, before cost and threshold verdicts are added
    /// ([`Results::set_verdicts`]). Until then a plan with thresholds does not pass: a caller
    /// that forgets the verdicts never gets a false PASS.
    pub fn from_run(plan: &Plan, rec: &Recorder, facts: RunFacts) -> Results {
        let secs = facts.measured.as_secs_f64().max(1e-9);
        let sent = rec.sent_total();
        let open: Vec<_> =
            plan.phases.iter().filter_map(|p| p.load.mean_rate().map(|r| (r, p.duration.as_secs_f64()))).collect();
        let open_secs: f64 = open.iter().map(|(_, d)| d).sum();
        let target_rate = (open_secs > 0.0).then(|| open.iter().map(|(r, d)| r * d).sum::<f64>() / open_secs);
        let base = facts.target.url.clone();
        Results {
            schema: SCHEMA.into(),
            status: match &facts.stop {
                None => Status::Completed,
                Some(Stop::LostShards { .. }) => Status::Partial,
                Some(_) => Status::Aborted,
            },
            abort_reason: facts.stop.as_ref().map(ToString::to_string),
            passed: plan.thresholds.is_empty(),
            scenario: plan.clone(),
            target: facts.target,
            environment: Environment {
                loadgen_version: env!("CARGO_PKG_VERSION").into(),
                os: format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH),
                cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
                started_at: rfc3339(facts.started),
                finished_at: rfc3339(facts.finished),
            },
            duration_s: secs,
            target_rate,
            achieved_rate: sent as f64 / secs,
            generator: generator(plan, rec, facts.cpu_seconds, facts.connections),
            totals: summarize(rec, None, None),
            phases: phases(plan, rec, secs),
            requests: requests(plan, rec),
            flows: flows(plan, rec),
            targets: targets(plan, rec, &base),
            gateway_denied: rec.gateway_denied,
            thresholds: Vec::new(),
            series: rec.series.clone(),
            cost: None,
            cost_unknown: None,
            cloudwatch: None,
            calibration: None,
            histograms: cells(plan, rec),
            fleet: None,
        }
    }
}

impl Results {
    /// What the cost stage prices: the run as `[target]` saw it. With `[targets.NAME]`s the
    /// totals, the refusals at authorization and the request kinds (in the plan and in the
    /// results alike, so their indices still match) are `[target]`'s alone — a named target's
    /// stack is not known, and CloudWatch's counts of `[target]`'s are compared with its
    /// requests only. Phases keep every arrival: a month is priced per arrival then.
    pub fn priced_view(&self) -> std::borrow::Cow<'_, Results> {
        // (The view's own plan names no target then: [`Results::sends_elsewhere`] still says.)
        let Some(default) = self.targets.first().filter(|_| self.scenario.has_named_targets()) else {
            return std::borrow::Cow::Borrowed(self);
        };
        let mut view = self.clone();
        view.totals = default.summary.clone();
        view.gateway_denied = default.gateway_denied;
        // Old index → new, for the flows' steps.
        let mut kept = Vec::with_capacity(self.scenario.requests.len());
        let mut next = 0;
        for q in &self.scenario.requests {
            kept.push(q.target.is_none().then(|| {
                next += 1;
                next - 1
            }));
        }
        view.scenario.requests.retain(|q| q.target.is_none());
        view.requests.retain(|q| q.target.is_none());
        for f in &mut view.scenario.flows {
            f.steps.retain(|s| kept.get(s.request).copied().flatten().is_some());
            for s in &mut f.steps {
                s.request = kept[s.request].unwrap_or(0);
            }
        }
        std::borrow::Cow::Owned(view)
    }
}

impl Results {
    /// Whether some request kinds went to a `[targets.NAME]` — true of a priced view too.
    pub fn sends_elsewhere(&self) -> bool {
        self.targets.iter().skip(1).any(|t| !t.requests.is_empty())
    }
}

fn generator(plan: &Plan, rec: &Recorder, cpu_seconds: f64, connections: super::ConnectionStats) -> GeneratorHealth {
    let sent = rec.sent_total();
    let lag_p99_ms = quantile_ms(&rec.lag, 0.99);
    let not_sent: u64 = rec.not_sent.iter().sum();
    GeneratorHealth {
        late_sends: rec.late_sends,
        not_sent,
        out_of_files: rec.out_of_files,
        saturated: rec.out_of_files > 0
            || lag_p99_ms > SATURATED_LAG_P99_MS
            || (sent > 0 && rec.late_sends as f64 / sent as f64 > SATURATED_LATE_SHARE)
            // As with late sends: a share, so one last arrival held up at a phase's end on a
            // busy machine does not brand the run (the count is always shown).
            || (sent + not_sent > 0 && not_sent as f64 / (sent + not_sent) as f64 > SATURATED_LATE_SHARE),
        lag_p50_ms: quantile_ms(&rec.lag, 0.5),
        lag_p99_ms,
        lag_max_ms: max_ms(&rec.lag),
        cpu_seconds,
        max_in_flight: plan.target.max_in_flight,
        heuristic_mismatches: rec.heuristic_mismatches,
        connections,
        clock_skewed: 0,
    }
}

fn phases(plan: &Plan, rec: &Recorder, secs: f64) -> Vec<PhaseResult> {
    let mut phase_start = 0.0;
    plan.phases
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let planned = p.duration.as_secs_f64();
            let ran = (secs - phase_start).clamp(0.0, planned);
            phase_start += planned;
            let summary = summarize(rec, None, Some(i));
            PhaseResult {
                name: p.name.clone(),
                duration_s: planned,
                target_rate: p.load.mean_rate(),
                sent: rec.sent[i],
                not_sent: rec.not_sent.get(i).copied().unwrap_or(0),
                lost: rec.lost.get(i).copied().unwrap_or(0),
                achieved_rate: if ran > 0.0 { rec.sent[i] as f64 / ran } else { 0.0 },
                summary,
            }
        })
        .collect()
}

fn flows(plan: &Plan, rec: &Recorder) -> Vec<super::FlowResult> {
    plan.flows
        .iter()
        .zip(&rec.flows)
        .map(|(f, sum)| super::FlowResult {
            name: f.name.clone(),
            steps: f.steps.iter().map(|s| plan.requests[s.request].name.clone()).collect(),
            started: sum.started,
            completed: sum.completed,
            failed: sum.failed,
            cut: sum.cut(),
            duration: Stats::of(&sum.duration),
        })
        .collect()
}

fn requests(plan: &Plan, rec: &Recorder) -> Vec<RequestResult> {
    plan.requests
        .iter()
        .enumerate()
        .map(|(i, r)| RequestResult {
            name: r.name.clone(),
            method: r.method.clone(),
            path: r.path.text().to_owned(),
            summary: summarize(rec, Some(&[i]), None),
            cold_latency: rec.cold[i].as_ref().map(Stats::of).unwrap_or_default(),
            warm_latency: rec.warm[i].as_ref().map(Stats::of).unwrap_or_default(),
            diagnostics: rec.diag[i].into(),
            target: r.target.clone(),
            checks: r.is_checked().then(|| {
                let c = &rec.checks[i];
                ChecksResult {
                    checked: c.checked,
                    failed: c.failed,
                    rate: if c.checked == 0 { 0.0 } else { c.failed as f64 / c.checked as f64 },
                    failures: c.first.clone(),
                }
            }),
        })
        .collect()
}

/// Per target, when the plan names any: `[target]` (at `base`) as `default`, then each
/// `[targets.NAME]`, each summarizing the request kinds sent to it.
fn targets(plan: &Plan, rec: &Recorder, base: &str) -> Vec<TargetResult> {
    if plan.targets.is_empty() {
        return Vec::new();
    }
    let rows = std::iter::once(("default", base)).chain(plan.targets.iter().map(|t| (t.name.as_str(), t.url.as_str())));
    rows.map(|(name, url)| {
        let kinds = plan.scope_requests(name).unwrap_or_default();
        TargetResult {
            name: name.to_owned(),
            url: url.to_owned(),
            requests: kinds.iter().map(|&i| plan.requests[i].name.clone()).collect(),
            summary: summarize(rec, Some(&kinds), None),
            gateway_denied: kinds.iter().filter_map(|&i| rec.denied.get(i)).sum(),
        }
    })
    .collect()
}

/// Every non-empty cell, sorted for deterministic output.
fn cells(plan: &Plan, rec: &Recorder) -> Vec<HistogramCell> {
    let mut keys: Vec<_> = rec.cells.keys().copied().collect();
    keys.sort();
    keys.into_iter()
        .map(|k| {
            let cell = &rec.cells[&k];
            HistogramCell {
                request: plan.requests[k.0].name.clone(),
                phase: plan.phases[k.1].name.clone(),
                class: k.2,
                latency: encode(&cell.latency),
                service_time: encode(&cell.service),
            }
        })
        .collect()
}
