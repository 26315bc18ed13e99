//! Every key of every scenario the project ships, and of the price list, given values of the
//! wrong type and out of range — negative, zero, huge, tiny, NaN, infinite, a boolean, an empty
//! string, a control character, an array, a table, a date — must be accepted or refused with
//! an error that names the file and the place (a scenario's line, a price list's key), never
//! a panic. The values are written over each `key = value` line as it stands in the file, so
//! every key the files use is reached, inline tables and arrays of tables included.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use loadgen::cost::Prices;
use loadgen::scenario::Plan;

const HOSTILE: &[&str] = &[
    "\"x\"",
    "\"\"",
    "\"\\u0007\\n\"",
    "-1",
    "0",
    "1e300",
    "-1e300",
    "1e-300",
    "1e-20",
    "nan",
    "-inf",
    "9223372036854775807",
    "-9223372036854775808",
    "true",
    "[]",
    "[1, \"a\"]",
    "{}",
    "{ x = 1 }",
    "1970-01-01T00:00:00Z",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The files whose keys are attacked: every shipped scenario, the README's example and the
/// test fixtures that are valid.
fn scenarios() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.push(root().join("examples/orders/load.toml"));
    files.push(root().join("loadgen/tests/data/sample.toml"));
    files.push(root().join("loadgen/tests/data/calibrate.toml"));
    files.sort();
    files
}

/// Each `key = value` line of `text` (outside multi-line strings) with its value replaced by
/// `value`: (line number, the new text).
fn mutations<'a>(text: &'a str, value: &'a str) -> impl Iterator<Item = (usize, String)> + 'a {
    let lines: Vec<&str> = text.lines().collect();
    let mut in_string = false;
    let mut at = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let quotes = l.matches("'''").count() + l.matches("\"\"\"").count();
        let starts_here = !in_string;
        if quotes % 2 == 1 {
            in_string = !in_string;
        }
        let t = l.trim_start();
        if starts_here && !t.starts_with('#') && !t.starts_with('[') && t.contains('=') {
            at.push(i);
        }
    }
    at.into_iter().map(move |i| {
        let (key, _) = lines[i].split_once('=').unwrap();
        let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        out[i] = format!("{key}= {value}");
        // A value that opened a multi-line string is cut: its remaining lines go with it.
        if lines[i].matches("'''").count() % 2 == 1 || lines[i].matches("\"\"\"").count() % 2 == 1 {
            let end = (i + 1..lines.len()).find(|j| lines[*j].contains("'''") || lines[*j].contains("\"\"\"")).unwrap();
            out.drain(i + 1..=end);
        }
        (i + 1, out.join("\n"))
    })
}

#[test]
fn every_scenario_key_takes_any_value_without_a_panic() {
    let env = |_: &str| Some("value-from-env".to_owned());
    let mut problems = Vec::new();
    let (mut tried, mut refused) = (0, 0);
    for file in scenarios() {
        let text = std::fs::read_to_string(&file).unwrap();
        for value in HOSTILE {
            for (line, mutated) in mutations(&text, value) {
                tried += 1;
                let what = format!("{}:{line} = {value}", file.display());
                match catch_unwind(AssertUnwindSafe(|| Plan::from_str(&file, &mutated, &env))) {
                    Err(_) => problems.push(format!("{what}: panicked")),
                    Ok(Err(e)) if e.file != file || e.line == 0 || e.message.is_empty() => {
                        problems.push(format!("{what}: an error without its place: {e}"))
                    }
                    Ok(Err(_)) => refused += 1,
                    Ok(Ok(_)) => {}
                }
            }
        }
    }
    assert!(tried > 2_000, "{tried} mutations");
    // Nearly every one is wrong for its key; the few accepted are strings a name may be.
    assert!(refused * 10 > tried * 9, "only {refused} of {tried} refused");
    assert!(problems.is_empty(), "{} of {tried}:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn every_price_list_key_takes_any_value_without_a_panic() {
    let text = std::fs::read_to_string(root().join("loadgen/prices.toml")).unwrap();
    let dir = std::env::temp_dir().join(format!("loadgen-hostile-prices-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("prices.toml");
    let mut problems = Vec::new();
    let mut tried = 0;
    for value in HOSTILE {
        for (line, mutated) in mutations(&text, value) {
            tried += 1;
            let key = mutated.lines().nth(line - 1).unwrap().split_once('=').unwrap().0.trim().to_owned();
            std::fs::write(&path, &mutated).unwrap();
            match catch_unwind(|| Prices::from_file(&path)) {
                Err(_) => problems.push(format!("prices.toml:{line} {key} = {value}: panicked")),
                Ok(Err(e)) => {
                    let shown = format!("{:#}", loadgen::error::Chain(&e));
                    let placed = shown.contains(&format!("line {line}")) || shown.contains(&key);
                    if !shown.contains(&path.display().to_string()) || !placed {
                        problems
                            .push(format!("prices.toml:{line} {key} = {value}: names neither line nor key: {shown}"));
                    }
                }
                Ok(Ok(p)) => {
                    // Accepted: then every region still prices a run without a panic.
                    for region in p.regions.keys() {
                        if catch_unwind(AssertUnwindSafe(|| p.region(region).map(|r| format!("{r:?}")))).is_err() {
                            problems.push(format!("prices.toml:{line} {key} = {value}: reading {region} panicked"));
                        }
                    }
                }
            }
        }
    }
    assert!(tried > 300, "{tried} mutations");
    assert!(problems.is_empty(), "{} of {tried}:\n{}", problems.len(), problems.join("\n"));
}
