//! `loadgen simulate results.json [--traffic 10x] [--set NAME=V1,V2…]`: the run's own plan
//! (scaled), drawn from its calibration, through every configuration of the grid — throttles,
//! cold starts, peak concurrency and cost for each — printed as a table and written to
//! simulation.json.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::cost::calibrate;
use crate::cost::prices::Prices;
use crate::cost::simulated::{self, Counted};
use crate::error::{EXIT_PASS, Error};
use crate::files;
use crate::results::Results;
use crate::simulate::error::SimulateError;
use crate::simulate::hold::Empirical;
use crate::simulate::lambda::Holds;
use crate::simulate::output::{SCHEMA, Setting, SimulatedConfiguration, SimulatedWindow, Simulation};
use crate::simulate::schedule::{self, Window};
use crate::simulate::whatif::{self, Configuration};

/// What `loadgen simulate` was asked.
#[derive(Debug, Clone, Default)]
pub struct Ask {
    /// `--traffic`.
    pub traffic: Option<String>,
    /// `--set`, each `NAME=V1,V2…`.
    pub sets: Vec<String>,
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--prices`.
    pub prices: Option<PathBuf>,
    /// `--out`.
    pub out: Option<PathBuf>,
}

/// Simulates `results` under `ask`; writes simulation.json and prints the table.
pub fn simulate(results: &Path, ask: &Ask) -> Result<i32, Error> {
    let doc = Results::from_file(results)?;
    let cal = doc.calibration.as_ref().ok_or_else(|| SimulateError::NoCalibration(results.to_path_buf()))?;
    let (base, holds) = calibrate::model(cal).ok_or_else(|| SimulateError::BadCalibration(results.to_path_buf()))?;
    let traffic = ask.traffic.as_deref().map(whatif::traffic).transpose().map_err(SimulateError::from)?.unwrap_or(1.0);
    let mut plan = whatif::scaled(&doc.scenario, traffic);
    whatif::check_size(&plan, traffic).map_err(SimulateError::from)?;
    if let Some(seed) = ask.seed {
        plan.seed = seed;
    }
    let configurations = whatif::grid(&base, &ask.sets).map_err(SimulateError::from)?;
    let prices = match &ask.prices {
        Some(p) => Prices::from_file(p)?,
        None => Prices::builtin(),
    };
    let region = doc.cost.as_ref().map_or_else(|| "us-east-1".to_owned(), |c| c.region.clone());
    let region_prices = prices.region(&region)?;
    let replications = schedule::replications(&plan);
    let duration_s = plan.duration().as_secs_f64();
    let windows = run_grid(&plan, &configurations, &holds, replications);
    let measured = doc.cost.as_ref().map(|c| &c.usage);
    let reps = f64::from(replications);
    let out: Vec<SimulatedConfiguration> = configurations
        .iter()
        .zip(&windows)
        .map(|(c, w)| {
            let mut s = summarise(c, w, reps);
            s.cost = measured.map(|m| {
                let counted = Counted {
                    requests: s.requests,
                    invocations: s.requests * (1.0 - s.lambda_throttled),
                    billed_ms: s.billed_ms,
                    provisioned_billed_ms: w.iter().map(|x| x.provisioned_billed_ms).sum::<f64>() / reps,
                    provisioned: c.function.provisioned,
                    duration_s,
                };
                simulated::cost(&counted, m, region_prices)
            });
            s
        })
        .collect();
    let recommended = out
        .iter()
        .enumerate()
        .filter(|(_, c)| c.lambda_throttled < 0.01)
        .filter_map(|(i, c)| c.cost.as_ref().map(|k| (i, k.month_usd)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i);
    let sim = Simulation {
        schema: SCHEMA.into(),
        calibrated_from: results.display().to_string(),
        scenario: doc.scenario.name.clone(),
        calibration_invocations: cal.invocations,
        traffic,
        seed: plan.seed,
        replications,
        duration_s,
        region,
        configurations: out,
        recommended,
        notes: notes(&doc, &holds),
    };
    let dir = super::dir_or_beside(ask.out.as_deref(), results);
    files::create_dir(&dir)?;
    let path = dir.join("simulation.json");
    // Plain values and sequences only: serializing cannot fail.
    files::write(&path, serde_json::to_vec_pretty(&sim).expect("simulation serializes"))?;
    // A closed pipe (`| head`) is the reader's choice, not an error: the document is written.
    let mut stdout = std::io::stdout().lock();
    let _ = write!(stdout, "{}", table(&sim));
    let _ = writeln!(stdout, "  simulation: {}", path.display());
    Ok(EXIT_PASS)
}

/// Every configuration's windows, the grid spread over the machine's cores.
fn run_grid(plan: &crate::scenario::Plan, cs: &[Configuration], holds: &Holds, reps: u32) -> Vec<Vec<Window>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()).min(cs.len().max(1));
    let chunk = cs.len().div_ceil(cores).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = cs
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || part.iter().map(|c| schedule::run(plan, &c.function, holds, reps)).collect::<Vec<_>>())
            })
            .collect();
        // A panic in a worker is a bug; carry it to the caller as one.
        handles.into_iter().flat_map(|h| h.join().expect("simulation worker")).collect()
    })
}

/// One configuration's figures per replication.
fn summarise(c: &Configuration, w: &[Window], reps: f64) -> SimulatedConfiguration {
    let offered: u64 = w.iter().map(|x| x.offered).sum();
    let throttled: u64 = w.iter().map(|x| x.throttled).sum();
    SimulatedConfiguration {
        settings: c.settings.iter().map(|(n, v)| Setting { name: n.clone(), value: v.clone() }).collect(),
        concurrency: c.function.concurrency,
        reserved: c.function.reserved,
        provisioned: c.function.provisioned,
        requests: offered as f64 / reps,
        lambda_throttled: if offered > 0 { throttled as f64 / offered as f64 } else { 0.0 },
        cold_starts: w.iter().map(|x| x.cold_starts).sum::<u64>() as f64 / reps,
        peak_concurrency: w.iter().map(|x| x.peak_concurrency).max().unwrap_or(0),
        billed_ms: w.iter().map(|x| x.billed_ms).sum::<f64>() / reps,
        windows: w
            .iter()
            .map(|x| SimulatedWindow {
                phase: x.label.clone(),
                rate: x.rate,
                lambda_throttled: x.throttle_share().unwrap_or(0.0),
                cold_starts: x.cold_starts as f64 / reps,
                peak_concurrency: x.peak_concurrency,
            })
            .collect(),
        cost: None,
    }
}

/// What the simulation leaves out, said with every result.
fn notes(doc: &Results, holds: &Holds) -> Vec<String> {
    let mut n = vec![
        "Simulated: Lambda's admission (concurrency, invocation rate, scaling rate, provisioned environments, \
         keep-warm). Not yet: API Gateway stage throttling, DynamoDB limits, latency percentiles, and memory or \
         architecture what-ifs (hold times are the run's, at its memory)."
            .to_owned(),
        format!(
            "Hold times: the run's REPORT Duration (mean {:.1} ms) plus the invoke overhead ({:.1} ms){}.",
            holds.warm.mean() * 1e3,
            holds.overhead_s * 1e3,
            holds
                .init
                .as_ref()
                .map(Empirical::mean)
                .map(|m| format!("; INIT mean {:.1} ms", m * 1e3))
                .unwrap_or_default()
        ),
        "Closed-model phases are not simulated (they have no offered rate). Every configuration starts with no \
         warm environment but its provisioned ones; a run that seeded data started with some warm."
            .to_owned(),
    ];
    if holds.init.is_none() {
        n.push(
            "The function never started cold in the run's log, so INIT time is unknown and taken as 0: simulated \
             cold starts cost only the platform's part (run a scenario that starts cold to calibrate it)."
                .into(),
        );
    }
    if doc.cost.is_none() {
        n.push("The run has no cost section, so no configuration is priced.".into());
    }
    n
}

/// A setting's name in the table: its first word (`reserved` for `reserved_concurrency`).
fn short(name: &str) -> &str {
    name.strip_suffix("_concurrency").unwrap_or(name)
}

/// The terminal table.
fn table(s: &Simulation) -> String {
    use std::fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "\nsimulate {} — traffic {}x, {} replication{} of {:.0} s, calibrated from {} invocations in {}",
        s.scenario,
        s.traffic,
        s.replications,
        if s.replications == 1 { "" } else { "s" },
        s.duration_s,
        s.calibration_invocations,
        s.calibrated_from
    );
    let label = |c: &SimulatedConfiguration| {
        if c.settings.is_empty() {
            "as run".to_owned()
        } else {
            c.settings.iter().map(|x| format!("{}={}", short(&x.name), x.value)).collect::<Vec<_>>().join(" ")
        }
    };
    let width = s.configurations.iter().map(|c| label(c).chars().count()).max().unwrap_or(0).max(13);
    let _ = writeln!(
        o,
        "  {:<width$} {:>10} {:>9} {:>8} {:>6} {:>11} {:>9} {:>12}",
        "configuration", "requests", "thr %", "cold", "peak", "$ per run", "$ per M", "$ per month"
    );
    for (i, c) in s.configurations.iter().enumerate() {
        let name = label(c);
        let money = |f: fn(&crate::simulate::output::SimulatedCost) -> f64, digits: usize| {
            c.cost.as_ref().map_or_else(|| "–".to_owned(), |k| format!("{:.*}", digits, f(k)))
        };
        let _ = writeln!(
            o,
            "{} {:<width$} {:>10.0} {:>8.2}% {:>8.1} {:>6} {:>11} {:>9} {:>12}",
            if s.recommended == Some(i) { "*" } else { " " },
            name,
            c.requests,
            c.lambda_throttled * 100.0,
            c.cold_starts,
            c.peak_concurrency,
            money(|k| k.run_usd, 6),
            money(|k| k.per_million_usd, 2),
            money(|k| k.month_usd, 2)
        );
    }
    match s.recommended {
        Some(_) => o.push_str("  * the cheapest month with under 1% Lambda throttles\n"),
        None => o.push_str("  no configuration keeps Lambda throttles under 1%\n"),
    }
    for n in &s.notes {
        let _ = writeln!(o, "  note: {n}");
    }
    o
}
