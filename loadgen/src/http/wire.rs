//! HTTP/1.1 on the wire for the plain-http pool: a request written in one buffer, a response
//! head parsed by `httparse` and its body framed (length, chunked, to the close, none).
//!
//! Why not hyper's connection-level client here: it gives every connection a task of its own
//! and hands each request and its response across channels between that task and the one
//! that sent it, so a response woke two tasks and crossed three channels. At a fixed rate
//! every response is a wake-up of its own, and that machinery was most of loadgen's user time
//! per request (perf, 10,000 req/s against a 10 ms server). Here the sending future reads its
//! own socket: one wake-up, no channel. It also sizes its own buffers, where hyper's 8 KiB read
//! and 8 KiB write buffers per connection were most of the memory of a request in flight.
//! hyper still serves https and HTTP/2 ([`super::client`]).

use std::io::Write;

use hyper::header::{CONNECTION, CONTENT_LENGTH, HeaderMap, HeaderName, HeaderValue, TRANSFER_ENCODING};

use super::Failed;

/// Response heads longer than this are refused (hyper's default limit is larger, ~400 KiB,
/// but no API this tool measures sends heads near even this one).
pub const MAX_HEAD: usize = 64 * 1024;

/// Headers a response head may have: hyper's default limit.
const MAX_HEADERS: usize = 100;

/// Writes `method target HTTP/1.1`, the headers and the body into `out`: one buffer, one
/// write. The length is always this body's own: a `content-length` or `transfer-encoding` the
/// caller set is left out, as one that disagreed with the body would hang the exchange or
/// desynchronise the connection. An empty body on GET, HEAD, DELETE, OPTIONS or TRACE has no
/// length, as hyper does.
pub fn encode(parts: &hyper::http::request::Parts, body: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(parts.uri.path_and_query().map_or("/", |p| p.as_str()).as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in &parts.headers {
        if name == CONTENT_LENGTH || name == TRANSFER_ENCODING {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let bodiless = matches!(parts.method.as_str(), "GET" | "HEAD" | "DELETE" | "OPTIONS" | "TRACE");
    if !body.is_empty() || !bodiless {
        // Into the buffer directly: no string per request.
        let _ = write!(out, "content-length: {}\r\n", body.len());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// Whether a `name` header of `headers` lists `token` (comma-separated, any case).
pub fn lists(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .any(|v| v.to_str().is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token))))
}

/// The body length `content-length` says: every value (lines or a list) the same run of digits
/// (RFC 9112 §6.3); `Err` when they disagree or one is not a number, `None` when there is none.
fn content_length(headers: &HeaderMap) -> Result<Option<u64>, Failed> {
    let mut length = None;
    for v in headers.get_all(CONTENT_LENGTH) {
        for item in v.to_str().map_err(|_| Failed::TRANSPORT)?.split(',') {
            let item = item.trim();
            if item.is_empty() || !item.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Failed::TRANSPORT);
            }
            let n = item.parse::<u64>().map_err(|_| Failed::TRANSPORT)?;
            if length.is_some_and(|l| l != n) {
                return Err(Failed::TRANSPORT);
            }
            length = Some(n);
        }
    }
    Ok(length)
}

/// How a response's body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (an answer to HEAD, 1xx, 204, 304).
    None,
    /// `content-length` bytes.
    Length(u64),
    /// `transfer-encoding: chunked`.
    Chunked,
    /// Everything until the server closes the connection.
    Close,
}

/// A parsed response head.
#[derive(Debug)]
pub struct Head {
    /// Its length in bytes, the blank line included.
    pub len: usize,
    /// HTTP status.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// How the body ends.
    pub framing: Framing,
    /// Whether the connection may carry another request afterwards.
    pub keep_alive: bool,
}

