//! The plain-`http://` HTTP/1.1 path: a keep-alive pool of idle connections to the one target
//! host, each request written and its response read by the future that sends it ([`wire`]),
//! for loopback and the local stack where the generator's own cost is what limits the rate.
//!
//! Why not hyper-util's pooled client here: it keys its pool by scheme and authority in a
//! hashed map, races connects against checkouts and wraps every request in several futures —
//! general machinery a single-host load generator pays for on every request (12.7 against
//! 9.9 µs of CPU per request in a closed loop). Why not hyper's connection-level client
//! either: see [`wire`]. `https://` targets (and HTTP/2) keep the general client, where the
//! network, not the generator, sets the pace.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use hyper::http::request::Parts;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::response::Kept;
use super::wire::{self, Framing};
use super::{Connects, Failed, Response};

/// The read buffer a connection starts with: a response head from the local stack, with its
/// diagnostic headers, fits; a longer one doubles it. Small, because an open model holds a
/// connection per request in flight.
const FIRST_READ: usize = 1024;

/// A connection's buffer larger than this is not kept while it is idle.
const KEPT_BUFFER: usize = 16 * 1024;

/// One connection and the buffer its requests and responses pass through.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// Idle connections to one `host:port`.
pub struct Pool {
    addr: String,
    host: hyper::header::HeaderValue,
    idle: Mutex<Vec<Conn>>,
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

