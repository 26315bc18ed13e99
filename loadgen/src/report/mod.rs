//! Renderers: pure functions of the results document, so `loadgen report results.json`
//! rewrites exactly what `loadgen run` wrote. Same input, byte-identical output.

pub mod charts;
pub mod compare_html;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod page;

use std::path::Path;

use crate::results::Results;

/// Writes `report.html`, `junit.xml` and `summary.md` into `dir`.
pub fn write_all(results: &Results, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("report.html"), html::render(results))?;
    std::fs::write(dir.join("junit.xml"), junit::render(results))?;
    std::fs::write(dir.join("summary.md"), markdown::render(results))?;
    Ok(())
}

/// A measured threshold value in its unit, for humans.
pub fn shown(value: f64, unit: &str) -> String {
    if value.is_nan() {
        return "nothing measured".into();
    }
    match unit {
        "ms" => format!("{value:.2} ms"),
        "ratio" => format!("{:.3}%", value * 100.0),
        _ => format!("{value}"),
    }
}
