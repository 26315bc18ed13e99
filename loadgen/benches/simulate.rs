//! Simulator benchmark: simulated requests per second on one core, the figure issue #13 sets at
//! ≥ 2 million (a day at 1,000 req/s in under 45 s). A plan of one hour at 1,000 req/s (3.6 M
//! arrivals, evenly spaced and Poisson) through a function with reserved concurrency 100 and
//! hold times drawn from a log-normal-ish empirical distribution; then a simulated day at
//! 1,000 req/s and the process's peak memory (bounded by environments and histograms, not by
//! arrivals; goal ≤ 64 MiB), and a grid of 100 configurations of a 10-minute plan through the
//! simulator's grid runner with the cores it kept busy. Run with
//! `cargo bench -p loadgen --bench simulate`.

use std::path::Path;
use std::time::Instant;

use loadgen::scenario::Plan;
use loadgen::simulate::hold::Empirical;
use loadgen::simulate::lambda::{FunctionSpec, Holds};
use loadgen::simulate::{grid, schedule};

fn plan(arrivals: &str) -> Plan {
    plan_of(arrivals, "1h")
}

fn plan_of(arrivals: &str, duration: &str) -> Plan {
    let text = format!(
        "name = \"bench\"\n[[phase]]\nname = \"hour\"\nduration = \"{duration}\"\nrate = 1000\narrivals = \"{arrivals}\"\n\
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
        warm: Empirical::from_samples(&samples).expect("samples").into(),
        init: Some(Empirical::constant(0.2)),
        overhead_s: 0.001,
        platform_s: 0.1,
        client_s: 0.002,
        seeding: None,
        platform: None,
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
    // The day first: its peak RSS is the process's, which the table's keys would raise.
    day(&spec, &holds);
    with_table(&spec, &holds);
    grid_of_100(&holds);
}

/// The hour of Poisson arrivals with the table behind the function: every arrival draws its
/// key from a Zipf distribution over 100,000 items and is held to its partition's limit.
fn with_table(spec: &FunctionSpec, holds: &Holds) {
    use loadgen::simulate::dynamodb::{Capacity, Retry, TableSpec, Units};
    use loadgen::simulate::partition::PartitionSpec;
    let text = "name = \"bench\"\n[data]\nitems = 100000\ndistribution = \"zipf\"\n[[phase]]\nname = \"hour\"\n\
                duration = \"1h\"\nrate = 1000\narrivals = \"poisson\"\n[[request]]\nname = \"r\"\npath = \"/items/{id}\"\n";
    let p = Plan::from_str(Path::new("bench.toml"), text, &|_| None).expect("a valid plan");
    let table = TableSpec {
        capacity: Capacity { read_per_s: 40_000.0, write_per_s: 40_000.0, provisioned: false },
        retry: Retry::default(),
        units: vec![Units { read: 1.0, write: 0.0, calls: 1 }],
        partitions: Some(PartitionSpec::new((3_000.0, 1_000.0), &p.requests, p.data.items, &p.data.distribution)),
    };
    let around = schedule::Downstream { gateway: None, table: Some(&table) };
    let t = Instant::now();
    let w = schedule::run_with(&p, spec, holds, around, 1);
    let secs = t.elapsed().as_secs_f64();
    let offered: u64 = w.iter().map(|w| w.offered).sum();
    println!(
        "simulate: Poisson arrivals with the table and a Zipf key per arrival, 1 h at 1,000 req/s: {offered} requests \
         in {secs:.2} s = {:.2} M simulated req/s on one core (goal: >= 2 M/s)",
        offered as f64 / secs / 1e6
    );
}

/// A value from /proc/self/status, kB (Linux).
fn status_kb(key: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    text.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
}

fn day(spec: &FunctionSpec, holds: &Holds) {
    let p = plan_of("poisson", "24h");
    let t = Instant::now();
    let w = schedule::run(&p, spec, holds, 1);
    let offered: u64 = w.iter().map(|w| w.offered).sum();
    let peak = status_kb("VmHWM:").map_or_else(|| "unknown".into(), |kb| format!("{:.1} MiB", kb as f64 / 1024.0));
    println!(
        "simulate: a day at 1,000 req/s (Poisson): {offered} requests in {:.1} s; peak RSS of the process {peak} \
         (goal: <= 64 MiB)",
        t.elapsed().as_secs_f64()
    );
}

/// CPU time of this process (user + system), s, from /proc/self/stat's clock ticks.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or_default();
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 (utime, stime, in ticks of 1/100 s) are the 12th and 13th after the
    // command name, counting the state.
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

fn grid_of_100(holds: &Holds) {
    let p = plan_of("poisson", "10m");
    let specs: Vec<FunctionSpec> = (1..=100).map(|c| FunctionSpec::with_reservation(c * 2)).collect();
    let jobs: Vec<grid::Job<'_>> =
        specs.iter().map(|spec| grid::Job { plan: &p, spec, holds, gateway: None, table: None }).collect();
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let w = grid::run(&jobs, 1);
    let (wall, used) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let offered: u64 = w.iter().flatten().map(|w| w.offered).sum();
    println!(
        "simulate: a grid of 100 configurations (10 min at 1,000 req/s each, {offered} requests) in {wall:.1} s, \
         {:.2} of {cores} cores busy (goal: every core)",
        used / wall
    );
}
