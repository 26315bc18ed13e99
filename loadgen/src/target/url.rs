//! Target URLs: the `--target` flag checked and normalised, and whether a URL is on loopback
//! (which costs nothing, so no spend guard applies).

/// `url` without surrounding space or trailing slashes, when it is an `http://` or `https://` URL.
pub fn normalise(url: &str) -> Option<String> {
    let u = url.trim().trim_end_matches('/');
    ((u.starts_with("http://") || u.starts_with("https://")) && u.parse::<hyper::Uri>().is_ok()).then(|| u.to_owned())
}

/// True for URLs on the loopback range, which cost nothing.
pub fn is_loopback(url: &str) -> bool {
    let host = url.split("://").nth(1).unwrap_or("").split(['/', ':']).next().unwrap_or("");
    host == "localhost" || host.starts_with("127.") || host == "[::1]"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_loopback_is_recognised() {
        assert_eq!(normalise(" http://127.0.0.1:8080/ ").as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(normalise("ftp://example.com"), None);
        assert!(is_loopback("http://127.0.0.1:9") && is_loopback("http://localhost/x"));
        assert!(!is_loopback("https://abc.execute-api.us-east-1.amazonaws.com"));
    }
}
