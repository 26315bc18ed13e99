//! `loadgen validate files…`: every scenario checked without running it, one line each.

use std::path::PathBuf;

use crate::error::{EXIT_BAD_INPUT, EXIT_PASS};
use crate::scenario::Plan;

/// Validates each file; exit 2 when any is invalid.
pub fn validate(files: &[PathBuf]) -> i32 {
    let mut code = EXIT_PASS;
    for f in files {
        let checked = Plan::from_file(f, &|k| std::env::var(k).ok())
            .map_err(crate::error::Error::from)
            .and_then(|plan| super::simulate::check_table(&plan).map(|()| plan));
        match checked {
            Ok(plan) => crate::outln!(
                "ok   {} — {} phase(s), {} request kind(s), {:?}",
                f.display(),
                plan.phases.len(),
                plan.requests.len(),
                plan.duration()
            ),
            Err(e) => {
                eprintln!("FAIL {e}");
                code = EXIT_BAD_INPUT;
            }
        }
    }
    code
}
