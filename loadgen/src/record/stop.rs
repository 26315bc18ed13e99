//! Why a run ended before its planned end. The first reason wins; results.json keeps it as
//! `status: "aborted"` with its text as `abort_reason`, and the exit code follows from it.

use std::fmt;

/// The signal that interrupted a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT.
    Interrupt,
    /// SIGTERM.
    Terminate,
}

/// Why a run stopped early.
#[derive(Debug, Clone, PartialEq)]
pub enum Stop {
    /// The user (or a supervisor) stopped it.
    Signal(Signal),
    /// An `abort_on_fail` threshold failed mid-run.
    Gate {
        /// The threshold key as written.
        key: String,
        /// Its condition as written.
        condition: String,
        /// What was measured when it failed, written in the limit's unit (`100.000%`, `$2.17`).
        measured: String,
    },
    /// No request got an answer (connection failures, timeouts) for 5 s in a row.
    TargetDead,
    /// A `unique` data file had no row left for the next request.
    DataExhausted {
        /// The file's name.
        file: String,
    },
    /// A fleet worker stopped its shard early (its own reason: a dead target, a gate).
    Worker {
        /// The worker's shard index.
        index: u32,
        /// Why, as the worker said it.
        reason: String,
        /// Its reason was a failed `abort_on_fail` threshold.
        gate: bool,
    },
    /// The fleet could not be used: its worker cannot be read or cannot run the plan (its
    /// timeout is too short). Nothing was sent.
    FleetUnusable(String),
    /// Fleet workers' results are missing (a worker failed, timed out or answered with
    /// something that does not fit): their scheduled arrivals are counted as lost.
    LostShards {
        /// Workers in the fleet.
        of: u32,
        /// Each lost worker's shard index and why it was lost.
        lost: Vec<(u32, String)>,
    },
}

impl Stop {
    /// True when a threshold stopped the run (a gate failure, exit 1) rather than something
    /// that kept it from being carried out (exit 3).
    pub fn is_gate(&self) -> bool {
        matches!(self, Stop::Gate { .. } | Stop::Worker { gate: true, .. })
    }
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stop::Signal(Signal::Interrupt) => f.write_str("interrupted (Ctrl-C)"),
            Stop::Signal(Signal::Terminate) => f.write_str("terminated (SIGTERM)"),
            Stop::Gate { key, condition, measured } => {
                write!(f, "threshold {key} {condition} failed (measured {measured})")
            }
            Stop::TargetDead => {
                f.write_str("target unreachable or not answering: every request for 5 s failed to connect or timed out")
            }
            Stop::Worker { index, reason, .. } => write!(f, "fleet worker {index} stopped early: {reason}"),
            Stop::FleetUnusable(why) => write!(f, "the fleet could not run the plan, nothing was sent: {why}"),
            Stop::LostShards { of, lost } => {
                write!(
                    f,
                    "{} of {of} fleet workers' results are missing, their arrivals counted as lost:",
                    lost.len()
                )?;
                for (i, (index, why)) in lost.iter().enumerate() {
                    write!(f, "{} worker {index} ({why})", if i == 0 { "" } else { ";" })?;
                }
                Ok(())
            }
            Stop::DataExhausted { file } => write!(
                f,
                "data file '{file}' ran out of rows: order = \"unique\" uses each row once; give it more rows or a shorter plan"
            ),
        }
    }
}
