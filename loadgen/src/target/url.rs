//! Target URLs: the `--target` flag checked and normalised, and whether a URL is on loopback
//! (which costs nothing, so no spend guard applies).

/// `url` without surrounding space or trailing slashes, when it is an `http://` or `https://` URL.
pub fn normalise(url: &str) -> Option<String> {
    let u = url.trim().trim_end_matches('/');
    ((u.starts_with("http://") || u.starts_with("https://")) && u.parse::<hyper::Uri>().is_ok()).then(|| u.to_owned())
}

/// True for URLs on the loopback range, which cost nothing: the host the URL parser finds (not a
/// prefix of the text, which `127.0.0.1.example.com` or `localhost@example.com` would fool) is
/// `localhost` or a loopback address.
pub fn is_loopback(url: &str) -> bool {
    let Ok(uri) = url.trim().parse::<hyper::Uri>() else { return false };
    let Some(host) = uri.host() else { return false };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
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
        assert!(is_loopback("http://[::1]:8080") && is_loopback("http://127.1.2.3"));
        for far in ["http://127.0.0.1.example.com", "http://localhost@example.com/", "http://localhost.example.com"] {
            assert!(!is_loopback(far), "{far}");
        }
    }
}
