//! The simulator against what queueing theory says it must do: Poisson arrivals with
//! exponential holds lose what Erlang's formula says (checked against an independent
//! implementation here), evenly spaced arrivals with constant holds below capacity lose
//! nothing, and simulated concurrency obeys Little's law.

use std::path::Path;
use std::time::Duration;

use loadgen::attack::pacer::Pacer;
use loadgen::scenario::{Arrivals, Load, Plan};
use loadgen::simulate::hold::Empirical;
use loadgen::simulate::lambda::{Admission, FunctionModel, FunctionSpec, Holds};
use loadgen::simulate::schedule;

fn spec(c: u32) -> FunctionSpec {
    FunctionSpec::with_reservation(c)
}

/// Erlang B straight from its definition, (a^c / c!) / Σ_{k≤c} a^k / k!, in logs.
fn erlang_b_by_definition(c: u32, a: f64) -> f64 {
    let log_term = |k: u32| k as f64 * a.ln() - (1..=k).map(|i| (i as f64).ln()).sum::<f64>();
    let max = (0..=c).map(log_term).fold(f64::MIN, f64::max);
    let sum: f64 = (0..=c).map(|k| (log_term(k) - max).exp()).sum();
    (log_term(c) - max).exp() / sum
}

fn exponential(mean: f64, n: usize, seed: u64) -> Empirical {
    let mut rng = fastrand::Rng::with_seed(seed);
    let v: Vec<f64> = (0..n).map(|_| -mean * (1.0 - rng.f64()).ln()).collect();
    Empirical::from_samples(&v).unwrap()
}

/// Feeds one phase's arrivals to `f`; returns (offered, throttled).
fn drive(f: &mut FunctionModel, load: Load, secs: u64, arrivals: Arrivals, holds: &Holds) -> (u64, u64) {
    let mut pacer = Pacer::new(&load, Duration::from_secs(secs), arrivals, 7).unwrap();
    let mut rng = fastrand::Rng::with_seed(11);
    let (mut offered, mut throttled) = (0, 0);
    while let Some(t) = pacer.next_due() {
        offered += 1;
        if matches!(f.invoke(t.as_secs_f64(), holds, &mut rng), Admission::Throttled(_)) {
            throttled += 1;
        }
    }
    (offered, throttled)
}

#[test]
fn poisson_arrivals_with_exponential_holds_lose_what_erlang_b_says() {
    for (c, rate) in [(10u32, 8.0), (5, 6.0), (20, 15.0)] {
        let warm = exponential(1.0, 200_000, u64::from(c));
        let a = rate * warm.mean();
        let holds = Holds::drawn(warm, None);
        let mut f = FunctionModel::new(spec(c));
        let (offered, throttled) = drive(&mut f, Load::Constant { rate }, 6000, Arrivals::Poisson, &holds);
        let simulated = throttled as f64 / offered as f64;
        let expected = erlang_b_by_definition(c, a);
        assert!(
            (simulated - expected).abs() < 0.01,
            "c {c}, {a:.2} erlangs: simulated {simulated:.4}, Erlang B {expected:.4}"
        );
    }
    // The reference is right: B(1, 1) = 1/2, B(2, 1) = 1/5.
    assert!((erlang_b_by_definition(1, 1.0) - 0.5).abs() < 1e-12);
    assert!((erlang_b_by_definition(2, 1.0) - 0.2).abs() < 1e-12);
}

#[test]
fn even_arrivals_with_constant_holds_below_capacity_lose_nothing() {
    // 60/s held 130 ms needs 7.8 environments: 8 suffice when arrivals are evenly spaced,
    // where Erlang B (Poisson) predicts a quarter refused.
    let holds = Holds::drawn(Empirical::constant(0.130), None);
    let mut f = FunctionModel::new(spec(8));
    let (offered, throttled) = drive(&mut f, Load::Constant { rate: 60.0 }, 60, Arrivals::Even, &holds);
    assert_eq!((offered, throttled), (3600, 0));
    assert!(erlang_b_by_definition(8, 60.0 * 0.130) > 0.2);
    // Past capacity the same arrivals do throttle: the check can fail.
    let holds = Holds::drawn(Empirical::constant(0.140), None);
    let mut f = FunctionModel::new(spec(8));
    let (_, throttled) = drive(&mut f, Load::Constant { rate: 60.0 }, 60, Arrivals::Even, &holds);
    assert!(throttled > 0);
}

