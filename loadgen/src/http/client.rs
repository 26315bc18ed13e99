//! The general client: hyper with rustls (ring) for https and HTTP/2 by ALPN, one keep-alive pool
//! sized to the in-flight bound. Its [`Connector`] hands out the connections opened before the
//! schedule first and times every connection it opens.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::Full;
use hyper::Uri;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connection, HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::connects::Connects;

/// The client type the engine uses.
pub type HttpClient = Client<Connector, Full<Bytes>>;

/// One connection, TLS or not.
pub type Stream = MaybeHttpsStream<TokioIo<tokio::net::TcpStream>>;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Connections opened before the start and not yet used: when each opened, by host.
type Waiting = HashMap<String, Vec<(Instant, Stream)>>;

/// How many connections are opened at once before the start: enough to open thousands in a
/// few round trips without a burst of SYNs a listen backlog would drop.
pub const OPENING_AT_ONCE: usize = 64;

/// How long a connection opened before the start waits for its first request before it is
/// dropped unused: servers close idle connections (Node after 5 s by default), and hyper-util
/// retries no request that fails on a connection its connector has just given it.
const FRESH: Duration = Duration::from_secs(4);

/// The https/http connector, with the connections opened before the start set aside for the
/// client's first checkouts.
#[derive(Clone)]
pub struct Connector {
    inner: HttpsConnector<HttpConnector>,
    /// Opened before the start (when, and the stream), by `scheme://authority`.
    opened: Arc<Mutex<Waiting>>,
    connects: Arc<Connects>,
}

/// The key the client's destination and a base URL share.
fn key(uri: &Uri) -> String {
    format!("{}://{}", uri.scheme_str().unwrap_or("http"), uri.authority().map_or("", |a| a.as_str()))
}

impl Connector {
    /// What every connection opened was counted in.
    pub fn connects(&self) -> &Arc<Connects> {
        &self.connects
    }

    async fn open(&self, uri: Uri) -> Result<Stream, BoxError> {
        let mut inner = self.inner.clone();
        std::future::poll_fn(|cx| tower_service::Service::poll_ready(&mut inner, cx)).await?;
        let started = Instant::now();
        let stream = tower_service::Service::call(&mut inner, uri).await?;
        self.connects.opened(started.elapsed());
        Ok(stream)
    }

    /// Opens up to `n` connections to `base`'s host for the client's first requests — one
    /// when the server chose HTTP/2, which multiplexes every request over it. Returns how many
    /// were opened. If the first fails none is opened, and a later one that fails is left out:
    /// the run's requests meet the same failure and are classified as usual.
    pub async fn preopen(&self, base: &Uri, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        let Ok(first) = self.open(base.clone()).await else { return 0 };
        let h2 = first.connected().is_negotiated_h2();
        let mut streams = vec![first];
        if !h2 {
            let rest = futures_util::stream::iter(1..n)
                .map(|_| self.open(base.clone()))
                .buffer_unordered(OPENING_AT_ONCE)
                .collect::<Vec<_>>()
                .await;
            streams.extend(rest.into_iter().flatten());
        }
        let count = streams.len();
        let now = Instant::now();
        let mut opened = self.opened.lock().unwrap_or_else(|e| e.into_inner());
        opened.entry(key(base)).or_default().extend(streams.into_iter().map(|s| (now, s)));
        count
    }

    /// A connection opened before the start and still fresh ([`FRESH`]); older ones are
    /// dropped.
    fn take(&self, dst: &Uri) -> Option<Stream> {
        let mut opened = self.opened.lock().unwrap_or_else(|e| e.into_inner());
        let waiting = opened.get_mut(&key(dst))?;
        while let Some((at, stream)) = waiting.pop() {
            if at.elapsed() < FRESH {
                return Some(stream);
            }
        }
        None
    }
}

impl tower_service::Service<Uri> for Connector {
    type Response = Stream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Stream, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // The inner connector is polled ready on its clone, when a connection is opened.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        if let Some(stream) = self.take(&dst) {
            return Box::pin(std::future::ready(Ok(stream)));
        }
        let me = self.clone();
        Box::pin(async move { me.open(dst).await })
    }
}

/// Builds the client and its connector (kept to open connections before the start and to
/// count them all). `pool` is the most idle connections kept per host.
pub fn build(pool: usize, http2: bool) -> std::io::Result<(HttpClient, Connector)> {
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
    let connector = Connector { inner: https, opened: Arc::default(), connects: Arc::default() };
    let client = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(pool)
        .build(connector.clone());
    Ok((client, connector))
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::super::test_server::responder;
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn the_client_takes_the_connections_opened_first() {
        let (addr, accepted) = responder(true).await;
        let (client, connector) = build(8, false).unwrap();
        let base: Uri = format!("http://{addr}").parse().unwrap();
        assert_eq!(connector.preopen(&base, 3).await, 3);
        connector.connects().start();
        for _ in 0..3 {
            let req = hyper::Request::get(format!("{base}x")).body(Full::new(Bytes::new())).unwrap();
            let resp = client.request(req).await.unwrap();
            assert_eq!(resp.status(), 200);
            resp.into_body().collect().await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(accepted.get(), 3, "the requests went over a connection opened first");
        let stats = connector.connects().stats();
        assert_eq!((stats.opened_before, stats.opened_during), (3, 0));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_connection_left_unused_too_long_is_not_handed_out() {
        let (addr, _) = responder(true).await;
        let (_, connector) = build(8, false).unwrap();
        let base: Uri = format!("http://{addr}").parse().unwrap();
        assert_eq!(connector.preopen(&base, 2).await, 2);
        assert!(connector.take(&base).is_some(), "a fresh one is handed out");
        // The other has waited longer than a server may keep an idle connection open.
        for (at, _) in connector.opened.lock().unwrap().values_mut().flatten() {
            *at = Instant::now().checked_sub(FRESH).unwrap();
        }
        assert!(connector.take(&base).is_none());
        assert!(connector.opened.lock().unwrap().values().all(Vec::is_empty), "and is dropped");
    }
}
