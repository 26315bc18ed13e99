//! Every error of a scenario, not only the first, for `loadgen validate`: validation stops at
//! its first error, so the offending part is set aside — a `[[request]]`, `[[phase]]` or
//! `[[flow]]` block replaced by a harmless one of the same length, any other key's line
//! blanked — and the file validated again, until it passes, an error repeats, or
//! [`MOST`] are found. As a compiler's, a later error can follow from an earlier one (a key
//! set aside that another refers to); the first is always the one `run` would report.

use std::path::Path;

use super::error::ScenarioError;

/// The most errors listed for one file.
pub const MOST: usize = 20;

/// The errors of scenario `text` (read from `path`), first as `run` would report it.
pub fn every_error(path: &Path, text: &str, env: &dyn Fn(&str) -> Option<String>) -> Vec<ScenarioError> {
    let mut text = text.to_owned();
    let mut out: Vec<ScenarioError> = Vec::new();
    while out.len() < MOST {
        let Err(e) = super::validate::plan(path, &text, env) else { break };
        let repeated = out.iter().any(|o| o.line == e.line && o.field == e.field && o.message == e.message);
        if repeated {
            break;
        }
        let next = set_aside(&text, &e, out.len());
        out.push(e);
        match next {
            Some(t) if t != text => text = t,
            _ => break,
        }
    }
    out
}

/// `text` with what `e` points at set aside, or `None` when it points at no line.
fn set_aside(text: &str, e: &ScenarioError, n: usize) -> Option<String> {
    if e.line == 0 {
        return None;
    }
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let at = e.line - 1;
    if at >= lines.len() {
        return None;
    }
    let array = ["request", "phase", "flow"].into_iter().find(|a| e.field.starts_with(&format!("{a}[")));
    match array {
        Some(kind) => {
            let start = (0..=at).rev().find(|i| lines[*i].trim_start().starts_with(&format!("[[{kind}]]")))?;
            let end = (start + 1..lines.len())
                .find(|i| {
                    let t = lines[*i].trim_start();
                    t.starts_with('[') && !t.starts_with(&format!("[{kind}.")) && !t.starts_with(&format!("[[{kind}."))
                })
                .unwrap_or(lines.len());
            let stand_in: Vec<String> = match kind {
                "request" => vec!["[[request]]".into(), format!("name = \"set-aside-{n}\""), "path = \"/\"".into()],
                "phase" => vec![
                    "[[phase]]".into(),
                    format!("name = \"set-aside-{n}\""),
                    "duration = \"1s\"".into(),
                    "rate = 1".into(),
                ],
                // A flow's steps are tables of their own: it is dropped (later flows move up one).
                _ => Vec::new(),
            };
            let len = end - start;
            let mut block = stand_in;
            while block.len() < len {
                block.push(String::new());
            }
            lines.splice(start..end, block);
        }
        None if lines[at].trim_start().starts_with('[') => {
            // A table's header: the table goes, up to the next header.
            let end = (at + 1..lines.len()).find(|i| lines[*i].trim_start().starts_with('[')).unwrap_or(lines.len());
            for l in &mut lines[at..end] {
                l.clear();
            }
        }
        None => lines[at].clear(),
    }
    Some(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_of_a_file_is_listed_at_its_line() {
        let text = "name = \"x\"\n\
                    [[phase]]\nname = \"a\"\nduration = \"1s\"\nrate = -5\n\
                    [[phase]]\nname = \"b\"\nduration = \"forever\"\nrate = 1\n\
                    [[request]]\nname = \"r\"\npath = \"no-slash\"\n\
                    [[request]]\nname = \"s\"\nmethod = \"FETCH\"\npath = \"/\"\n\
                    [thresholds]\n\"latency.p99\" = \"< soon\"\n\"errors.rate\" = \"< 1\"\n";
        let errors = every_error(Path::new("x.toml"), text, &|_| None);
        let at: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(
            at,
            [
                (5, "phase[0].rate"),
                (8, "phase[1].duration"),
                (12, "request[0].path"),
                (15, "request[1].method"),
                (19, "thresholds.\"errors.rate\""),
                (18, "thresholds.\"latency.p99\""),
            ],
            "{errors:#?}"
        );
        assert_eq!(every_error(Path::new("x.toml"), "name = \"x\"\n[[phase]]\nname = \"a\"\nduration = \"1s\"\nrate = 1\n[[request]]\nname = \"r\"\npath = \"/\"\n", &|_| None).len(), 0);
    }
}
