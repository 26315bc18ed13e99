//! HTTP API route keys (`GET /items/{id}`, `ANY /{proxy+}`, `$default`) and route selection:
//! a full match beats a greedy one, a named method beats `ANY`, and `$default` comes last.

/// One path segment of a route key.
#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(String),
    Param(String),
    /// `{name+}`: the rest of the path, one or more segments.
    Greedy(String),
}

/// A parsed route key.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteKey {
    /// The key as written.
    pub key: String,
    /// `None` for `ANY` and `$default`.
    method: Option<String>,
    segments: Vec<Segment>,
    default: bool,
}

/// A selected route with its path parameters (from the decoded path).
#[derive(Debug, Clone, PartialEq)]
pub struct Matched<'a> {
    /// The route.
    pub route: &'a RouteKey,
    /// `pathParameters`.
    pub params: Vec<(String, String)>,
}

impl RouteKey {
    /// Parses `METHOD /path`, `ANY /path` or `$default`.
    pub fn parse(key: &str) -> Result<RouteKey, String> {
        if key == "$default" {
            return Ok(RouteKey { key: key.into(), method: None, segments: Vec::new(), default: true });
        }
        let (method, path) =
            key.split_once(' ').ok_or_else(|| format!("route key '{key}' must be 'METHOD /path' or '$default'"))?;
        const METHODS: &[&str] = &["ANY", "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];
        if !METHODS.contains(&method) {
            return Err(format!("route key '{key}': method must be one of {METHODS:?}"));
        }
        if !path.starts_with('/') {
            return Err(format!("route key '{key}': path must start with '/'"));
        }
        let mut segments = Vec::new();
        let parts: Vec<&str> = path[1..].split('/').filter(|s| !s.is_empty()).collect();
        for (i, part) in parts.iter().enumerate() {
            let seg = if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                if let Some(greedy) = name.strip_suffix('+') {
                    if i + 1 != parts.len() {
                        return Err(format!("route key '{key}': a greedy variable must be the last segment"));
                    }
                    Segment::Greedy(greedy.to_owned())
                } else {
                    Segment::Param(name.to_owned())
                }
            } else {
                Segment::Literal((*part).to_owned())
            };
            segments.push(seg);
        }
        let method = (method != "ANY").then(|| method.to_owned());
        Ok(RouteKey { key: key.into(), method, segments, default: false })
    }

    /// Path parameters if `path` matches this route's path (method not checked).
    fn match_path(&self, segments: &[&str]) -> Option<Vec<(String, String)>> {
        let mut params = Vec::new();
        for (i, seg) in self.segments.iter().enumerate() {
            match seg {
                Segment::Literal(l) => {
                    if segments.get(i) != Some(&l.as_str()) {
                        return None;
                    }
                }
                Segment::Param(name) => params.push((name.clone(), (*segments.get(i)?).to_owned())),
                Segment::Greedy(name) => {
                    let rest = segments.get(i..).filter(|r| !r.is_empty())?;
                    params.push((name.clone(), rest.join("/")));
                    return Some(params);
                }
            }
        }
        (segments.len() == self.segments.len()).then_some(params)
    }

    /// Lower is more specific.
    fn rank(&self) -> (u8, usize, usize) {
        let greedy = self.segments.iter().any(|s| matches!(s, Segment::Greedy(_)));
        let class = match (greedy, self.method.is_some()) {
            (false, true) => 0,
            (false, false) => 1,
            (true, true) => 2,
            (true, false) => 3,
        };
        let params = self.segments.iter().filter(|s| !matches!(s, Segment::Literal(_))).count();
        // More literal segments first, then fewer variables.
        (class, usize::MAX - (self.segments.len() - params), params)
    }
}

/// A path as HTTP APIs route it and deliver it (`rawPath`): percent-decoded, so `%2F` is a `/`
/// and separates segments.
pub fn decode(path: &str) -> String {
    percent_encoding::percent_decode_str(path).decode_utf8_lossy().into_owned()
}

/// The routes of one API, ready for selection.
#[derive(Debug, Clone)]
pub struct RouteTable {
    routes: Vec<RouteKey>,
}

impl RouteTable {
    /// Parses every key.
    pub fn new(keys: &[String]) -> Result<Self, String> {
        let mut routes = keys.iter().map(|k| RouteKey::parse(k)).collect::<Result<Vec<_>, _>>()?;
        routes.sort_by_key(|r| if r.default { (9, 0, 0) } else { r.rank() });
        Ok(Self { routes })
    }

    /// The route API Gateway would pick for `method` and the raw `path`, if any.
    /// The route of `method` and `path` (already decoded, [`decode`]).
    pub fn select(&self, method: &str, path: &str) -> Option<Matched<'_>> {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        for route in &self.routes {
            if route.default {
                return Some(Matched { route, params: Vec::new() });
            }
            if route.method.as_deref().is_some_and(|m| m != method) {
                continue;
            }
            if let Some(params) = route.match_path(&segments) {
                return Some(Matched { route, params });
            }
        }
        None
    }

    /// Route keys in selection order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.routes.iter().map(|r| r.key.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(keys: &[&str]) -> RouteTable {
        RouteTable::new(&keys.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn selects_the_most_specific_route() {
        let t = table(&[
            "$default",
            "ANY /{proxy+}",
            "GET /items/{id}",
            "GET /items/special",
            "ANY /items/{id}",
            "GET /items",
        ]);
        let pick = |m: &str, p: &str| t.select(m, p).map(|x| (x.route.key.clone(), x.params));
        assert_eq!(pick("GET", "/items/special").unwrap().0, "GET /items/special");
        let pick_raw = |m: &str, p: &str| pick(m, &decode(p));
        assert_eq!(
            pick_raw("GET", "/items/a%3Ab"),
            Some(("GET /items/{id}".into(), vec![("id".into(), "a:b".into())]))
        );
        assert_eq!(pick_raw("GET", "/items/a%2Fb").unwrap().0, "ANY /{proxy+}", "a decoded / is a separator");
        assert_eq!(pick_raw("GET", "/items/a%252F").unwrap().1, vec![("id".into(), "a%2F".into())], "decoded once");
        assert_eq!(pick("DELETE", "/items/x").unwrap().0, "ANY /items/{id}");
        assert_eq!(pick("GET", "/items").unwrap().0, "GET /items");
        assert_eq!(pick("POST", "/a/b/c"), Some(("ANY /{proxy+}".into(), vec![("proxy".into(), "a/b/c".into())])));
        assert_eq!(pick("GET", "/").unwrap().0, "$default", "greedy needs at least one segment");
    }

    #[test]
    fn no_match_without_default() {
        let t = table(&["GET /items/{id}", "POST /items"]);
        assert!(t.select("PUT", "/items/1").is_none(), "method mismatch is no route: the gateway's 404");
        assert!(t.select("GET", "/items/1/x").is_none());
        assert!(t.select("GET", "/items").is_none());
        assert!(t.select("POST", "/items/").is_some(), "a trailing slash is ignored");
    }

    #[test]
    fn bad_keys_are_explained() {
        assert!(RouteKey::parse("/items").unwrap_err().contains("METHOD /path"));
        assert!(RouteKey::parse("FETCH /items").unwrap_err().contains("method"));
        assert!(RouteKey::parse("GET items").unwrap_err().contains("start with"));
        assert!(RouteKey::parse("GET /{a+}/b").unwrap_err().contains("last segment"));
    }
}