/// Parses a response head from the start of `buf`: `None` while it is incomplete. `head_request`
/// says the request was HEAD (no body, whatever the headers say).
pub fn parse_head(buf: &[u8], head_request: bool) -> Result<Option<Head>, Failed> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut slots);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => return Ok(None),
        Ok(httparse::Status::Partial) | Err(_) => return Err(Failed::TRANSPORT),
    };
    let status = resp.code.unwrap_or(0);
    let mut headers = HeaderMap::with_capacity(resp.headers.len());
    for h in resp.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| Failed::TRANSPORT)?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| Failed::TRANSPORT)?;
        headers.append(name, value);
    }
    let mut keep_alive = match resp.version {
        Some(1) => !lists(&headers, &CONNECTION, "close"),
        _ => lists(&headers, &CONNECTION, "keep-alive"),
    };
    let framing = if head_request || status == 204 || status == 304 || (100..200).contains(&status) {
        Framing::None
    } else if let Some(te) = headers.get_all(TRANSFER_ENCODING).iter().next_back() {
        // Chunked only when it is the last coding (RFC 9112 §6.3); otherwise to the close.
        let last = te.to_str().ok().and_then(|s| s.rsplit(',').next()).map(str::trim);
        if last.is_some_and(|t| t.eq_ignore_ascii_case("chunked")) { Framing::Chunked } else { Framing::Close }
    } else if let Some(n) = content_length(&headers)? {
        Framing::Length(n)
    } else {
        Framing::Close
    };
    // A body to the close ends the connection; after 101 it speaks another protocol.
    if framing == Framing::Close || status == 101 {
        keep_alive = false;
    }
    Ok(Some(Head { len, status, headers, framing, keep_alive }))
}

/// Where a chunked body's decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading a chunk-size line.
    Size,
    /// This many data bytes left in the chunk.
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// Trailer lines after the last chunk, until an empty one.
    Trailers,
    /// The body is complete.
    Done,
}

/// A chunked-body decoder fed whatever bytes arrive.
#[derive(Debug)]
pub struct Chunked(Chunk);

impl Default for Chunked {
    fn default() -> Self {
        Chunked(Chunk::Size)
    }
}

impl Chunked {
    /// Whether the last chunk and the trailers have been read.
    pub fn done(&self) -> bool {
        self.0 == Chunk::Done
    }

    /// Consumes what it can of `buf`, handing data to `data`; returns how many bytes it used.
    /// A line not yet complete is left in `buf` for the next call.
    pub fn feed(&mut self, buf: &[u8], mut data: impl FnMut(&[u8])) -> Result<usize, Failed> {
        let mut at = 0;
        loop {
            let rest = &buf[at..];
            match self.0 {
                Chunk::Done => return Ok(at),
                Chunk::Data(left) => {
                    let n = rest.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    if n == 0 {
                        return Ok(at);
                    }
                    data(&rest[..n]);
                    at += n;
                    self.0 = if left == n as u64 { Chunk::DataEnd } else { Chunk::Data(left - n as u64) };
                }
                _ => {
                    let Some(end) = rest.windows(2).position(|w| w == b"\r\n") else {
                        return if rest.len() > 4096 { Err(Failed::TRANSPORT) } else { Ok(at) };
                    };
                    let line = &rest[..end];
                    at += end + 2;
                    self.0 = match self.0 {
                        Chunk::Size => match chunk_size(line)? {
                            0 => Chunk::Trailers,
                            n => Chunk::Data(n),
                        },
                        Chunk::DataEnd if line.is_empty() => Chunk::Size,
                        Chunk::Trailers if line.is_empty() => Chunk::Done,
                        Chunk::Trailers => Chunk::Trailers,
                        _ => return Err(Failed::TRANSPORT),
                    };
                }
            }
        }
    }
}