#[test]
fn simulated_concurrency_obeys_littles_law() {
    // L = λ·W: at 50/s held 0.2 s on average, 10 environments busy on average.
    let holds = Holds::drawn(exponential(0.2, 100_000, 3), None);
    let w = holds.warm.mean();
    let mut f = FunctionModel::new(spec(1000));
    let mut pacer =
        Pacer::new(&Load::Constant { rate: 50.0 }, Duration::from_secs(2000), Arrivals::Poisson, 5).unwrap();
    let mut rng = fastrand::Rng::with_seed(9);
    let (mut next_sample, mut samples, mut busy_sum) = (10.0, 0u64, 0u64);
    while let Some(t) = pacer.next_due() {
        let t = t.as_secs_f64();
        // Sample the busy count on a fixed grid (after a warm-up), between arrivals.
        while next_sample < t {
            f.advance(next_sample);
            busy_sum += f.busy() as u64;
            samples += 1;
            next_sample += 0.01;
        }
        assert!(!matches!(f.invoke(t, &holds, &mut rng), Admission::Throttled(_)));
    }
    let mean_busy = busy_sum as f64 / samples as f64;
    let little = 50.0 * w;
    assert!((mean_busy - little).abs() / little < 0.03, "mean busy {mean_busy:.3}, λW {little:.3}");
}

#[test]
fn a_plan_runs_window_by_window_with_the_runs_own_schedule() {
    let text = r#"
name = "ramp-like"
[[phase]]
name = "low"
duration = "10s"
rate = 20
[[phase]]
name = "steps"
duration = "20s"
steps = [50, 100]
[[phase]]
name = "users"
duration = "5s"
users = 2
[[phase]]
name = "ramp"
duration = "10s"
ramp = { from = 0, to = 100 }
[[request]]
name = "r"
path = "/health"
"#;
    let plan = Plan::from_str(Path::new("ramp-like.toml"), text, &|_| None).unwrap();
    let holds = Holds::drawn(Empirical::constant(0.1), Some(Empirical::constant(0.2)));
    let w = schedule::run(&plan, &spec(8), &holds, 1);
    let labels: Vec<&str> = w.iter().map(|w| w.label.as_str()).collect();
    assert_eq!(labels, ["low", "steps step 1/2", "steps step 2/2", "ramp"]);
    let offered: Vec<u64> = w.iter().map(|w| w.offered).collect();
    assert_eq!(offered, [200, 500, 1000, 500], "the pacer's counts, the closed phase skipped");
    assert_eq!((w[3].start_s, w[3].rate, w[3].ramp), (35.0, 50.0, true));
    // 20/s × 0.1 s fits in 8; 100/s × 0.1 s = 10 environments does not, and the first
    // environments start cold.
    assert_eq!(w[0].throttled, 0);
    assert!(w[0].cold_starts >= 2);
    assert!(w[2].throttle_share().unwrap() > 0.15);
    // Replications sum.
    let three = schedule::run(&plan, &spec(8), &holds, 3);
    assert_eq!(three[1].offered, 1500);
}

#[test]
fn seeding_warms_environments_before_the_first_phase_as_in_a_run() {
    let text = |items: u64| {
        format!(
            r#"
name = "seeded"
[data]
items = {items}
seed_via = "api"
seed_rate = 50
[[phase]]
name = "flat"
duration = "10s"
rate = 20
arrivals = "even"
[[request]]
name = "r"
path = "/items/{{id}}"
"#
        )
    };
    let holds = Holds::drawn(Empirical::constant(0.1), Some(Empirical::constant(0.2)));
    let run = |items| {
        let plan = Plan::from_str(Path::new("seeded.toml"), &text(items), &|_| None).unwrap();
        schedule::run(&plan, &spec(8), &holds, 1)
    };
    // 50 writes a second of 0.1 s holds keep ~5 environments busy: the phase's 2 are warm.
    let seeded = run(200);
    assert_eq!(seeded[0].offered, 200, "the seeding's writes are not the phase's");
    assert_eq!(seeded[0].cold_starts, 0);
    assert!(run(1)[0].cold_starts >= 1, "one write warms one environment; the phase needs two");
    // Seeded straight into the table, the writes never reach the function: the phase starts cold.
    let direct =
        Plan::from_str(Path::new("seeded.toml"), &text(200).replace("seed_via = \"api\"", ""), &|_| None).unwrap();
    assert!(schedule::run(&direct, &spec(8), &holds, 1)[0].cold_starts >= 1);
    // Ok latency is the hold as the client sees it: 0.1 s warm.
    let ok = &seeded[0].ok_latency_us;
    assert_eq!(ok.iter_recorded().count(), 1, "every response in one bucket");
    assert!((ok.mean() - 100_000.0).abs() < 100.0, "{}", ok.mean());
}

