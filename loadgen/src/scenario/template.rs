//! Templates — of paths, query strings, headers, bodies and seeded items — are literal text with
//! placeholders, parsed once and rendered per request: `{id}`, `{ids:N}` (seeded keys),
//! `{new_id}` (fresh, unique across runs), `{payload}`, `{uuid}`, `{seq}`, `{now_ms}`,
//! `{random_int:LO:HI}`, `{env:NAME}` / `${NAME}` (an environment variable, resolved once at
//! validation), `{file.column}` (a data file's field) and, in a flow's steps, `{name}` (a value an
//! earlier step captured). In results.json a template is the text as written, so a variable's
//! value never is.

pub use super::fill::{Fill, OneFill, push_id, seeded_id};

pub(crate) use super::placeholder::ident;
use super::placeholder::part;
pub use super::placeholder::{Part, TemplateError};

/// A `{file.column}` that names no file, or a column some row lacks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// No `[[data.file]]` has the name.
    #[error("no [[data.file]] is named '{name}'{}", if known.is_empty() { " (the scenario has none)".to_owned() } else { format!(" (data files: {known})") })]
    NoFile {
        /// The name.
        name: String,
        /// The files there are.
        known: String,
    },
    /// A row without the column.
    #[error("{at}: no '{column}' in this row of data file '{name}'; every row must have the columns templates use")]
    NoColumn {
        /// `file:line`.
        at: String,
        /// The column.
        column: String,
        /// The file's name.
        name: String,
    },
}

/// An environment variable a template names that is not set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {0} is not set; export it or change the value")]
pub struct UnsetVariable(pub String);

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// The text as written.
    text: String,
    /// The pieces in order.
    pub parts: Vec<Part>,
    /// The environment variables' values [`Template::resolve_env`] put in: secrets that no
    /// output may show, even echoed in a response.
    env_values: Vec<String>,
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
                    // Past the `}`: `end` counts bytes, so skip by position, not by character.
                    while chars.next_if(|(j, _)| *j <= i + 1 + end).is_some() {}
                    // `${NAME}` is `{env:NAME}`, as the shell writes it.
                    let shell = literal.ends_with('$');
                    if shell {
                        literal.pop();
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(if shell { part(&format!("env:{name}"))? } else { part(name)? });
                }
                '}' => return Err(TemplateError::Unmatched { at: i + 1 }),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Template { text: text.to_owned(), parts, env_values: Vec::new() })
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

    /// The environment variables it names (`{env:NAME}`, `${NAME}`) not yet resolved.
    pub fn env_names(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| if let Part::Env(n) = p { Some(n.as_str()) } else { None })
    }

    /// Puts each environment variable's value in as literal text; `Err` names the first that
    /// `env` does not know.
    pub fn resolve_env(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), UnsetVariable> {
        let mut parts: Vec<Part> = Vec::with_capacity(self.parts.len());
        for p in std::mem::take(&mut self.parts) {
            let p = match p {
                Part::Env(name) => {
                    let value = env(&name).ok_or(UnsetVariable(name))?;
                    self.env_values.push(value.clone());
                    Part::Literal(value)
                }
                other => other,
            };
            // Adjacent literals join, so a template that was literal but for its variables is
            // literal again (and sent without rendering).
            match (parts.last_mut(), p) {
                (Some(Part::Literal(a)), Part::Literal(b)) => a.push_str(&b),
                (_, p) => parts.push(p),
            }
        }
        self.parts = parts;
        Ok(())
    }

    /// The values of the environment variables it was resolved with.
    pub fn env_values(&self) -> &[String] {
        &self.env_values
    }

    /// Whether it draws a column of a data file.
    pub fn uses_fields(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::FieldName(..) | Part::Field(..)))
    }

    /// Resolves each `{file.column}` with `lookup`, which gives the file's number or says why
    /// it cannot be used ([`super::seed_data::field_lookup`] checks the files' rows).
    pub fn resolve_fields(
        &mut self,
        lookup: &dyn Fn(&str, &str) -> Result<usize, FieldError>,
    ) -> Result<(), FieldError> {
        for p in &mut self.parts {
            let Part::FieldName(name, column) = p else { continue };
            let i = lookup(name, column)?;
            *p = Part::Field(i, std::mem::take(column));
        }
        Ok(())
    }

    /// Resolves each bare `{name}` to its slot in `captures` (the values earlier steps of a flow
    /// capture, in slot order); outside a flow `captures` is empty and any bare name is an
    /// unknown placeholder.
    pub fn resolve_captures(&mut self, captures: &[String]) -> Result<(), TemplateError> {
        for p in &mut self.parts {
            let Part::CaptureName(name) = p else { continue };
            match captures.iter().position(|c| c == name) {
                Some(slot) => *p = Part::Captured(slot),
                None => {
                    let known = if captures.is_empty() {
                        String::new()
                    } else {
                        format!(" (captured so far: {})", captures.join(", "))
                    };
                    return Err(TemplateError::Unknown { placeholder: name.clone(), known });
                }
            }
        }
        Ok(())
    }

    /// Renders into `out` from `fill`.
    pub fn render(&self, out: &mut String, fill: &mut dyn Fill) {
        use std::fmt::Write;
        let mut scratch = Vec::new();
        for p in &self.parts {
            match p {
                Part::Literal(s) => out.push_str(s),
                Part::Id => {
                    let n = fill.id();
                    fill.id_text(out, n);
                }
                Part::Ids(n) => {
                    scratch.clear();
                    fill.ids(*n, &mut scratch);
                    for (i, v) in scratch.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        fill.id_text(out, *v);
                    }
                }
                Part::NewId => fill.new_id(out),
                Part::Payload => out.push_str(fill.payload()),
                Part::Uuid => {
                    let r = fill.rng().u128(..);
                    // Version 4, variant 10.
                    let r = (r & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
                    let _ = write!(
                        out,
                        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                        (r >> 96) as u32,
                        (r >> 80) as u16,
                        (r >> 64) as u16,
                        (r >> 48) as u16,
                        (r & 0xffff_ffff_ffff) as u64
                    );
                }
                Part::Seq => {
                    let n = fill.seq();
                    let _ = write!(out, "{n}");
                }
                Part::NowMs => {
                    let ms =
                        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
                    let _ = write!(out, "{ms}");
                }
                Part::RandomInt(lo, hi) => {
                    let v = fill.rng().i64(*lo..=*hi);
                    let _ = write!(out, "{v}");
                }
                Part::Field(file, column) => fill.field(*file, column, out),
                Part::Captured(slot) => fill.captured(*slot, out),
                // Resolved at validation; a template read back from results.json is never sent.
                Part::Env(_) | Part::FieldName(..) | Part::CaptureName(_) => {}
            }
        }
    }
}

