//! What `[data]` seeds and how: straight into the table (`BatchWriteItem`, the default) or
//! through the API under test (`seed_via = "api"`), items made from an `item` template or read
//! from a JSON-lines or CSV `file` — checked line by line before anything runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::template::{FieldError, Template};

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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
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
/// header row) — keeping `key`'s value of each row when a key column is named. Errors name the
/// file and line.
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
    if let Some(key) = key {
        rows.keys = keys_of(&rows, key, path)?;
    }
    Ok(rows)
}

/// Each row's value of the column `key`, for `{id}`; a row without one is an error at its line.
pub fn keys_of(rows: &SeedRows, key: &str, path: &Path) -> Result<Vec<String>, DataFileError> {
    let mut keys = Vec::with_capacity(rows.items.len());
    for (line, item) in &rows.items {
        let Some(k) = item.get(key).and_then(SeedValue::as_key) else {
            return Err(DataFileError::Line {
                path: path.to_path_buf(),
                line: *line as u64,
                why: format!(
                    "no '{key}' value; every row needs the column {{id}} draws from (name it with [data] key = \"…\")"
                ),
            });
        };
        keys.push(k.to_owned());
    }
    Ok(keys)
}

impl SeedValue {
    /// The value as a template renders it: strings and numbers as they are, a boolean as
    /// `true`/`false`, null as nothing, lists and maps as JSON.
    pub fn write_to(&self, out: &mut String) {
        match self {
            SeedValue::S(s) | SeedValue::N(s) => out.push_str(s),
            SeedValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            SeedValue::Null => {}
            SeedValue::L(_) | SeedValue::M(_) => {
                let one = BTreeMap::from([(String::new(), self.clone())]);
                if let Some(v) = to_json(&one).get("") {
                    out.push_str(&v.to_string());
                }
            }
        }
    }
}

/// How a data file's rows are taken by the requests that use its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RowOrder {
    /// One after another, starting over at the end.
    #[default]
    Sequential,
    /// Any row, each time.
    Random,
    /// Each row once; when they run out the run stops, saying so.
    Unique,
}

/// `[[data.file]]`: rows that templates draw fields from (`{users.email}`), and that `[data]
/// seed_from` may seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DataFile {
    /// The name templates use.
    pub name: String,
    /// The file, resolved against the scenario's directory.
    #[schemars(with = "String")]
    pub path: PathBuf,
    /// How rows are taken.
    #[serde(default)]
    pub order: RowOrder,
    /// Its rows, read once at validation.
    #[serde(skip)]
    #[schemars(skip)]
    pub rows: Rows,
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
        // Item templates draw no data file (validation refuses them).
        let mut fill =
            super::template::OneFill { n, payload: &payload, rng: fastrand::Rng::with_seed(n), field: &|_, _, _| {} };
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
    let file = data.seed_from.as_ref().and_then(|n| data.files.iter().find(|f| &f.name == n));
    Some(format!("{}:{line}", file.map(|f| f.path.display().to_string()).unwrap_or_default()))
}

/// What `{file.column}` resolves with: the file's number among `files`, or why it cannot be
/// used — no such file, or the first row without the column (named with its file and line).
pub fn field_lookup(files: &[DataFile]) -> impl Fn(&str, &str) -> Result<usize, FieldError> + '_ {
    move |name, column| {
        let Some(i) = files.iter().position(|f| f.name == name) else {
            return Err(FieldError::NoFile {
                name: name.to_owned(),
                known: files.iter().map(|f| f.name.clone()).collect::<Vec<_>>().join(", "),
            });
        };
        let file = &files[i];
        if let Some((line, _)) =
            file.rows.as_ref().and_then(|r| r.items.iter().find(|(_, row)| !row.contains_key(column)))
        {
            return Err(FieldError::NoColumn {
                at: format!("{}:{line}", file.path.display()),
                column: column.to_owned(),
                name: name.to_owned(),
            });
        }
        Ok(i)
    }
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
        let rows = read_file(&file("a.jsonl", "{\"id\":\"o1\",\"n\":2,\"tags\":[\"x\"]}\n\n{\"id\":7}\n"), Some("id"))
            .unwrap();
        assert_eq!(rows.keys, ["o1", "7"]);
        assert_eq!(rows.items[1].0, 3, "the blank line counts");
        assert_eq!(rows.items[0].1["n"], SeedValue::N("2".into()));
        let rows = read_file(&file("b.csv", "orderId,total\no1,12.5\no2,\n"), Some("orderId")).unwrap();
        assert_eq!(rows.keys, ["o1", "o2"]);
        assert!(!rows.items[1].1.contains_key("total"), "an empty cell is no attribute");
        let e = read_file(&file("c.csv", "orderId,total\no1,1\n,2\n"), Some("orderId")).unwrap_err().to_string();
        assert!(e.contains("c.csv:3: no 'orderId' value"), "{e}");
        let e = read_file(&file("d.jsonl", "{\"id\":1}\n[1]\n"), Some("id")).unwrap_err().to_string();
        assert!(e.contains("d.jsonl:2: each line must be a JSON object"), "{e}");
        assert!(read_file(&file("e.txt", "x"), None).unwrap_err().to_string().contains("JSON lines"));
    }
}
