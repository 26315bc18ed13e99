//! Base URLs — `[target] url`, `[targets.NAME] url`, `--target`, `--target-url` — checked once
//! and normalised, and shown with any password cut out.

/// What is wrong with a base URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadUrl {
    /// Not http or https.
    #[error("is not an http:// or https:// URL")]
    Scheme,
    /// Not a URL at all.
    #[error("is not a URL ({0})")]
    Syntax(String),
    /// No host.
    #[error("has no host")]
    NoHost,
    /// A user name or password.
    #[error("holds a user name or password; give credentials in [target.auth] or a header, which no output shows")]
    Credentials,
    /// A port out of range.
    #[error("port {0} is not from 1 to 65535")]
    Port(String),
    /// A query or fragment.
    #[error(
        "has a query or fragment; a base URL ends with its path (request paths and their queries are appended to it)"
    )]
    Query,
}

/// `url` as a base URL — `http://` or `https://`, a host, a port from 1 to 65535 if any, a path
/// prefix, no query or fragment (request paths are appended to it) and no user name or
/// password (they would be sent in the `Host` header of every request and written wherever
/// the URL is) — without surrounding space or trailing slashes; else what is wrong with it.
pub fn check(url: &str) -> Result<String, BadUrl> {
    let u = url.trim().trim_end_matches('/');
    if !(u.starts_with("http://") || u.starts_with("https://")) {
        return Err(BadUrl::Scheme);
    }
    let uri: hyper::Uri = u.parse().map_err(|e: hyper::http::uri::InvalidUri| BadUrl::Syntax(e.to_string()))?;
    let Some(authority) = uri.authority() else { return Err(BadUrl::NoHost) };
    if authority.as_str().contains('@') {
        return Err(BadUrl::Credentials);
    }
    if authority.host().is_empty() {
        return Err(BadUrl::NoHost);
    }
    // The parser drops a port it cannot hold (70000) and the client would then use 80: read
    // the text after the host (an IPv6 host ends with `]`) instead.
    let after_host = authority.as_str().rsplit_once(']').map_or(authority.as_str(), |(_, rest)| rest);
    if let Some((_, port)) = after_host.rsplit_once(':')
        && !port.parse::<u16>().is_ok_and(|p| p > 0)
    {
        return Err(BadUrl::Port(port.to_owned()));
    }
    if uri.query().is_some() || u.contains('#') {
        return Err(BadUrl::Query);
    }
    Ok(u.to_owned())
}

/// `url` as errors may show it: everything before the last `@` ahead of any query or fragment
/// replaced, so a refused URL never prints its password (even one with a `/` in it, which a
/// parser would read as a path).
pub fn shown(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find(['?', '#']).unwrap_or(rest.len());
            match rest[..end].rfind('@') {
                Some(at) => format!("{scheme}://<redacted>{}", &rest[at..]),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked_and_passwords_never_shown() {
        assert_eq!(check(" http://127.0.0.1:8080/ ").as_deref(), Ok("http://127.0.0.1:8080"));
        assert!(check("ftp://example.com").is_err());
        for bad in ["http://127.0.0.1:70000", "http://127.0.0.1:0", "http://u:secret@example.com", "http://x/a?q=1"] {
            assert!(check(bad).is_err(), "{bad}");
        }
        assert!(check("http://[::1]:8080").is_ok() && check("http://[::1]").is_ok());
        assert_eq!(shown("http://u:secret@example.com/p"), "http://<redacted>@example.com/p");
        assert_eq!(shown("http://u:pa/ss@example.com"), "http://<redacted>@example.com");
        assert_eq!(shown("https://example.com/a"), "https://example.com/a");
        assert_eq!(
            check("https://abc.execute-api.eu-west-1.amazonaws.com/v1/").as_deref(),
            Ok("https://abc.execute-api.eu-west-1.amazonaws.com/v1")
        );
    }
}
