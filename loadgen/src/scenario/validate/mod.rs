//! Raw scenario → [`Plan`]: every semantic check, one file per table, each error pointing at
//! the offending value.

mod data;
mod phases;
mod requests;
mod stack;
mod target;
mod thresholds;
mod values;

use std::path::Path;

use super::Plan;
use super::error::{Locator, ScenarioError};
use super::raw::RawScenario;
use values::{from_toml_error, int_in, span};

pub(super) fn plan(path: &Path, text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Plan, ScenarioError> {
    let loc = Locator::new(path, text);
    let raw: RawScenario = toml::from_str(text).map_err(|e| from_toml_error(&loc, &e))?;

    let name = raw.name.get_ref().trim().to_owned();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err(loc.error(
            span(&raw.name),
            "name",
            "expected a name of letters, digits, '-', '_' or '.' (it names the report directory)",
        ));
    }
    let seed = match &raw.seed {
        Some(s) => int_in(&loc, s, "seed", 0, i64::MAX)? as u64,
        None => 1,
    };
    let target = target::target(&loc, raw.target.as_ref(), env)?;
    let stack = stack::stack(&loc, raw.stack.as_ref())?;
    let data = data::data(&loc, raw.data.as_ref())?;
    let phases = phases::phases(&loc, &raw.phases)?;
    let requests = requests::requests(&loc, &raw.requests, &data)?;
    let thresholds = thresholds::thresholds(&loc, raw.thresholds.as_ref(), &requests)?;

    Ok(Plan {
        name,
        description: raw.description.trim().to_owned(),
        file: path.to_path_buf(),
        seed,
        target,
        stack,
        data,
        phases,
        requests,
        thresholds,
    })
}
