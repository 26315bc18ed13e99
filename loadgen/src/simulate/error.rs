//! Why `loadgen simulate` cannot simulate as asked: a run without calibration, or a bad
//! what-if.

use std::path::PathBuf;

use super::curve::CurveError;
use super::whatif::WhatIfError;

/// Why a simulation cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// The run has no calibration.
    #[error(
        "{}: no calibration — the run has no REPORT lines to draw hold times from (a URL target whose function \
         is not known, a deployed function whose CloudWatch Logs could not be read, or a document from before \
         calibration was recorded). Run the scenario on the local stack (`loadgen run <scenario.toml>` without \
         --target), or against AWS with --infra DIR or [target] function_name so its log can be read, and \
         simulate that run's results.json",
        .0.display()
    )]
    NoCalibration(PathBuf),
    /// The calibration is not one a run could have written.
    #[error("{}: its calibration is damaged ({why}); rerun the scenario for a fresh results.json", .file.display())]
    BadCalibration {
        /// The results document.
        file: PathBuf,
        /// The field and what is wrong with it.
        why: String,
    },
    /// A memory what-if without the CPU time it scales.
    #[error(
        "{}: --set memory_mb needs the function's CPU time per invocation, which this run did not record \
         (no Lambda Insights events in the measured window). Rerun the scenario on the local stack, which writes \
         lambda-insights.log beside the function log, and simulate that run's results.json",
        .0.display()
    )]
    NoCpuTime(PathBuf),
    /// The plan simulated has a request the run did not measure.
    #[error(
        "{}: request {request} was not measured by the calibrating run, whose request kinds are: {}. Calibrate \
         from a run whose scenario sends it (same method and path template)",
        .file.display(), if .known.is_empty() { "none".to_owned() } else { .known.join(", ") }
    )]
    Uncalibrated {
        /// The scenario simulated.
        file: PathBuf,
        /// The request.
        request: String,
        /// What the run measured.
        known: Vec<String>,
    },
    /// The plan simulated has flows, which the simulator does not model.
    #[error(
        "{}: the scenario has [[flow]]s, and the simulator sends one request per arrival: a flow's later steps \
         follow its earlier answers and think times, which it does not model yet. Simulate a scenario of \
         [[request]]s (calibrated from this run with --scenario FILE), or run the flows at the traffic you ask about",
        .0.display()
    )]
    Flows(PathBuf),
    /// The plan simulated sends to `[targets.NAME]`s, whose stacks are not known.
    #[error(
        "{}: the scenario sends requests to [targets.NAME]s, whose stacks loadgen does not know, and the simulator \
         would model them as [target]'s function. Simulate a scenario whose requests all go to [target] (with \
         --scenario FILE)",
        .0.display()
    )]
    Targets(PathBuf),
    /// A gateway what-if without the stack's gateway configuration.
    #[error(
        "{}: --set api_rate/api_burst need the stack's API Gateway throttling, which this results.json does not \
         record (a URL target, or a run from before it was recorded); rerun the scenario on the local stack",
        .0.display()
    )]
    NoGateway(PathBuf),
    /// A table what-if without the table's limits or the units each request consumes.
    #[error(
        "{}: the dynamodb_capacity what-if needs {why}; rerun the scenario on the local stack with target-api's \
         diagnostic headers on (x-ddb-rcu, x-ddb-wcu, x-ddb-calls)",
        .file.display()
    )]
    NoTable {
        /// The results document.
        file: PathBuf,
        /// What is missing.
        why: String,
    },
    /// A provisioned table with a price list that has no capacity-hour rates.
    #[error(
        "dynamodb_capacity: the price list has no DynamoDB capacity-hour rates for {0} \
         (dynamodb_read_capacity_unit_hour, dynamodb_write_capacity_unit_hour); add them to the --prices file"
    )]
    NoTablePrice(String),
    /// A request of the plan matches no route of the stack.
    #[error(
        "request {request} matches none of the stack's routes ({}): a run would get API Gateway's 404 for it; \
         fix its path or the stack's routes",
        .routes.join(", ")
    )]
    NoRoute {
        /// `name (METHOD path)`.
        request: String,
        /// The routes.
        routes: Vec<String>,
    },
    /// The plan offers nothing the model simulates.
    #[error(
        "{}: no open-model phase offers any request (closed-model phases are not simulated): give the plan a \
         phase with a rate, or simulate another scenario with --scenario",
        .0.display()
    )]
    NothingOffered(PathBuf),
    /// A what-if is invalid.
    #[error(transparent)]
    WhatIf(#[from] WhatIfError),
    /// The traffic curve cannot be read.
    #[error("--traffic-curve {0}")]
    Curve(#[from] CurveError),
}
