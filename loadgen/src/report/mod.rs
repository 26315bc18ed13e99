//! Renderers: pure functions of the results document, so `loadgen report results.json`
//! rewrites exactly what `loadgen run` wrote. Same input, byte-identical output.

pub mod charts;
pub mod compare_html;
pub mod escape;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod page;
pub mod terminal;

use std::path::Path;

use crate::files::{WriteError, write};
use crate::results::Results;
use crate::scenario::Unit;

/// Writes `report.html`, `junit.xml` and `summary.md` into `dir`.
pub fn write_all(results: &Results, dir: &Path) -> Result<(), WriteError> {
    write(&dir.join("report.html"), html::render(results))?;
    write(&dir.join("junit.xml"), junit::render(results))?;
    write(&dir.join("summary.md"), markdown::render(results))
}

/// A measured threshold value in its unit, for humans.
pub fn shown(value: f64, unit: Unit) -> String {
    if value.is_nan() {
        return "nothing measured".into();
    }
    match unit {
        Unit::Millis => format!("{value:.2} ms"),
        Unit::Fraction => format!("{:.3}%", value * 100.0),
        Unit::Count => format!("{value}"),
    }
}