/// The hex size of a chunk-size line, extensions after `;` ignored.
fn chunk_size(line: &[u8]) -> Result<u64, Failed> {
    let hex = line.split(|b| *b == b';').next().unwrap_or_default();
    let hex = std::str::from_utf8(hex).map_err(|_| Failed::TRANSPORT)?.trim();
    u64::from_str_radix(hex, 16).map_err(|_| Failed::TRANSPORT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, uri: &str, headers: &[(&str, &str)], body: &[u8]) -> String {
        let mut b = hyper::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let (parts, ()) = b.body(()).unwrap().into_parts();
        let mut out = Vec::new();
        encode(&parts, body, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn requests_carry_a_length_where_hyper_would() {
        assert_eq!(request("GET", "/a?b=1", &[("host", "h:1")], b""), "GET /a?b=1 HTTP/1.1\r\nhost: h:1\r\n\r\n");
        assert_eq!(request("POST", "/", &[], b"{}"), "POST / HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}");
        assert_eq!(request("POST", "/", &[], b""), "POST / HTTP/1.1\r\ncontent-length: 0\r\n\r\n");
        assert_eq!(request("DELETE", "/x", &[], b""), "DELETE /x HTTP/1.1\r\n\r\n");
        // The length is always the body's own: a caller's that disagrees never reaches the wire.
        assert_eq!(
            request("PUT", "/", &[("content-length", "9"), ("transfer-encoding", "chunked")], b"x"),
            "PUT / HTTP/1.1\r\ncontent-length: 1\r\n\r\nx"
        );
    }

    fn head(text: &str) -> Head {
        parse_head(text.as_bytes(), false).unwrap().unwrap()
    }

    #[test]
    fn heads_say_how_the_body_ends_and_whether_the_connection_stays() {
        let h = head("HTTP/1.1 200 OK\r\ncontent-length: 12\r\nx-a: 1\r\nx-a: 2\r\n\r\nbody");
        assert_eq!((h.status, h.framing, h.keep_alive, h.len), (200, Framing::Length(12), true, 55));
        assert_eq!(h.headers.get_all("x-a").iter().count(), 2);
        let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nConnection: Close\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::Chunked, false));
        assert_eq!(head("HTTP/1.1 200 OK\r\n\r\n").framing, Framing::Close);
        assert!(!head("HTTP/1.1 200 OK\r\n\r\n").keep_alive, "a body to the close ends the connection");
        assert!(!head("HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n").keep_alive);
        assert!(head("HTTP/1.0 200 OK\r\ncontent-length: 0\r\nconnection: keep-alive\r\n\r\n").keep_alive);
        assert_eq!(head("HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\n").framing, Framing::None);
        assert!(!head("HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n").keep_alive);
        let h = parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", true).unwrap().unwrap();
        assert_eq!(h.framing, Framing::None, "the answer to HEAD has no body");
    }

    #[test]
    fn partial_and_broken_heads() {
        assert!(parse_head(b"HTTP/1.1 200 OK\r\ncontent-le", false).unwrap().is_none());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n", false).is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: +5\r\n\r\n", false).is_err());
        let twice = |a: &str, b: &str| format!("HTTP/1.1 200 OK\r\ncontent-length: {a}\r\ncontent-length: {b}\r\n\r\n");
        assert!(parse_head(twice("5", "6").as_bytes(), false).is_err(), "lengths that disagree");
        assert_eq!(head(&twice("5, 5", "5")).framing, Framing::Length(5), "the same length repeated");
        assert!(parse_head(b"SSH-2.0-OpenSSH\r\n\r\n", false).is_err());
        let endless = format!("HTTP/1.1 200 OK\r\nx: {}", "a".repeat(MAX_HEAD));
        assert!(parse_head(endless.as_bytes(), false).is_err(), "a head past the limit is refused");
    }

    #[test]
    fn chunked_bodies_decode_whatever_way_they_arrive() {
        let wire = b"4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nx-trailer: 1\r\n\r\n";
        for split in 1..wire.len() {
            let (mut dec, mut body, mut pending) = (Chunked::default(), Vec::new(), Vec::new());
            for part in [&wire[..split], &wire[split..]] {
                pending.extend_from_slice(part);
                let used = dec.feed(&pending, |d| body.extend_from_slice(d)).unwrap();
                pending.drain(..used);
            }
            assert!(dec.done(), "split at {split}");
            assert_eq!(body, b"Wikipedia in\r\n\r\nchunks.", "split at {split}");
            assert!(pending.is_empty());
        }
        assert!(Chunked::default().feed(b"zz\r\n", |_| ()).is_err());
        assert!(Chunked::default().feed(b"1\r\nab\r\n", |_| ()).is_err(), "data longer than its size");
    }
}
