//! Renderers: pure functions of the results document, so `loadgen report results.json`
//! rewrites exactly what `loadgen run` wrote. Same input, byte-identical output. One function
//! ([`write`]) puts every rendered file on disk.

pub mod charts;
pub mod compare_html;
pub mod escape;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod page;
pub mod terminal;

use std::path::{Path, PathBuf};

use crate::results::Results;
use crate::scenario::Unit;

/// A file that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}", path.display())]
pub struct WriteError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// Writes `bytes` to `path`, creating its directory.
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> Result<(), WriteError> {
    let wrap = |source| WriteError { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(wrap)?;
    }
    std::fs::write(path, bytes).map_err(wrap)
}

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
