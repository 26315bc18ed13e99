//! The HTTP client: hyper with rustls (ring) for https and HTTP/2 by ALPN, one keep-alive pool
//! sized to the in-flight bound.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// The client type the engine uses.
pub type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Builds the client. `pool` is the most idle connections kept per host.
pub fn build(pool: usize, http2: bool) -> std::io::Result<HttpClient> {
    // reqwest-free and aws-lc-free: ring is the provider the whole workspace uses.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    let builder = hyper_rustls::HttpsConnectorBuilder::new().with_native_roots()?.https_or_http();
    let https = if http2 {
        builder.enable_http1().enable_http2().wrap_connector(http)
    } else {
        builder.enable_http1().wrap_connector(http)
    };
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(pool)
        .build(https))
}
