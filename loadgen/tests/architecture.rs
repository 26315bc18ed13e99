//! The shape of loadgen's source, checked so it stays the way issue #12 left it: every file
//! says what it owns on its first line, files and functions stay small, errors are typed, the
//! results types hold no untyped JSON, and no two modules import each other — neither two
//! top-level modules nor two files of one folder.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 500;
const MAX_FN_LINES: usize = 120;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn files() -> Vec<(PathBuf, String)> {
    let mut paths = Vec::new();
    for dir in ["src", "tests", "benches", "examples"] {
        let d = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        if d.is_dir() {
            rust_files(&d, &mut paths);
        }
    }
    paths.sort();
    paths.into_iter().map(|p| (p.clone(), std::fs::read_to_string(&p).unwrap())).collect()
}

fn rel(p: &Path) -> String {
    p.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(p).display().to_string()
}

#[test]
fn every_file_says_what_it_owns_and_stays_small() {
    let mut problems = Vec::new();
    for (path, text) in files() {
        if !text.starts_with("//!") {
            problems.push(format!("{}: does not start with a //! line", rel(&path)));
        }
        let lines = text.lines().count();
        if path.starts_with(src()) && lines > MAX_FILE_LINES {
            problems.push(format!("{}: {lines} lines (at most {MAX_FILE_LINES})", rel(&path)));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The rest of a line after its visibility and qualifiers, when it declares a function.
fn fn_declaration(line: &str) -> Option<&str> {
    let mut t = line.trim_start();
    if let Some(rest) = t.strip_prefix("pub") {
        t = match rest.strip_prefix('(') {
            Some(r) => r.split_once(')')?.1.trim_start(),
            None => rest.strip_prefix(' ')?,
        };
    }
    loop {
        let before = t;
        for q in ["const ", "async ", "unsafe ", "extern \"C\" "] {
            t = t.strip_prefix(q).unwrap_or(t);
        }
        if t == before {
            break;
        }
    }
    t.strip_prefix("fn ")
}

/// `(line, name, length)` of each function with a body: rustfmt closes a body at its `fn`'s
/// indentation. A body whose end cannot be found is reported with length `usize::MAX`.
fn functions(text: &str) -> Vec<(usize, String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let Some(decl) = fn_declaration(l) else { continue };
        let t = l.trim_end();
        if t.ends_with(';') || t.ends_with('}') {
            continue; // a declaration without a body, or a one-line function
        }
        // A signature may run over several lines; it has a body if `{` comes before a `;`.
        let has_body = lines[i..].iter().find(|x| x.contains('{') || x.trim_end().ends_with(';'));
        if !has_body.is_some_and(|x| x.contains('{')) {
            continue;
        }
        let indent = &l[..l.len() - l.trim_start().len()];
        let close = format!("{indent}}}");
        let name = decl.split(['(', '<']).next().unwrap_or("").to_owned();
        let len = lines[i + 1..].iter().position(|x| x.trim_end() == close).map_or(usize::MAX, |end| end + 2);
        out.push((i + 1, name, len));
    }
    out
}

#[test]
fn no_function_is_longer_than_120_lines() {
    let mut problems = Vec::new();
    for (path, text) in files().into_iter().filter(|(p, _)| p.starts_with(src())) {
        for (line, name, len) in functions(&text) {
            if len == usize::MAX {
                problems.push(format!("{}:{line}: fn {name}: its closing brace was not found", rel(&path)));
            } else if len > MAX_FN_LINES {
                problems.push(format!("{}:{line}: fn {name} is {len} lines (at most {MAX_FN_LINES})", rel(&path)));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The check can fail: made-up long functions are caught, whatever their qualifiers.
    let body = "    let _ = 1;\n".repeat(130);
    for head in ["fn long()", "pub(super) async fn long()", "pub const unsafe fn long()"] {
        assert_eq!(functions(&format!("{head} {{\n{body}}}\n")), vec![(1, "long".to_owned(), 132)], "{head}");
    }
    assert_eq!(functions("    fn open() {\n    let _ = 1;\n"), vec![(1, "open".to_owned(), usize::MAX)]);
}

#[test]
fn errors_are_typed_and_results_hold_no_untyped_json() {
    let mut problems = Vec::new();
    for (path, text) in files().into_iter().filter(|(p, _)| p.starts_with(src())) {
        let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        for (i, _) in flat.match_indices("Result<") {
            let rest = &flat[i..];
            // The error type is what follows the last top-level comma of `Result<…>`.
            let mut depth = 0;
            let mut comma = None;
            let mut prev = ' ';
            for (j, c) in rest.char_indices() {
                let arrow = c == '>' && prev == '-';
                prev = c;
                match c {
                    _ if arrow => {}
                    '<' | '(' => depth += 1,
                    '>' | ')' => {
                        depth -= 1;
                        if depth == 0 {
                            let err = comma.map(|k| rest[k + 1..j].trim()).unwrap_or("");
                            if err == "String" || err == "&str" || err == "&'static str" {
                                problems.push(format!("{}: {}", rel(&path), &rest[..=j]));
                            }
                            break;
                        }
                    }
                    ',' if depth == 1 => comma = Some(j),
                    _ => {}
                }
            }
        }
        let in_results = path.starts_with(src().join("results"));
        if in_results && text.contains("serde_json::Value") {
            problems.push(format!("{}: serde_json::Value in a results type", rel(&path)));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A line without its leading visibility (`pub`, `pub(crate)`, …).
fn without_visibility(line: &str) -> &str {
    let t = line.trim_start();
    match t.strip_prefix("pub") {
        Some(rest) if rest.starts_with('(') => rest.split_once(')').map_or(t, |(_, r)| r.trim_start()),
        Some(rest) if rest.starts_with(' ') => rest.trim_start(),
        _ => t,
    }
}

/// Every `crate::…` and `super::…` path a file names, `use` groups expanded.
fn paths(text: &str) -> Vec<Vec<String>> {
    fn expand(prefix: &str, body: &str, out: &mut Vec<String>) {
        let body = body.trim();
        if let Some(open) = body.find('{') {
            let head = body[..open].trim().trim_end_matches("::");
            let Some(close) = body.rfind('}').filter(|c| *c > open) else { return };
            let inner = &body[open + 1..close];
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand(&format!("{prefix}{head}::"), &inner[start..i], out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            expand(&format!("{prefix}{head}::"), &inner[start..], out);
        } else if !body.is_empty() {
            out.push(format!("{prefix}{}", body.split(" as ").next().unwrap_or(body).trim()));
        }
    }
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim_start().starts_with("//")).collect();
    let code = lines.join("\n");
    let mut found = Vec::new();
    // `use` statements start a line and end at the next `;`. A mod.rs re-exporting its
    // children (`pub use child::X`) names no `crate::`/`super::` path, so it adds no edge.
    for (i, l) in lines.iter().enumerate() {
        let Some(start) = without_visibility(l).strip_prefix("use ") else { continue };
        let mut stmt = start.to_owned();
        for more in &lines[i + 1..] {
            if stmt.contains(';') {
                break;
            }
            stmt.push_str(more);
        }
        expand("", stmt.split(';').next().unwrap_or(""), &mut found);
    }
    for word in code.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')) {
        if word.starts_with("crate::") || word.starts_with("super::") {
            found.push(word.trim_end_matches(':').to_owned());
        }
    }
    found
        .into_iter()
        .filter(|p| p.starts_with("crate::") || p.starts_with("super::"))
        .map(|p| p.split("::").map(str::to_owned).collect())
        .collect()
}

/// The module a source file is: `["cost", "assess"]` for `src/cost/assess.rs`, `["cost"]` for
/// `src/cost/mod.rs`.
fn module_of(path: &Path) -> Vec<String> {
    let rel = path.strip_prefix(src()).unwrap();
    let mut parts: Vec<String> = rel.iter().map(|c| c.to_string_lossy().trim_end_matches(".rs").to_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib" || p == "main") {
        parts.pop();
    }
    parts
}

/// Finds a cycle in `graph`, if any.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_owned(), 1);
        stack.push(n.to_owned());
        for m in g.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let from = stack.iter().position(|x| x == m).unwrap_or(0);
                    let mut c = stack[from..].to_vec();
                    c.push(m.clone());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(m, g, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            let mut stack = Vec::new();
            if let Some(c) = visit(n, graph, &mut state, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn no_two_modules_import_each_other() {
    let mut modules: BTreeSet<Vec<String>> = BTreeSet::new();
    let sources: Vec<(PathBuf, String)> = files().into_iter().filter(|(p, _)| p.starts_with(src())).collect();
    for (path, _) in &sources {
        modules.insert(module_of(path));
    }
    // Edges between top-level modules, and between sibling modules of one folder.
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut siblings: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in &sources {
        let me = module_of(path);
        if me.is_empty() {
            continue; // lib.rs and main.rs sit above everything
        }
        for p in paths(text) {
            let target: Vec<String> = match p[0].as_str() {
                "crate" if p.len() < 2 => continue,
                "crate" => p[1..].to_vec(),
                // Each `super::` is one module up (a mod.rs is its folder's module already).
                _ => {
                    let ups = p.iter().take_while(|x| *x == "super").count();
                    let base = &me[..me.len().saturating_sub(ups)];
                    base.iter().chain(&p[ups..]).cloned().collect()
                }
            };
            // The longest prefix that is a module.
            let Some(target) = (1..=target.len()).rev().map(|n| target[..n].to_vec()).find(|m| modules.contains(m))
            else {
                continue;
            };
            if target[0] != me[0] {
                top.entry(me[0].clone()).or_default().insert(target[0].clone());
                continue;
            }
            // Within one folder: the first level below the common parent, parents excluded.
            let common = me.iter().zip(&target).take_while(|(a, b)| a == b).count();
            if common < me.len() && common < target.len() {
                let a = me[..=common].join("::");
                let b = target[..=common].join("::");
                siblings.entry(a).or_default().insert(b);
            }
        }
    }
    assert!(top.contains_key("cost") && top["cost"].contains("results"), "the graph was read: {top:?}");
    assert!(
        siblings.get("cost::assess").is_some_and(|s| s.contains("cost::prices")),
        "the sibling graph was read: {siblings:?}"
    );
    assert_eq!(cycle(&top), None, "top-level modules import each other: {top:#?}");
    assert_eq!(cycle(&siblings), None, "files of one folder import each other: {siblings:#?}");
    // The check can fail.
    let mut g = BTreeMap::new();
    g.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    g.insert("b".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert!(cycle(&g).is_some());
}

#[test]
fn the_results_schema_leaves_nothing_untyped() {
    // An untyped field (`serde_json::Value`, an open map) shows in the generated schema as a
    // sub-schema that accepts anything: `true` or `{}`.
    fn open(v: &serde_json::Value, at: &str, out: &mut Vec<String>) {
        let accepts_anything =
            |s: &serde_json::Value| s == &serde_json::Value::Bool(true) || s == &serde_json::json!({});
        let serde_json::Value::Object(m) = v else { return };
        for (k, child) in m {
            let here = format!("{at}/{k}");
            match k.as_str() {
                "properties" | "$defs" => {
                    for (name, s) in child.as_object().into_iter().flatten() {
                        if accepts_anything(s) {
                            out.push(format!("{here}/{name}"));
                        }
                    }
                }
                "items" | "additionalProperties" if accepts_anything(child) => out.push(here.clone()),
                _ => {}
            }
            match child {
                serde_json::Value::Object(_) => open(child, &here, out),
                serde_json::Value::Array(a) => a.iter().for_each(|x| open(x, &here, out)),
                _ => {}
            }
        }
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/results.schema.json");
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut found = Vec::new();
    open(&schema, "", &mut found);
    assert!(found.is_empty(), "open sub-schemas in results.schema.json: {found:?}");
    let mut control = Vec::new();
    open(&serde_json::json!({"properties": {"x": {}}}), "", &mut control);
    assert_eq!(control, vec!["/properties/x"], "the check can fail");
}
