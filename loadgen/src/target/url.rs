//! Whether a target URL is on loopback (which costs nothing, so no spend guard applies); base
//! URLs themselves are checked in [`crate::scenario::base_url`].

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
    fn loopback_is_the_parsed_host() {
        assert!(is_loopback("http://127.0.0.1:9") && is_loopback("http://localhost/x"));
        assert!(!is_loopback("https://abc.execute-api.us-east-1.amazonaws.com"));
        assert!(is_loopback("http://[::1]:8080") && is_loopback("http://127.1.2.3"));
        for far in ["http://127.0.0.1.example.com", "http://localhost@example.com/", "http://localhost.example.com"] {
            assert!(!is_loopback(far), "{far}");
        }
    }
}
