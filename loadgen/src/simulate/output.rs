//! simulation.json: what `loadgen simulate` found for each configuration — versioned, typed,
//! its JSON Schema generated from these types (`docs/simulation.schema.json`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The schema identifier written into every document.
pub const SCHEMA: &str = "loadgen.simulation/v1";

/// One `loadgen simulate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Simulation {
    /// [`SCHEMA`].
    pub schema: String,
    /// The results.json calibrated from.
    pub calibrated_from: String,
    /// Its scenario's name.
    pub scenario: String,
    /// Invocations the hold times were drawn from.
    pub calibration_invocations: u64,
    /// The traffic factor applied to every open-model rate.
    pub traffic: f64,
    /// Seed of the first replication (the run's own).
    pub seed: u64,
    /// Replications per configuration, averaged.
    pub replications: u32,
    /// Simulated time of one replication, s.
    pub duration_s: f64,
    /// Region priced.
    pub region: String,
    /// One per configuration, in the grid's order.
    pub configurations: Vec<SimulatedConfiguration>,
    /// The cheapest configuration with under 1% Lambda throttles (index), if any.
    pub recommended: Option<usize>,
    /// What the simulation does not model, and other caveats.
    pub notes: Vec<String>,
}

/// A setting a what-if changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Setting {
    /// Its name.
    pub name: String,
    /// The value, as written.
    pub value: String,
}

/// What one configuration did, per replication on average.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SimulatedConfiguration {
    /// The settings changed (empty: as the run was).
    pub settings: Vec<Setting>,
    /// Environments the function may run at once.
    pub concurrency: u32,
    /// Whether that is a reservation.
    pub reserved: bool,
    /// Provisioned concurrency.
    pub provisioned: u32,
    /// Requests offered.
    pub requests: f64,
    /// Share throttled by Lambda.
    pub lambda_throttled: f64,
    /// Cold starts.
    pub cold_starts: f64,
    /// Most environments busy at once (over every replication).
    pub peak_concurrency: u32,
    /// Billed Lambda ms.
    pub billed_ms: f64,
    /// Per stretch of the plan at one offered rate.
    pub windows: Vec<SimulatedWindow>,
    /// The cost, priced like a run (absent when the run had no cost section).
    pub cost: Option<SimulatedCost>,
}

/// One stretch of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SimulatedWindow {
    /// Phase (and step).
    pub phase: String,
    /// Offered rate, req/s (a ramp's mean).
    pub rate: f64,
    /// Share throttled by Lambda.
    pub lambda_throttled: f64,
    /// Cold starts, per replication.
    pub cold_starts: f64,
    /// Most environments busy at once.
    pub peak_concurrency: u32,
}

/// A configuration's cost, USD.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SimulatedCost {
    /// One replication of the plan.
    pub run_usd: f64,
    /// Per million requests offered (configured provisioned concurrency left out).
    pub per_million_usd: f64,
    /// A 30-day month of the plan's traffic repeated end to end.
    pub month_usd: f64,
    /// Of the month, provisioned concurrency configured.
    pub month_provisioned_usd: f64,
}

/// The JSON Schema of simulation.json, every object closed (as results.json's is).
pub fn json_schema() -> schemars::Schema {
    crate::results::closed_schema::<Simulation>()
}
