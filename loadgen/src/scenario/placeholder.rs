//! The placeholders a template may hold — what each renders is [`super::template`]'s — and how
//! a name between braces is read into one, with the errors a scenario's author sees.

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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
    /// A random version-4 UUID.
    Uuid,
    /// This run's sequence number: 0, 1, 2, … across every request.
    Seq,
    /// Milliseconds since the Unix epoch at render time.
    NowMs,
    /// A random integer from the first to the second, both included.
    RandomInt(i64, i64),
    /// An environment variable, until [`super::template::Template::resolve_env`] puts its value in.
    Env(String),
    /// `{file.column}` as written, until [`super::template::Template::resolve_fields`] finds the file.
    FieldName(String, String),
    /// A column of the request's row of data file number `.0`.
    Field(usize, String),
    /// `{name}` as written, until [`super::template::Template::resolve_captures`] finds an earlier step's capture
    /// of that name (or says it is no placeholder).
    CaptureName(String),
    /// The value of capture slot `.0` of the flow instance rendering it.
    Captured(usize),
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
        "unknown placeholder '{{{placeholder}}}'; use {{id}}, {{ids:N}}, {{new_id}}, {{payload}}, {{uuid}}, {{seq}}, \
         {{now_ms}}, {{random_int:LO:HI}}, {{env:NAME}}, {{file.column}} of a [[data.file]] or, in a [[flow.step]], \
         a value an earlier step captured{known} (write {{{{ for a literal brace)"
    )]
    Unknown {
        /// The name as written.
        placeholder: String,
        /// The captures earlier steps make, as `" (captured so far: a, b)"`, or empty.
        known: String,
    },
    /// `{random_int:LO:HI}` without two integers, the first not above the second.
    #[error("'{{{placeholder}}}': write {{random_int:LO:HI}} with whole numbers LO <= HI")]
    RandomInt {
        /// The placeholder as written, without braces.
        placeholder: String,
    },
    /// `{env:…}` or `${…}` without a variable name.
    #[error("'{{{placeholder}}}': name the environment variable, e.g. {{env:API_TOKEN}} or ${{API_TOKEN}}")]
    EnvName {
        /// The placeholder as written, without braces.
        placeholder: String,
    },
}

/// Whether `s` is a name as a shell and a template write it: a letter or `_`, then letters,
/// digits and `_`.
pub(crate) fn ident(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A placeholder's name read into its part.
pub(super) fn part(name: &str) -> Result<Part, TemplateError> {
    let env_name = |n: &str| {
        let ok = !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ok { Ok(Part::Env(n.to_owned())) } else { Err(TemplateError::EnvName { placeholder: name.to_owned() }) }
    };
    Ok(match name {
        "id" => Part::Id,
        "new_id" => Part::NewId,
        "payload" => Part::Payload,
        "uuid" => Part::Uuid,
        "seq" => Part::Seq,
        "now_ms" => Part::NowMs,
        n if n.starts_with("ids:") => {
            let count: usize = n[4..]
                .parse()
                .ok()
                .filter(|c| (1..=10_000).contains(c))
                .ok_or_else(|| TemplateError::IdsCount { placeholder: n.to_owned() })?;
            Part::Ids(count)
        }
        n if n.starts_with("random_int:") => {
            let bounds: Vec<Option<i64>> = n["random_int:".len()..].split(':').map(|x| x.trim().parse().ok()).collect();
            match bounds.as_slice() {
                [Some(lo), Some(hi)] if lo <= hi => Part::RandomInt(*lo, *hi),
                _ => return Err(TemplateError::RandomInt { placeholder: n.to_owned() }),
            }
        }
        n if n.starts_with("env:") => env_name(&n[4..])?,
        // `{users.email}`: a column of a data file.
        n if n.split_once('.').is_some_and(|(f, c)| ident(f) && !c.is_empty() && !c.contains(['{', '}'])) => {
            let (f, c) = n.split_once('.').unwrap_or_default();
            Part::FieldName(f.to_owned(), c.to_owned())
        }
        // A bare name: an earlier flow step's capture, or no placeholder (said on resolution).
        n if ident(n) => Part::CaptureName(n.to_owned()),
        other => return Err(TemplateError::Unknown { placeholder: other.to_owned(), known: String::new() }),
    })
}
