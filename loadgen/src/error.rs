//! Errors that end a command, each mapped to its exit code, and the one way they are printed
//! (`Error: ` and the chain of causes, in `main`).

use std::fmt;

use crate::compare::CompareError;
use crate::cost::{GuardError, PriceError};
use crate::files::WriteError;
use crate::results::LoadError;
use crate::scenario::ScenarioError;
use crate::target::TargetError;

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
pub enum Error {
    /// The scenario is invalid.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// `--target` (or `--target-url`) is not a base URL.
    #[error("{flag} '{url}' {why}")]
    TargetFlag {
        /// The flag.
        flag: &'static str,
        /// What was given, a password in it redacted.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// The price list cannot be used.
    #[error(transparent)]
    Prices(#[from] PriceError),
    /// The spend guard refused the run.
    #[error(transparent)]
    Guard(#[from] GuardError),
    /// The target or the local stack could not be set up.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// A signal came before the phases began.
    #[error(
        "{reason} before {stage}: nothing was measured{}",
        results.as_ref().map(|p| format!("; {} says so (status aborted)", p.display())).unwrap_or_default()
    )]
    Interrupted {
        /// The signal, as the stop reason says it.
        reason: String,
        /// What had not finished.
        stage: &'static str,
        /// The results.json that records it, once written.
        results: Option<std::path::PathBuf>,
    },
    /// A target's `auth` could not get its credentials or token.
    #[error("[{table}.auth] {source}")]
    Auth {
        /// `target` or `targets.NAME`.
        table: String,
        /// What went wrong.
        source: crate::auth::AuthError,
    },
    /// A results document cannot be read.
    #[error(transparent)]
    Results(#[from] LoadError),
    /// Two runs cannot be compared as asked.
    #[error(transparent)]
    Compare(#[from] CompareError),
    /// An output file cannot be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The HTTP client cannot be built.
    #[error("cannot load the system's TLS root certificates")]
    Tls(#[source] std::io::Error),
    /// `loadgen stack up` was given settings the stack refuses. The same error under
    /// `loadgen run` is a [`TargetError::StackStart`] and exits 3: there the settings come from
    /// a scenario that already validated, so a stack that does not start is a setup failure.
    #[error(transparent)]
    StackUp(local_stack::StartError),
    /// `loadgen simulate` cannot simulate as asked.
    #[error(transparent)]
    Simulate(#[from] crate::simulate::error::SimulateError),
    /// `[data] seed = false` on the local stack, whose table starts empty.
    #[error(
        "{0}: [data] seed = false, but the local stack's table starts empty, so every {{id}} read would miss; \
         remove `seed = false`, or point the scenario at your API with --target or --infra"
    )]
    UnseededStack(std::path::PathBuf),
    /// A command-line value that cannot be used, with the fix.
    #[error("{0}")]
    Usage(String),
    /// Ctrl-C cannot be waited for.
    #[error("cannot wait for Ctrl-C")]
    Signal(#[source] std::io::Error),
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Scenario(_)
            | Error::TargetFlag { .. }
            | Error::Prices(_)
            | Error::Guard(_)
            | Error::Results(_)
            | Error::Compare(_)
            | Error::StackUp(_)
            | Error::Simulate(_)
            | Error::UnseededStack(_)
            | Error::Usage(_) => EXIT_BAD_INPUT,
            Error::Target(e) if e.is_bad_input() => EXIT_BAD_INPUT,
            Error::Target(_)
            | Error::Write(_)
            | Error::Tls(_)
            | Error::Signal(_)
            | Error::Auth { .. }
            | Error::Interrupted { .. } => EXIT_NOT_RUN,
        }
    }
}

/// An error and its causes, `outer: cause: cause`. With `{:#}` the whole chain is written, as
/// anyhow does; a cause whose text the message already carries is not repeated (some errors,
/// the local stack's among them, put their source in their own message). The price of that
/// check: a cause whose whole text happens to occur in the message is left out too.
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = self.0.to_string();
        if f.alternate() {
            let mut cause = self.0.source();
            while let Some(c) = cause {
                let more = c.to_string();
                if !text.contains(&more) {
                    text.push_str(": ");
                    text.push_str(&more);
                }
                cause = c.source();
            }
        }
        f.write_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_names_every_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let e = Error::Write(WriteError { path: "out/results.json".into(), source: io });
        assert_eq!(format!("{:#}", Chain(&e)), "cannot write out/results.json: No such file or directory");
        assert_eq!(format!("{}", Chain(&e)), "cannot write out/results.json");
        assert_eq!(e.exit_code(), EXIT_NOT_RUN);
        let stack = local_stack::StartError::Io(std::io::Error::other("port in use"));
        let e = Error::StackUp(stack);
        assert_eq!(format!("{:#}", Chain(&e)), "cannot start the local stack: port in use", "not repeated");
        assert_eq!(
            Error::TargetFlag { flag: "--target", url: "x".into(), why: "is not a URL".into() }.exit_code(),
            EXIT_BAD_INPUT
        );
    }
}
