//! What `[data]` seeds and how: straight into the table (`BatchWriteItem`, the default) or
//! through the API under test (`seed_via = "api"`), items made from an `item` template or read
//! from a JSON-lines or CSV `file` — checked line by line before anything runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::template::Template;

/// Where seeded items are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SeedVia {
    /// Straight into the table with `BatchWriteItem`: nothing of it reaches the API or the
    /// function.
    #[default]
    Table,
    /// Through `POST <seed_path>` of the API under test (results written before the choice
    /// existed seeded this way).
    Api,
}

/// One attribute of the `item` template: text with `{id}` and `{payload}`, a number or a
/// boolean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ItemValue {
    /// A string attribute, rendered per item.
    Text(#[schemars(with = "String")] Template),
    /// A number.
    Number(f64),
    /// A boolean.
    Bool(bool),
}

/// A value read from a data file, typed as DynamoDB types it.
#[derive(Debug, Clone, PartialEq)]
pub enum SeedValue {
    /// A string (every CSV cell, until the table's key types say otherwise).
    S(String),
    /// A number, as its text.
    N(String),
    /// A boolean.
    Bool(bool),
    /// JSON null.
    Null,
    /// A list.
    L(Vec<SeedValue>),
    /// A map.
    M(BTreeMap<String, SeedValue>),
}

impl SeedValue {
    fn from_json(v: &serde_json::Value) -> SeedValue {
        match v {
            serde_json::Value::String(s) => SeedValue::S(s.clone()),
            serde_json::Value::Number(n) => SeedValue::N(n.to_string()),
            serde_json::Value::Bool(b) => SeedValue::Bool(*b),
            serde_json::Value::Null => SeedValue::Null,
            serde_json::Value::Array(a) => SeedValue::L(a.iter().map(SeedValue::from_json).collect()),
            serde_json::Value::Object(o) => {
                SeedValue::M(o.iter().map(|(k, v)| (k.clone(), SeedValue::from_json(v))).collect())
            }
        }
    }

    /// The value as text, for `{id}`: strings and numbers only.
    pub fn as_key(&self) -> Option<&str> {
        match self {
            SeedValue::S(s) | SeedValue::N(s) if !s.is_empty() => Some(s),
            _ => None,
        }
    }
}

/// The rows of a data file: each an item, with the file line it came from, and the value of
/// the key column `{id}` draws from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SeedRows {
    /// `(line, item)`.
    pub items: Vec<(usize, BTreeMap<String, SeedValue>)>,
    /// The key column's value of each row, in order.
    pub keys: Vec<String>,
}

/// The file's rows, shared by the plan's clones.
pub type Rows = Option<Arc<SeedRows>>;

/// What is wrong with a data file, with its place.
#[derive(Debug, thiserror::Error)]
pub enum DataFileError {
    /// It cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Neither JSON lines nor CSV by its name.
    #[error("{}: a data file is JSON lines (.jsonl, .ndjson) or CSV (.csv) with a header row", .0.display())]
    Kind(PathBuf),
    /// A line or record that does not parse.
    #[error("{}:{line}: {why}", path.display())]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// What is wrong there.
        why: String,
    },
    /// No rows at all.
    #[error("{} has no rows", .0.display())]
    Empty(PathBuf),
}

/// Reads `path` — JSON lines (`.jsonl`, `.ndjson`, `.json`: one object per line) or CSV (a
/// header row) — keeping `key`'s value of each row (`id` when not named). Errors name the file
/// and line.
pub fn read_file(path: &Path, key: Option<&str>) -> Result<SeedRows, DataFileError> {
    let at = |line: usize, why: String| DataFileError::Line { path: path.to_path_buf(), line: line as u64, why };
    let text =
        std::fs::read_to_string(path).map_err(|source| DataFileError::Read { path: path.to_path_buf(), source })?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let mut rows = SeedRows::default();
    match ext.as_str() {
        "jsonl" | "ndjson" | "json" => {
            for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let v: serde_json::Value =
                    serde_json::from_str(line).map_err(|e| at(i + 1, format!("not JSON: {e}")))?;
                let serde_json::Value::Object(o) = v else {
                    return Err(at(i + 1, "each line must be a JSON object (one item)".into()));
                };
                rows.items.push((i + 1, o.iter().map(|(k, v)| (k.clone(), SeedValue::from_json(v))).collect()));
            }
        }
        "csv" => {
            let mut r = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
            let header: Vec<String> =
                r.headers().map_err(|e| at(1, e.to_string()))?.iter().map(str::to_owned).collect();
            for rec in r.records() {
                let rec = rec.map_err(|e| at(e.position().map_or(0, |p| p.line() as usize), e.to_string()))?;
                let line = rec.position().map_or(0, |p| p.line() as usize);
                // An empty cell is an absent attribute: DynamoDB stores no empty key values.
                let item = header
                    .iter()
                    .zip(rec.iter())
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(k, v)| (k.clone(), SeedValue::S(v.to_owned())))
                    .collect();
                rows.items.push((line, item));
            }
        }
        _ => return Err(DataFileError::Kind(path.to_path_buf())),
    }
    if rows.items.is_empty() {
        return Err(DataFileError::Empty(path.to_path_buf()));
    }
    let key = key.unwrap_or("id");
    for (line, item) in &rows.items {
        let Some(k) = item.get(key).and_then(SeedValue::as_key) else {
            return Err(at(
                *line,
                format!(
                    "no '{key}' value; every row needs the column {{id}} draws from (name it with [data] key = \"…\")"
                ),
            ));
        };
        rows.keys.push(k.to_owned());
    }
    Ok(rows)
}

