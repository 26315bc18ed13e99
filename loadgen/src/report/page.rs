//! The HTML page model shared by `report.html` and `compare.html`: sections of key figures,
//! tables and charts, rendered through one askama template (`templates/page.html`) that
//! escapes every value; only the plotters SVG is marked safe (plotters escapes its own text).

use askama::Template;

/// Inline CSS: light and dark, readable at 1280 px, printable.
const CSS: &str = include_str!("../../templates/page.css");

/// A table cell with an optional CSS class (`num`, `pass`, `fail`, `warn`).
pub struct Cell {
    /// Shown text (escaped by the template).
    pub text: String,
    /// CSS class.
    pub class: &'static str,
}

impl Cell {
    /// Left-aligned text.
    pub fn text(s: impl Into<String>) -> Cell {
        Cell { text: s.into(), class: "" }
    }
    /// A right-aligned number.
    pub fn num(s: impl Into<String>) -> Cell {
        Cell { text: s.into(), class: "num" }
    }
    /// Pass or fail.
    pub fn verdict(passed: bool) -> Cell {
        if passed { Cell { text: "pass".into(), class: "pass" } } else { Cell { text: "FAIL".into(), class: "fail" } }
    }
}

/// A table.
pub struct Table {
    /// Caption above it.
    pub caption: String,
    /// Column headers; those starting with `#` are right-aligned (the `#` is dropped).
    pub headers: Vec<(String, bool)>,
    /// Rows.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// A table with `headers`; a header starting with `#` marks a numeric column.
    pub fn new(caption: impl Into<String>, headers: &[&str]) -> Table {
        Table {
            caption: caption.into(),
            headers: headers
                .iter()
                .map(|h| match h.strip_prefix('#') {
                    Some(n) => (n.to_owned(), true),
                    None => ((*h).to_owned(), false),
                })
                .collect(),
            rows: Vec::new(),
        }
    }
}

/// A chart: an inline SVG with a title and a note on how to read it.
pub struct Chart {
    /// HTML id, also what the browser test looks for.
    pub id: &'static str,
    /// Title.
    pub title: String,
    /// How to read it.
    pub read: String,
    /// The SVG document.
    pub svg: String,
}

/// A headline number.
pub struct Figure {
    /// What it is.
    pub label: String,
    /// The number.
    pub value: String,
    /// Context beneath it.
    pub note: String,
    /// CSS class (`pass`, `fail`, `warn` or empty).
    pub class: &'static str,
}

/// A section of the page.
#[derive(Default)]
pub struct Section {
    /// Anchor id.
    pub id: &'static str,
    /// Heading.
    pub heading: String,
    /// Paragraphs before the content.
    pub notes: Vec<String>,
    /// Headline figures.
    pub figures: Vec<Figure>,
    /// Tables.
    pub tables: Vec<Table>,
    /// Charts.
    pub charts: Vec<Chart>,
}

/// The whole page.
#[derive(Template)]
#[template(path = "page.html")]
pub struct Page {
    /// Document title.
    pub title: String,
    /// Verdict banner text.
    pub verdict: String,
    /// `pass`, `fail` or `warn`.
    pub verdict_class: &'static str,
    /// The line under the title.
    pub subtitle: String,
    /// Sections in order.
    pub sections: Vec<Section>,
    /// Footer.
    pub footer: String,
    /// The stylesheet.
    pub css: &'static str,
}

impl Page {
    /// A page with the built-in stylesheet.
    pub fn new(title: String, verdict: String, verdict_class: &'static str, subtitle: String) -> Page {
        Page { title, verdict, verdict_class, subtitle, sections: Vec::new(), footer: String::new(), css: CSS }
    }

    /// Renders the page; askama cannot fail on these plain fields, but a failure still
    /// becomes a readable page rather than a panic.
    pub fn html(&self) -> String {
        self.render().unwrap_or_else(|e| format!("<!doctype html><title>report</title><p>render failed: {e}</p>"))
    }
}

/// `12.34` (ms to two decimals).
pub fn ms(v: f64) -> String {
    format!("{v:.2}")
}

/// `1.23%` of a fraction.
pub fn pct(v: f64) -> String {
    format!("{:.2}%", v * 100.0)
}

pub use crate::money::usd;