/// A template whole — its text, its resolved parts and the environment values in them — for a
/// fleet worker, which must send it as the validated plan would: the text alone (what
/// results.json keeps) has lost the variables' values and the captures' slots.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Wire {
    text: String,
    parts: Vec<Part>,
    env_values: Vec<String>,
}

impl From<&Template> for Wire {
    fn from(t: &Template) -> Wire {
        Wire { text: t.text.clone(), parts: t.parts.clone(), env_values: t.env_values.clone() }
    }
}

impl From<Wire> for Template {
    fn from(w: Wire) -> Template {
        Template { text: w.text, parts: w.parts, env_values: w.env_values }
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

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(u64, fastrand::Rng);

    impl Fill for Fixed {
        fn id(&mut self) -> u64 {
            self.0
        }
        fn ids(&mut self, n: usize, out: &mut Vec<u64>) {
            out.extend(0..n as u64);
        }
        fn new_id(&mut self, out: &mut String) {
            out.push_str("fresh-1");
        }
        fn payload(&self) -> &str {
            "xx"
        }
        fn seq(&mut self) -> u64 {
            41
        }
        fn rng(&mut self) -> &mut fastrand::Rng {
            &mut self.1
        }
    }

    fn rendered(t: &str) -> String {
        let mut out = String::new();
        Template::parse(t).unwrap().render(&mut out, &mut Fixed(7, fastrand::Rng::with_seed(7)));
        out
    }

    #[test]
    fn parses_and_renders() {
        assert_eq!(rendered("/items/{id}?x={{y}}"), "/items/item-000007?x={y}");
        let t = Template::parse("/items?ids={ids:3}&pattern=batch").unwrap();
        assert_eq!(t.max_ids(), 3);
        assert_eq!(
            rendered("/items?ids={ids:3}&pattern=batch"),
            "/items?ids=item-000000,item-000001,item-000002&pattern=batch"
        );
        assert_eq!(
            rendered(r#"{{"id":"{new_id}","pad":"{payload}","n":{seq}}}"#),
            r#"{"id":"fresh-1","pad":"xx","n":41}"#
        );
        let uuid = rendered("{uuid}");
        assert_eq!((uuid.len(), &uuid[14..15], uuid.matches('-').count()), (36, "4", 4), "{uuid}");
        let n: i64 = rendered("{random_int:3:5}").parse().unwrap();
        assert!((3..=5).contains(&n));
        assert!(rendered("{now_ms}").parse::<u64>().unwrap() > 1_700_000_000_000);
    }

    #[test]
    fn environment_variables_resolve_once_and_stay_out_of_the_text() {
        let mut t = Template::parse("Bearer ${TOKEN} {env:OTHER}").unwrap();
        assert_eq!(t.env_names().collect::<Vec<_>>(), ["TOKEN", "OTHER"]);
        assert_eq!(t.clone().resolve_env(&|_| None), Err(UnsetVariable("TOKEN".to_owned())));
        t.resolve_env(&|k| Some(format!("<{k}>"))).unwrap();
        assert_eq!(t.literal().as_deref(), Some("Bearer <TOKEN> <OTHER>"), "literal again: sent as is");
        assert_eq!(t.env_values(), ["<TOKEN>", "<OTHER>"], "remembered, so outputs can take them out");
        assert_eq!(t.text(), "Bearer ${TOKEN} {env:OTHER}", "results.json keeps the names, not the values");
        assert!(Template::parse("${}").is_err() && Template::parse("{env:A-B}").is_err());
    }

    #[test]
    fn bare_names_are_captured_values_when_an_earlier_step_captures_them() {
        let mut t = Template::parse("/orders/{order_id}?v={etag}").unwrap();
        let e = t.clone().resolve_captures(&["etag".into()]).unwrap_err().to_string();
        assert!(e.contains("unknown placeholder '{order_id}'") && e.contains("(captured so far: etag)"), "{e}");
        t.resolve_captures(&["etag".into(), "order_id".into()]).unwrap();
        assert_eq!(t.parts[1], Part::Captured(1));
        struct Vars(fastrand::Rng);
        impl Fill for Vars {
            fn id(&mut self) -> u64 {
                0
            }
            fn ids(&mut self, _: usize, _: &mut Vec<u64>) {}
            fn new_id(&mut self, _: &mut String) {}
            fn payload(&self) -> &str {
                ""
            }
            fn seq(&mut self) -> u64 {
                0
            }
            fn rng(&mut self) -> &mut fastrand::Rng {
                &mut self.0
            }
            fn captured(&self, slot: usize, out: &mut String) {
                out.push_str(["\"v1\"", "o-7"][slot]);
            }
        }
        let mut out = String::new();
        t.render(&mut out, &mut Vars(fastrand::Rng::with_seed(1)));
        assert_eq!(out, "/orders/o-7?v=\"v1\"");
    }

    #[test]
    fn text_after_a_non_ascii_placeholder_is_kept() {
        let t = Template::parse("/u/{users.prénom}/x").unwrap();
        assert_eq!(
            t.parts,
            [Part::Literal("/u/".into()), Part::FieldName("users".into(), "prénom".into()), Part::Literal("/x".into())]
        );
    }

    #[test]
    fn rejects_bad_placeholders() {
        let e =
            |t: &str| Template::parse(t).and_then(|mut t| t.resolve_captures(&[]).map(|()| t)).unwrap_err().to_string();
        assert!(e("/items/{idd}").contains("unknown placeholder '{idd}'"), "{}", e("/items/{idd}"));
        assert!(e("/items/{a b}").contains("unknown placeholder '{a b}'"));
        assert!(e("{random_int:5:1}").contains("LO <= HI"));
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
