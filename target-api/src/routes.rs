//! Routing and input validation: method, path and query string in, a typed [`Route`] or an
//! [`ApiError`] out. Pure: no AWS, no I/O.

use crate::error::ApiError;

/// Most ids one `GET /items?ids=` request may name (after folding duplicates).
pub const MAX_IDS: usize = 500;
/// Longest accepted id, in bytes.
pub const MAX_ID_LEN: usize = 128;

/// How `GET /items?ids=` reads its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadPattern {
    /// BatchGetItem, 100 keys a call, UnprocessedKeys retried.
    Batch,
    /// One GetItem per id, one after another: the chatty anti-pattern, kept so its cost shows.
    PerItem,
}

impl ReadPattern {
    /// The query-string spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ReadPattern::Batch => "batch",
            ReadPattern::PerItem => "per-item",
        }
    }
}

/// A validated request.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// `GET /health`.
    Health,
    /// `POST /items`.
    CreateItem,
    /// `GET /items/{id}`.
    GetItem {
        /// Validated id.
        id: String,
        /// Strongly consistent read (`?consistent=true`).
        consistent: bool,
    },
    /// `DELETE /items/{id}`.
    DeleteItem {
        /// Validated id.
        id: String,
    },
    /// `GET /items?ids=a,b,c&pattern=batch|per-item`.
    ReadMany {
        /// Distinct ids in first-seen order, 1 to [`MAX_IDS`].
        ids: Vec<String>,
        /// How to read them.
        pattern: ReadPattern,
        /// Strongly consistent reads.
        consistent: bool,
    },
}

impl Route {
    /// The API Gateway route key this request matches, for logs.
    pub fn key(&self) -> &'static str {
        match self {
            Route::Health => "GET /health",
            Route::CreateItem => "POST /items",
            Route::GetItem { .. } => "GET /items/{id}",
            Route::DeleteItem { .. } => "DELETE /items/{id}",
            Route::ReadMany { .. } => "GET /items",
        }
    }
}

/// Checks an id: 1–128 characters of `[A-Za-z0-9._:-]`.
pub fn validate_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(ApiError::BadRequest(format!("id must be 1 to {MAX_ID_LEN} characters, got {}", id.len())));
    }
    if let Some(c) = id.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'))) {
        return Err(ApiError::BadRequest(format!("id may contain only letters, digits and . _ : - (found {c:?})")));
    }
    Ok(())
}

/// Matches a request to a route and validates its parameters.
///
/// `path` is the path without stage prefix, still percent-encoded; `query` is the raw query
/// string (no leading `?`).
pub fn route(method: &str, path: &str, query: &str) -> Result<Route, ApiError> {
    let trimmed = if path.len() > 1 { path.strip_suffix('/').unwrap_or(path) } else { path };
    let segments: Vec<&str> = trimmed.strip_prefix('/').unwrap_or(trimmed).split('/').collect();
    let not_allowed = |allow: &'static str| ApiError::MethodNotAllowed { method: method.to_owned(), allow };
    match segments.as_slice() {
        ["health"] => match method {
            "GET" => Ok(Route::Health),
            _ => Err(not_allowed("GET")),
        },
        ["items"] => match method {
            "POST" => Ok(Route::CreateItem),
            "GET" => read_many(query),
            _ => Err(not_allowed("GET, POST")),
        },
        ["items", raw_id] => {
            let id = percent_encoding::percent_decode_str(raw_id)
                .decode_utf8()
                .map_err(|_| ApiError::BadRequest("id in the path is not valid UTF-8".into()))?
                .into_owned();
            match method {
                "GET" => {
                    validate_id(&id)?;
                    let consistent = flag(query, "consistent")?;
                    Ok(Route::GetItem { id, consistent })
                }
                "DELETE" => {
                    validate_id(&id)?;
                    Ok(Route::DeleteItem { id })
                }
                _ => Err(not_allowed("DELETE, GET")),
            }
        }
        _ => Err(ApiError::NoRoute(truncate_for_message(path))),
    }
}

fn read_many(query: &str) -> Result<Route, ApiError> {
    let mut ids: Vec<String> = Vec::new();
    let mut saw_ids = false;
    let mut pattern = ReadPattern::Batch;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            // Repeated `ids=` parameters add up, as API Gateway would comma-join them anyway.
            "ids" => {
                saw_ids = true;
                for id in value.split(',').filter(|s| !s.is_empty()) {
                    validate_id(id)?;
                    if !ids.iter().any(|seen| seen == id) {
                        if ids.len() == MAX_IDS {
                            return Err(ApiError::BadRequest(format!("ids names more than {MAX_IDS} distinct ids")));
                        }
                        ids.push(id.to_owned());
                    }
                }
            }
            "pattern" => {
                pattern = match value.as_ref() {
                    "batch" => ReadPattern::Batch,
                    "per-item" => ReadPattern::PerItem,
                    other => {
                        return Err(ApiError::BadRequest(format!(
                            "pattern must be 'batch' or 'per-item', got '{}'",
                            truncate_for_message(other)
                        )));
                    }
                }
            }
            _ => {}
        }
    }
    if !saw_ids || ids.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "query parameter 'ids' is required: 1 to {MAX_IDS} comma-separated ids"
        )));
    }
    let consistent = flag(query, "consistent")?;
    Ok(Route::ReadMany { ids, pattern, consistent })
}

