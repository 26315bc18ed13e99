//! Scenario errors: every one names the file, line and column, the field, and what is expected.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A problem in a scenario file.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioError {
    /// The scenario file.
    pub file: PathBuf,
    /// 1-based line (0 when the problem has no place in the file, such as a missing file).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Dotted path of the field, e.g. `phase[2].rate`.
    pub field: String,
    /// What is wrong and what is expected.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: ", self.file.display())?;
        } else {
            write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// Turns byte offsets into file positions.
#[derive(Debug, Clone)]
pub struct Locator<'a> {
    file: &'a Path,
    text: &'a str,
}

impl<'a> Locator<'a> {
    /// The file being read.
    pub fn file(&self) -> &'a Path {
        self.file
    }

    /// A locator over `text`, read from `file`.
    pub fn new(file: &'a Path, text: &'a str) -> Self {
        Self { file, text }
    }

    /// 1-based line and column of byte `offset`.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
        (line, column)
    }

    /// An error at `span`.
    pub fn error(&self, span: Range<usize>, field: impl Into<String>, message: impl Into<String>) -> ScenarioError {
        let (line, column) = self.position(span.start);
        ScenarioError { file: self.file.to_path_buf(), line, column, field: field.into(), message: message.into() }
    }

    /// The TOML key written at `offset`'s line (what a parse error points at), if any.
    pub fn key_at(&self, offset: usize) -> String {
        let offset = offset.min(self.text.len());
        let start = self.text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line = self.text[start..].lines().next().unwrap_or("");
        match line.split_once('=') {
            Some((key, _)) => key.trim().trim_matches('"').to_owned(),
            None => line.trim().trim_start_matches('[').trim_end_matches(']').trim().to_owned(),
        }
    }
}

/// "did you mean" for a misspelt name among `known`.
pub fn suggestion(unknown: &str, known: &[&str]) -> Option<String> {
    known
        .iter()
        .map(|k| (strsim::levenshtein(unknown, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min()
        .map(|(_, k)| k.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let text = "a = 1\nbb = 2\n";
        let l = Locator::new(Path::new("x.toml"), text);
        assert_eq!(l.position(0), (1, 1));
        assert_eq!(l.position(6), (2, 1));
        assert_eq!(l.position(11), (2, 6));
        assert_eq!(l.key_at(8), "bb");
        let e = l.error(6..8, "bb", "expected a string");
        assert_eq!(e.to_string(), "x.toml:2:1: bb: expected a string");
    }

    #[test]
    fn suggests_close_names() {
        assert_eq!(suggestion("ratee", &["rate", "ramp", "steps"]), Some("rate".into()));
        assert_eq!(suggestion("durtion", &["duration", "name"]), Some("duration".into()));
        assert_eq!(suggestion("zzzzzz", &["rate"]), None);
    }
}
