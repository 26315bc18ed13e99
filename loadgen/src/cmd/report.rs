//! `loadgen report results.json`: re-renders report.html, junit.xml and summary.md, byte for
//! byte what `loadgen run` wrote.

use std::path::Path;

use crate::error::{EXIT_PASS, Error};
use crate::report;
use crate::results::Results;

/// Re-renders the reports of `results` into `out` (default: beside it).
pub fn rerender(results: &Path, out: Option<&Path>) -> Result<i32, Error> {
    let doc = Results::from_file(results)?;
    let dir = super::dir_or_beside(out, results);
    report::write_all(&doc, &dir)?;
    crate::outln!("wrote report.html, junit.xml and summary.md in {}", dir.display());
    Ok(EXIT_PASS)
}