/// Item `n` of `data` as `via` writes it: the file's row; else the `item` template rendered,
/// or by default target-api's item — its stored layout (`PK = "ITEM#<id>"`, `SK = "ITEM"`,
/// `id`, `payload`) into the table, its `POST /items` body (`id`, `payload`) through the API.
pub fn item(data: &super::Data, n: u64, via: SeedVia) -> BTreeMap<String, SeedValue> {
    if let Some(row) = data.rows.as_ref().and_then(|r| r.items.get(n as usize)) {
        return row.1.clone();
    }
    let payload = "x".repeat(data.item_size);
    let text = |t: &Template| {
        let mut out = String::new();
        let mut fill = super::template::OneFill { n, payload: &payload, rng: fastrand::Rng::with_seed(n) };
        t.render(&mut out, &mut fill);
        out
    };
    if data.item.is_empty() {
        let id = super::template::seeded_id(n);
        let mut m = BTreeMap::from([
            ("id".to_owned(), SeedValue::S(id.clone())),
            ("payload".to_owned(), SeedValue::S(payload)),
        ]);
        if via == SeedVia::Table {
            m.insert("PK".into(), SeedValue::S(format!("ITEM#{id}")));
            m.insert("SK".into(), SeedValue::S("ITEM".into()));
        }
        return m;
    }
    data.item
        .iter()
        .map(|(k, v)| {
            let v = match v {
                ItemValue::Text(t) => SeedValue::S(text(t)),
                ItemValue::Number(x) => SeedValue::N(x.to_string()),
                ItemValue::Bool(b) => SeedValue::Bool(*b),
            };
            (k.clone(), v)
        })
        .collect()
}

/// An item as a JSON object, for a `POST` body.
pub fn to_json(item: &BTreeMap<String, SeedValue>) -> serde_json::Value {
    fn one(v: &SeedValue) -> serde_json::Value {
        match v {
            SeedValue::S(s) => serde_json::Value::String(s.clone()),
            SeedValue::N(n) => n
                .parse::<serde_json::Number>()
                .map(serde_json::Value::Number)
                .unwrap_or_else(|_| serde_json::Value::String(n.clone())),
            SeedValue::Bool(b) => serde_json::Value::Bool(*b),
            SeedValue::Null => serde_json::Value::Null,
            SeedValue::L(l) => serde_json::Value::Array(l.iter().map(one).collect()),
            SeedValue::M(m) => serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), one(v))).collect()),
        }
    }
    serde_json::Value::Object(item.iter().map(|(k, v)| (k.clone(), one(v))).collect())
}

/// The file line item `n` came from, for messages.
pub fn line_of(data: &super::Data, n: u64) -> Option<String> {
    let rows = data.rows.as_ref()?;
    let (line, _) = rows.items.get(n as usize)?;
    Some(format!("{}:{line}", data.file.as_ref().map(|f| f.display().to_string()).unwrap_or_default()))
}

/// `path` against the scenario's directory.
pub fn resolve(scenario: &Path, path: &str) -> PathBuf {
    let dir = scenario.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if Path::new(path).is_absolute() { PathBuf::from(path) } else { dir.join(path) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("seed-{}-{name}", std::process::id()));
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn json_lines_and_csv_read_with_their_lines_named() {
        let rows =
            read_file(&file("a.jsonl", "{\"id\":\"o1\",\"n\":2,\"tags\":[\"x\"]}\n\n{\"id\":7}\n"), None).unwrap();
        assert_eq!(rows.keys, ["o1", "7"]);
        assert_eq!(rows.items[1].0, 3, "the blank line counts");
        assert_eq!(rows.items[0].1["n"], SeedValue::N("2".into()));
        let rows = read_file(&file("b.csv", "orderId,total\no1,12.5\no2,\n"), Some("orderId")).unwrap();
        assert_eq!(rows.keys, ["o1", "o2"]);
        assert!(!rows.items[1].1.contains_key("total"), "an empty cell is no attribute");
        let e = read_file(&file("c.csv", "orderId,total\no1,1\n,2\n"), Some("orderId")).unwrap_err().to_string();
        assert!(e.contains("c.csv:3: no 'orderId' value"), "{e}");
        let e = read_file(&file("d.jsonl", "{\"id\":1}\n[1]\n"), None).unwrap_err().to_string();
        assert!(e.contains("d.jsonl:2: each line must be a JSON object"), "{e}");
        assert!(read_file(&file("e.txt", "x"), None).unwrap_err().to_string().contains("JSON lines"));
    }
}
