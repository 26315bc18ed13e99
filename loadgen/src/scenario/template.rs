//! Path and body templates: literal text with `{id}`, `{ids:N}`, `{new_id}` and `{payload}`
//! placeholders, parsed once and rendered per request.

/// One piece of a template.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Text sent as is.
    Literal(String),
    /// One seeded id from the key distribution.
    Id,
    /// `N` distinct seeded ids, comma-separated.
    Ids(usize),
    /// A fresh id never used before in this run.
    NewId,
    /// Filler text of the scenario's item size.
    Payload,
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// The pieces in order.
    pub parts: Vec<Part>,
}

impl Template {
    /// Parses `text`; `{{` and `}}` stand for literal braces.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|(_, c)| *c) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let rest = &text[i + 1..];
                    let end = rest.find('}').ok_or_else(|| format!("unclosed '{{' at character {}", i + 1))?;
                    let name = &rest[..end];
                    for _ in 0..=end {
                        chars.next();
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(match name {
                        "id" => Part::Id,
                        "new_id" => Part::NewId,
                        "payload" => Part::Payload,
                        n if n.starts_with("ids:") => {
                            let count: usize = n[4..]
                                .parse()
                                .ok()
                                .filter(|c| (1..=10_000).contains(c))
                                .ok_or_else(|| format!("'{{{n}}}': the count after 'ids:' must be 1 to 10000"))?;
                            Part::Ids(count)
                        }
                        other => {
                            return Err(format!(
                                "unknown placeholder '{{{other}}}'; use {{id}}, {{ids:N}}, {{new_id}} or {{payload}} (write {{{{ for a literal brace)"
                            ));
                        }
                    });
                }
                '}' => return Err(format!("unmatched '}}' at character {}; write }}}} for a literal brace", i + 1)),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Template { parts })
    }

    /// The largest `{ids:N}` in the template (0 when there is none).
    pub fn max_ids(&self) -> usize {
        self.parts.iter().map(|p| if let Part::Ids(n) = p { *n } else { 0 }).max().unwrap_or(0)
    }

    /// True when rendering needs seeded ids.
    pub fn needs_ids(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Id | Part::Ids(_)))
    }

    /// Renders with the given sources.
    pub fn render(
        &self,
        out: &mut String,
        id: &mut dyn FnMut() -> u64,
        ids: &mut dyn FnMut(usize, &mut Vec<u64>),
        new_id: &mut dyn FnMut() -> String,
        payload: &str,
    ) {
        let mut scratch = Vec::new();
        for p in &self.parts {
            match p {
                Part::Literal(s) => out.push_str(s),
                Part::Id => push_id(out, id()),
                Part::Ids(n) => {
                    scratch.clear();
                    ids(*n, &mut scratch);
                    for (i, v) in scratch.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        push_id(out, *v);
                    }
                }
                Part::NewId => out.push_str(&new_id()),
                Part::Payload => out.push_str(payload),
            }
        }
    }
}

/// The id of seeded item `n`: `item-000042`.
pub fn seeded_id(n: u64) -> String {
    format!("item-{n:06}")
}

fn push_id(out: &mut String, n: u64) {
    use std::fmt::Write;
    let _ = write!(out, "item-{n:06}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_renders() {
        let t = Template::parse("/items/{id}?x={{y}}").unwrap();
        let mut out = String::new();
        t.render(&mut out, &mut || 7, &mut |_, _| {}, &mut || "n".into(), "");
        assert_eq!(out, "/items/item-000007?x={y}");
        let t = Template::parse("/items?ids={ids:3}&pattern=batch").unwrap();
        assert_eq!(t.max_ids(), 3);
        let mut out = String::new();
        t.render(&mut out, &mut || 0, &mut |n, v| v.extend(0..n as u64), &mut || "n".into(), "");
        assert_eq!(out, "/items?ids=item-000000,item-000001,item-000002&pattern=batch");
        let t = Template::parse(r#"{{"id":"{new_id}","pad":"{payload}"}}"#).unwrap();
        let mut out = String::new();
        t.render(&mut out, &mut || 0, &mut |_, _| {}, &mut || "fresh-1".into(), "xx");
        assert_eq!(out, r#"{"id":"fresh-1","pad":"xx"}"#);
    }

    #[test]
    fn rejects_bad_placeholders() {
        assert!(Template::parse("/items/{idd}").unwrap_err().contains("unknown placeholder"));
        assert!(Template::parse("/items/{ids:0}").unwrap_err().contains("1 to 10000"));
        assert!(Template::parse("/items/{id").unwrap_err().contains("unclosed"));
        assert!(Template::parse("/items/}").unwrap_err().contains("unmatched"));
    }
}
