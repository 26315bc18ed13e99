//! `loadgen simulate results.json [--scenario FILE] [--traffic 10x] [--set NAME=V1,V2…]`: the
//! run's own plan or another scenario's (scaled), drawn from the run's calibration, through every
//! configuration of the grid — throttles, cold starts, peak concurrency, ok latency and cost for
//! each — printed as a table ([`table`]) and written to simulation.json, simulate.html and
//! simulation.md.

mod figures;
mod notes;
mod setup;

pub use setup::check_table;
mod table;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::cost::prices::Prices;
use crate::error::{EXIT_PASS, Error};
use crate::files;
use crate::report;
use crate::simulate::error::SimulateError;
use crate::simulate::gate;
use crate::simulate::output::{SCHEMA, Simulation};

/// What `loadgen simulate` was asked.
#[derive(Debug, Clone, Default)]
pub struct Ask {
    /// `--whatif`: the what-ifs from a file; the flags override its values.
    pub whatif: Option<PathBuf>,
    /// `--scenario`: another scenario's phases, request mix and stack settings.
    pub scenario: Option<PathBuf>,
    /// `--traffic-curve`: phases from a CSV of requests per period.
    pub traffic_curve: Option<PathBuf>,
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

/// Simulates `results` under `ask`; writes simulation.json, simulate.html and simulation.md and
/// prints the table.
pub fn simulate(results: &Path, ask: &Ask) -> Result<i32, Error> {
    let setup = setup::build(results, ask)?;
    let prices = match &setup.ask.prices {
        Some(p) => Prices::from_file(p)?,
        None => Prices::builtin(),
    };
    let region = setup.doc.cost.as_ref().map_or_else(|| "us-east-1".to_owned(), |c| c.region.clone());
    let region_prices = prices.region(&region)?;
    let provisioned = setup.prepared.iter().any(|p| p.table.as_ref().is_some_and(|t| t.capacity.provisioned));
    if provisioned
        && (region_prices.dynamodb_read_capacity_unit_hour.is_none()
            || region_prices.dynamodb_write_capacity_unit_hour.is_none())
    {
        return Err(SimulateError::NoTablePrice(region).into());
    }
    let windows = figures::run_grid(&setup);
    let out = figures::configurations(&setup, &windows, region_prices);
    let (recommended, recommendation) = figures::recommend(&out, &setup.source, setup.layers());
    let (source, cal) = (&setup.source, setup.cal());
    let sim = Simulation {
        schema: SCHEMA.into(),
        calibrated_from: results.display().to_string(),
        calibration_scenario: setup.doc.scenario.name.clone(),
        scenario: source.name.clone(),
        scenario_file: setup.ask.scenario.as_ref().map(|p| p.display().to_string()),
        traffic_curve: setup.ask.traffic_curve.as_ref().map(|p| p.display().to_string()),
        calibration_invocations: cal.invocations,
        traffic: setup.plans.iter().map(|(t, _)| *t).collect(),
        seed: source.seed,
        replications: setup.replications,
        duration_s: source.duration().as_secs_f64(),
        region,
        configurations: out,
        recommended,
        recommendation,
        thresholds_not_simulated: source
            .thresholds
            .iter()
            .filter(|t| !gate::simulated(t, source, setup.layers()))
            .map(|t| format!("{} {}", t.key, t.condition))
            .collect(),
        notes: notes::notes(&setup).into_iter().chain(figures::situational(&setup)).collect(),
    };
    let ask = &setup.ask;
    let dir = super::dir_or_beside(ask.out.as_deref(), results);
    files::create_dir(&dir)?;
    let path = dir.join("simulation.json");
    // Plain values and sequences only: serializing cannot fail.
    files::write(&path, serde_json::to_vec_pretty(&sim).expect("simulation serializes"))?;
    let html = dir.join("simulate.html");
    files::write(&html, report::simulate_html::render(&sim))?;
    files::write(&dir.join("simulation.md"), report::simulate_markdown::render(&sim))?;
    // A closed pipe (`| head`) is the reader's choice, not an error: the documents are written.
    // Any other failure to print (a full disk behind a redirect) is one.
    let mut stdout = std::io::stdout().lock();
    let text = format!("{}  simulation: {}\n  report:     {}\n", table::table(&sim), path.display(), html.display());
    let printed = stdout.write_all(crate::stdout::terminal_safe(&text).as_bytes()).and_then(|()| stdout.flush());
    match printed {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(files::WriteError { path: PathBuf::from("standard output"), source: e }.into())
        }
        _ => Ok(EXIT_PASS),
    }
}
