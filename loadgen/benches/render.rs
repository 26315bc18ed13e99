//! Render benchmark: a 1-hour run (3,600 s of series, 20 request names, 3 phases, two outcome
//! classes per cell) built from the sample fixture, rendered to report.html, junit.xml and
//! summary.md. Goal (issue #5): report.html in < 2 s and < 3 MB. Run with
//! `cargo bench -p loadgen --bench render`.

use std::time::Instant;

use loadgen::record::Second;
use loadgen::record::{Class, ClassCounts};
use loadgen::report;
use loadgen::results::{HistogramCell, Results, encode};

fn hour_long() -> Results {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sample-results.json");
    let mut r: Results = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut rng = fastrand::Rng::with_seed(7);
    let template = r.requests[0].clone();
    r.requests = (0..20)
        .map(|i| {
            let mut q = template.clone();
            q.name = format!("request-{i:02}");
            q
        })
        .collect();
    let phase = r.phases[0].clone();
    r.phases = ["warm-up", "plateau", "spike"]
        .iter()
        .map(|n| {
            let mut p = phase.clone();
            p.name = (*n).into();
            p.duration_s = 1200.0;
            p
        })
        .collect();
    r.duration_s = 3600.0;
    r.series = (0..3600)
        .map(|t| {
            let base = 20.0 + 5.0 * ((t as f64) / 60.0).sin();
            let mut completed = ClassCounts::default();
            completed.add(Class::Ok, 900 + rng.u64(0..200));
            completed.add(Class::LambdaThrottled, if (2400..2700).contains(&t) { rng.u64(0..300) } else { 0 });
            Second {
                t,
                sent: completed.total(),
                completed,
                p50_ms: base,
                p90_ms: base * 3.0 + rng.f64() * 10.0,
                p99_ms: base * 6.0 + rng.f64() * 50.0,
                max_ms: base * 10.0 + rng.f64() * 200.0,
                other_p50_ms: if (2400..2700).contains(&t) { 3.0 + rng.f64() } else { 0.0 },
                other_p99_ms: if (2400..2700).contains(&t) { 8.0 + rng.f64() * 4.0 } else { 0.0 },
                in_flight: rng.u64(5..40),
                cold_starts: if rng.u8(..) < 8 { rng.u64(1..4) } else { 0 },
            }
        })
        .collect();
    if let Some(cw) = r.cloudwatch.as_mut() {
        cw.concurrency_series = (0..3600).map(|t| [t as f64, rng.f64() * 10.0]).collect();
    }
    r.histograms.clear();
    for q in &r.requests {
        for p in &r.phases {
            for class in [Class::Ok, Class::LambdaThrottled] {
                let mut lat = loadgen::record::histogram::new();
                let mut svc = loadgen::record::histogram::new();
                for _ in 0..20_000 {
                    let v = (rng.f64().powi(4) * 2_000_000.0) as u64 + 2_000;
                    lat.record(v).unwrap();
                    svc.record(v - 1_000).unwrap();
                }
                r.histograms.push(HistogramCell {
                    request: q.name.clone(),
                    phase: p.name.clone(),
                    class,
                    latency: encode(&lat),
                    service_time: encode(&svc),
                });
            }
        }
    }
    r
}

fn main() {
    let r = hour_long();
    let json = serde_json::to_string(&r).unwrap();
    println!(
        "input: {} s of series, {} request names, {} histogram cells, results.json {:.1} MB",
        r.series.len(),
        r.requests.len(),
        r.histograms.len(),
        json.len() as f64 / 1e6
    );
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..5 {
        let t = Instant::now();
        // What `loadgen report` does: parse the document, then render all three files.
        let doc: Results = serde_json::from_str(&json).unwrap();
        let html = report::html::render(&doc);
        let junit = report::junit::render(&doc);
        let md = report::markdown::render(&doc);
        times.push(t.elapsed().as_secs_f64());
        size = html.len();
        std::hint::black_box((junit, md));
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "render (parse + report.html + junit.xml + summary.md): median {:.3} s of 5 (min {:.3}, max {:.3}); report.html {:.2} MB",
        median,
        times[0],
        times[times.len() - 1],
        size as f64 / 1e6
    );
    println!("goal: < 2 s and < 3 MB — {}", if median < 2.0 && size < 3_000_000 { "met" } else { "NOT met" });
    live_view(&r);
}

/// What the live view costs a run: the monitor's snapshot and the terminal block it draws, five
/// times a second, an hour into a run of 20 request kinds × 3 phases × 2 classes.
fn live_view(r: &Results) {
    use loadgen::record::{Recorder, Sample};
    let mut rec = Recorder::new(20, 3);
    let mut rng = fastrand::Rng::with_seed(9);
    for t in 0..3_600 {
        for _ in 0..20 {
            let class = if rng.u8(..) < 40 { Class::LambdaThrottled } else { Class::Ok };
            let latency_us = rng.u64(2_000..200_000);
            let (request, phase) = (rng.usize(..20), t / 1_200);
            rec.sent(phase, t, 100);
            rec.record(&Sample {
                request,
                phase,
                class,
                latency_us,
                service_us: latency_us,
                cold: false,
                billed_ms: None,
                diag: None,
                second: t,
                heuristic_mismatch: false,
                gateway_denied: false,
            });
        }
    }
    rec.close_seconds_before(3_600);
    let plan = &r.scenario;
    let planned = plan.duration();
    let rounds = 20_000;
    let t = Instant::now();
    for i in 0..rounds {
        let elapsed = std::time::Duration::from_millis(3_600_000 + i % 1000);
        let s = loadgen::attack::monitor::snapshot(plan, &rec, 3_600, (elapsed, planned, 9));
        std::hint::black_box(loadgen::cmd::live_view::view("bench", &s, 100, Some(8)));
    }
    let per_us = t.elapsed().as_secs_f64() * 1e6 / rounds as f64;
    // The generator's CPU at 10,000 req/s against a 10 ms server: 21.3 µs per request, the
    // lowest figure bench/generators.py has printed (docs/performance.md's table) — so the share
    // below is the largest it could be. Not measured in this run.
    let generator_us_per_s = 21.3 * 10_000.0;
    println!(
        "live view (snapshot + a 100-column block): {per_us:.1} µs per redraw, {:.0} µs of CPU a second at 5 redraws \
         = {:.3}% of the generator's CPU at 10,000 req/s (goal ≤ 1%) — {}",
        per_us * 5.0,
        per_us * 5.0 / generator_us_per_s * 100.0,
        if per_us * 5.0 / generator_us_per_s <= 0.01 { "met" } else { "NOT met" }
    );
}
