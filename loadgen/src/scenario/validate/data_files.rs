//! `[[data.file]]`: the data files a scenario reads before it runs — each named, read from a
//! JSON-lines or CSV file beside the scenario, with the order its rows are taken in.

use std::sync::Arc;

use crate::scenario::error::{Locator, ScenarioError};
use crate::scenario::raw::RawDataFile;
use crate::scenario::seed_data::{DataFile, RowOrder, read_file, resolve};
use crate::scenario::values::span;

/// Reads every `[[data.file]]` of the scenario at `scenario`.
pub(super) fn files(
    loc: &Locator<'_>,
    scenario: &std::path::Path,
    raw: &[RawDataFile],
) -> Result<Vec<DataFile>, ScenarioError> {
    let mut out: Vec<DataFile> = Vec::new();
    for (i, f) in raw.iter().enumerate() {
        let at = |k: &str| format!("data.file[{i}].{k}");
        let name = f.name.get_ref();
        if !crate::scenario::template::ident(name) {
            return Err(loc.error(
                span(&f.name),
                at("name"),
                format!("'{name}' is no name for {{{name}.column}}: letters, digits, _"),
            ));
        }
        if out.iter().any(|o| &o.name == name) {
            return Err(loc.error(span(&f.name), at("name"), format!("two data files are named '{name}'")));
        }
        let order = match f.order.as_ref().map(|o| (o, o.get_ref().as_str())) {
            None | Some((_, "sequential")) => RowOrder::Sequential,
            Some((_, "random")) => RowOrder::Random,
            Some((_, "unique")) => RowOrder::Unique,
            Some((o, other)) => {
                return Err(loc.error(
                    span(o),
                    at("order"),
                    format!("'{other}': use \"sequential\", \"random\" or \"unique\""),
                ));
            }
        };
        let path = resolve(scenario, f.path.get_ref());
        let rows = read_file(&path, None).map_err(|e| loc.error(span(&f.path), at("path"), e.to_string()))?;
        out.push(DataFile { name: name.clone(), path, order, rows: Some(Arc::new(rows)) });
    }
    Ok(out)
}
