//! simulation.json: what `loadgen simulate` found for each configuration — versioned, typed,
//! its JSON Schema generated from these types (`docs/simulation.schema.json`).

use local_stack::config::Architecture;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::results::summary::Stats;

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
    pub calibration_scenario: String,
    /// The scenario simulated: the run's own, or `--scenario`'s.
    pub scenario: String,
    /// `--scenario`, when given.
    pub scenario_file: Option<String>,
    /// `--traffic-curve`, when given: the phases are its periods.
    pub traffic_curve: Option<String>,
    /// Invocations the hold times were drawn from.
    pub calibration_invocations: u64,
    /// The traffic factors simulated (each multiplies every open-model rate of the plan).
    pub traffic: Vec<f64>,
    /// Seed of the first replication (the run's own).
    pub seed: u64,
    /// Replications per configuration, averaged (the most the largest plan allows, for all).
    pub replications: u32,
    /// Simulated time of one replication, s.
    pub duration_s: f64,
    /// Region priced.
    pub region: String,
    /// One per configuration, in the grid's order.
    pub configurations: Vec<SimulatedConfiguration>,
    /// The recommended configuration (index): the cheapest month that passes every threshold
    /// the model answers, or — when the scenario has none — with under 1% Lambda throttles.
    pub recommended: Option<usize>,
    /// Why that one, or why none.
    pub recommendation: String,
    /// The scenario's thresholds the model does not answer (errors, DynamoDB, per request
    /// kind…), not checked.
    pub thresholds_not_simulated: Vec<String>,
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
    /// Memory, MB.
    pub memory_mb: u32,
    /// Instruction set priced.
    pub architecture: Architecture,
    /// What every handler duration was multiplied by: for this memory (1 at the run's own)
    /// times any `duration_factor` set.
    pub duration_factor: f64,
    /// The traffic factor of its plan.
    pub traffic: f64,
    /// Requests offered.
    pub requests: f64,
    /// Share throttled by API Gateway (429: never reached Lambda, not billed).
    pub apigw_throttled: f64,
    /// Share throttled by Lambda.
    pub lambda_throttled: f64,
    /// Share admitted by Lambda and answered `dynamodb_throttled` (0 when the table is not
    /// simulated).
    #[serde(default)]
    pub dynamodb_throttled: f64,
    /// The table as simulated, when it was.
    #[serde(default)]
    pub table: Option<SimulatedTable>,
    /// Cold starts.
    pub cold_starts: f64,
    /// Most environments busy at once (over every replication).
    pub peak_concurrency: u32,
    /// Billed Lambda ms.
    pub billed_ms: f64,
    /// Latency of the admitted requests as the client would see it (the hold plus the
    /// calibrating run's mean wait beyond it), over every replication.
    pub ok_latency: Stats,
    /// Per stretch of the plan at one offered rate.
    pub windows: Vec<SimulatedWindow>,
    /// The scenario's thresholds the model answers, on this configuration.
    pub thresholds: Vec<SimulatedThreshold>,
    /// The cost, priced like a run (absent when the run had no cost section).
    pub cost: Option<SimulatedCost>,
}

impl SimulatedConfiguration {
    /// Its changed settings as `reserved=10 memory=512`, or `as run`.
    pub fn label(&self) -> String {
        self.label_without("")
    }

    /// [`Self::label`] without the setting `axis` (what a chart's x axis shows).
    pub fn label_without(&self, axis: &str) -> String {
        let shown: Vec<String> = self
            .settings
            .iter()
            .filter(|x| x.name != axis)
            .map(|x| format!("{}={}", short(&x.name), x.value))
            .collect();
        if shown.is_empty() { "as run".to_owned() } else { shown.join(" ") }
    }

    /// The keys of the thresholds that failed (empty: every one passed); `None` when the model
    /// answered none of the scenario's.
    pub fn failed_thresholds(&self) -> Option<Vec<&str>> {
        (!self.thresholds.is_empty())
            .then(|| self.thresholds.iter().filter(|t| !t.passed).map(|t| t.key.as_str()).collect())
    }

    /// The value of setting `name`, if the grid changed it.
    pub fn setting(&self, name: &str) -> Option<&str> {
        self.settings.iter().find(|x| x.name == name).map(|x| x.value.as_str())
    }
}

/// A setting's name in a label: `reserved` for `reserved_concurrency`, `memory` for `memory_mb`.
fn short(name: &str) -> &str {
    match name {
        "memory_mb" => "memory",
        "architecture" => "arch",
        "dynamodb_capacity" => "ddb",
        _ => name.strip_suffix("_concurrency").unwrap_or(name),
    }
}

/// One stretch of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SimulatedWindow {
    /// Phase (and step).
    pub phase: String,
    /// Offered rate, req/s (a ramp's mean).
    pub rate: f64,
    /// Share throttled by API Gateway.
    pub apigw_throttled: f64,
    /// Share throttled by Lambda.
    pub lambda_throttled: f64,
    /// Share answered `dynamodb_throttled`.
    #[serde(default)]
    pub dynamodb_throttled: f64,
    /// Cold starts, per replication.
    pub cold_starts: f64,
    /// Most environments busy at once.
    pub peak_concurrency: u32,
    /// Latency of the admitted requests, over every replication.
    pub ok_latency: Stats,
}

/// The DynamoDB table of a configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SimulatedTable {
    /// `on-demand` or `provisioned`.
    pub mode: String,
    /// Read units per second it serves before throttling.
    pub read_units_per_s: f64,
    /// Write units per second.
    pub write_units_per_s: f64,
    /// Read units consumed, per replication.
    pub read_units: f64,
    /// Write units consumed, per replication.
    pub write_units: f64,
}

/// One threshold of the scenario on a simulated configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SimulatedThreshold {
    /// The key as written.
    pub key: String,
    /// The condition as written.
    pub condition: String,
    /// The simulated value, in the threshold's unit (ms, a fraction, a count, USD); `None`
    /// when there was nothing to measure (a latency with no admitted request).
    pub simulated: Option<f64>,
    /// Whether it holds (never with nothing measured).
    pub passed: bool,
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
