//! The plain-`http://` HTTP/1.1 path: hyper's connection-level client over a keep-alive pool of
//! idle connections to the one target host, for loopback and the local stack where the
//! generator's own cost is what limits the rate.
//!
//! Why not hyper-util's pooled client here: it keys its pool by scheme and authority in a
//! hashed map, races connects against checkouts and wraps every request in several futures —
//! general machinery a single-host load generator pays for on every request. Replacing it
//! took a closed loop from 12.7 to 9.9 µs of CPU per request (perf, 64 connections against
//! the loopback responder). `https://` targets (and HTTP/2) keep the general client, where the
//! network, not the generator, sets the pace.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;

use super::{Connects, Failed};

type Sender = SendRequest<Full<Bytes>>;

/// Idle connections to one `host:port`.
pub struct Pool {
    addr: String,
    host: hyper::header::HeaderValue,
    idle: Mutex<Vec<Sender>>,
    max_idle: usize,
    connects: Arc<Connects>,
}

impl Pool {
    /// A pool for `base` (`http://host:port[/prefix]`), or `None` when it is not plain http;
    /// every connection it opens is counted in `connects`.
    pub fn for_base(base: &str, max_idle: usize, connects: Arc<Connects>) -> Option<Pool> {
        let uri: hyper::Uri = base.parse().ok()?;
        if uri.scheme_str() != Some("http") {
            return None;
        }
        let authority = uri.authority()?;
        let port = authority.port_u16().unwrap_or(80);
        let host = authority.host().trim_start_matches('[').trim_end_matches(']');
        let addr = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
        Some(Pool {
            addr,
            host: hyper::header::HeaderValue::from_str(authority.as_str()).ok()?,
            idle: Mutex::new(Vec::new()),
            max_idle,
            connects,
        })
    }

    /// The `Host` header value.
    pub fn host(&self) -> &hyper::header::HeaderValue {
        &self.host
    }

    async fn connect(&self) -> Result<Sender, Failed> {
        let started = Instant::now();
        let stream = tokio::net::TcpStream::connect(&self.addr).await.map_err(|e| Failed::of(&e))?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = http1::handshake(TokioIo::new(stream)).await.map_err(|_| Failed::TRANSPORT)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        self.connects.opened(started.elapsed());
        Ok(sender)
    }

    /// Opens up to `n` connections (at most the idle bound) before the schedule starts, for
    /// its first requests; returns how many opened. One that fails is left out: the run's
    /// requests meet the same failure and are classified as usual.
    pub async fn preopen(&self, n: usize) -> usize {
        use futures_util::StreamExt;
        let room = self.max_idle.saturating_sub(self.idle.lock().unwrap_or_else(|e| e.into_inner()).len());
        let opened = futures_util::stream::iter(0..n.min(room))
            .map(|_| self.connect())
            .buffer_unordered(super::client::OPENING_AT_ONCE)
            .collect::<Vec<_>>()
            .await;
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let before = idle.len();
        idle.extend(opened.into_iter().flatten());
        idle.len() - before
    }

    /// An idle connection ready for a request, or a new one.
    async fn checkout(&self) -> Result<Sender, Failed> {
        loop {
            let popped = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let Some(mut sender) = popped else { return self.connect().await };
            // A connection the server closed fails here and is dropped; the next is tried.
            if sender.ready().await.is_ok() {
                return Ok(sender);
            }
        }
    }

    fn checkin(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.max_idle {
            idle.push(sender);
        }
    }

    /// Sends `req` (origin-form URI, `Host` set by the caller) and hands the connection back
    /// once `read` has consumed the response, so it is reused only after a complete exchange.
    pub async fn exchange<T, F, Fut>(&self, req: hyper::Request<Full<Bytes>>, read: F) -> Result<T, Failed>
    where
        F: FnOnce(hyper::Response<Incoming>) -> Fut,
        Fut: std::future::Future<Output = Result<T, Failed>>,
    {
        let mut sender = self.checkout().await?;
        let resp = match sender.try_send_request(req).await {
            Ok(resp) => resp,
            Err(mut e) => match e.take_message() {
                // The server closed this idle connection as the request went to it, before a
                // byte was written: send once more on a fresh connection, as hyper-util does.
                Some(req) => {
                    sender = self.connect().await?;
                    sender.send_request(req).await.map_err(|_| Failed::TRANSPORT)?
                }
                None => return Err(Failed::TRANSPORT),
            },
        };
        let out = read(resp).await?;
        self.checkin(sender);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http_body_util::BodyExt;

    use super::super::test_server::responder;
    use super::*;

    async fn get(pool: &Pool) -> Result<u16, Failed> {
        let req = hyper::Request::builder()
            .uri("/")
            .header(hyper::header::HOST, pool.host().clone())
            .body(Full::new(Bytes::new()))
            .map_err(|_| Failed::TRANSPORT)?;
        pool.exchange(req, |r| async move {
            let status = r.status().as_u16();
            r.into_body().collect().await.map_err(|_| Failed::TRANSPORT)?;
            Ok(status)
        })
        .await
    }

    #[tokio::test(flavor = "current_thread")]
    async fn connections_the_server_closed_while_idle_are_replaced() {
        let (addr, accepted) = responder(false).await;
        let pool = Pool::for_base(&format!("http://{addr}"), 8, Arc::default()).unwrap();
        for _ in 0..3 {
            assert_eq!(get(&pool).await.unwrap(), 200);
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        assert_eq!(accepted.get(), 3, "each request needed a fresh connection");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn connections_opened_first_serve_the_first_requests() {
        let (addr, accepted) = responder(true).await;
        let connects = Arc::new(Connects::default());
        let pool = Pool::for_base(&format!("http://{addr}"), 8, connects.clone()).unwrap();
        assert_eq!(pool.preopen(5).await, 5);
        connects.start();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(accepted.get(), 5, "opened before any request");
        for _ in 0..3 {
            assert_eq!(get(&pool).await.unwrap(), 200);
        }
        assert_eq!(accepted.get(), 5, "the requests used them");
        let stats = connects.stats();
        assert_eq!((stats.opened_before, stats.opened_during), (5, 0));
        assert!(stats.connect_max_ms > 0.0);
        // More than the idle bound (8) is never kept open: 5 are idle, 3 more fit.
        assert_eq!(pool.preopen(100).await, 3);
    }

    #[test]
    fn only_plain_http_takes_the_fast_path() {
        assert!(Pool::for_base("http://127.0.0.1:8080/stage", 1, Arc::default()).is_some());
        assert!(Pool::for_base("http://[::1]:8080", 1, Arc::default()).is_some_and(|p| p.addr == "[::1]:8080"));
        assert!(Pool::for_base("https://example.com", 1, Arc::default()).is_none());
    }
}
