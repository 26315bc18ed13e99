//! `loadgen compare base.json new.json`: the diff table on the terminal, compare.html beside
//! the new run, exit 1 when a metric got worse than its allowance.

use std::path::Path;

use crate::compare::{self, CompareError};
use crate::error::{EXIT_GATE_FAILED, EXIT_PASS, Error};
use crate::results::Results;
use crate::{files, report};

/// Compares `new` against `base` with `allowances` (default [`compare::DEFAULT_ALLOWANCE`]).
pub fn compare_runs(base: &Path, new: &Path, allowances: Option<&str>, out: Option<&Path>) -> Result<i32, Error> {
    let allow = compare::parse_allowances(allowances.unwrap_or(compare::DEFAULT_ALLOWANCE))?;
    let (b, n) = (Results::from_file(base)?, Results::from_file(new)?);
    let c = compare::compare(&b, &n, &allow)?;
    if !c.unmatched.is_empty() {
        return Err(CompareError::Unmatched(c.unmatched).into());
    }
    crate::outln!("loadgen compare: {} → {}\n", base.display(), new.display());
    crate::out!("{}", report::terminal::comparison(&c));
    let file = super::dir_or_beside(out, new).join("compare.html");
    files::write(&file, report::compare_html::render(&b, &n, &c))?;
    let regressed: Vec<&str> = c.rows.iter().filter(|r| r.regressed).map(|r| r.key.as_str()).collect();
    if regressed.is_empty() {
        crate::outln!("\n  verdict: no regression\n  report:  {}", file.display());
        Ok(EXIT_PASS)
    } else {
        crate::outln!("\n  verdict: REGRESSED ({})\n  report:  {}", regressed.join(", "), file.display());
        Ok(EXIT_GATE_FAILED)
    }
}
