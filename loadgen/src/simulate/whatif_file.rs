//! What-ifs written down (a what-if file, or a scenario's `[simulate]` table, read by
//! [`crate::scenario::whatif`]) checked as the command line's are: each value against the
//! function the grid starts from, so a value AWS would refuse is an error at the
//! `file:line:column` where it is written. Combinations are checked with the command line's.

use crate::scenario::ScenarioError;
use crate::scenario::whatif::WhatIfs;

use super::lambda::FunctionSpec;
use super::whatif::{self, WhatIfError};

/// Checks the traffic factors and each setting on its own against `base` (the run's function,
/// or the scenario's).
pub fn check(w: &WhatIfs, base: &FunctionSpec) -> Result<(), ScenarioError> {
    if let Some((traffic, at)) = &w.traffic
        && whatif::traffic_list(traffic).is_err()
    {
        return Err(at.error(
            format!("{}traffic", w.prefix),
            "expected factors such as \"10x\" or [\"1x\", \"10x\"], each once, from 0.0001 to 1000000",
        ));
    }
    for (set, at) in &w.sets {
        if let Err(e) = whatif::grid(base, std::slice::from_ref(set), &[]) {
            let why = match e {
                WhatIfError::Value { value, why, .. } => format!("{value}: {why}"),
                other => other.to_string(),
            };
            let name = set.split('=').next().unwrap_or_default();
            return Err(at.error(format!("{}set.{name}", w.prefix), why));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::scenario::whatif::parse;

    fn checked(text: &str) -> Result<WhatIfs, ScenarioError> {
        let f = parse(Path::new("dir/whatif.toml"), text)?;
        check(&f, &FunctionSpec::with_reservation(5))?;
        Ok(f)
    }

    #[test]
    fn values_the_grid_refuses_point_at_the_line() {
        let e = |t: &str| checked(t).unwrap_err().to_string();
        assert!(
            e("[set]\nmemory_mb = [64]\n").starts_with("dir/whatif.toml:2:13: set.memory_mb: 64: expected whole"),
            "{}",
            e("[set]\nmemory_mb = [64]\n")
        );
        assert!(e("traffic = \"-2x\"\n").starts_with("dir/whatif.toml:1:11: traffic:"));
        assert!(e("[set]\nprovisioned_concurrency = 9\n").contains("more than the 5"));
        assert!(checked("traffic = [\"1x\", \"10x\"]\n[set]\nreserved_concurrency = [10, \"unreserved\"]\n").is_ok());
    }
}
