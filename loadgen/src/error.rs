//! Errors that end a command, each mapped to its exit code.

use crate::scenario::ScenarioError;

/// Exit code: every threshold passed.
pub const EXIT_PASS: i32 = 0;
/// Exit code: a threshold failed.
pub const EXIT_GATE_FAILED: i32 = 1;
/// Exit code: bad input or usage.
pub const EXIT_BAD_INPUT: i32 = 2;
/// Exit code: the run could not be carried out (or was interrupted).
pub const EXIT_NOT_RUN: i32 = 3;

/// Why a command stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The scenario is invalid.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// A flag is invalid.
    #[error("{0}")]
    Usage(String),
    /// The target or the local stack could not be set up.
    #[error("{0}")]
    Setup(String),
    /// Writing results failed.
    #[error("cannot write results: {0}")]
    Io(#[from] std::io::Error),
}

impl RunError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Scenario(_) | RunError::Usage(_) => EXIT_BAD_INPUT,
            RunError::Setup(_) | RunError::Io(_) => EXIT_NOT_RUN,
        }
    }
}
