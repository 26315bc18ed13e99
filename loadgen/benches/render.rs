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
}
