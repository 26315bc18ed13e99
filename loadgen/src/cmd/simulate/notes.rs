//! What a simulation leaves out and what it assumed, said with every result: the rules not
//! modelled, where the hold times came from, and the doubts of the memory and architecture
//! what-ifs when a configuration uses them.

use super::setup::Setup;
use crate::simulate::hold::Empirical;
use crate::simulate::memory::CpuModel;

/// What is simulated around Lambda's admission and what is not, layer by layer.
fn layers(setup: &Setup) -> String {
    let gateway = if setup.gateway_known { "API Gateway's route and account throttling (429), " } else { "" };
    let mut out = format!(
        "Simulated: {gateway}Lambda's admission (concurrency, invocation rate, scaling rate, provisioned \
         environments, keep-warm)"
    );
    if setup.table_known {
        let partitions = setup.prepared.iter().find_map(|p| p.table.as_ref()?.partitions.as_ref()).map(|p| {
            format!(
                " Each partition-key value serves {:.0} read and {:.0} write units a second: the keys a request's \
                 {{id}} and {{ids:N}} draw from the plan's key distribution are taken as the keys its function \
                 touches (its units spread evenly over them), a request drawing none as touching one key of its \
                 own every time (a scan's load is overstated), and {{new_id}} as a fresh key.",
                p.read_per_s, p.write_per_s
            )
        });
        out.push_str(
            " and the DynamoDB table's read and write throughput, each call retried as the SDK does (3 attempts, \
             20 ms backoff doubling, capped at 200 ms, full jitter) before the function answers dynamodb_throttled.",
        );
        out.push_str(&partitions.unwrap_or_default());
        out.push_str(
            " Not modelled: the SDK's retry quota, a provisioned table's burst capacity (best effort on AWS, not \
             counted on here), a BatchGetItem's unprocessed keys (a batch call is admitted or refused whole), and \
             the seeding's writes to the table (the phases start with it full).",
        );
    } else {
        out.push_str(
            ". DynamoDB is not simulated (every admitted request is served): the calibration does not record the \
             table's limits or the units each request consumed.",
        );
    }
    if !setup.gateway_known {
        out.push_str(" API Gateway is not simulated: the calibration does not record its throttling.");
    }
    out
}

/// The notes for a simulation.
pub fn notes(setup: &Setup) -> Vec<String> {
    let (doc, cal, holds, prepared) = (&setup.doc, setup.cal(), &setup.holds, &setup.prepared);
    let mut n = vec![
        layers(setup),
        format!(
            "Hold times: handler durations (mean {:.1} ms) plus the invoke overhead ({:.1} ms){}. Ok latency adds \
             the run's mean wait beyond the hold ({:.1} ms: network, API Gateway) as a constant.",
            holds.warm.mean() * 1e3,
            holds.overhead_s * 1e3,
            holds
                .init
                .as_ref()
                .map(Empirical::mean)
                .map(|m| format!("; INIT mean {:.1} ms", m * 1e3))
                .unwrap_or_default(),
            holds.client_s * 1e3,
        ),
        format!(
            "Closed-model phases are not simulated (they have no offered rate). The scenario's seeding writes go \
             first, as in a run, {}; the phases start once every write is answered, so the environments they warmed \
             are warm.",
            if holds.seeding.is_some() {
                "with the seeding durations the run measured"
            } else {
                "with the plan's hold times (the calibrating run seeded nothing to measure)"
            }
        ),
    ];
    if !cal.source.contains("local stack") {
        n.push(format!("Calibration: {}.", cal.source));
    }
    if !cal.assumed.is_empty() {
        n.push(format!(
            "Assumed, not measured: {}{}.",
            cal.assumed.join("; "),
            if setup.function_known { "" } else { " — Lambda throttle thresholds are not checked" }
        ));
    }
    if let Some(from) = &setup.whatifs_from {
        n.push(format!("What-ifs from {from} (any what-if on the command line replaces them)."));
    }
    if holds.init.is_none() {
        n.push(
            "The function never started cold in the run's log, so INIT time is unknown and taken as 0: simulated \
             cold starts cost only the platform's part (run a scenario that starts cold to calibrate it)."
                .into(),
        );
    }
    if let Some(cpu) = &cal.cpu
        && prepared.iter().any(|p| p.factor != 1.0)
    {
        let m = CpuModel::new(cpu, holds.warm.mean());
        n.push(format!(
            "Memory: {:.0}% of the handler's time was CPU at {:.3} of a core ({:.2} ms of CPU per invocation, Lambda \
             Insights cpu_total_time); that part scales with 1769 MB / memory, up to one core (a multi-threaded \
             handler would gain beyond it), the rest and INIT are kept as measured. One fraction for every request.",
            m.fraction * 100.0,
            m.share,
            cpu.mean_ms
        ));
    }
    let measured = doc.cost.as_ref().map(|c| c.usage.architecture);
    if prepared.iter().any(|p| p.configuration.architecture.is_some_and(|a| Some(a) != measured)) {
        n.push(
            "Architecture: priced at its own rates with the durations measured on the run's; how fast the handler \
             runs on the other instruction set is not known until it is run there."
                .into(),
        );
    }
    if doc.cost.is_none() {
        n.push("The run has no cost section, so no configuration is priced.".into());
    }
    n
}