    async fn connect(&self) -> Result<Conn, Failed> {
        let started = Instant::now();
        let stream = TcpStream::connect(&self.addr).await.map_err(|e| Failed::of(&e))?;
        let _ = stream.set_nodelay(true);
        self.connects.opened(started.elapsed());
        Ok(Conn { stream, buf: Vec::new() })
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

    /// An idle connection the server has not closed, or a new one; says which.
    async fn checkout(&self) -> Result<(Conn, bool), Failed> {
        loop {
            let popped = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            match popped {
                None => return Ok((self.connect().await?, false)),
                Some(conn) if open(&conn.stream) => return Ok((conn, true)),
                Some(_) => {}
            }
        }
    }

    fn checkin(&self, mut conn: Conn) {
        if conn.buf.capacity() > KEPT_BUFFER {
            conn.buf = Vec::new();
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.max_idle {
            idle.push(conn);
        }
    }

    /// Sends a request (origin-form URI, `Host` set by the caller) and reads its whole response,
    /// keeping the first `keep` bytes of the body; the connection goes back to the pool only
    /// after a complete exchange that leaves it open.
    pub async fn exchange(&self, parts: &Parts, body: &[u8], keep: usize) -> Result<Response, Failed> {
        let (mut conn, reused) = self.checkout().await?;
        conn.buf.clear();
        wire::encode(parts, body, &mut conn.buf);
        match conn.stream.write(&conn.buf).await {
            Ok(n) if n > 0 => conn.stream.write_all(&conn.buf[n..]).await.map_err(|_| Failed::TRANSPORT)?,
            // The server closed this idle connection before a byte of the request went out:
            // send it on a fresh connection, as hyper-util does when nothing was written.
            // Once any byte has gone, the server may have acted on it: never sent twice.
            _ if reused => {
                let buf = std::mem::take(&mut conn.buf);
                conn = self.connect().await?;
                conn.buf = buf;
                conn.stream.write_all(&conn.buf).await.map_err(|_| Failed::TRANSPORT)?;
            }
            _ => return Err(Failed::TRANSPORT),
        }
        let (resp, reusable) = read_response(&mut conn, parts.method == hyper::Method::HEAD, keep).await?;
        let closes = wire::lists(&parts.headers, &hyper::header::CONNECTION, "close");
        if reusable && !closes {
            self.checkin(conn);
        }
        Ok(resp)
    }
}

/// Whether an idle connection is still open: its socket has nothing to read (an end of stream
/// or bytes nobody asked for both mean it cannot carry a request). Uses the readiness the
/// reactor already has, so a quiet connection costs no system call.
fn open(stream: &TcpStream) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    match stream.poll_read_ready(&mut cx) {
        Poll::Pending => true,
        Poll::Ready(Err(_)) => false,
        Poll::Ready(Ok(())) => {
            matches!(stream.try_read(&mut [0u8; 1]), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        }
    }
}

/// Reads more of the response into `conn.buf`; the end of the stream is `Ok(false)`. A read
/// that fills the buffer doubles it for the next (up to [`KEPT_BUFFER`] × 4), so a long body is
/// not read a kilobyte at a time.
async fn read_more(conn: &mut Conn) -> Result<bool, Failed> {
    let spare = conn.buf.capacity() - conn.buf.len();
    if spare < FIRST_READ / 2 {
        conn.buf.reserve(conn.buf.len().max(FIRST_READ));
    }
    let spare = conn.buf.capacity() - conn.buf.len();
    let n = conn.stream.read_buf(&mut conn.buf).await.map_err(|e| Failed::of(&e))?;
    if n == spare && conn.buf.capacity() < KEPT_BUFFER * 4 {
        conn.buf.reserve(conn.buf.capacity());
    }
    Ok(n > 0)
}

/// Reads a whole response from `conn`, keeping the first `keep` bytes of its body; says whether
/// the connection can carry another request.
async fn read_response(conn: &mut Conn, head_request: bool, keep: usize) -> Result<(Response, bool), Failed> {
    conn.buf.clear();
    let head = loop {
        match wire::parse_head(&conn.buf, head_request)? {
            // An interim answer (100 Continue, 103 Early Hints): the final one follows.
            Some(h) if (100..200).contains(&h.status) && h.status != 101 => {
                conn.buf.drain(..h.len);
            }
            Some(h) => break h,
            None if read_more(conn).await? => {}
            None => return Err(Failed::TRANSPORT),
        }
    };
    conn.buf.drain(..head.len);
    let mut kept = Kept::new(keep);
    match head.framing {
        Framing::None => {}
        Framing::Length(mut left) => loop {
            let n = conn.buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            kept.push(&conn.buf[..n]);
            conn.buf.drain(..n);
            left -= n as u64;
            if left == 0 {
                break;
            }
            if !read_more(conn).await? {
                return Err(Failed::TRANSPORT);
            }
        },
        Framing::Chunked => {
            let mut chunks = wire::Chunked::default();
            loop {
                let used = chunks.feed(&conn.buf, |d| kept.push(d))?;
                conn.buf.drain(..used);
                if chunks.done() {
                    break;
                }
                if !read_more(conn).await? {
                    return Err(Failed::TRANSPORT);
                }
            }
        }
        Framing::Close => loop {
            kept.push(&conn.buf);
            conn.buf.clear();
            if !read_more(conn).await? {
                break;
            }
        },
    }
    // Bytes after the response were never asked for: the connection is not reused.
    let reusable = head.keep_alive && conn.buf.is_empty();
    Ok((kept.into_response(head.status, head.headers), reusable))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::test_server::{responder, scripted};
    use super::*;

    fn parts(method: &str, pool: &Pool) -> Parts {
        let req = hyper::Request::builder().method(method).uri("/").header(hyper::header::HOST, pool.host().clone());
        req.body(()).unwrap().into_parts().0
    }

    async fn get(pool: &Pool) -> Result<u16, Failed> {
        pool.exchange(&parts("GET", pool), b"", 64).await.map(|r| r.status)
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

    #[tokio::test(flavor = "current_thread")]
    async fn every_framing_reads_the_whole_response_and_reuses_what_it_can() {
        let long_head = format!("HTTP/1.1 200 OK\r\nx-long: {}\r\ncontent-length: 4\r\n\r\nlong", "v".repeat(5000));
        let (addr, accepted) = scripted(vec![
            (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n".to_vec(), false),
            (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok".to_vec(), false),
            (b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n".to_vec(), false),
            (long_head.into_bytes(), false),
            (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n0123456789".to_vec(), false),
            (b"HTTP/1.1 200 OK\r\n\r\nto the close".to_vec(), true),
            (b"HTTP/1.1 204 No Content\r\n\r\n".to_vec(), false),
        ])
        .await;
        let pool = Pool::for_base(&format!("http://{addr}"), 8, Arc::default()).unwrap();
        let r = pool.exchange(&parts("GET", &pool), b"", 64).await.unwrap();
        assert_eq!((r.status, r.body.as_slice(), r.truncated), (200, &b"abcde"[..], false));
        let r = pool.exchange(&parts("POST", &pool), b"{}", 64).await.unwrap();
        assert_eq!((r.status, r.body.as_slice()), (201, &b"ok"[..]), "the interim answer is skipped");
        let r = pool.exchange(&parts("HEAD", &pool), b"", 64).await.unwrap();
        assert!(r.body.is_empty(), "no body follows an answer to HEAD");
        let r = pool.exchange(&parts("GET", &pool), b"", 64).await.unwrap();
        assert_eq!((r.headers["x-long"].len(), r.body.as_slice()), (5000, &b"long"[..]), "the buffer grows");
        let r = pool.exchange(&parts("GET", &pool), b"", 4).await.unwrap();
        assert_eq!((r.body.as_slice(), r.truncated), (&b"0123"[..], true), "only what was asked is kept");
        assert_eq!(accepted.get(), 1, "one connection so far");
        let r = pool.exchange(&parts("GET", &pool), b"", 64).await.unwrap();
        assert_eq!(r.body, b"to the close");
        assert_eq!(get(&pool).await.unwrap(), 204);
        assert_eq!(accepted.get(), 2, "a body read to the close ends its connection");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_long_body_is_read_whole_and_its_buffer_not_kept() {
        let body = vec![b'x'; 300_000];
        let mut long = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len()).into_bytes();
        long.extend_from_slice(&body);
        let (addr, accepted) =
            scripted(vec![(long, false), (b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec(), false)]).await;
        let pool = Pool::for_base(&format!("http://{addr}"), 8, Arc::default()).unwrap();
        let r = pool.exchange(&parts("GET", &pool), b"", 16).await.unwrap();
        assert_eq!((r.body.len(), r.truncated), (16, true));
        let kept = pool.idle.lock().unwrap().iter().map(|c| c.buf.capacity()).max();
        assert!(kept.is_some_and(|c| c <= KEPT_BUFFER), "an idle connection keeps a small buffer: {kept:?}");
        let r = pool.exchange(&parts("GET", &pool), b"", 16).await.unwrap();
        assert_eq!(
            (r.body.as_slice(), accepted.get()),
            (&b"ok"[..], 1),
            "the connection was read to the end, then reused"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_response_cut_short_is_a_transport_failure() {
        let (addr, _) = scripted(vec![
            (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc".to_vec(), true),
            (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nab".to_vec(), true),
            (b"HTTP/1.1 200 O".to_vec(), true),
            (b"not http at all\r\n\r\n".to_vec(), true),
        ])
        .await;
        let pool = Pool::for_base(&format!("http://{addr}"), 8, Arc::default()).unwrap();
        for _ in 0..4 {
            assert_eq!(get(&pool).await, Err(Failed::TRANSPORT));
        }
    }

    #[test]
    fn only_plain_http_takes_the_fast_path() {
        assert!(Pool::for_base("http://127.0.0.1:8080/stage", 1, Arc::default()).is_some());
        assert!(Pool::for_base("http://[::1]:8080", 1, Arc::default()).is_some_and(|p| p.addr == "[::1]:8080"));
        assert!(Pool::for_base("https://example.com", 1, Arc::default()).is_none());
    }
}