/// Reads a boolean query flag: absent or `false` → false, `true` → true, anything else → 400.
fn flag(query: &str, name: &str) -> Result<bool, ApiError> {
    let mut result = false;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if key == name {
            result = match value.as_ref() {
                "true" => true,
                "false" => false,
                other => {
                    return Err(ApiError::BadRequest(format!(
                        "query parameter '{name}' must be 'true' or 'false', got '{}'",
                        truncate_for_message(other)
                    )));
                }
            };
        }
    }
    Ok(result)
}

/// Keeps error messages short when a client sends a huge path or value.
fn truncate_for_message(s: &str) -> String {
    const LIMIT: usize = 100;
    if s.len() <= LIMIT {
        return s.to_owned();
    }
    let mut end = LIMIT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_every_route() {
        assert_eq!(route("GET", "/health", ""), Ok(Route::Health));
        assert_eq!(route("POST", "/items", ""), Ok(Route::CreateItem));
        assert_eq!(route("POST", "/items/", ""), Ok(Route::CreateItem));
        assert_eq!(
            route("GET", "/items/abc-1", "consistent=true"),
            Ok(Route::GetItem { id: "abc-1".into(), consistent: true })
        );
        assert_eq!(route("DELETE", "/items/x.y:z_1", ""), Ok(Route::DeleteItem { id: "x.y:z_1".into() }));
        assert_eq!(
            route("GET", "/items", "ids=a,b,a,c&pattern=per-item"),
            Ok(Route::ReadMany {
                ids: vec!["a".into(), "b".into(), "c".into()],
                pattern: ReadPattern::PerItem,
                consistent: false
            })
        );
    }

    #[test]
    fn percent_encoded_ids_are_decoded() {
        assert_eq!(route("GET", "/items/a%3Ab", ""), Ok(Route::GetItem { id: "a:b".into(), consistent: false }));
        assert!(matches!(route("GET", "/items/a%2Fb", ""), Err(ApiError::BadRequest(_))));
        assert!(matches!(route("GET", "/items/%FF", ""), Err(ApiError::BadRequest(_))));
    }

    #[test]
    fn unknown_paths_are_404_and_wrong_methods_405() {
        assert!(matches!(route("GET", "/", ""), Err(ApiError::NoRoute(_))));
        assert!(matches!(route("GET", "/items/a/b", ""), Err(ApiError::NoRoute(_))));
        assert!(matches!(route("GET", "/nope", ""), Err(ApiError::NoRoute(_))));
        assert_eq!(
            route("PUT", "/items/a", ""),
            Err(ApiError::MethodNotAllowed { method: "PUT".into(), allow: "DELETE, GET" })
        );
        assert!(matches!(route("DELETE", "/items", ""), Err(ApiError::MethodNotAllowed { .. })));
        assert!(matches!(route("POST", "/health", ""), Err(ApiError::MethodNotAllowed { .. })));
    }

    #[test]
    fn ids_are_validated() {
        assert!(validate_id("A-z_0.9:x").is_ok());
        assert!(validate_id("").is_err());
        assert!(validate_id(&"a".repeat(128)).is_ok());
        assert!(validate_id(&"a".repeat(129)).is_err());
        assert!(validate_id("a b").is_err());
        assert!(validate_id("é").is_err());
        assert!(route("GET", "/items", "ids=a,b%20c").is_err());
    }

    #[test]
    fn read_many_limits() {
        let ids: Vec<String> = (0..500).map(|i| format!("id{i}")).collect();
        let q = format!("ids={}", ids.join(","));
        assert!(matches!(route("GET", "/items", &q), Ok(Route::ReadMany { ref ids, .. }) if ids.len() == 500));
        // Duplicates fold before the limit applies.
        let q = format!("ids={},id0,id1", ids.join(","));
        assert!(route("GET", "/items", &q).is_ok());
        let q = format!("ids={},extra", ids.join(","));
        assert!(matches!(route("GET", "/items", &q), Err(ApiError::BadRequest(m)) if m.contains("500")));
        assert!(matches!(route("GET", "/items", ""), Err(ApiError::BadRequest(m)) if m.contains("ids")));
        assert!(matches!(route("GET", "/items", "ids=,,"), Err(ApiError::BadRequest(_))));
        assert!(
            matches!(route("GET", "/items", "ids=a&pattern=zip"), Err(ApiError::BadRequest(m)) if m.contains("pattern"))
        );
        assert!(matches!(route("GET", "/items", "ids=a&consistent=yes"), Err(ApiError::BadRequest(_))));
        // Repeated parameters add up.
        assert!(matches!(route("GET", "/items", "ids=a&ids=b"), Ok(Route::ReadMany { ref ids, .. }) if ids.len() == 2));
    }

    #[test]
    fn huge_inputs_give_short_messages() {
        let path = format!("/{}", "x".repeat(100_000));
        let err = route("GET", &path, "").unwrap_err();
        assert!(err.to_string().len() < 200);
    }
}
