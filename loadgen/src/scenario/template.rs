//! Path and body templates: literal text with `{id}`, `{ids:N}`, `{new_id}` and `{payload}`
//! placeholders, parsed once and rendered per request. In results.json a template is the text
//! as written.

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

/// Why a template does not parse; positions count characters from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A `{` without its `}`.
    #[error("unclosed '{{' at character {at}")]
    Unclosed {
        /// Where the `{` is.
        at: usize,
    },
    /// A `}` without its `{`.
    #[error("unmatched '}}' at character {at}; write }}}} for a literal brace")]
    Unmatched {
        /// Where the `}` is.
        at: usize,
    },
    /// `{ids:N}` with N outside 1–10000.
    #[error("'{{{placeholder}}}': the count after 'ids:' must be 1 to 10000")]
    IdsCount {
        /// The placeholder as written, without braces.
        placeholder: String,
    },
    /// A name that is no placeholder.
    #[error(
        "unknown placeholder '{{{placeholder}}}'; use {{id}}, {{ids:N}}, {{new_id}} or {{payload}} (write {{{{ for a literal brace)"
    )]
    Unknown {
        /// The name as written.
        placeholder: String,
    },
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// The text as written.
    text: String,
    /// The pieces in order.
    pub parts: Vec<Part>,
}

impl Template {
    /// Parses `text`; `{{` and `}}` stand for literal braces.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
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
                    let end = rest.find('}').ok_or(TemplateError::Unclosed { at: i + 1 })?;
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
                                .ok_or_else(|| TemplateError::IdsCount { placeholder: n.to_owned() })?;
                            Part::Ids(count)
                        }
                        other => return Err(TemplateError::Unknown { placeholder: other.to_owned() }),
                    });
                }
                '}' => return Err(TemplateError::Unmatched { at: i + 1 }),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Template { text: text.to_owned(), parts })
    }

    /// The text as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The whole text when it has no placeholders (`{{` unescaped), else `None`.
    pub fn literal(&self) -> Option<String> {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Literal(s) => Some(s.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The text with every placeholder replaced by `fill` and escapes resolved (`{{` is `{`):
    /// the shape of what it sends, for routing.
    pub fn filled(&self, fill: &str) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Literal(s) => s.as_str(),
                _ => fill,
            })
            .collect()
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
        id_text: &dyn Fn(&mut String, u64),
    ) {
        let mut scratch = Vec::new();
        for p in &self.parts {
            match p {
                Part::Literal(s) => out.push_str(s),
                Part::Id => id_text(out, id()),
                Part::Ids(n) => {
                    scratch.clear();
                    ids(*n, &mut scratch);
                    for (i, v) in scratch.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        id_text(out, *v);
                    }
                }
                Part::NewId => out.push_str(&new_id()),
                Part::Payload => out.push_str(payload),
            }
        }
    }
}

impl serde::Serialize for Template {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for Template {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Template::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The id of seeded item `n`: `item-000042`.
pub fn seeded_id(n: u64) -> String {
    format!("item-{n:06}")
}

/// Writes the id of seeded item `n` (generated items: `item-000042`).
pub fn push_id(out: &mut String, n: u64) {
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
        t.render(&mut out, &mut || 7, &mut |_, _| {}, &mut || "n".into(), "", &push_id);
        assert_eq!(out, "/items/item-000007?x={y}");
        let t = Template::parse("/items?ids={ids:3}&pattern=batch").unwrap();
        assert_eq!(t.max_ids(), 3);
        let mut out = String::new();
        t.render(&mut out, &mut || 0, &mut |n, v| v.extend(0..n as u64), &mut || "n".into(), "", &push_id);
        assert_eq!(out, "/items?ids=item-000000,item-000001,item-000002&pattern=batch");
        let t = Template::parse(r#"{{"id":"{new_id}","pad":"{payload}"}}"#).unwrap();
        let mut out = String::new();
        t.render(&mut out, &mut || 0, &mut |_, _| {}, &mut || "fresh-1".into(), "xx", &push_id);
        assert_eq!(out, r#"{"id":"fresh-1","pad":"xx"}"#);
    }

    #[test]
    fn rejects_bad_placeholders() {
        let e = |t: &str| Template::parse(t).unwrap_err().to_string();
        assert!(e("/items/{idd}").contains("unknown placeholder '{idd}'"), "{}", e("/items/{idd}"));
        assert!(e("/items/{ids:0}").contains("'{ids:0}': the count after 'ids:' must be 1 to 10000"));
        assert_eq!(e("/items/{id"), "unclosed '{' at character 8");
        assert_eq!(e("/items/}"), "unmatched '}' at character 8; write }} for a literal brace");
    }

    #[test]
    fn templates_are_their_text_in_results() {
        let t = Template::parse("/items?ids={ids:3}&x={{y}}").unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), r#""/items?ids={ids:3}&x={{y}}""#);
        let back: Template = serde_json::from_str(r#""/items?ids={ids:3}&x={{y}}""#).unwrap();
        assert_eq!(back, t);
        assert_eq!(Template::parse("/a/{{b}}").unwrap().literal().as_deref(), Some("/a/{b}"));
        assert_eq!(t.literal(), None);
    }
}
