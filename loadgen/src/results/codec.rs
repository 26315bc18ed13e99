//! results.json on disk: reading a document back (checked against [`SCHEMA`]), writing it, and
//! the histogram cells' encoding — HdrHistogram's V2 deflate format in base64, which any
//! HdrHistogram library decodes.

use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;

use super::{HistogramCell, Results, SCHEMA};
use crate::files::{self, WriteError};

/// Why a results document cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file cannot be read.
    #[error("{}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// It is not a results document.
    #[error("{}: not a loadgen results document", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where it stops making sense.
        #[source]
        source: serde_json::Error,
    },
    /// It is a results document of another version.
    #[error("{}: schema {found} is not {SCHEMA}", path.display())]
    Schema {
        /// The file.
        path: PathBuf,
        /// The schema it declares.
        found: String,
    },
}

/// A histogram cell that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("histogram of request '{request}', phase '{phase}', class {class} does not decode")]
pub struct HistogramError {
    /// Request name of the cell.
    pub request: String,
    /// Phase name.
    pub phase: String,
    /// Class name.
    pub class: &'static str,
}

impl HistogramError {
    /// The error for `cell`.
    pub fn of(cell: &HistogramCell) -> Self {
        HistogramError { request: cell.request.clone(), phase: cell.phase.clone(), class: cell.class.name() }
    }
}

impl Results {
    /// Reads and checks a results document.
    pub fn from_file(path: &Path) -> Result<Results, LoadError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| LoadError::Read { path: path.to_path_buf(), source })?;
        let doc: Results =
            serde_json::from_str(&text).map_err(|source| LoadError::Parse { path: path.to_path_buf(), source })?;
        if doc.schema != SCHEMA {
            return Err(LoadError::Schema { path: path.to_path_buf(), found: doc.schema });
        }
        Ok(doc)
    }

    /// The document as pretty-printed JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // Every field is a plain value, a string-keyed map or a sequence: serializing cannot fail.
        serde_json::to_vec_pretty(self).expect("results serialize")
    }

    /// Writes the document to `path`.
    pub fn write(&self, path: &Path) -> Result<(), WriteError> {
        files::write(path, self.to_json())
    }
}

impl HistogramCell {
    /// The cell's corrected latency and service time.
    pub fn decode(&self) -> Result<(Histogram<u64>, Histogram<u64>), HistogramError> {
        let bad = || HistogramError::of(self);
        Ok((decode(&self.latency).ok_or_else(bad)?, decode(&self.service_time).ok_or_else(bad)?))
    }
}

pub use crate::record::histogram::{decode, encode};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::Stats;

    #[test]
    fn histograms_round_trip_exactly() {
        let mut h = crate::record::histogram::new();
        for v in [1u64, 250, 1_000, 33_333, 59_000_000] {
            h.record(v).unwrap();
        }
        let back = decode(&encode(&h)).unwrap();
        assert_eq!(back, h);
        assert_eq!(Stats::of(&back), Stats::of(&h));
    }
}