#[test]
fn a_table_below_the_offered_units_throttles_the_excess_and_stretches_the_holds() {
    use loadgen::simulate::dynamodb::{Capacity, Retry, TableSpec, Units};
    let text = r#"
name = "reads"
[[phase]]
name = "flat"
duration = "60s"
rate = 100
arrivals = "even"
[[request]]
name = "get"
path = "/health"
"#;
    let plan = Plan::from_str(Path::new("reads.toml"), text, &|_| None).unwrap();
    let holds = Holds::drawn(Empirical::constant(0.01), None);
    let table = |read_per_s: f64| TableSpec {
        capacity: Capacity { read_per_s, write_per_s: 100.0, provisioned: true },
        retry: Retry::default(),
        units: vec![Units { read: 2.0, write: 0.0, calls: 1 }],
        partitions: None,
    };
    let run = |t: &TableSpec| {
        let around = schedule::Downstream { gateway: None, table: Some(t) };
        schedule::run_with(&plan, &spec(50), &holds, around, 1).remove(0)
    };
    // 100 req/s × 2 units = 200 units/s: a table of 400 serves every one, on time.
    let ample = run(&table(400.0));
    assert_eq!((ample.dynamodb_throttled, ample.throttled), (0, 0));
    assert!((ample.units.0 - 12_000.0).abs() < 1e-6, "{:?}", ample.units);
    assert!(ample.ok_latency_us.max() < 10_100, "no backoff waited: {}", ample.ok_latency_us.max());
    // A table of 100 serves half the units: about half the requests give up after their
    // retries, the admitted units are what it refills, and the ones it served late waited.
    let half = run(&table(100.0));
    let share = half.dynamodb_throttled as f64 / half.offered as f64;
    assert!((0.4..=0.55).contains(&share), "{share}");
    let refilled = 100.0 * 60.0 + 100.0;
    assert!((half.units.0 - refilled).abs() < 0.05 * refilled, "{:?}", half.units);
    assert!(half.ok_latency_us.max() > 15_000, "a retried request held its environment longer");
    assert_eq!(half.ok_latency_us.len() + half.dynamodb_throttled, half.offered);
}

#[test]
fn a_hot_key_is_throttled_per_request_while_the_table_has_room() {
    use loadgen::simulate::dynamodb::{Capacity, Retry, TableSpec, Units};
    use loadgen::simulate::partition::PartitionSpec;
    // hot-key.toml's shape: 80% of `hot`'s reads on one of 200 items, `cold` always one other.
    let text = r#"
name = "hot"
[data]
items = 200
seed_via = "api"
distribution = "hot-set"
hot_keys = 0.005
hot_traffic = 0.8
[[phase]]
name = "flat"
duration = "30s"
rate = 200
arrivals = "even"
[[request]]
name = "hot"
weight = 9
path = "/items/{id}"
[[request]]
name = "cold"
weight = 1
path = "/items/item-000150"
"#;
    let plan = Plan::from_str(Path::new("hot.toml"), text, &|_| None).unwrap();
    let holds = Holds::drawn(Empirical::constant(0.01), None);
    let one = Units { read: 1.0, write: 0.0, calls: 1 };
    let table = |partition: f64| TableSpec {
        capacity: Capacity { read_per_s: 12_000.0, write_per_s: 4_000.0, provisioned: false },
        retry: Retry::default(),
        units: vec![one, one],
        partitions: Some(PartitionSpec::new((partition, 1_000.0), &plan.requests, 200, &plan.data.distribution)),
    };
    let run = |t: &TableSpec| {
        let around = schedule::Downstream { gateway: None, table: Some(t) };
        schedule::run_with(&plan, &spec(50), &holds, around, 1).remove(0)
    };
    // 144 reads/s of the hot item against 100: what it refuses is what exceeds the refill
    // (30 s × 44, less the first second's bucket), of `hot`'s 5,400; `cold`'s 20/s never.
    let w = run(&table(100.0));
    let [hot, cold] = [w.by_request[0], w.by_request[1]];
    assert_eq!(cold.dynamodb_throttled, 0);
    let share = hot.dynamodb_throttled as f64 / hot.offered as f64;
    assert!((0.20..0.25).contains(&share), "{share} of {hot:?}");
    assert_eq!(w.dynamodb_throttled, hot.dynamodb_throttled);
    // AWS's own 3,000 per key: nothing is refused.
    assert_eq!(run(&table(3_000.0)).dynamodb_throttled, 0);
}
